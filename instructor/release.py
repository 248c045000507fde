"""Generate release/ and solutions/ from source/ with nbgrader's own converters, in one process
(a `nbgrader generate_assignment` command costs about 5 s of start-up; here each assignment takes
a fraction of a second). Run from a course folder: ``python -m instructor.release [ASSIGNMENT ...]``
(default: every assignment of the catalogue). ``make release`` runs it in this repository.
"""

from __future__ import annotations

import sys

from nbgrader.apps.nbgraderapp import NbGraderApp
from nbgrader.converters import GenerateAssignment, GenerateSolution

from grader_tests.assignments import ASSIGNMENTS


def release(assignments) -> None:
    app = NbGraderApp()
    app.initialize([])  # reads nbgrader_config.py of the current folder, as the nbgrader command does
    for assignment in assignments:
        for converter in (GenerateAssignment, GenerateSolution):
            app.coursedir.assignment_id = assignment
            step = converter(coursedir=app.coursedir, parent=app)
            step.force = True
            step.start()


if __name__ == "__main__":
    release(sys.argv[1:] or list(ASSIGNMENTS))
