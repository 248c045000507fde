"""Run a kit module in a fresh Python process at the course root: what a grade is measured with
must not come from the student's kernel, where answer cells may have patched anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[2]
# Set by the grader's judging process (grader_tests.verdicts), which is itself a fresh process that runs
# no student code: there the measurements run in-process, `measure_now(measurement, *args) -> dict`.
measure_now = None


def run(measurement: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """`python -m grader_tests.measure MEASUREMENT ARGS`, quiet TensorFlow, the course on the path."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(COURSE_ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "grader_tests.measure", measurement, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(COURSE_ROOT), check=False)


def json_result(measurement: str, *args: str, timeout: float, what: str) -> dict:
    """The JSON line a measurement prints last; RuntimeError naming `what` failed if it printed none."""
    if measure_now is not None:
        return measure_now(measurement, *args)
    done = run(measurement, *args, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the grader could not {what}: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(lines[-1])
