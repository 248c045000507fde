"""What the tests read back from an autograded notebook."""

import re
from pathlib import Path

import nbformat

from instructor.classroom import NOTEBOOKS


def failure_messages(root: Path, student: str, assignment: str) -> dict:
    """grade_id -> the error a failed test cell showed in the autograded notebook, as one line."""
    path = root / "autograded" / student / assignment / NOTEBOOKS[assignment]
    messages = {}
    for cell in nbformat.read(path, as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = "\n".join(output.get("traceback", [])) or f"{output['ename']}: {output['evalue']}"
                messages[grade_id] = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())  # one line, unwrapped
    return messages
