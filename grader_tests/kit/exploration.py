"""The data lab's expected values, computed in a fresh process from the data the grader loads.

The notebook's kernel runs the student's code, which could patch `load_data`; the values an answer
is compared with therefore come from a new interpreter. Run as
``python -m grader_tests.kit.exploration``; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[2]


def expected() -> dict:
    from rnn_course import load_data

    load = load_data()["load"]
    hourly = load.groupby(load.index.hour).mean()
    return {
        "daily_load": load.resample("D").mean().tolist(),
        "days": [day.strftime("%Y-%m-%d") for day in load.resample("D").mean().index],
        "hourly_profile": hourly.tolist(),
        "peak_hour": int(hourly.idxmax()),
        "weekday_profile": load.groupby(load.index.dayofweek).mean().tolist(),
    }


def expected_in_subprocess() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(COURSE_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "grader_tests.kit.exploration"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=str(COURSE_ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"the grader could not load the data: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(expected()))
