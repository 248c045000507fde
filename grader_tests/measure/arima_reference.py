"""The ARIMA lab's reference: walk-forward forecasts at the spec's checked origins and the test
loads, computed in a fresh process from the data the grader loads (the student's kernel could patch
`load_data`). Run as ``python -m grader_tests.measure arima_reference ASSIGNMENT``; prints one JSON line.
"""

from __future__ import annotations

from . import fresh


def reference(spec) -> dict:
    from rnn_course import load_data, sarima

    load = load_data()["load"]
    load = load[load.index >= spec.train_start]
    n_train = int((load.index < spec.test_start).sum())
    values = load.to_numpy(dtype=float)
    rows = {str(t): [float(v) for v in sarima.fit(values[:n_train + t]).forecast(spec.horizon)]
            for t in spec.checked_origins}
    test = load[load.index >= spec.test_start]
    return {"actual": values[n_train:].tolist(), "rows": rows,
            "origins": [ts.strftime("%Y-%m-%d %H:%M") for ts in test.index]}


def in_subprocess(assignment_id: str) -> dict:
    return fresh.json_result("arima_reference", assignment_id, timeout=300, what="compute its reference")

