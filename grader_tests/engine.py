"""Runs one hidden check: finds it in the catalogue, runs it quietly, turns its verdict into what
the test cell shows."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

from . import evidence
from .assignments import ASSIGNMENTS
from .errors import CheckFailed, Mismatch, Suspicious, passed_line, plain


@contextlib.contextmanager
def _no_stderr():
    """Send Python and OS-level stderr (TensorFlow's C++ logs) to nowhere while a check runs:
    nbgrader scores a test cell that writes to stderr as failed."""
    sys_err = io.StringIO()
    saved_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stderr(sys_err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)


def _find(assignment_id: str, name: str):
    assignment = ASSIGNMENTS.get(assignment_id)
    if assignment is None or name not in assignment.checks:
        raise CheckFailed("grading", f"unknown check {assignment_id}/{name}; the notebook does not match the kit")
    return assignment, assignment.checks[name]


def outcome_of(assignment, check, namespace) -> tuple:
    """Run one check quietly: (None when it passes, else the explanation for the student; the
    (event, detail) to flag for the TA, or None; the figures it measured, {name: number})."""
    with _no_stderr():
        try:
            measured = check.function(assignment, namespace)
        except Suspicious as suspicious:
            return str(suspicious), (suspicious.event, str(suspicious).splitlines()[0]), {}
        except Mismatch as mismatch:
            return str(mismatch), None, {}
        except Exception as error:  # a broken answer must lose the points, not crash the grader
            return f"the check could not run on your notebook ({type(error).__name__}: {plain(error)})", None, {}
    return None, None, dict(measured or {})


def failure_of(assignment, check, namespace) -> str | None:
    """Run one check quietly: None when it passes, else the explanation for the student."""
    return outcome_of(assignment, check, namespace)[0]


def check(assignment_id: str, name: str, namespace: dict) -> None:
    """In the student's kernel: write down the evidence the check `name` reads. The grader judges it
    after the notebook, outside this kernel (grader_tests.verdicts), and the test cell then shows the
    verdict (grader_tests.outside)."""
    assignment, found = _find(assignment_id, name)
    with _no_stderr():
        try:
            extra = found.collect(assignment, namespace) if found.collect else {}
        except Exception as error:  # the student's code failed: the grader is told why
            extra = {evidence.COLLECT_ERROR: f"{type(error).__name__}: {error}"[:300]}
        evidence.export(name, found.reads(assignment), namespace, extra)


def judge(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the check `name` on a namespace here and now: print "<title>: passed" or raise CheckFailed
    (for the kit's own tests, and for trying a check on a live notebook)."""
    assignment, found = _find(assignment_id, name)
    failure = failure_of(assignment, found, namespace)
    if failure is not None:
        raise CheckFailed(found.title, failure) from None
    print(passed_line(found.title), end="")
