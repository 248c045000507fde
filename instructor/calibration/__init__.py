"""Measure the test MAPE distributions that the pass marks are chosen from.

Runs each quiz's solution under many seeds, and each known mistake (instructor/submissions.py)
under a few, exactly as a student's notebook runs: the released notebook with the answers filled
in and the seed of its read-only set-up cell changed; the MAPE is measured by the kit's own
evaluation (a fresh process, test inputs built by the grader). Results are appended to a JSON-lines
file as they come; a rerun skips what is already there.

    python -m instructor calibrate --seeds 20 --correct-seeds 5 --mistake-seeds 3
    python -m instructor calibrate --summary instructor/calibration/measured.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..classroom import REPO
from grader_tests.assignments import with_mape_pass_mark
from ..submissions import Variant, build, variants

MEASURED = Path(__file__).resolve().parent / "measured.jsonl"  # the runs the pass marks were chosen from
SEED_CALL = "notebook.start(seed=42)"
MEASURE = ('import json\nfrom grader_tests.measure.model_mape import measure_in_subprocess\n'
           'print("CALIBRATION", json.dumps(measure_in_subprocess({assignment!r}, model)))')
# Mistakes only the calibration can make (the cells they edit are read-only for students).
CALIBRATED = with_mape_pass_mark()  # the assignments whose MAPE pass mark comes from here
UNSCALED = {"load_temp": ("prepare_data", "train[['load', 'temp']] = X_scaler.fit_transform(train)", "X_scaler.fit(train)"),
            "load": ("prepare_data", "train[['load']] = scaler.fit_transform(train)", "scaler.fit(train)")}


def trainable_variants(assignment: str) -> list:
    # Variants that edit read-only cells or never finish are graded from the restored notebook; skip them.
    chosen = [v for v in variants(assignment)
              if v.problem is None and not v.blank and v.name not in ("endless_cell", "edited_readonly")]
    if assignment != "weight_initialization":
        edit = UNSCALED["load_temp" if "temp" in CALIBRATED[assignment].spec.features else "load"]
        chosen.append(Variant("unscaled_training_data", assignment, "training inputs not scaled", edits=(edit,)))
    return chosen


def run_once(variant: Variant, seed: int) -> dict:
    notebook = nbformat.reads(build(variant).decode(), as_version=4)
    setup = next(c for c in notebook.cells if SEED_CALL in c.source)
    setup.source = setup.source.replace(SEED_CALL, f"notebook.start(seed={seed})")
    notebook.cells.append(nbformat.v4.new_code_cell(MEASURE.format(assignment=variant.assignment)))
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(notebook, timeout=900, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": folder}}).execute()
    seconds = time.monotonic() - started
    measured = {"error": "no measurement printed"}
    for output in notebook.cells[-1].get("outputs", []):
        if output.get("output_type") == "stream" and "CALIBRATION" in output.get("text", ""):
            measured = json.loads(output["text"].split("CALIBRATION", 1)[1])
    return {"assignment": variant.assignment, "variant": variant.name, "seed": seed,
            "seconds": round(seconds, 1), **measured}


def calibrate(out: Path, seeds: int, correct_seeds: int, mistake_seeds: int, assignments) -> None:
    # The notebooks' kernels import the kit, as they do under nbgrader.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    done = set()
    if out.exists():
        done = {(r["assignment"], r["variant"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    for assignment in assignments:
        for variant in trainable_variants(assignment):
            count = seeds if variant.name == "solution" else correct_seeds if variant.correct else mistake_seeds
            for seed in range(count):
                if (assignment, variant.name, seed) in done:
                    continue
                result = run_once(variant, seed)
                print(json.dumps(result), flush=True)
                with out.open("a") as handle:
                    handle.write(json.dumps(result) + "\n")


def summary(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    lines = ["| quiz | submission | runs | MAPE min | median | max | pass mark | passes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for assignment in CALIBRATED:
        threshold = CALIBRATED[assignment].spec.mape_threshold
        names = dict.fromkeys(r["variant"] for r in rows if r["assignment"] == assignment)
        for name in names:
            runs = [r for r in rows if r["assignment"] == assignment and r["variant"] == name]
            values = [r["mape"] for r in runs if "mape" in r]
            errors = len(runs) - len(values)
            passes = sum(v < threshold for v in values)
            cells = (f"{min(values):.2%} | {statistics.median(values):.2%} | {max(values):.2%}" if values
                     else "- | - | -")
            note = f" ({errors} not measurable)" if errors else ""
            lines.append(f"| {assignment} | {name} | {len(runs)}{note} | {cells} | {threshold:.1%} | {passes}/{len(runs)} |")
    return "\n".join(lines)


def pass_marks(path: Path) -> dict:
    """assignment -> (worst run that must pass, best run that must fail, the rule's pass mark).

    Rule: 1.5 x the worst MAPE of a run that must pass, rounded up to 0.5 percentage points; it
    must lie below half the best MAPE of a run that must fail."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    found = {}
    for assignment in CALIBRATED:
        known = {v.name: v for v in trainable_variants(assignment)}
        must_fail = {n for n, v in known.items() if "test_mape" in v.lost or n == "unscaled_training_data"}
        measured = [(r["mape"], r["variant"]) for r in rows
                    if r["assignment"] == assignment and "mape" in r and r["variant"] in known]
        passing = max(m for m in measured if m[1] not in must_fail)
        failing = min(m for m in measured if m[1] in must_fail)
        rule = math.ceil(round(passing[0] * 1.5 * 200, 6)) / 200
        if not rule < failing[0] / 2:
            raise ValueError(f"{assignment}: no pass mark separates the correct runs from the broken ones")
        found[assignment] = (passing, failing, rule)
    return found


def floors(path: Path) -> dict:
    """assignment -> the rule's floor: half the best MAPE of any run that must pass the MAPE test,
    rounded down to 0.1 percentage points. A correct model scoring below it has not been seen in any
    calibration run; a submission below it is failed and flagged for the TA."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    found = {}
    for assignment in CALIBRATED:
        known = {v.name: v for v in trainable_variants(assignment)}
        must_fail = {n for n, v in known.items() if "test_mape" in v.lost or n == "unscaled_training_data"}
        best = min(r["mape"] for r in rows if r["assignment"] == assignment and "mape" in r
                   and r["variant"] in known and r["variant"] not in must_fail)
        found[assignment] = math.floor(round(best / 2 * 1000, 6)) / 1000
    return found


def margins(path: Path) -> str:
    lines = ["| quiz | worst run that must pass | best run that must fail | rule's pass mark | pass mark used |",
             "| --- | --- | --- | --- | --- |"]
    for assignment, (passing, failing, rule) in pass_marks(path).items():
        lines.append(f"| {assignment} | {passing[0]:.2%} ({passing[1]}) | {failing[0]:.2%} ({failing[1]}) | "
                     f"{rule:.1%} | {CALIBRATED[assignment].spec.mape_threshold:.1%} |")
    return "\n".join(lines)
