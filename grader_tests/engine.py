"""Runs one check on a namespace (the evidence, read back by the judge; or a live one, for `judge`):
finds it in the catalogue, runs it quietly, turns its verdict into what the test cell shows."""

from __future__ import annotations

from .assignments import ASSIGNMENTS
from .errors import CheckFailed, Mismatch, Suspicious, passed_line, plain
from .kernel.hand_over import no_stderr


def _find(assignment_id: str, name: str):
    assignment = ASSIGNMENTS.get(assignment_id)
    if assignment is None or name not in assignment.checks:
        raise CheckFailed("grading", f"unknown check {assignment_id}/{name}; the notebook does not match the kit")
    return assignment, assignment.checks[name]


def outcome_of(assignment, check, namespace) -> tuple:
    """Run one check quietly: (None when it passes, else the explanation for the student; the
    (event, detail) to flag for the TA, or None; the figures it measured, {name: number})."""
    with no_stderr():
        try:
            measured = check.function(assignment, namespace)
        except Suspicious as suspicious:
            return str(suspicious), (suspicious.event, str(suspicious).splitlines()[0]), suspicious.measured
        except Mismatch as mismatch:
            return str(mismatch), None, mismatch.measured
        except Exception as error:  # a broken answer must lose the points, not crash the grader
            return f"the check could not run on your notebook ({type(error).__name__}: {plain(error)})", None, {}
    return None, None, dict(measured or {})


def failure_of(assignment, check, namespace) -> str | None:
    """Run one check quietly: None when it passes, else the explanation for the student."""
    return outcome_of(assignment, check, namespace)[0]


def judge(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the check `name` on a namespace here and now: print "<title>: passed" or raise CheckFailed
    (for the kit's own tests, and for trying a check on a live notebook)."""
    assignment, found = _find(assignment_id, name)
    failure = failure_of(assignment, found, namespace)
    if failure is not None:
        raise CheckFailed(found.title, failure) from None
    print(passed_line(found.title), end="")
