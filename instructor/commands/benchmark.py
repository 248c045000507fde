"""What grading costs: per quiz, seconds to autograde one submission (the solution) with the
course's settings and with the seed's (plain ``compile``, ``fit(verbose=1)`` and ``model.predict``
as in the tutorial's notebooks), the part spent in the student's own training and in the grader's
MAPE measurement, the reference MAPE beside the seed's, and what the sandbox costs (the course's
settings graded with and without it, side by side). Real `nbgrader autograde` runs in temporary
course folders. Not a test.

    python -m instructor benchmark [--class-size 3] [--assignment ID]
    python -m instructor benchmark --class-grading [--assignment ID]
    python -m instructor benchmark --warm-kernels [--class-size 8] [--assignment ID]

--class-grading: a class of the quiz's solution graded by serial `nbgrader autograde` and by
`python -m instructor grade` (instructor/grading.py) on a local Dask cluster, side by side in one run:
2 workers against serial, 1/2/4 single-threaded workers, and 1/8/32 submissions.

--warm-kernels: per quiz, a class graded by plain nbgrader (no sandbox), by the course's grading
with each kernel started when its notebook starts (before kernels were started ahead), and by the
course's grading as it is (the next notebook's kernel started, and its imports done, while one runs),
side by side in one run: seconds per submission, the training, what is left, and the ratios; and
the same class with the grade command on --workers local Dask workers (default 1: what one worker
gains), kernels started cold and ahead.
"""

from __future__ import annotations

import argparse
import os
import sys
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from grader_tests.plugins import outside

from .. import classroom
from ..classroom import CATALOGUE, NOTEBOOKS, QUIZZES
from ..submissions import VARIANTS, build

# The course's given code, and what the seed's notebooks had in its place.
SEED_SETTINGS = {
    "model.compile(optimizer='RMSprop', loss='mse', steps_per_execution=64, jit_compile=True)":
        "model.compile(optimizer='RMSprop', loss='mse')",
    "callbacks=[earlystop], verbose=2)": "callbacks=[earlystop], verbose=1)",
    "predictions = model(test_inputs['X']": "predictions = model.predict(test_inputs['X']",
    ").numpy()\\n": ")\\n",  # the notebook file holds the JSON-escaped line ends
}


def _cell_seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _notebook_figures(root: Path, student: str, assignment: str) -> dict:
    notebook = nbformat.read(root / "autograded" / student / assignment / NOTEBOOKS[assignment], 4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
    mape_cell = cells.get("test_mape", {})
    measured = outside.measured(mape_cell, "mape")
    training = cells.get("train") or cells.get("walk_forward")  # the ARIMA lab fits in its answer cell
    return {"train": _cell_seconds(training) if training else float("nan"),
            "grader_mape": _cell_seconds(mape_cell) if mape_cell else float("nan"),
            "mape": float("nan") if measured is None else measured * 100}


UNCONFINED = ("--SandboxedExecute.sandbox=False",)
COLD = ("--SandboxedExecute.warm_kernels=False",)  # each kernel started when its notebook starts
PLAIN = UNCONFINED + ("--SandboxedExecute.outside_verdicts=False",)  # nbgrader's own Execute, in effect


def grade_solution(settings: str, assignment: str, class_size: int, extra: tuple = (), workers: int = 0) -> dict:
    """Autograde the solution alone (one `nbgrader autograde --student` command), then a class of
    `class_size` copies of it in one `nbgrader autograde ASSIGNMENT` command, as an instructor does;
    with `workers`, that class again with the grade command on as many local Dask workers."""
    with tempfile.TemporaryDirectory() as folder:
        root = classroom.make_course_copy(Path(folder) / "course")
        source = root / "source" / assignment / NOTEBOOKS[assignment]
        if settings == "seed":
            text = source.read_text()
            if not all(course in text for course in SEED_SETTINGS):
                return None  # not one of the tutorial's Keras training notebooks
            for course, seed in SEED_SETTINGS.items():
                assert course in text, f"{course!r} is not in {source.name}"
                text = text.replace(course, seed)
            source.write_text(text)
        classroom.release(root, [assignment])
        solution = next(v for v in VARIANTS if v.assignment == assignment and v.name == "solution")
        students = [f"student{n:02d}" for n in range(1, class_size + 1)]
        for student in students:
            classroom.submit(root, student, assignment, build(solution, root))
        alone = classroom.autograde(root, students[0], assignment, *extra)
        started = time.monotonic()
        done = classroom.run_nbgrader(root, "autograde", assignment, "--force", *extra)
        in_class = (time.monotonic() - started) / class_size
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        figures = [_notebook_figures(root, student, assignment) for student in students]
        graded = None
        if workers:
            from .. import grading

            started = time.monotonic()
            results = grading.grade(root, [assignment], workers=workers, force=True, quiet=True, report=False, options=extra)
            graded = (time.monotonic() - started) / class_size
            assert all(r.score == alone.score and r.problem is None for r in results), results
    return {"alone": alone.seconds, "in_class": in_class, "grade_command": graded, "score": f"{alone.score:g}/{alone.max_score:g}",
            "train": statistics.median(f["train"] for f in figures),
            "grader_mape": statistics.median(f["grader_mape"] for f in figures),
            "mapes": sorted({f["mape"] for f in figures})}


def class_grading(assignment: str, sizes=(1, 8, 32), workers=(1, 2, 4), class_size: int = 8) -> list:
    """Seconds per submission: serial `nbgrader autograde` against the grade command, each after a
    warm-up submission (XLA's cache of the solution, nbgrader's start-up) that is not counted."""
    from .. import grading

    solution = next(v for v in VARIANTS if v.assignment == assignment and v.name == "solution")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = classroom.make_course_copy(Path(folder) / "course")
        classroom.release(root, [assignment])

        def new_class(size: int) -> None:
            for old in ("submitted", "autograded"):
                shutil.rmtree(root / old, ignore_errors=True)
            for number in range(1, size + 1):
                classroom.submit(root, f"student{number:02d}", assignment, build(solution, root))

        new_class(1)
        classroom.autograde(root, "student01", assignment)  # warm-up: the course folder's XLA cache
        new_class(class_size)
        started = time.monotonic()
        done = classroom.run_nbgrader(root, "autograde", assignment, "--force")
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        serial = (time.monotonic() - started) / class_size
        rows.append(("serial nbgrader autograde", 1, class_size, serial))
        print(f"serial nbgrader autograde, {class_size} submissions: {serial:.1f} s each", flush=True)
        for count in workers:
            with grading.dask_client(count) as client:
                new_class(1)
                grading.grade(root, [assignment], client=client, quiet=True, report=False)  # warm-up, per worker
                for size in sizes if count == 2 else (class_size,):
                    new_class(size)
                    started = time.monotonic()
                    results = grading.grade(root, [assignment], client=client, quiet=True, report=False)
                    seconds = (time.monotonic() - started) / size
                    assert all(r.score == r.max_score for r in results), results
                    rows.append(("grade (Dask)", count, size, seconds))
                    print(f"grade, {count} worker(s), {size} submissions: {seconds:.1f} s each", flush=True)
    return rows


def print_class_grading(assignment: str, rows: list) -> None:
    serial = next(seconds for how, _, _, seconds in rows if how.startswith("serial"))
    print(f"\nSeconds per submission of {assignment} (the solution), one run, this machine ({os.cpu_count()} cores)")
    print("\n| how | workers | submissions | s per submission | speed-up over serial |\n| --- | --- | --- | --- | --- |")
    for how, workers, size, seconds in rows:
        print(f"| {how} | {workers} | {size} | {seconds:.1f} | {serial / seconds:.2f}x |")


def print_warm_kernels(rows: list, class_size: int, workers: int) -> None:
    print(f"\nSeconds per submission in a class of {class_size} (one `nbgrader autograde` run of the solution), "
          f"this machine ({os.cpu_count()} cores): plain nbgrader, the course's grading with kernels started cold "
          "and started ahead; the training (median of its cell), what is left, and the MAPE of every submission")
    print("\n| quiz | plain | cold | ahead | ahead / cold | ahead / plain | training | left, cold | left, ahead | "
          f"MAPE, cold | MAPE, ahead | grade command, {workers} worker(s): cold | ahead | ahead / cold |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for assignment, plain, cold, warm in rows:
        print(f"| {assignment} | {plain['in_class']:.1f} | {cold['in_class']:.1f} | {warm['in_class']:.1f} | "
              f"{warm['in_class'] / cold['in_class']:.2f} | {warm['in_class'] / plain['in_class']:.2f} | "
              f"{warm['train']:.1f} | {cold['in_class'] - cold['train']:.1f} | {warm['in_class'] - warm['train']:.1f} | "
              f"{cold['mapes']} | {warm['mapes']} | {cold['grade_command']:.1f} | {warm['grade_command']:.1f} | "
              f"{warm['grade_command'] / cold['grade_command']:.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class-size", type=int, default=3, help="submissions graded in one class run")
    parser.add_argument("--assignment", action="append", choices=list(NOTEBOOKS))
    parser.add_argument("--labs", action="store_true", help="the labs too (default: the quizzes)")
    parser.add_argument("--no-seed", action="store_true", help="leave out the seed's settings")
    parser.add_argument("--class-grading", action="store_true",
                        help="serial nbgrader autograde against the parallel grade command (default quiz: GRU)")
    parser.add_argument("--workers", type=int, default=1, help="--warm-kernels: the grade command's local Dask workers")
    parser.add_argument("--warm-kernels", action="store_true",
                        help="plain nbgrader, kernels started cold and started ahead, side by side (class of --class-size)")
    args = parser.parse_args(argv)
    if args.warm_kernels:
        rows = []
        for assignment in args.assignment or QUIZZES:
            # alternating, so that the machine's load falls on each alike
            cold = grade_solution("course", assignment, args.class_size, COLD, workers=args.workers)
            warm = grade_solution("course", assignment, args.class_size, workers=args.workers)
            plain = grade_solution("course", assignment, args.class_size, PLAIN)
            rows.append((assignment, plain, cold, warm))
            print(f"{assignment}: plain {plain}, cold {cold}, ahead {warm}", flush=True)
        print_warm_kernels(rows, args.class_size, args.workers)
        return 0
    if args.class_grading:
        for assignment in args.assignment or ["one_step_rnn_multivariate"]:
            print_class_grading(assignment, class_grading(assignment))
        return 0
    rows, sandbox_rows = [], []
    for assignment in args.assignment or (list(NOTEBOOKS) if args.labs else QUIZZES):
        # side by side, alternating, so that the machine's load falls on each alike
        fast = grade_solution("course", assignment, args.class_size)
        plain = grade_solution("course", assignment, args.class_size, PLAIN)
        unconfined = grade_solution("course", assignment, args.class_size, UNCONFINED)
        seed = None if args.no_seed else grade_solution("seed", assignment, args.class_size)
        rows.append((assignment, fast, seed))
        sandbox_rows.append((assignment, fast, unconfined, plain))
        print(f"{assignment}: course {fast}, without the sandbox {unconfined}, plain nbgrader {plain}, "
              f"seed settings {seed}", flush=True)
    print(f"\nSeconds per submission in a class of {args.class_size} (one `nbgrader autograde` run), "
          "and for one submission graded alone (`--student`, which adds nbgrader's start-up).")
    print("\n| assignment | per submission, course | seed settings | ratio | alone, course | seed settings | ratio | "
          "training, course | seed settings | grader's MAPE step | MAPE course | MAPE seed settings | seed's MAPE |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    none = {"in_class": float("nan"), "alone": float("nan"), "train": float("nan"), "mapes": "-"}
    for assignment, fast, seed in rows:
        seed = seed or none
        print(f"| {assignment} | {fast['in_class']:.1f} | {seed['in_class']:.1f} | {fast['in_class'] / seed['in_class']:.2f} | "
              f"{fast['alone']:.1f} | {seed['alone']:.1f} | {fast['alone'] / seed['alone']:.2f} | "
              f"{fast['train']:.1f} | {seed['train']:.1f} | {fast['grader_mape']:.1f} | "
              f"{fast['mapes']} % | {seed['mapes']} % | {CATALOGUE[assignment].tutorial_mape} |")

    print("\nWhat isolation costs (course settings; seconds per submission): plain nbgrader (no sandbox, the "
          "test cells' own results), outside verdicts only, and both (the course's grading)")
    print("\n| assignment | in a class: plain | verdicts | sandbox + verdicts | added | alone: plain | verdicts | "
          "sandbox + verdicts | added |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for assignment, boxed, verdicts, plain in sandbox_rows:
        print(f"| {assignment} | {plain['in_class']:.1f} | {verdicts['in_class']:.1f} | {boxed['in_class']:.1f} | "
              f"{boxed['in_class'] - plain['in_class']:+.1f} | {plain['alone']:.1f} | {verdicts['alone']:.1f} | "
              f"{boxed['alone']:.1f} | {boxed['alone'] - plain['alone']:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
