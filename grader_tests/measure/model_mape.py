"""Measure a student's model on the test period, in a fresh Python process.

The notebook's kernel runs the student's code, which may redefine `mape`, patch library
functions or plant an `eval_df`. So the grade is measured elsewhere: the model is saved as a
``.keras`` file (its configuration and weights), and a new interpreter rebuilds it from standard
Keras layers, loads the data itself, builds the test inputs itself, predicts and computes MAPE.
The forward pass runs in numpy (`forward.py`) so that the process need not import TensorFlow;
models it does not know are loaded with Keras instead.

Run as ``python -m grader_tests.measure model_mape ASSIGNMENT MODEL.keras``; prints one JSON line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from .. import figures
from . import forward, fresh

TIMEOUT_SECONDS = 180


class GradingError(Exception):
    """The model cannot be measured; the message is for the student."""


def measure_in_subprocess(assignment_id: str, model) -> dict:
    """Save `model` and measure it in a new process; returns {"mape": ...} or {"error": ...}."""
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        try:
            keras.saving.save_model(model, path)
        except Exception as error:
            return {"error": f"the model could not be saved for grading ({type(error).__name__}: {error}); "
                             "build it from standard Keras layers"}
        try:
            return fresh.json_result("model_mape", assignment_id, path, timeout=TIMEOUT_SECONDS, what="measure the model")
        except subprocess.TimeoutExpired:
            return {"error": f"measuring the model took longer than {TIMEOUT_SECONDS} s"}
        except RuntimeError as error:
            return {"error": str(error)}


def build_test_inputs(spec, T: int):
    """The test-period inputs and targets (scaled), built the way the tutorial builds them, and the
    load's (low, span)."""
    from rnn_course import TimeSeriesTensor, load_data
    from rnn_course.splits import scaled_splits

    features = list(spec.features)
    splits = scaled_splits(load_data(), features, T)
    tensors = TimeSeriesTensor(splits["test"], "load", spec.horizon, {"X": (range(-T + 1, 1), features)})
    X = tensors["X"]
    if spec.flat_input:
        X = X.reshape(len(X), T * len(features))
    return X, tensors["target"], splits["load_scale"]


def _keras_model(model_path: str):
    import keras

    try:
        return keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:
        raise GradingError("the model could not be rebuilt from standard Keras layers "
                           f"({type(error).__name__}: {error})") from None


def _window(spec, shape) -> int:
    n_features = len(spec.features)
    if spec.flat_input and len(shape) == 2 and shape[1] and shape[1] % n_features == 0:
        return shape[1] // n_features
    if not spec.flat_input and len(shape) == 3 and shape[1] and shape[2] == n_features:
        return shape[1]
    raise GradingError(f"the model takes inputs of shape {shape}; the assignment's inputs are shaped like "
                       f"{spec.input_shape} (features: {', '.join(spec.features)})")


def predictions_and_targets(spec, model_path: str):
    """Predict the test period with the saved model: in numpy when it can, else with Keras."""
    import numpy as np

    from .. import teacher_forcing
    from ..specs import TeacherForcingSpec

    if isinstance(spec, TeacherForcingSpec):
        model = _keras_model(model_path)
        X, _, target, load_scale = teacher_forcing.test_windows(spec)
        try:
            return teacher_forcing.forecast(model, X, spec.horizon), target, load_scale, spec.T
        except teacher_forcing.NotTeacherForcing as error:
            raise GradingError(str(error)) from None

    try:
        T = _window(spec, forward.input_shape(model_path))
        X, target, load_scale = build_test_inputs(spec, T)
        predictions = forward.predict(model_path, X)
    except forward.Unsupported:
        model = _keras_model(model_path)
        T = _window(spec, tuple(model.input_shape))
        X, target, load_scale = build_test_inputs(spec, T)
        predictions = np.asarray(model.predict(X, verbose=0, batch_size=256))
    return predictions, target, load_scale, T


def measure(spec, model_path: str) -> dict:
    """{"mape", "samples", "T"} of the saved model on the test period, or {"error": ...}."""
    import numpy as np

    from rnn_course import mape

    try:
        predictions, target, load_scale, T = predictions_and_targets(spec, model_path)
    except GradingError as error:
        return {"error": str(error)}
    if predictions.ndim != 2 or predictions.shape[1] != spec.horizon:
        return {"error": f"the model predicts an array of shape {predictions.shape}; a forecast of "
                         f"{spec.horizon} hour(s) per sample, shape (samples, {spec.horizon}), is expected"}
    low, span = load_scale
    value = mape(predictions.reshape(-1) * span + low, target.reshape(-1) * span + low)
    if not np.isfinite(value):
        return {"error": "the model's predictions are not finite numbers (NaN or infinity)"}
    week = slice(0, figures.WEEK)  # the first test week of the t+1 forecasts, in MW, for the feedback's figure
    return {"mape": value, "samples": int(len(predictions)), "T": int(T),
            "week_forecast": (predictions[week, 0] * span + low).tolist(), "week_actual": (target[week, 0] * span + low).tolist()}

