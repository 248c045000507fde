"""How a check says that an answer is wrong, and how a verdict looks in a notebook."""

import re
import textwrap

WIDTH = 88  # characters per line of a verdict: fits a 1000 px page without scrolling
RED, GREEN, BOLD, RESET = "\x1b[1;31m", "\x1b[1;32m", "\x1b[1m", "\x1b[0m"


class Mismatch(Exception):
    """Raised inside a check with the explanation for the student: what is wrong (a line per
    problem), then what was expected, what was found and what to do, each on a line of its own."""

    def __init__(self, *problems: str, expected=None, found=None, todo=None, measured=None):
        self.measured = dict(measured or {})  # what the check measured, kept as data with the verdict
        lines = [plain(problem) for problem in problems]
        for label, value in (("expected", expected), ("found", found), ("to do", todo)):
            if value is not None:
                lines.append(f"{label}: {plain(value)}")
        super().__init__("\n".join(lines))


class Suspicious(Mismatch):
    """A Mismatch the TA should look at: what the notebook handed over cannot come from honest work
    (a MAPE below any correct model's, a model that changed between the tests, values the cells do not
    set). `event` names it in the integrity report."""

    def __init__(self, event: str, *problems: str, **labelled):
        super().__init__(*problems, **labelled)
        self.event = event


def plain(value, most: int = 500) -> str:
    """`value` as one line of text: what a student's code named or raised may hold newlines or
    terminal codes, which would add lines (a green "passed" one, say) to the grader's message."""
    text = re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], str(value))
    return text if len(text) <= most else text[:most] + "..."


class CheckFailed(AssertionError):
    """A failed check as the notebook shows it: a red title line, then the message's lines wrapped
    to WIDTH; never the kit's source."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title
        self.message = message

    def _render_traceback_(self):
        return [f"{RED}✗ {self.title} failed{RESET}", *wrapped(self.message)]


def wrapped(message: str) -> list:
    """Each line of `message` indented and wrapped; a labelled line ("found: ...") keeps its label
    bold and its continuation under its text."""
    lines = []
    for line in message.replace("\x1b", "\\x1b").splitlines() or [""]:  # no terminal codes of a student's
        label, _, rest = line.partition(": ")
        if rest and label in ("expected", "found", "to do"):
            width = len(label) + 2
            text = textwrap.wrap(rest, WIDTH - 2 - width, break_on_hyphens=False, break_long_words=False) or [""]
            lines.append(f"  {BOLD}{label}:{RESET} {text[0]}")
            lines += [" " * (2 + width) + more for more in text[1:]]
        else:
            lines += ["  " + part for part in textwrap.wrap(line, WIDTH - 2, break_on_hyphens=False,
                                                             break_long_words=False)] or [""]
    return lines


def passed_line(title: str) -> str:
    return f"{GREEN}✓ {title}: passed{RESET}\n"
