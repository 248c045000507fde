"""Make the exchange folder of a shared server and write the students' nbgrader configuration
(course id, exchange folder, cell timeout) from the course's nbgrader_config.py.

    python -m instructor exchange [--course COURSE_FOLDER] [--students-config PATH]

See docs/instructors.md, "Hand-in".
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

STUDENTS_CONFIG = "/etc/jupyter/nbgrader_config.py"  # read by every user's nbgrader and Jupyter server


def write_students_config(target: Path, course_id: str, exchange_root: str, cell_timeout: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"# The students' nbgrader configuration of the course {course_id}: written by\n"
        "# `python -m instructor exchange` from the course's nbgrader_config.py; edit that one.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.Exchange.root = {exchange_root!r}\n"
        "# Validate (the button, or `nbgrader validate`) lets a training cell run as long as grading does\n"
        f"c.Execute.timeout = {cell_timeout!r}\n"
        "# nbgrader submit, then a word on unanswered cells and how to validate\n"
        "c.ExchangeFactory.submit = 'rnn_course.hand_in.CheckedSubmit'\n")
    target.chmod(0o644)


def course_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor exchange", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students-config", type=Path, default=Path(STUDENTS_CONFIG),
                        help=f"where the students' nbgrader reads it (default {STUDENTS_CONFIG})")
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)

    config = course_config(args.course)
    root, course_id = config.Exchange.root, config.CourseDirectory.course_id
    # Everyone writes here (students their submissions); the sticky bit keeps anyone but its owner
    # from renaming the course's folder and putting another in its place.
    os.makedirs(root, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        sys.exit(f"{root} is not a folder of this user's: make it anew (it could belong to a student)")
    os.chmod(root, 0o1777)
    write_students_config(args.students_config, course_id, root, config.Execute.timeout)
    print(f"exchange {root} (mode 1777) for the course {course_id}; students' configuration: {args.students_config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
