"""How a check says that an answer is wrong."""


class Mismatch(Exception):
    """Raised inside a check with the explanation for the student: what was expected, what was found."""


class CheckFailed(AssertionError):
    """A failed check as the notebook shows it. IPython shows only `title failed: message`, never the
    kit's source."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title
        self.message = message

    def _render_traceback_(self):
        return [f"\x1b[0;31m{self.title} failed\x1b[0m: {self.message}"]
