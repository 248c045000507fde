"""The class report of one assignment (instructor/class_report.py says what it shows and reads).

    python -m instructor report ASSIGNMENT [--root COURSE_FOLDER] [--db-url URL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import class_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor report", description=class_report.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", help="the assignment's id, e.g. one_step_rnn_univariate")
    parser.add_argument("--root", type=Path, default=Path("."), help="the course folder (default: here)")
    parser.add_argument("--db-url", default=None, help="the gradebook (default: sqlite:///ROOT/gradebook.db)")
    args = parser.parse_args(argv)
    print(class_report.write_report(args.root, args.assignment, args.db_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
