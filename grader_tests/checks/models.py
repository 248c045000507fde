"""Checks of the Keras model assignments (the quizzes and the neural-network labs): the answers a
student sets, tensor and model shapes, layers, the initializer, and the test-period MAPE."""

from __future__ import annotations

import contextlib

from rnn_course.data import LAST_HOUR
from rnn_course.splits import TEST_START

from .. import evidence, figures
from ..errors import Mismatch, Suspicious
from ..measure import model_mape
from ..specs import HOURS_TRAIN, LayerSpec, samples
from ..static import DYNAMIC, NOT_SET
from . import Check
from .namespace import (
    describe_layer,
    io_shape,
    model_layers,
    shape,
    trained_model,
    variable,
)


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


def check_answers(assignment, namespace):
    """The hyperparameters or dimensions the student sets, as the kernel handed them over and as the
    cells' source sets them (the grader's own reading); EPOCHS and BATCH_SIZE also as the model's
    optimizer counted them in training."""
    wrong, forged = [], []
    set_in_cells = namespace.get(evidence.SET_IN_CELLS)  # None: a live namespace (`judge`), no notebook to read
    for name, expected in assignment.spec.answers.items():
        found = variable(namespace, name)
        if found != expected:
            wrong.append(f"{name} should be {expected!r}, found {found!r}")
        if set_in_cells is None:
            continue
        written = set_in_cells.get(name, NOT_SET)
        if written is NOT_SET:
            forged.append(f"the kernel handed over {name} = {found!r}, but no cell of the notebook sets {name}")
        elif written is not DYNAMIC and written != found:
            forged.append(f"the kernel handed over {name} = {found!r}, but the notebook's cells set {name} = {written!r}")
    if forged:
        raise Suspicious("hand-over disagrees", *forged, todo="set the values in the answer cell, as plain assignments")
    if wrong:
        raise Mismatch(*wrong)
    _check_training_steps(assignment, namespace)


def _check_training_steps(assignment, namespace):
    """A model trained with EPOCHS epochs of BATCH_SIZE took EPOCHS x ceil(samples / BATCH_SIZE)
    optimizer steps, which its saved weights count. (Early stopping cannot end the quizzes' training
    sooner: its patience, 5 epochs, is not shorter than EPOCHS.)"""
    import math

    answers = assignment.spec.answers
    if not {"EPOCHS", "BATCH_SIZE", "T", "HORIZON"} <= set(answers) or evidence.OPTIMIZER_STEPS not in namespace:
        return  # no model handed over (the other checks fail), or a live namespace
    if not getattr(namespace["model"], "trainable_weights", None):
        return  # a frozen model takes no step: the MAPE test judges the untrained model, not this one
    steps = namespace.get(evidence.OPTIMIZER_STEPS)
    batches = math.ceil(samples(HOURS_TRAIN, answers["T"], answers["HORIZON"]) / answers["BATCH_SIZE"])
    expected = answers["EPOCHS"] * batches
    if steps != expected:
        trained = "no record of training" if steps is None else f"{steps:,} optimizer steps"
        raise Suspicious("hand-over disagrees", f"the model handed over has {trained}; EPOCHS = {answers['EPOCHS']} "
                         f"epochs of {batches:,} batches of BATCH_SIZE = {answers['BATCH_SIZE']} take {expected:,}",
                         todo="train the model once, with the training cell as it is, and run the notebook from the top")


def check_shapes(assignment, namespace):
    """Shapes of the prepared tensors and of the model's input and output."""
    spec, wrong = assignment.spec, []
    for name, expected in spec.data_shapes.items():
        found = shape(variable(namespace, name))
        if found != expected:
            wrong.append(f"{name} should have shape {expected}, found {found}")
    model = trained_model(namespace)
    found_in, found_out = io_shape(model.input_shape), io_shape(model.output_shape)
    if found_in != spec.input_shape:
        wrong.append(f"the model's input shape should be {spec.input_shape}, found {found_in}")
    if found_out != spec.output_shape:
        wrong.append(f"the model's output shape should be {spec.output_shape}, found {found_out}")
    if wrong:
        raise Mismatch(*wrong)


def check_layers(assignment, namespace):
    """Layer types and order, units, return_sequences, activations, parameter count."""
    spec = assignment.spec
    model = trained_model(namespace)
    layers = model_layers(model)
    expected_text = ", ".join(e.text() for e in spec.layers)
    found_text = ", ".join(describe_layer(layer) for layer in layers)
    if len(layers) != len(spec.layers):
        raise Mismatch(f"the model should have {len(spec.layers)} layers; yours has {len(layers)}",
                       expected=expected_text, found=found_text)
    for position, (layer, expected) in enumerate(zip(layers, spec.layers), start=1):
        problem = _layer_mismatch(layer, expected)
        if problem:
            raise Mismatch(f"layer {position} {problem}", expected=expected.text(), found=describe_layer(layer),
                           todo=f"build the model {expected_text}")
    params = model.count_params()
    if params != spec.parameters:
        raise Mismatch("the model has another number of parameters", expected=spec.parameters, found=params)


def check_initializer(assignment, namespace):
    """`init` is a non-constant initializer, used as kernel and bias initializer of the hidden layer."""
    import keras

    init = variable(namespace, "init")
    try:
        init = keras.initializers.get(init)
    except Exception:
        raise Mismatch("`init` is not a Keras initializer", expected="an initializer such as glorot_uniform()",
                       found=repr(init)) from None
    if isinstance(init, (keras.initializers.Zeros, keras.initializers.Ones, keras.initializers.Constant)):
        raise Mismatch(f"`init` is {type(init).__name__}(): every hidden unit then starts with the same weights "
                       "and the network cannot learn", todo="choose an initializer that draws random weights")
    hidden = model_layers(trained_model(namespace))[0]
    for role in ("kernel", "bias"):
        used = getattr(hidden, f"{role}_initializer", None)
        if type(used) is not type(init) or used.get_config() != init.get_config():
            raise Mismatch(f"the hidden layer's {role}_initializer should be `init`", expected=type(init).__name__,
                           found=type(used).__name__, todo=f"pass {role}_initializer=init to the first Dense layer")


def check_mape(assignment, namespace):
    """Test-period MAPE, measured outside the kernel from the model's own predictions."""
    spec = assignment.spec
    threshold = spec.mape_threshold
    result = model_mape.measure_in_subprocess(assignment.id, trained_model(namespace))
    if "error" in result:
        raise Mismatch(result["error"])
    found = result["mape"]
    if "week_forecast" in result:
        with contextlib.suppress(Exception):  # a figure that cannot be drawn never changes the verdict
            figures.forecast_week(result["week_forecast"], result["week_actual"],
                                  f"MAPE on the test period {found:.2%}: pass mark below {threshold:.1%}")
    if not found < threshold:
        raise Mismatch(f"the model's MAPE on the test period ({TEST_START:%Y-%m-%d} to {LAST_HOUR:%Y-%m-%d}) is too high",
                       expected=f"below {threshold:.1%} (what a correctly built and trained model scores)",
                       found=f"{found:.2%}", todo="check the layers and that the training cell ran to its end",
                       measured={"mape": found})
    below_floor(spec, found)
    print(f"MAPE on the test period: {found:.2%} (pass mark: below {threshold:.1%})")
    return {"mape": found}


def below_floor(spec, found: float) -> None:
    """A MAPE no correct model reaches is not a pass: it goes to the TA."""
    if found < spec.mape_floor:
        raise Suspicious("implausible MAPE", f"the MAPE on the test period, {found:.2%}, is below what any correctly "
                         f"built and trained model reaches (at least {spec.mape_floor:.1%}, from the calibration)",
                         todo="your instructor will look at this notebook", measured={"mape": found})


def _answers(assignment):
    return tuple(assignment.spec.answers)


SHAPES = Check("Tensor and model shapes", check_shapes, lambda assignment: ("model", *assignment.spec.data_shapes))
LAYERS = Check("Model layers", check_layers)
MAPE = Check("Forecast accuracy (MAPE)", check_mape)
HYPERPARAMETERS = Check("Hyperparameters", check_answers, lambda assignment: (*_answers(assignment), "model"))
DIMENSIONS = Check("Dimensions", check_answers, _answers)
INITIALIZER = Check("Weight initializer", check_initializer, lambda assignment: ("init", "model"))
