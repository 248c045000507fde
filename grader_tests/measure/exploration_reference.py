"""The data lab's expected values, computed in a fresh process from the data the grader loads.

The notebook's kernel runs the student's code, which could patch `load_data`; the values an answer
is compared with therefore come from a new interpreter. Run as
``python -m grader_tests.measure exploration_reference``; prints one JSON line.
"""

from __future__ import annotations

from . import fresh


def expected() -> dict:
    from rnn_course import load_data

    load = load_data()["load"]
    hourly = load.groupby(load.index.hour).mean()
    daily = load.resample("D").mean()
    return {
        "daily_load": daily.tolist(),
        "days": [day.strftime("%Y-%m-%d") for day in daily.index],
        "hourly_profile": hourly.tolist(),
        "peak_hour": int(hourly.idxmax()),
        "weekday_profile": load.groupby(load.index.dayofweek).mean().tolist(),
    }


def in_subprocess() -> dict:
    return fresh.json_result("exploration_reference", timeout=120, what="load the data")

