"""Turns the grader's outside verdicts into what nbgrader scores: each hidden test cell shows the
grader's verdict, whatever the student's kernel displayed there; each disagreement goes to the
integrity report (`grader_tests.plugins.integrity`)."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import select
import signal
import subprocess
import sys

from nbformat.v4 import new_output

from ..errors import CheckFailed, passed_line

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


class Judge:
    """The client of one `python -m grader_tests.verdicts --serve` process, started at the first
    notebook and kept for the next ones of this nbgrader run (each is judged in a fresh fork of it)."""

    def __init__(self):
        self.process = None

    def _start(self):
        self.stop()
        self.process = subprocess.Popen([sys.executable, "-m", "grader_tests.verdicts", "--serve"], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)

    def stop(self):
        if self.process is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
            self.process = None

    def start(self) -> None:
        """Start the judging process if it is not running (early: it imports TensorFlow while the first
        notebook runs)."""
        if self.process is None or self.process.poll() is not None:
            self._start()

    def __call__(self, evidence_folder: str, assignment_id: str, sources: list = ()) -> dict:
        """{check: verdict} of the notebook whose evidence is in `evidence_folder`; `sources`: the
        source of its code cells, in order."""
        self.start()
        try:
            request = {"folder": evidence_folder, "assignment": assignment_id, "sources": list(sources)}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT_SECONDS)
            answer = json.loads(self.process.stdout.readline()) if ready else {"error": f"no verdict in {TIMEOUT_SECONDS} s"}
        except (OSError, ValueError) as error:
            answer = {"error": f"the judging process failed ({type(error).__name__}: {error})"}
        if "error" in answer:
            self.stop()  # the next notebook gets a new judging process
            raise RuntimeError(answer["error"])
        return answer


judge = Judge()
atexit.register(judge.stop)


def _failed_output(title: str, message: str):
    failed = CheckFailed(title, message)
    return new_output("error", ename="CheckFailed", evalue=message, traceback=failed._render_traceback_())


def test_cells(nb) -> list:
    """(cell, check name or None) of each autograded test cell: nbgrader scores these from their outputs."""
    found = []
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and info.get("grade") and not info.get("solution"):
            match = HIDDEN_CALL.search(cell.source)
            found.append((cell, match.group(2) if match else None))
    return found


def _inert(output):
    """The kernel's output as the reader saw it, in a form nbgrader's scoring ignores: nbgrader scores
    a test cell by its first `execute_result` (a number as partial credit, anything else as full
    marks) before it looks for errors, so a result the kernel displayed becomes plain display data."""
    if output.get("output_type") == "execute_result":
        return new_output("display_data", data=output.get("data", {}), metadata=output.get("metadata", {}))
    return output


def apply(nb, verdicts: dict) -> list:
    """Make each autograded test cell's score the grader's verdict alone: the kernel's outputs stay for
    the reader but none of them can score (`_inert`; errors and stderr, which would cost a passed
    cell its points, are removed from passed cells), then the cell shows what the check printed and
    "<title>: passed", or the failure as an error, which loses the cell's points. A test cell without
    the grader's call fails. The verdict is also kept as data in the cell's metadata ("grader").

    Returns the cells whose own outputs claimed otherwise, [(check, shown, verdict)]: a pass shown for
    a failed verdict (printed "passed" text, or a cell that ran to its end without the grader's call),
    or an error for a passed one."""
    from ..verdicts import NO_EVIDENCE

    disagreements = []
    for cell, name in test_cells(nb):
        verdict = verdicts.get(name) if name else None
        verdict = verdict or {"passed": False, "title": "Grading", "printed": "",
                              "message": "the grader has no verdict for this test cell; tell your instructor"}
        shown_failed = any(output.output_type == "error" for output in cell.outputs)
        shown_pass = f"{verdict['title']}: passed" in json.dumps(cell.outputs) or \
            (not shown_failed and verdict["message"] == NO_EVIDENCE)
        outputs = [_inert(output) for output in cell.outputs]
        if verdict["passed"]:
            if shown_failed:
                disagreements.append((name, "failed", "passed"))
            outputs = [o for o in outputs if o.output_type != "error" and o.get("name") != "stderr"]
        elif shown_pass:
            disagreements.append((name, "passed", "failed"))
        if verdict.get("printed"):
            outputs.append(new_output("stream", name="stdout", text=verdict["printed"]))
        for png in verdict.get("figures", []):
            outputs.append(new_output("display_data", data={"image/png": png, "text/plain": "<the grader's figure>"}))
        if verdict["passed"]:
            outputs.append(new_output("stream", name="stdout", text=passed_line(verdict["title"])))
        elif not (shown_failed and verdict["message"] == NO_EVIDENCE):  # else the cell's own error says why
            outputs.append(_failed_output(verdict["title"], verdict["message"]))
        cell.outputs = outputs
        cell.metadata["grader"] = {"check": name, "passed": bool(verdict["passed"]),
                                   "measured": dict(verdict.get("measured") or {})}
    return disagreements


def measured(cell, figure: str) -> float | None:
    """A figure the grader measured for an autograded test cell (the "mape" as a fraction, say), kept
    as data by `apply`, never read from what the cell printed; None when it has none."""
    value = ((cell or {}).get("metadata", {}).get("grader") or {}).get("measured", {}).get(figure)
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if real and math.isfinite(value) else None  # a NaN forecast's MAPE is no measurement
