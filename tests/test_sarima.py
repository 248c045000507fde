"""The course's SARIMA fit (rnn_course.sarima) and the ARIMA lab's checks: a refit started from the
previous hour's parameters, with the lab's faster options, forecasts what a fit from scratch does, so the
grader passes both; the reference the checks compare with is computed once per notebook."""

import numpy as np
import pytest

from grader_tests import judge
from grader_tests.assignments import ASSIGNMENTS
from grader_tests.checks import arima as arima_checks
from grader_tests.measure import arima_reference
from rnn_course import sarima

SPEC = ASSIGNMENTS["arima"].spec


@pytest.fixture(scope="module")
def load(energy):
    load = energy["load"]
    load = load[load.index >= SPEC.train_start]
    return load.to_numpy(dtype=float), int((load.index < SPEC.test_start).sum())


def from_scratch(history):
    """A student's plain fit: SARIMAX with statsmodels' defaults."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(history[-SPEC.window:], order=SPEC.order, seasonal_order=SPEC.seasonal_order).fit(disp=False)


def warm_started(history, previous):
    """The lab's solution: started from the previous fit's parameters, variance concentrated, no smoothing."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(history[-SPEC.window:], order=SPEC.order, seasonal_order=SPEC.seasonal_order,
                   concentrate_scale=True).fit(start_params=previous.params, low_memory=True, cov_type="none",
                                               disp=False)


def test_warm_started_and_from_scratch_refits_both_pass_the_walk_forward_check(load):
    values, n_train = load
    reference = arima_reference.reference(SPEC)
    scratch, warm = (np.zeros(SPEC.prediction_shape) for _ in range(2))
    for origin in SPEC.checked_origins:
        history = values[:n_train + origin]
        scratch[origin] = from_scratch(history).forecast(SPEC.horizon)
        previous = sarima.fit(history[:-1])  # the fit an hour earlier
        warm[origin] = warm_started(history, previous).forecast(SPEC.horizon)
        library = sarima.fit(history, start_params=previous.params).forecast(SPEC.horizon)
        # the same forecasts, far inside the grader's tolerance
        for found in (warm[origin], library):
            np.testing.assert_allclose(found, scratch[origin], rtol=SPEC.relative_tolerance / 20)
    assert arima_checks._walk_forward_problem(SPEC, scratch, reference) is None
    assert arima_checks._walk_forward_problem(SPEC, warm, reference) is None
    scratch[SPEC.checked_origins[1]] *= 1.01
    assert "origin 23" in arima_checks._walk_forward_problem(SPEC, scratch, reference)


@pytest.fixture
def counted_reference(monkeypatch):
    """A stand-in for the grader's reference (forecasts of a made-up load, 1.5 % too high: a MAPE between the
    floor and the pass mark) that counts its calls."""
    actual = 3000.0 + np.arange(SPEC.test_hours)
    predictions = 1.015 * np.stack([actual[h:h + SPEC.prediction_shape[0]] for h in range(SPEC.horizon)], axis=1)
    truth = {"actual": actual.tolist(), "rows": {str(t): predictions[t].tolist() for t in SPEC.checked_origins},
             "origins": [f"origin {t}" for t in range(SPEC.test_hours)]}
    calls = []
    monkeypatch.setattr(arima_reference, "in_subprocess", lambda assignment_id: calls.append(assignment_id) or truth)
    arima_checks._reference.cache_clear()
    yield predictions, calls
    arima_checks._reference.cache_clear()


def test_the_checks_of_one_notebook_share_one_reference(counted_reference, capsys):
    predictions, calls = counted_reference
    judge("arima", "walk_forward", {"predictions": predictions})
    judge("arima", "mape", {"predictions": predictions})
    assert calls == ["arima"]
    assert capsys.readouterr().out.count("passed") == 2
