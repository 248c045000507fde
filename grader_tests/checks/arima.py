"""Checks of the ARIMA lab: the shape of the walk-forward forecasts, that each row was fitted on
the hours before its origin only (recomputed by the grader at a few origins), and their MAPE."""

from __future__ import annotations

import functools

from ..errors import Mismatch
from ..measure import arima_reference
from . import Check
from .models import below_floor
from .namespace import variable


@functools.lru_cache(maxsize=None)
def _reference(assignment_id: str) -> dict:
    """The grader's reference forecasts and test loads, computed once per judging process: the walk-forward
    and MAPE checks of one notebook share them (each costs a few SARIMAX fits)."""
    return arima_reference.in_subprocess(assignment_id)


def _predictions(namespace):
    import numpy as np

    value = variable(namespace, "predictions")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Mismatch("`predictions` should be a numpy array of loads", found=type(value).__name__) from None


def check_shapes(assignment, namespace):
    """One row per forecast origin, HORIZON columns."""
    spec = assignment.spec
    expected, found = spec.prediction_shape, _predictions(namespace).shape
    if found != expected:
        raise Mismatch(f"`predictions` should have shape {expected}",
                       expected=f"one row per forecast origin (test hours 0 to {expected[0] - 1}) and {spec.horizon} "
                                f"columns (t+1 to t+{spec.horizon})", found=found)


def _walk_forward_problem(spec, predictions, truth) -> str | None:
    import numpy as np

    if predictions.shape != spec.prediction_shape:
        return f"`predictions` has shape {predictions.shape}, not {spec.prediction_shape}, so its rows cannot be checked"
    for origin, expected in truth["rows"].items():
        found = predictions[int(origin)]
        if not np.allclose(found, expected, rtol=spec.relative_tolerance):
            return (f"the forecast made at {truth['origins'][int(origin)]} (origin {origin}) is not what "
                    f"SARIMAX{spec.order}x{spec.seasonal_order} fitted on the {spec.window} hours before that hour "
                    f"forecasts\nexpected: about {np.round(expected).tolist()} MW\nfound: {np.round(found).tolist()}\n"
                    "to do: fit each model on the last WINDOW hours known before the origin (no later hour), then add "
                    "the origin's true load")
    return None


def check_walk_forward(assignment, namespace):
    """The rows are walk-forward forecasts: each fitted on the WINDOW hours before its origin only."""
    problem = _walk_forward_problem(assignment.spec, _predictions(namespace), _reference(assignment.id))
    if problem:
        raise Mismatch(problem)


def check_mape(assignment, namespace):
    """Multi-step MAPE of the walk-forward forecasts over the test hours."""
    import numpy as np

    spec = assignment.spec
    predictions, truth = _predictions(namespace), _reference(assignment.id)
    if _walk_forward_problem(spec, predictions, truth):
        raise Mismatch("the MAPE is graded only for walk-forward forecasts, and the walk-forward check did not pass")
    actual = np.asarray(truth["actual"])
    targets = np.stack([actual[h:h + len(predictions)] for h in range(spec.horizon)], axis=1)
    # Computed here on purpose, not with rnn_course.mape: the student's kernel may have replaced it.
    found = float(np.mean(np.abs(predictions - targets) / np.abs(targets)))
    if not found < spec.mape_threshold:
        raise Mismatch("the multi-step MAPE of the forecasts is too high", expected=f"below {spec.mape_threshold:.1%} "
                       "(what the reference walk-forward scores)", found=f"{found:.2%}",
                       measured={"mape": found})
    below_floor(spec, found)
    print(f"multi-step MAPE on the test hours from {spec.test_start[:10]}: {found:.2%} "
          f"(pass mark: below {spec.mape_threshold:.1%})")
    return {"mape": found}


def _predictions_only(assignment):
    return ("predictions",)


SHAPES = Check("Forecast shape", check_shapes, _predictions_only)
WALK_FORWARD = Check("Walk-forward validation", check_walk_forward, _predictions_only)
MAPE = Check("Forecast accuracy (MAPE)", check_mape, _predictions_only)
