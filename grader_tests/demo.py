"""The instructor's whole cycle on a demo class, in this course folder:

release and solutions from source/ -> the demo class's submissions -> autograde -> feedback ->
grades exported to CSV -> a score table per student. Run with ``python -m grader_tests.demo``
(``make demo``). Running it again gives the same result.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnn_course import load_data

from . import classroom
from .classroom import ASSIGNMENTS, REPO
from .submissions import VARIANTS, build

DEMO_CLASS = {
    "weight_initialization": ["solution", "blank", "zeros_init", "ten_hidden_units"],
    "one_step_rnn_multivariate": ["solution", "blank", "lstm_not_gru", "twelve_hours", "truncated_file"],
    "encoder_decoder": ["solution", "blank", "gru_not_lstm", "one_hour_horizon"],
}
PREFIX = "demo_"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def score_table(outcomes) -> str:
    students = sorted({o.student for o in outcomes})
    header = f"{'student':<28}" + "".join(f"{a:>28}" for a in ASSIGNMENTS)
    lines = [header, "-" * len(header)]
    notes = []
    for student in students:
        row = f"{student:<28}"
        for assignment in ASSIGNMENTS:
            found = [o for o in outcomes if o.student == student and o.assignment == assignment]
            if not found:
                row += f"{'':>28}"
            elif found[0].problem:
                row += f"{'not graded (see below)':>28}"
                notes.append(f"{student} / {assignment}: {found[0].problem}")
            else:
                auto = sum(score for score, _ in found[0].tests.values())
                most = sum(most for _, most in found[0].tests.values())
                manual = found[0].max_score - most
                cell = f"{auto:g}/{most:g}" + (f" (+{manual:g} by hand)" if manual else "")
                row += f"{cell:>28}"
        lines.append(row)
    if notes:
        lines += ["", "Not graded:"] + [f"  {note}" for note in notes]
    return "\n".join(lines)


def run(root: Path = REPO) -> list:
    started = time.monotonic()
    print("Checking the data ...", flush=True)
    load_data()
    print(f"[{_clock(time.monotonic() - started)}] Generating release/ and solutions/ from source/ ...", flush=True)
    classroom.release(root)

    chosen = [v for v in VARIANTS if v.name in DEMO_CLASS[v.assignment]]
    for variant in chosen:
        classroom.submit(root, PREFIX + variant.name, variant.assignment, build(variant, root))
    print(f"[{_clock(time.monotonic() - started)}] Submitted {len(chosen)} demo notebooks to submitted/", flush=True)

    outcomes = []
    for number, variant in enumerate(chosen, start=1):
        student = PREFIX + variant.name
        print(f"[{_clock(time.monotonic() - started)}] ({number}/{len(chosen)}) autograding {student} / "
              f"{variant.assignment}: {variant.description} ...", flush=True)
        outcome = classroom.autograde(root, student, variant.assignment)
        if outcome.problem is None:
            classroom.generate_feedback(root, student, variant.assignment)
            result = f"{sum(s for s, _ in outcome.tests.values()):g}/{sum(m for _, m in outcome.tests.values()):g} points"
        else:
            result = f"NOT GRADED: {outcome.problem}"
        print(f"        {result} in {outcome.seconds:.1f} s", flush=True)
        outcomes.append(outcome)

    csv_path = classroom.export_grades(root, root / "grades.csv")
    print(f"\n[{_clock(time.monotonic() - started)}] Done. Autograded points per student and quiz:\n")
    print(score_table(outcomes))
    print(f"\nGrades exported to {csv_path}; autograded notebooks in autograded/, feedback (HTML) in feedback/.")
    print("TAs grade the written answers with `nbgrader formgrader` (see the README).")
    return outcomes


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    run()


if __name__ == "__main__":
    main()
