"""The integrity report: per graded notebook, what the sandbox refused it (writes, connections), the
limits it reached, and the test cells whose shown result the grader overruled. It goes to the
autograde log (a section per notebook, a summary when nbgrader ends) and to integrity.csv in the
course folder, one row per event; grading a notebook again replaces its rows."""

from __future__ import annotations

import atexit
import csv
import fcntl
import os

FILE = "integrity.csv"
COLUMNS = ["student", "assignment", "notebook", "event", "detail"]
LIMIT_ERRORS = {"MemoryError": ("memory limit", "MemoryError"),
                "[Errno 27]": ("file size limit", "a file reached the largest size allowed (File too large)"),
                "[Errno 28]": ("disk full", "No space left on device"),
                "[Errno 11] Resource temporarily unavailable": ("process limit", "a new process was refused")}

_summary: list = []


def limits_shown(nb) -> list:
    """(event, detail) for each limit an error output of the notebook shows."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
            for marker, (event, detail) in LIMIT_ERRORS.items():
                if marker in text and (event, f"cell {number}: {detail}") not in found:
                    found.append((event, f"cell {number}: {detail}"))
    return found


def record(course_root: str, who: tuple, events: list) -> None:
    """Replace the rows of notebook `who` = (student, assignment, notebook) with `events`, under a lock
    (notebooks may be graded in parallel)."""
    path = os.path.join(course_root, FILE)
    with open(path, "a+", newline="") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        kept = [row for row in csv.DictReader(handle) if (row["student"], row["assignment"], row["notebook"]) != who]
        handle.seek(0)
        handle.truncate()
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(kept)
        writer.writerows(dict(zip(COLUMNS, (*who, event, detail))) for event, detail in events)


def section(who: tuple, events: list) -> str | None:
    """The autograde log's integrity section of one notebook (None without events); the first call
    arranges the summary printed when nbgrader ends."""
    if not _summary:
        atexit.register(_print_summary)
    _summary.append((who, len(events)))
    if not events:
        return None
    lines = [f"Integrity: {who[0]} / {who[1]} / {who[2]}: {len(events)} event(s), listed in {FILE}"]
    lines += [f"    {event}: {detail}" for event, detail in events]
    return "\n".join(lines)


def _print_summary() -> None:
    flagged = [(who, count) for who, count in _summary if count]
    print(f"\nIntegrity report: {len(_summary)} notebook(s) graded, {len(flagged)} with events"
          + (f" (details in {FILE}):" if flagged else "."), flush=True)
    for (student, assignment, notebook), count in flagged:
        print(f"    {student} / {assignment} / {notebook}: {count}", flush=True)
