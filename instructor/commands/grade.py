"""Grade a whole class in parallel: each submitted student through nbgrader's own autograde, N at a time,
on a local Dask cluster or on a running one whose workers are other machines.

    python -m instructor grade ASSIGNMENT [ASSIGNMENT ...] [--workers N | --scheduler tcp://host:8786]
                               [--student ID ...] [--force] [--quiet] [--db-url URL] [--Execute.timeout=60 ...]

See instructor/grading.py for what travels to each worker, and docs/instructors.md.

Before anyone is queued, every worker is asked whether it can run the sandbox; if one cannot, the
reason is printed once and nothing is graded. Exit status: 0 when every submission was graded, 1 when
some could not be (each said why), 2 when grading could not start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..grading import GradingUnavailable, grade


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="+", metavar="ASSIGNMENT")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the local Dask cluster (default: one per core)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786) instead")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--force", action="store_true", help="grade again students already graded")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but the submissions not graded; exit status 1 if there are any")
    parser.add_argument("--db-url", help="the gradebook (default: nbgrader_config.py's CourseDirectory.db_url)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    parser.add_argument("--no-report", action="store_true", help="do not write reports/<assignment>/report.html")
    args, options = parser.parse_known_args(argv)
    wrong = [o for o in options if not (o.startswith("--") and "." in o.split("=")[0])]
    if wrong:
        parser.error(f"unrecognized arguments: {' '.join(wrong)} (nbgrader options look like --Execute.timeout=60)")
    try:
        results = grade(args.root, args.assignments, args.workers, args.scheduler, args.student, args.force,
                        args.quiet, args.db_url, tuple(options), report=not args.no_report)
    except GradingUnavailable as error:
        print(error, file=sys.stderr, flush=True)
        return 2
    return 1 if any(r.score is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
