"""What each quiz's hidden tests check, and the messages a student reads when a check fails."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

from . import evaluate
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
    spec = SPECS[assignment]
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


_COMMON = {
    "shapes": ("Tensor and model shapes", check_shapes),
    "layers": ("Model layers", check_layers),
    "mape": ("Forecast accuracy (MAPE)", check_mape),
}

CHECKS = {
    "weight_initialization": {**_COMMON, "initializer": ("Weight initializer", check_initializer)},
    "one_step_rnn_multivariate": {**_COMMON, "hyperparameters": ("Hyperparameters", check_answers)},
    "encoder_decoder": {**_COMMON, "dimensions": ("Dimensions", check_answers)},
}
