"""The grading kit. Each hidden test cell makes one thin call::

    from grader_tests import check; check("encoder_decoder", "layers", globals())

In the student's kernel the call only writes down what the check reads (`kernel`); the grader
judges that evidence after the notebook, outside the kernel (`verdicts`), and the test cell shows
its verdict (`outside`): "<title>: passed", or "<title> failed: <what was expected, what was
found>" as an error, which loses the cell's points. Nothing the call does reaches stderr (nbgrader
scores a test cell that writes to stderr as failed). `judge` runs a check at once on a namespace.

Layout, by process:
- `kernel/`: all that runs in the student's kernel: the hand-over (the sandbox mounts this folder alone
  as `grader_tests`, with the `plan` of what each check reads, as data) and `watch`, the audit hook
  that reports what the sandbox refuses it;
- `plugins/`: what runs in nbgrader's process: `sandbox` and `limits` (the kernel's sandbox and the
  notebook-wide limits), `outside` (each test cell gets the grader's verdict), `integrity` (the
  report), `unreadable` (submitted files that are not notebooks, or links);
- the rest is the judge, outside the kernel: `verdicts` (the judging process), `engine` (runs one
  check), `checks/` (the checks by family), `specs` (the expected answers), `assignments` (the
  catalogue: notebook, answer cells, spec, checks, the tutorial's MAPE), `evidence` (reads the
  hand-over back), `static` (reads the cells' source), `plan`, `measure/` (references and MAPE).
"""

from .errors import CheckFailed
from .kernel import check  # in the sandbox, grader_tests/kernel/ alone is mounted as grader_tests


def judge(assignment_id: str, name: str, namespace: dict) -> None:
    """Run the check `name` on `namespace` now: print "<title>: passed" or raise CheckFailed."""
    from .engine import judge as run

    run(assignment_id, name, namespace)


__all__ = ["CheckFailed", "check", "judge"]
