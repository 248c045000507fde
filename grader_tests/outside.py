"""Turns the grader's outside verdicts into what nbgrader scores: each hidden test cell shows the
grader's verdict, whatever the student's kernel displayed there, and every disagreement is listed
for the TA (the autograde log, and integrity.csv in the course folder)."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import subprocess
import sys

from nbformat.v4 import new_output

HIDDEN_CALL = re.compile(r'check\("(\w+)", "(\w+)", globals\(\)\)')
TIMEOUT_SECONDS = 600


def hidden_checks(nb) -> list:
    """(cell, assignment id, check name) of each autograded test cell with a hidden check."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            match = HIDDEN_CALL.search(cell.source)
            if match:
                found.append((cell, match.group(1), match.group(2)))
    return found


def judge(evidence_folder: str, assignment_id: str) -> dict:
    """The verdicts of `grader_tests.verdicts`, run in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "grader_tests.verdicts", evidence_folder, assignment_id],
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(lines[-1])


def _failed_output(title: str, message: str):
    return new_output("error", ename="CheckFailed", evalue=message,
                      traceback=[f"\x1b[0;31m{title} failed\x1b[0m: {message}"])


def apply(nb, verdicts: dict) -> list:
    """Make each test cell show its verdict; returns the disagreements [(check, shown, verdict)]."""
    disagreements = []
    for cell, _, name in hidden_checks(nb):
        verdict = verdicts.get(name)
        if verdict is None:
            continue
        shown_failed = any(output.output_type == "error" for output in cell.outputs)
        shown_text = json.dumps(cell.outputs)
        if verdict["passed"]:
            if shown_failed:
                cell.outputs = [o for o in cell.outputs if o.output_type != "error"]
                disagreements.append((name, "failed", "passed"))
            if f"{verdict['title']}: passed" not in shown_text:
                cell.outputs.append(new_output("stream", name="stdout", text=f"{verdict['title']}: passed\n"))
        elif not shown_failed:  # a cell that shows its own failure already loses its points, with its reason
            disagreements.append((name, "passed", "failed"))
            cell.outputs.append(_failed_output(verdict["title"], verdict["message"]))
    return disagreements


def record(course_root: str, student: str, assignment: str, notebook: str, rows) -> None:
    """Append the disagreements to integrity.csv (one line each), safely under parallel grading."""
    path = os.path.join(course_root, "integrity.csv")
    with open(path, "a", newline="") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        writer = csv.writer(handle)
        if handle.tell() == 0:
            writer.writerow(["student", "assignment", "notebook", "event", "detail"])
        for row in rows:
            writer.writerow([student, assignment, notebook, *row])
