"""What grading costs: per quiz, seconds to autograde one submission (the solution) with the
course's training settings and with the seed's (plain ``compile``), the part spent in the
student's own training and in the grader's MAPE measurement, and the reference MAPE beside the
seed's. Real `nbgrader autograde` runs in temporary course folders. Not a test.

    python -m grader_tests.benchmark [--repeat 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat

from . import classroom
from .classroom import ASSIGNMENTS
from .submissions import VARIANTS, build

FAST_COMPILE = "model.compile(optimizer='RMSprop', loss='mse', steps_per_execution=64, jit_compile=True)"
SEED_COMPILE = "model.compile(optimizer='RMSprop', loss='mse')"
SEED_MAPE = {  # the seed's figures for the same models (tutorial slides and notebooks)
    "weight_initialization": "glorot_uniform / RandomNormal: 1.5-2.0 %, Zeros: 13 %",
    "one_step_rnn_multivariate": "1.61-3.14 % over 6 seeds (issue); tutorial's 1-layer GRU: 1.54 %",
    "encoder_decoder": "3.96-5.08 % over 3 seeds (issue)",
}


def _cell_seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def grade_solution(settings: str, assignment: str, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = classroom.make_course_copy(Path(folder) / "course")
        source = root / "source" / assignment / ASSIGNMENTS[assignment]
        if settings == "seed":
            source.write_text(source.read_text().replace(FAST_COMPILE, SEED_COMPILE))
        classroom.release(root, [assignment])
        solution = next(v for v in VARIANTS if v.assignment == assignment and v.name == "solution")
        classroom.submit(root, "solution", assignment, build(solution, root))
        runs = []
        for _ in range(repeat):
            outcome = classroom.autograde(root, "solution", assignment)
            notebook = nbformat.read(root / "autograded" / "solution" / assignment / ASSIGNMENTS[assignment], 4)
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
            text = "".join(o.get("text", "") for o in cells["test_mape"].get("outputs", []))
            found = re.search(r"MAPE on the test period: ([0-9.]+)%", text)
            runs.append({"total": outcome.seconds, "train": _cell_seconds(cells["train"]),
                         "grader_mape": _cell_seconds(cells["test_mape"]),
                         "mape": float(found.group(1)) if found else float("nan"),
                         "score": f"{outcome.score:g}/{outcome.max_score:g}"})
    return {key: (statistics.median(r[key] for r in runs) if key != "score" else runs[-1][key]) for key in runs[0]} | {
        "mapes": [r["mape"] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2, help="autograde runs per setting (median is shown)")
    parser.add_argument("--assignment", action="append", choices=list(ASSIGNMENTS))
    args = parser.parse_args()
    rows = []
    for assignment in args.assignment or list(ASSIGNMENTS):
        fast = grade_solution("course", assignment, args.repeat)
        seed = grade_solution("seed", assignment, args.repeat)
        rows.append((assignment, fast, seed))
        print(f"{assignment}: course {fast}, seed settings {seed}", flush=True)
    print("\n| quiz | autograde s (course) | of which training | grader MAPE | autograde s (seed settings) | "
          "of which training | ratio | MAPE course | MAPE seed settings | seed's MAPE |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for assignment, fast, seed in rows:
        print(f"| {assignment} | {fast['total']:.1f} | {fast['train']:.1f} | {fast['grader_mape']:.1f} | "
              f"{seed['total']:.1f} | {seed['train']:.1f} | {fast['total'] / seed['total']:.2f} | "
              f"{fast['mape']:.2f} % | {seed['mape']:.2f} % | {SEED_MAPE[assignment]} |")


if __name__ == "__main__":
    main()
