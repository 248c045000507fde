"""Runs one hidden check: finds it in the catalogue, runs it quietly, turns its verdict into what
the test cell shows."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

from .assignments import ASSIGNMENTS
from .errors import CheckFailed, Mismatch


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


def check(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the hidden check `name` of an assignment on the notebook's variables (`globals()`)."""
    assignment = ASSIGNMENTS.get(assignment_id)
    if assignment is None or name not in assignment.checks:
        raise CheckFailed("grading", f"unknown check {assignment_id}/{name}; the notebook does not match the kit")
    title, function = assignment.checks[name]
    failure = None
    with _no_stderr():
        try:
            function(assignment, namespace)
        except Mismatch as mismatch:
            failure = str(mismatch)
        except Exception as error:  # a broken answer must lose the points, not crash the grader
            failure = f"the check could not run on your notebook ({type(error).__name__}: {error})"
    if failure is not None:
        raise CheckFailed(title, failure) from None
    print(f"{title}: passed")
