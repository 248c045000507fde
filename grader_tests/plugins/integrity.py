"""The integrity report: per graded notebook, what the sandbox refused it (writes, connections), the
limits it reached, the test cells whose shown result the grader overruled, and what the grader found
suspicious in what the notebook handed over. It goes to the autograde log (a section per notebook, a
summary when nbgrader ends) and to integrity.csv in the course folder, one row per event; grading a
notebook again replaces its rows.

Every row is the grader's: its own findings, or a line of the kernel's report (grader_tests.kernel.watch)
that the grader checked against the sandbox's rules and wrote in its own words (`checked_report`);
the `source` column says which. The kernel can write into its report, so a row of that source is a
claim about its own notebook that fits the rules, not a proof that the attempt was made."""

from __future__ import annotations

import ast
import atexit
import csv
import fcntl
import json
import os
import posixpath

FILE = "integrity.csv"
COLUMNS = ["student", "assignment", "notebook", "event", "detail", "source"]
REPORTED_BY_KERNEL = {"write denied", "connection denied", "many processes"}  # watch.py's kinds
# The grader checks that such a line describes what the sandbox denies, and words it itself; it cannot
# prove that the attempt was made (the kernel can write into its report): a claim about its own notebook.
KERNEL_REPORT = "the kernel's report: what the sandbox denies, worded by the grader (not proven)"
WRITE_OPERATIONS = {"remove", "rename", "rmdir", "mkdir", "chmod", "chown", "truncate", "symlink", "link", "utime",
                    "rmtree"}
MAX_REPORTED = 100  # lines of the kernel's report read (watch.MAX_EVENTS)
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


def checked_report(raw: bytes, writable: list, read_only: list) -> list:
    """(event, detail) for each line of the kernel's report that describes what the sandbox denies by
    its rules (a write outside `writable` or under `read_only`, a connection to a network address, many
    processes), re-worded by the grader; one event counts the lines that do not."""
    events, unchecked = [], 0
    for line in raw.decode(errors="replace").splitlines()[:MAX_REPORTED]:
        try:
            report = json.loads(line)
            event = _checked(report["event"], report["detail"], writable, read_only)
        except (ValueError, KeyError, TypeError, SyntaxError, MemoryError, RecursionError):
            event = None
        if event is None:
            unchecked += 1
        elif event not in events:
            events.append(event)
    if unchecked:
        events.append(("unchecked report", f"{unchecked} line(s) of the kernel's own report do not describe anything the "
                                           "sandbox denies; they are not listed (the kernel can write into its report)"))
    return events


def _checked(kind, detail, writable: list, read_only: list):
    if kind not in REPORTED_BY_KERNEL or not isinstance(detail, str) or len(detail) > 300:
        return None
    if kind == "many processes":
        return (kind, "64 processes started (more are not counted)") if detail.startswith("64 processes started") else None
    if kind == "connection denied":
        address = ast.literal_eval(detail)
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], str) \
                and isinstance(address[1], int) and 0 <= address[1] < 65536 and _printable(address[0]):
            return kind, repr((address[0], address[1]))
        return None
    operation, _, path = detail.partition(" ")
    if operation not in WRITE_OPERATIONS:
        operation, path = "", detail
    path = posixpath.normpath(path)
    if not path.startswith("/") or not _printable(path):
        return None

    def under(roots):
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)

    if under(read_only) or not under(writable):
        return kind, f"{operation} {path}".strip()
    return None


def _printable(text: str) -> bool:
    return text.isprintable() and len(text) <= 250


def _spreadsheet_safe(value) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula gets a leading apostrophe."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def record(course_root: str, who: tuple, events: list) -> None:
    """Replace the rows of notebook `who` = (student, assignment, notebook) with `events`, under a lock
    (notebooks may be graded in parallel)."""
    path = os.path.join(course_root, FILE)
    with open(path, "a+", newline="") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        kept = [row for row in csv.DictReader(handle)
                if (row["student"], row["assignment"], row["notebook"]) != tuple(map(_spreadsheet_safe, who))]
        handle.seek(0)
        handle.truncate()
        writer = csv.DictWriter(handle, COLUMNS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        for event, detail in events:
            source = KERNEL_REPORT if event in REPORTED_BY_KERNEL else "grader"
            writer.writerow(dict(zip(COLUMNS, map(_spreadsheet_safe, (*who, event, detail, source)))))


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
