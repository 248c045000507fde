"""nbgrader's exchange on a shared server: its folder, and the students' nbgrader configuration that
points at it (course id, exchange folder, cell timeout), both from the course's nbgrader_config.py."""

from __future__ import annotations

import os
import stat
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

    saved = dict(os.environ)  # the course's configuration sets variables for its kernels: none leak from here
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def make_exchange(root: str) -> None:
    """The exchange folder: everyone writes here (students their submissions); the sticky bit keeps
    anyone but its owner from renaming the course's folder and putting another in its place."""
    os.makedirs(root, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ValueError(f"{root} is not a folder of this user's: make it anew (it could belong to a student)")
    os.chmod(root, 0o1777)
