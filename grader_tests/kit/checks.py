"""What each quiz's hidden tests check, and the messages a student reads when a check fails."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

from . import arima, evaluate, exploration, teacher_forcing
from .specs import SPECS, LayerSpec


class CheckFailed(AssertionError):
    """A failed check. IPython shows only `title: message`, never the kit's source."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title
        self.message = message

    def _render_traceback_(self):
        return [f"\x1b[0;31m{self.title} failed\x1b[0m: {self.message}"]


class Mismatch(Exception):
    """Raised inside a check with the student-facing explanation."""


@contextlib.contextmanager
def _no_stderr():
    """Send Python and OS-level stderr (TensorFlow's C++ logs) to nowhere while a check runs."""
    sys_err = io.StringIO()
    saved_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stderr(sys_err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)


def check(assignment: str, name: str, namespace: dict) -> None:
    """Run one hidden check of `assignment` on the notebook's variables (`globals()`)."""
    if assignment not in CHECKS or name not in CHECKS[assignment]:
        raise CheckFailed("grading", f"unknown check {assignment}/{name}; the notebook does not match the kit")
    title, function = CHECKS[assignment][name]
    spec = SPECS.get(assignment)  # None for the data lab, which trains no model
    failure = None
    with _no_stderr():
        try:
            function(spec, namespace)
        except Mismatch as mismatch:
            failure = str(mismatch)
        except Exception as error:  # a broken answer must lose the points, not crash the grader
            failure = f"the check could not run on your notebook ({type(error).__name__}: {error})"
    if failure is not None:
        raise CheckFailed(title, failure) from None
    print(f"{title}: passed")


# --- helpers ------------------------------------------------------------------------------------

def _variable(namespace, name):
    if name not in namespace:
        raise Mismatch(f"`{name}` is not defined; did the cell that defines it run without an error?")
    return namespace[name]


def _model(namespace):
    import keras

    model = _variable(namespace, "model")
    if not isinstance(model, keras.Model):
        raise Mismatch(f"`model` should be a Keras model; found {type(model).__name__}")
    if not model.built:
        raise Mismatch("`model` was never built or trained; run the training cell after defining it")
    return model


def _shape(value) -> tuple:
    return tuple(getattr(value, "shape", ()))


def _io_shape(shape) -> tuple:
    if isinstance(shape, list):  # a functional model with one input
        shape = shape[0] if len(shape) == 1 else shape
    return tuple(shape)


def model_layers(model) -> list:
    """The model's layers without input layers, in order."""
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def describe_layer(layer) -> str:
    """A layer as a student would write it, for messages: GRU(6, return_sequences=True)."""
    import keras

    kind = type(layer).__name__
    if isinstance(layer, keras.layers.TimeDistributed):
        return f"TimeDistributed({describe_layer(layer.layer)})"
    args = []
    if hasattr(layer, "units"):
        args.append(str(layer.units))
    if isinstance(layer, keras.layers.RepeatVector):
        args.append(str(layer.n))
    activation = getattr(layer, "activation", None)
    if activation is not None:
        args.append(f"activation='{activation.__name__}'")
    if getattr(layer, "return_sequences", False):
        args.append("return_sequences=True")
    return f"{kind}({', '.join(args)})"


def _layer_mismatch(layer, expected: LayerSpec) -> str | None:
    import keras

    inner = layer
    if expected.wrapped is not None:
        if not isinstance(layer, keras.layers.TimeDistributed):
            return f"should be TimeDistributed({expected.wrapped}(...))"
        inner = layer.layer
        kind = expected.wrapped
    else:
        kind = expected.kind
    if type(inner).__name__ != kind:
        return f"should be a {kind} layer"
    if expected.units is not None and getattr(inner, "units", None) != expected.units:
        return f"should have {expected.units} units"
    if expected.repeat is not None and getattr(inner, "n", None) != expected.repeat:
        return f"should repeat its input {expected.repeat} times"
    if expected.return_sequences is not None and bool(getattr(inner, "return_sequences", False)) != expected.return_sequences:
        return f"should {'' if expected.return_sequences else 'not '}return sequences"
    if expected.activation is not None and inner.activation.__name__ != expected.activation:
        return f"should use activation '{expected.activation}'"
    if expected.recurrent_activation is not None and inner.recurrent_activation.__name__ != expected.recurrent_activation:
        return f"should use recurrent_activation '{expected.recurrent_activation}'"
    return None


# --- the checks ---------------------------------------------------------------------------------

def check_answers(spec, namespace):
    """The hyperparameters or dimensions the student sets."""
    wrong = []
    for name, expected in spec.answers.items():
        found = _variable(namespace, name)
        if found != expected:
            wrong.append(f"{name} should be {expected!r}, found {found!r}")
    if wrong:
        raise Mismatch("; ".join(wrong))


def check_shapes(spec, namespace):
    """Shapes of the prepared tensors and of the model's input and output."""
    wrong = []
    for name, expected in spec.data_shapes.items():
        found = _shape(_variable(namespace, name))
        if found != expected:
            wrong.append(f"{name} should have shape {expected}, found {found}")
    model = _model(namespace)
    found_in, found_out = _io_shape(model.input_shape), _io_shape(model.output_shape)
    if found_in != spec.input_shape:
        wrong.append(f"the model's input shape should be {spec.input_shape}, found {found_in}")
    if found_out != spec.output_shape:
        wrong.append(f"the model's output shape should be {spec.output_shape}, found {found_out}")
    if wrong:
        raise Mismatch("; ".join(wrong))


def check_layers(spec, namespace):
    """Layer types and order, units, return_sequences, activations, parameter count."""
    model = _model(namespace)
    layers = model_layers(model)
    expected_text = ", ".join(e.text() for e in spec.layers)
    found_text = ", ".join(describe_layer(layer) for layer in layers)
    if len(layers) != len(spec.layers):
        raise Mismatch(f"the model should have {len(spec.layers)} layers: {expected_text}; "
                       f"yours has {len(layers)}: {found_text}")
    for position, (layer, expected) in enumerate(zip(layers, spec.layers), start=1):
        problem = _layer_mismatch(layer, expected)
        if problem:
            raise Mismatch(f"layer {position} {problem}: expected {expected.text()}, "
                           f"found {describe_layer(layer)}. Expected model: {expected_text}")
    params = model.count_params()
    if params != spec.parameters:
        raise Mismatch(f"the model should have {spec.parameters} parameters, found {params}")


def check_initializer(spec, namespace):
    """`init` is a non-constant initializer, used as kernel and bias initializer of the hidden layer."""
    import keras

    init = _variable(namespace, "init")
    try:
        init = keras.initializers.get(init)
    except Exception:
        raise Mismatch(f"`init` should be a Keras initializer such as glorot_uniform(); found {init!r}") from None
    if isinstance(init, (keras.initializers.Zeros, keras.initializers.Ones, keras.initializers.Constant)):
        raise Mismatch(f"`init` is {type(init).__name__}(): every hidden unit then starts with the same "
                       "weights and the network cannot learn; choose an initializer that draws random weights")
    hidden = model_layers(_model(namespace))[0]
    for role in ("kernel", "bias"):
        used = getattr(hidden, f"{role}_initializer", None)
        if type(used) is not type(init) or used.get_config() != init.get_config():
            raise Mismatch(f"the hidden layer's {role}_initializer should be `init` "
                           f"({type(init).__name__}); found {type(used).__name__}. "
                           f"Pass {role}_initializer=init to the first Dense layer")


def check_mape(spec, namespace):
    """Test-period MAPE, measured by the kit in a fresh process from the model's own predictions."""
    model = _model(namespace)
    result = evaluate.evaluate_in_subprocess(spec.assignment, model)
    if "error" in result:
        raise Mismatch(result["error"])
    found = result["mape"]
    if not found < spec.mape_threshold:
        raise Mismatch(f"the model's MAPE on the test period (2014-11-01 to 2014-12-31) is {found:.2%}; "
                       f"a correctly built and trained model scores below {spec.mape_threshold:.1%}")
    print(f"MAPE on the test period: {found:.2%} (pass mark: below {spec.mape_threshold:.1%})")


def _series(namespace, name, expected_length, what):
    """An answer that should be a sequence of numbers (Series, one-column DataFrame, array, list)."""
    import numpy as np
    import pandas as pd

    value = _variable(namespace, name)
    if isinstance(value, pd.DataFrame):
        if value.shape[1] != 1:
            raise Mismatch(f"`{name}` should be one column of numbers ({what}); found a table with columns "
                           f"{list(value.columns)}")
        value = value.iloc[:, 0]
    try:
        numbers = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise Mismatch(f"`{name}` should hold numbers ({what}); found {type(value).__name__}") from None
    if len(numbers) != expected_length:
        raise Mismatch(f"`{name}` should hold {expected_length} values ({what}); found {len(numbers)}")
    return numbers


def _first_difference(found, expected, labels, name, what):
    import numpy as np

    close = np.isclose(found, expected, rtol=1e-6, atol=1e-6)
    if close.all():
        return
    first = int(np.flatnonzero(~close)[0])
    ratio = found[first] / expected[first] if expected[first] else float("nan")
    hint = " (that is 24 times the mean: a sum instead of a mean?)" if abs(ratio - 24) < 1e-6 else ""
    raise Mismatch(f"`{name}` for {labels[first]} should be {expected[first]:,.1f} MW ({what}); found "
                   f"{found[first]:,.1f}{hint}. {int((~close).sum())} of {len(found)} values differ")


def check_daily_load(spec, namespace):
    """The mean load of each calendar day, in date order."""
    truth = exploration.expected_in_subprocess()
    found = _series(namespace, "daily_load", len(truth["daily_load"]), "the mean load of each day")
    _first_difference(found, truth["daily_load"], truth["days"], "daily_load", "the mean of that day's 24 loads")


def check_hourly_profile(spec, namespace):
    """The mean load of each hour of the day, and the peak hour."""
    truth = exploration.expected_in_subprocess()
    found = _series(namespace, "hourly_profile", 24, "the mean load of each hour of the day, hour 0 first")
    _first_difference(found, truth["hourly_profile"], [f"hour {h}" for h in range(24)], "hourly_profile",
                      "the mean load at that hour over the three years")
    peak = _variable(namespace, "peak_hour")
    if peak != truth["peak_hour"]:
        raise Mismatch(f"`peak_hour` should be {truth['peak_hour']}, the hour with the highest mean load; found {peak!r}")


def check_weekday_profile(spec, namespace):
    """The mean load of each day of the week, Monday first."""
    truth = exploration.expected_in_subprocess()
    found = _series(namespace, "weekday_profile", 7, "the mean load of each day of the week, Monday first")
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    sunday_first = truth["weekday_profile"][-1:] + truth["weekday_profile"][:-1]
    import numpy as np

    if np.allclose(found, sunday_first, rtol=1e-6):
        raise Mismatch("`weekday_profile` starts with Sunday; it should start with Monday (pandas' dayofweek 0)")
    _first_difference(found, truth["weekday_profile"], days, "weekday_profile", "the mean load on that day of the week")


# The ARIMA lab. Its pass mark comes from the reference walk-forward, which is deterministic (no
# random seed): 1.17 % multi-step MAPE -> 1.5 x, rounded up to 0.5 points (grader_tests/CALIBRATION.md).
ARIMA_MAPE_THRESHOLD = 0.02
ARIMA_ROWS = (48 - arima.HORIZON + 1, arima.HORIZON)  # 48 test hours


def _predictions(namespace):
    import numpy as np

    value = _variable(namespace, "predictions")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Mismatch(f"`predictions` should be a numpy array of loads; found {type(value).__name__}") from None


def check_arima_shapes(spec, namespace):
    """One row per forecast origin, HORIZON columns."""
    found = _predictions(namespace).shape
    if found != ARIMA_ROWS:
        raise Mismatch(f"`predictions` should have shape {ARIMA_ROWS}: one row per forecast origin (test hours 0 to "
                       f"{ARIMA_ROWS[0] - 1}) and {arima.HORIZON} columns (t+1 to t+{arima.HORIZON}); found {found}")


def _walk_forward_problem(predictions, truth) -> str | None:
    import numpy as np

    if predictions.shape != ARIMA_ROWS:
        return f"`predictions` has shape {predictions.shape}, not {ARIMA_ROWS}, so its rows cannot be checked"
    for origin, expected in truth["rows"].items():
        found = predictions[int(origin)]
        if not np.allclose(found, expected, rtol=2e-3):
            return (f"the forecast made at {truth['origins'][int(origin)]} (origin {origin}) should be about "
                    f"{np.round(expected).tolist()} MW, what SARIMAX{arima.ORDER}x{arima.SEASONAL_ORDER} fitted on the "
                    f"{arima.WINDOW} hours before that hour forecasts; found {np.round(found).tolist()}. Fit each model on "
                    "the last WINDOW hours known before the origin (no later hour), then add the origin's true load")
    return None


def check_walk_forward(spec, namespace):
    """The rows are walk-forward forecasts: each fitted on the WINDOW hours before its origin only."""
    problem = _walk_forward_problem(_predictions(namespace), arima.reference_in_subprocess())
    if problem:
        raise Mismatch(problem)


def check_arima_mape(spec, namespace):
    """Multi-step MAPE of the walk-forward forecasts on 30-31 December 2014."""
    import numpy as np

    predictions, truth = _predictions(namespace), arima.reference_in_subprocess()
    if _walk_forward_problem(predictions, truth):
        raise Mismatch("the MAPE is graded only for walk-forward forecasts, and the walk-forward check did not pass")
    actual = np.asarray(truth["actual"])
    targets = np.stack([actual[h:h + len(predictions)] for h in range(arima.HORIZON)], axis=1)
    found = float(np.mean(np.abs(predictions - targets) / np.abs(targets)))
    if not found < ARIMA_MAPE_THRESHOLD:
        raise Mismatch(f"the multi-step MAPE of the forecasts is {found:.2%}; the reference walk-forward scores below "
                       f"{ARIMA_MAPE_THRESHOLD:.1%}")
    print(f"multi-step MAPE on 30-31 December 2014: {found:.2%} (pass mark: below {ARIMA_MAPE_THRESHOLD:.1%})")


def check_tf_shapes(spec, namespace):
    """The three tensors of a sample, and the training model's inputs and output."""
    train_inputs, wrong = _variable(namespace, "train_inputs"), []
    for name, expected in spec.data_shapes.items():
        found = _shape(_variable(namespace, name) if name == "y_train" else train_inputs[name])
        if found != expected:
            wrong.append(f"{'y_train' if name == 'y_train' else f'train_inputs[{name!r}]'} should have shape {expected}, found {found}")
    model = _model(namespace)
    inputs = [tuple(i.shape) for i in model.inputs]
    if len(inputs) != 2 or sorted(shape[-1] for shape in inputs) != [1, 2]:
        wrong.append(f"the training model should take [encoder input (None, T, 2), decoder input (None, HORIZON, 1)]; "
                     f"found inputs {inputs}")
    output = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if output is None or len(output) != 3 or output[-1] != 1:
        wrong.append(f"the training model should output one forecast per decoder step, shape (None, HORIZON, 1); "
                     f"found {[tuple(o.shape) for o in model.outputs]}")
    if wrong:
        raise Mismatch("; ".join(wrong))


def check_tf_layers(spec, namespace):
    """Encoder GRU and decoder GRU of LATENT_DIM units with the right flags, a Dense(1) output."""
    model = _model(namespace)
    try:
        encoder, decoder, output = teacher_forcing.parts(model)
    except teacher_forcing.NotTeacherForcing as error:
        raise Mismatch(str(error)) from None
    for role, layer in (("encoder", encoder), ("decoder", decoder)):
        if layer.units != 5:
            raise Mismatch(f"the {role} GRU should have LATENT_DIM = 5 units, found {layer.units}")
    inner = getattr(output, "layer", output)
    if inner.units != 1:
        raise Mismatch(f"the output layer should be Dense(1), one load per step; found {describe_layer(output)}")
    params = model.count_params()
    if params != spec.parameters:
        raise Mismatch(f"the model should have {spec.parameters} parameters, found {params}")


def check_inference(spec, namespace):
    """predict_sequences feeds back its own forecasts and never reads the true future."""
    import numpy as np

    model = _model(namespace)
    predict = _variable(namespace, "predict_sequences")
    if not callable(predict):
        raise Mismatch(f"`predict_sequences` should be a function; found {type(predict).__name__}")
    encoder_inputs, decoder_inputs, _, _ = teacher_forcing.test_windows(spec.horizon, spec.T)
    encoder_inputs, decoder_inputs = encoder_inputs[:200], decoder_inputs[:200]
    try:
        honest = teacher_forcing.forecast(model, encoder_inputs, spec.horizon)
    except teacher_forcing.NotTeacherForcing as error:
        raise Mismatch(str(error)) from None
    found = np.asarray(predict(encoder_inputs), dtype=float)
    if found.shape != honest.shape:
        raise Mismatch(f"predict_sequences should return shape (samples, {spec.horizon}); for 200 windows it "
                       f"returned {found.shape}")
    if np.allclose(found, honest, atol=1e-4):
        return
    if np.allclose(found, teacher_forcing.teacher_forced(model, encoder_inputs, decoder_inputs), atol=1e-4):
        raise Mismatch("predict_sequences gives what the training model gives with the true future loads as decoder "
                       "inputs: at forecast time those are unknown; feed back each forecast instead")
    raise Mismatch("predict_sequences should start the decoder from the encoder's state with the last observed load "
                   "(encoder_inputs[:, -1:, :1]) and feed back each forecast; its forecasts for the first test "
                   f"window are {np.round(found[0], 4).tolist()}, that loop gives {np.round(honest[0], 4).tolist()}")


_COMMON = {
    "shapes": ("Tensor and model shapes", check_shapes),
    "layers": ("Model layers", check_layers),
    "mape": ("Forecast accuracy (MAPE)", check_mape),
}

CHECKS = {assignment: dict(_COMMON) for assignment in SPECS}  # the labs grade shapes, layers and MAPE
CHECKS["weight_initialization"]["initializer"] = ("Weight initializer", check_initializer)
CHECKS["one_step_rnn_multivariate"]["hyperparameters"] = ("Hyperparameters", check_answers)
CHECKS["encoder_decoder"]["dimensions"] = ("Dimensions", check_answers)
CHECKS["reference_teacher_forcing"] = {
    "shapes": ("Tensor and model shapes", check_tf_shapes),
    "layers": ("Model layers", check_tf_layers),
    "inference": ("Inference loop", check_inference),
    "mape": ("Forecast accuracy (MAPE)", check_mape),
}
CHECKS["arima"] = {
    "shapes": ("Forecast shape", check_arima_shapes),
    "walk_forward": ("Walk-forward validation", check_walk_forward),
    "mape": ("Forecast accuracy (MAPE)", check_arima_mape),
}
CHECKS["data_exploration"] = {
    "daily_load": ("Daily mean load", check_daily_load),
    "hourly_profile": ("Daily pattern", check_hourly_profile),
    "weekday_profile": ("Weekly pattern", check_weekday_profile),
}
