"""The grading kit. Hidden test cells make one thin call each::

    from grader_tests.kit import check; check("encoder_decoder", "layers", globals())

A check that passes prints one line; one that fails raises `CheckFailed`, whose message tells the
student what was expected and what was found. Nothing a check does reaches stderr (nbgrader
scores a test cell that writes to stderr as failed), and the traceback shown in feedback is the
message alone, not the kit's code.
"""

from .checks import CHECKS, CheckFailed, check

__all__ = ["CHECKS", "CheckFailed", "check"]
