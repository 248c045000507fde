"""Make the exchange folder of a shared server and write the students' nbgrader configuration
(course id, exchange folder, cell timeout) from the course's nbgrader_config.py.

    python -m instructor exchange [--course COURSE_FOLDER] [--students-config PATH]

See docs/instructors.md, "Hand-in".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..exchange import STUDENTS_CONFIG, course_config, make_exchange, write_students_config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor exchange", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students-config", type=Path, default=Path(STUDENTS_CONFIG),
                        help=f"where the students' nbgrader reads it (default {STUDENTS_CONFIG})")
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)

    config = course_config(args.course)
    root, course_id = config.Exchange.root, config.CourseDirectory.course_id
    try:
        make_exchange(root)
    except ValueError as error:
        sys.exit(str(error))
    write_students_config(args.students_config, course_id, root, config.Execute.timeout)
    print(f"exchange {root} (mode 1777) for the course {course_id}; students' configuration: {args.students_config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
