"""`nbgrader submit` for the course's students: the submission, then what is left to do.

The students' nbgrader configuration (written by the instructor's `python -m instructor
exchange`) makes `nbgrader submit` and the Assignment List's Submit button use `CheckedSubmit`.
Nothing is refused: a half-finished notebook handed in before the deadline is worth more than none.
"""

from __future__ import annotations

import json
from pathlib import Path

from nbgrader.exchange.default.submit import ExchangeSubmit

# What nbgrader leaves in an answer cell of the student version until it is answered.
UNANSWERED = ("raise NotImplementedError()", "YOUR ANSWER HERE")


def left_to_do(path: Path) -> list[str]:
    """What a notebook still lacks: unanswered cells by name, and whether it was ever run."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"it cannot be read as a notebook ({error})"]
    problems = []
    for cell in cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        source = "".join(cell.get("source", ""))
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and any(s in source for s in UNANSWERED):
            problems.append(f"the answer cell `{grade_id}` is not answered yet")
    if not any(cell.get("execution_count") for cell in cells if cell.get("cell_type") == "code"):
        problems.append("it was saved without being run (Restart Kernel and Run All Cells, then save)")
    return problems


class CheckedSubmit(ExchangeSubmit):
    """nbgrader's submit, then a word per notebook on what is left, and how to check it."""

    def copy_files(self):
        super().copy_files()
        notebooks = sorted(Path(self.src_path).glob("*.ipynb"))
        for path in notebooks:
            for problem in left_to_do(path):
                self.log.warning("%s: %s", path.name, problem)
        commands = " and ".join(f"`nbgrader validate {self.coursedir.assignment_id}/{path.name}`" for path in notebooks)
        self.log.info("Run the self-checks before the deadline: the Validate button of the Assignment List, or %s. "
                      "You may submit again; the last submission is graded, and one after the deadline is marked "
                      "late.", commands)
