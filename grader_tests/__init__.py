"""The grading kit. Each hidden test cell makes one thin call::

    from grader_tests import check; check("encoder_decoder", "layers", globals())

In the student's kernel the call only writes down what the check reads (`kernel`); the grader
judges that evidence after the notebook, outside the kernel (`verdicts`), and the test cell shows
its verdict (`outside`): "<title>: passed", or "<title> failed: <what was expected, what was
found>" as an error, which loses the cell's points. Nothing the call does reaches stderr (nbgrader
scores a test cell that writes to stderr as failed). `judge` runs a check at once on a namespace.

Layout, by process: `kernel/` is all that runs in the student's kernel (the sandbox mounts it alone
as `grader_tests`, with the `plan` of what each check reads as data). The judge runs outside it:
`verdicts` (the judging process), `engine` (runs one check), `checks/` (the checks by family),
`specs` (the expected answers), `assignments` (the catalogue: notebook, answer cells, spec, checks,
the tutorial's MAPE), `evidence` (reads the hand-over back), `static` (reads the cells' source),
`measure/` (references and MAPE). The nbgrader plug-ins run in nbgrader's process: `sandbox`,
`outside`, `integrity`, `unreadable`.
"""

from .errors import CheckFailed
from .kernel import check  # in the sandbox, grader_tests/kernel/ alone is mounted as grader_tests


def judge(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the check `name` on `namespace` now: print "<title>: passed" or raise CheckFailed."""
    from .engine import judge as run

    run(assignment_id, name, namespace)


__all__ = ["CheckFailed", "check", "judge"]
