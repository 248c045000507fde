"""The grading kit. Each hidden test cell makes one thin call::

    from grader_tests import check; check("encoder_decoder", "layers", globals())

In the student's kernel the call only writes down what the check reads (`evidence`); the grader
judges that evidence after the notebook, outside the kernel (`verdicts`), and the test cell shows
its verdict (`outside`): "<title>: passed", or "<title> failed: <what was expected, what was
found>" as an error, which loses the cell's points. Nothing the call does reaches stderr (nbgrader
scores a test cell that writes to stderr as failed). `judge` runs a check at once on a namespace.

Layout: `assignments` is the catalogue (one entry per assignment: notebook, answer cells, spec,
checks, the tutorial's MAPE); `specs` the expected answers; `checks/` the checks by family;
`engine` runs one; `measure/` holds what runs in a fresh process, out of the student's kernel.
"""

from .errors import CheckFailed


def check(assignment_id: str, name: str, namespace: dict) -> None:
    """Hand the notebook's variables (`globals()`) that the hidden check `name` reads to the grader."""
    from .engine import check as run  # imported here: `import grader_tests` stays light for nbgrader_config.py

    run(assignment_id, name, namespace)


def judge(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the check `name` on `namespace` now: print "<title>: passed" or raise CheckFailed."""
    from .engine import judge as run

    run(assignment_id, name, namespace)


__all__ = ["CheckFailed", "check", "judge"]
