"""The instructor's whole cycle on a demo class, in this course folder:

release and solutions from source/ -> the demo class's submissions -> autograde, every assignment
graded in parallel by `python -m instructor grade` (instructor/grading.py) with a class report each ->
feedback -> grades exported to CSV -> a score table per student. Run with ``python -m instructor demo``
(``make demo``). Running it again gives the same result.

Each demo student's submission is designed to win or lose given tests (instructor/submissions.py);
the demo exits with status 1 and names every student whose grade differs from the design, and with
status 2, before anything else, when grading cannot run on this machine (the reason printed once).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from grader_tests.plugins import integrity
from rnn_course import DataError, load_data

from .. import classroom, grading
from ..classroom import NOTEBOOKS, REPO
from ..gradebook import enrol
from ..submissions import VARIANTS, Variant, build

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


def differences(chosen, outcomes) -> list:
    """One line per demo student whose grade is not the one designed for them."""
    designed = {(v.assignment, PREFIX + v.name): v for v in chosen}
    lines = []
    for outcome in outcomes:
        variant: Variant = designed[(outcome.assignment, outcome.student)]
        if outcome.problem:
            if not variant.problem or variant.problem not in outcome.problem:
                lines.append(f"{outcome.student} / {outcome.assignment}: not graded ({outcome.problem}); "
                             f"designed to be graded" + (f", losing {', '.join(variant.lost)}" if variant.lost else ""))
            continue
        lost = sorted(test for test, (score, most) in outcome.tests.items() if score != most)
        if variant.problem:  # an unreadable file is graded as the released notebook: every test lost
            if lost != sorted(outcome.tests):
                lines.append(f"{outcome.student} / {outcome.assignment}: lost {', '.join(lost) or 'nothing'}; "
                             f"designed to be reported ({variant.problem}) or to lose every test")
            continue
        if lost != sorted(variant.lost):
            lines.append(f"{outcome.student} / {outcome.assignment}: lost {', '.join(lost) or 'nothing'}; "
                         f"designed to lose {', '.join(sorted(variant.lost)) or 'nothing'}")
    return lines


def run(root: Path = REPO, workers: int = 2) -> list:
    """The whole cycle; one GradedSubmission per demo student."""
    started = time.monotonic()
    wanted = grading.sandbox_wanted(root)
    problem = grading.sandbox_problem() if wanted else None
    if problem:
        raise grading.GradingUnavailable(grading.unavailable_message(problem))
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
    results = grading.grade(root, assignments, workers=workers, students=[PREFIX + v.name for v in chosen],
                          force=True)
    for result in results:
        if result.score is not None:
            classroom.generate_feedback(root, result.student, result.assignment)
            result.problem = None  # graded: its tests below say what it lost
            classroom.read_grades(root, result)

    csv_path = classroom.export_grades(root, root / "grades.csv")
    print(f"\n[{_clock(time.monotonic() - started)}] Done. Autograded points per student and assignment:\n")
    print(score_table(results))
    print("\n" + integrity_table(root))
    print(f"\nGrades exported to {csv_path}; autograded notebooks in autograded/, feedback (HTML) in feedback/.")
    print(f"Class reports (HTML): {root / 'reports'}/<assignment>/report.html")
    print("TAs grade the written answers with `nbgrader formgrader` (docs/tas.md).")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at a time")
    args = parser.parse_args(argv)
    try:
        outcomes = run(workers=args.workers)
    except DataError as error:  # no data and no download: the message says where to put it, alone
        raise SystemExit(f"The demo needs the GEFCom2014 data: {error}") from None
    except grading.GradingUnavailable as error:
        print(error, file=sys.stderr, flush=True)
        return 2
    wrong = differences([v for v in VARIANTS if v.in_demo], outcomes)
    if wrong:
        print(f"\n{len(wrong)} demo student(s) got another grade than the one designed for them:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in wrong), file=sys.stderr, flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
