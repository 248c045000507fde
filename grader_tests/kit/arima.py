"""The ARIMA lab's reference: walk-forward forecasts at a few origins and the test-period loads,
computed in a fresh process from the data the grader loads (the student's kernel could patch
`load_data`). Run as ``python -m grader_tests.kit.arima [ORIGIN ...]``; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import warnings

from . import fresh
HORIZON, WINDOW, ORDER, SEASONAL_ORDER = 3, 720, (4, 1, 0), (1, 1, 0, 24)
TRAIN_START, TEST_START = "2014-11-01 00:00:00", "2014-12-30 00:00:00"
ORIGINS = (0, 23, 45)  # first, middle and last forecast origin of the 46


def reference(origins=ORIGINS) -> dict:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from rnn_course import load_data

    load = load_data()["load"]
    load = load[load.index >= TRAIN_START]
    n_train = int((load.index < TEST_START).sum())
    values = load.to_numpy(dtype=float)
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in origins:
            fitted = SARIMAX(values[:n_train + t][-WINDOW:], order=ORDER, seasonal_order=SEASONAL_ORDER).fit(disp=False)
            rows[str(t)] = [float(v) for v in fitted.forecast(HORIZON)]
    test = load[load.index >= TEST_START]
    return {"actual": values[n_train:].tolist(), "rows": rows,
            "origins": [ts.strftime("%Y-%m-%d %H:%M") for ts in test.index]}


def reference_in_subprocess(origins=ORIGINS) -> dict:
    return fresh.json_result("arima", *map(str, origins), timeout=300, what="compute its reference")


if __name__ == "__main__":
    print(json.dumps(reference(tuple(int(a) for a in sys.argv[1:]) or ORIGINS)))
