"""The grader's verdicts, outside the student's kernel: each check of an assignment run on the
evidence its test cell wrote (`evidence`), in a fresh process that runs no code of the student's.

    python -m grader_tests.verdicts EVIDENCE_FOLDER ASSIGNMENT

prints one JSON line: {check: {"passed": bool, "message": str | null, "printed": str}}; a check
whose cell wrote no evidence is failed ("the notebook did not reach the grader's check").
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NO_EVIDENCE = ("the notebook did not reach the grader's check in this cell (an earlier line of the cell or of the "
               "notebook failed), so nothing it built could be graded")


def verdicts(folder: str, assignment_id: str) -> dict:
    from . import evidence
    from .assignments import ASSIGNMENTS
    from .engine import failure_of

    assignment = ASSIGNMENTS[assignment_id]
    found = {}
    for name, check in assignment.checks.items():
        place = os.path.join(folder, name)
        if not os.path.isfile(os.path.join(place, evidence.MANIFEST)):
            found[name] = {"passed": False, "message": NO_EVIDENCE, "title": check.title, "printed": ""}
            continue
        namespace, problems = evidence.load(place)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            message = failure_of(assignment, check, namespace)
        if message and problems:
            message += " (the grader could not read: " + "; ".join(f"{k}: {v}" for k, v in problems.items()) + ")"
        found[name] = {"passed": message is None, "message": message, "title": check.title,
                       "printed": printed.getvalue()}
    return found


if __name__ == "__main__":
    print(json.dumps(verdicts(sys.argv[1], sys.argv[2])))
