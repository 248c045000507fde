"""The grading kit. Each hidden test cell makes one thin call::

    from grader_tests import check; check("encoder_decoder", "layers", globals())

A check that passes prints one line; one that fails raises `CheckFailed`, whose message tells the
student what was expected and what was found. Nothing a check does reaches stderr (nbgrader
scores a test cell that writes to stderr as failed), and the traceback shown in feedback is the
message alone, not the kit's code.

Layout: `assignments` is the catalogue (one entry per assignment: notebook, answer cells, spec,
checks, the tutorial's MAPE); `specs` the expected answers; `checks/` the checks by family;
`engine` runs one; `measure/` holds what runs in a fresh process, out of the student's kernel.
"""

from .errors import CheckFailed


def check(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the hidden check `name` of an assignment on the notebook's variables (`globals()`)."""
    from .engine import check as run  # imported here: `import grader_tests` stays light for nbgrader_config.py

    run(assignment_id, name, namespace)


__all__ = ["CheckFailed", "check"]
