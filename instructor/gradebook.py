"""The course's students in nbgrader's gradebook."""

from __future__ import annotations

import re

from nbgrader.api import Gradebook, MissingEntry

# A student id Formgrader can show: nbgrader's own pages write ids into HTML unescaped (its templates
# have no autoescape), so an id with markup would run in a TA's browser. Unix names and LMS ids fit.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def enrol(db_url: str, student_id: str, full_name: str) -> None:
    """Give a student of the gradebook a name ("John Doe": first John, last Doe; one word: the last
    name), unless it has one: Formgrader lists students as "last, first", and "None, None" without."""
    if not SAFE_ID.fullmatch(student_id):
        raise ValueError(f"{student_id!r} is not a student id Formgrader can show safely (letters, digits, . _ -)")
    first, _, last = full_name.strip().rpartition(" ")
    with Gradebook(db_url) as gradebook:
        try:
            student = gradebook.find_student(student_id)
            if student.first_name or student.last_name:
                return
        except MissingEntry:
            pass
        gradebook.update_or_create_student(student_id, first_name=first or None, last_name=last or student_id)
