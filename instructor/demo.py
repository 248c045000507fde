"""The instructor's whole cycle on a demo class, in this course folder:

release and solutions from source/ -> the demo class's submissions -> autograde, every assignment
graded in parallel by `python -m instructor grade` (instructor/grade.py) with a class report each ->
feedback -> grades exported to CSV -> a score table per student. Run with ``python -m instructor.demo``
(``make demo``). Running it again gives the same result.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from grader_tests.plugins import integrity
from rnn_course import DataError, load_data

from . import classroom, grade
from .hand_in import enrol
from .classroom import NOTEBOOKS, REPO
from .submissions import VARIANTS, build

PREFIX = "demo_"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def score_table(outcomes) -> str:
    """One line per student and assignment: autograded points, or why the notebook was not graded."""
    lines = [f"{'assignment':<42}{'student':<28}points", "-" * 96]
    notes = []
    for assignment in NOTEBOOKS:
        for outcome in sorted((o for o in outcomes if o.assignment == assignment), key=lambda o: o.student):
            if outcome.problem:
                cell = "not graded (see below)"
                notes.append(f"{outcome.student} / {assignment}: {outcome.problem}")
            else:
                auto = sum(score for score, _ in outcome.tests.values())
                most = sum(most for _, most in outcome.tests.values())
                manual = outcome.max_score - most
                cell = f"{auto:g}/{most:g}" + (f" (+{manual:g} by hand)" if manual else "")
            lines.append(f"{assignment:<42}{outcome.student:<28}{cell}")
    if notes:
        lines += ["", "Not graded:"] + [f"  {note}" for note in notes]
    return "\n".join(lines)


def integrity_table(root: Path) -> str:
    """The demo class's rows of the integrity report (integrity.csv, written by autograde)."""
    path = root / integrity.FILE
    rows = []
    if path.exists():
        with path.open() as handle:
            rows = [row for row in csv.DictReader(handle) if row["student"].startswith(PREFIX)]
    if not rows:
        return "Integrity report: nothing to report."
    lines = [f"Integrity report ({path.name}): what the sandbox refused, the limits reached, the test results "
             "the grader overruled"]
    lines += [f"  {row['student']} / {row['assignment']}: {row['event']}: {row['detail']}" for row in rows]
    return "\n".join(lines)


def run(root: Path = REPO, workers: int = 2) -> list:
    started = time.monotonic()
    print("Checking the data ...", flush=True)
    load_data()
    print(f"[{_clock(time.monotonic() - started)}] Generating release/ and solutions/ from source/ ...", flush=True)
    classroom.release(root)

    chosen = [v for v in VARIANTS if v.in_demo]
    for variant in chosen:
        classroom.submit(root, PREFIX + variant.name, variant.assignment, build(variant, root))
        enrol(f"sqlite:///{root / 'gradebook.db'}", PREFIX + variant.name, f"Demo {variant.name}")  # named in Formgrader
    print(f"[{_clock(time.monotonic() - started)}] Submitted {len(chosen)} demo notebooks to submitted/", flush=True)

    assignments = list(dict.fromkeys(v.assignment for v in chosen))
    print(f"[{_clock(time.monotonic() - started)}] Autograding {len(assignments)} assignments, "
          f"{workers} at a time (python -m instructor grade) ...", flush=True)
    results = grade.grade(root, assignments, workers=workers, students=[PREFIX + v.name for v in chosen],
                          force=True)
    outcomes = []
    for result in results:
        outcome = classroom.Outcome(result.student, result.assignment, result.seconds, problem=result.problem)
        if result.score is not None:
            classroom.generate_feedback(root, result.student, result.assignment)
            outcome.problem = None
            classroom._read_grades(root, outcome)
        outcomes.append(outcome)

    csv_path = classroom.export_grades(root, root / "grades.csv")
    print(f"\n[{_clock(time.monotonic() - started)}] Done. Autograded points per student and assignment:\n")
    print(score_table(outcomes))
    print("\n" + integrity_table(root))
    print(f"\nGrades exported to {csv_path}; autograded notebooks in autograded/, feedback (HTML) in feedback/.")
    print(f"Class reports (HTML): {root / 'reports'}/<assignment>/report.html")
    print("TAs grade the written answers with `nbgrader formgrader` (see the README).")
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at a time")
    args = parser.parse_args()
    try:
        run(workers=args.workers)
    except DataError as error:  # no data and no download: the message says where to put it, alone
        raise SystemExit(f"The demo needs the GEFCom2014 data: {error}") from None


if __name__ == "__main__":
    main()
