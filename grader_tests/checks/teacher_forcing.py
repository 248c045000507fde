"""Checks of the teacher-forcing lab: the training model's tensors and layers, and the student's
inference loop `predict_sequences` against the grader's own (`grader_tests.teacher_forcing`)."""

from __future__ import annotations

from .. import teacher_forcing
from ..evidence import COLLECT_ERROR
from ..errors import Mismatch
from . import Check
from .namespace import describe_layer, shape, trained_model, variable


def _parts(spec, model):
    try:
        return teacher_forcing.parts(model, len(spec.features))
    except teacher_forcing.NotTeacherForcing as error:
        raise Mismatch(str(error)) from None


def check_shapes(assignment, namespace):
    """The three tensors of a sample, and the training model's inputs and output."""
    spec = assignment.spec
    train_inputs, wrong = variable(namespace, "train_inputs"), []
    for name, expected in spec.data_shapes.items():
        found = shape(variable(namespace, name) if name == "y_train" else train_inputs[name])
        if found != expected:
            label = "y_train" if name == "y_train" else f"train_inputs[{name!r}]"
            wrong.append(f"{label} should have shape {expected}, found {found}")
    model = trained_model(namespace)
    inputs = [tuple(i.shape) for i in model.inputs]
    n_features, n_decoder = len(spec.features), len(spec.decoder_features)
    if len(inputs) != 2 or sorted(found[-1] for found in inputs) != sorted([n_decoder, n_features]):
        wrong.append(f"the training model should take [encoder input (None, T, {n_features}), decoder input "
                     f"(None, HORIZON, {n_decoder})]; found inputs {inputs}")
    output = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if output is None or len(output) != 3 or output[-1] != spec.output_units:
        wrong.append(f"the training model should output one forecast per decoder step, shape (None, HORIZON, "
                     f"{spec.output_units}); found {[tuple(o.shape) for o in model.outputs]}")
    if wrong:
        raise Mismatch(*wrong)


def check_layers(assignment, namespace):
    """Encoder GRU and decoder GRU of LATENT_DIM units with the right flags, a Dense output."""
    spec = assignment.spec
    model = trained_model(namespace)
    encoder, decoder, output = _parts(spec, model)
    for role, layer in (("encoder", encoder), ("decoder", decoder)):
        if layer.units != spec.latent_dim:
            raise Mismatch(f"the {role} GRU should have LATENT_DIM = {spec.latent_dim} units", found=f"{layer.units} units")
    inner = getattr(output, "layer", output)
    if inner.units != spec.output_units:
        raise Mismatch("the output layer should give one load per step", expected=f"Dense({spec.output_units})",
                       found=describe_layer(output))
    params = model.count_params()
    if params != spec.parameters:
        raise Mismatch("the model has another number of parameters", expected=spec.parameters, found=params)


INFERENCE_WINDOWS = 200  # test windows the student's loop is compared on


def check_inference(assignment, namespace):
    """predict_sequences feeds back its own forecasts and never reads the true future."""
    import numpy as np

    spec = assignment.spec
    model = trained_model(namespace)
    predict = variable(namespace, "predict_sequences")
    if COLLECT_ERROR in namespace:
        raise Mismatch("predict_sequences failed on the test windows", found=namespace[COLLECT_ERROR])
    if FORECASTS in namespace:  # outside the kernel: the forecasts the student's function gave, as evidence
        predict = _replay(namespace[FORECASTS])
    if not callable(predict):
        raise Mismatch("`predict_sequences` should be a function", found=type(predict).__name__)
    encoder_inputs, decoder_inputs, _, _ = teacher_forcing.test_windows(spec)
    encoder_inputs, decoder_inputs = encoder_inputs[:INFERENCE_WINDOWS], decoder_inputs[:INFERENCE_WINDOWS]
    _parts(spec, model)
    honest = teacher_forcing.forecast(model, encoder_inputs, spec.horizon)
    found = np.asarray(predict(encoder_inputs), dtype=float)
    if found.shape != honest.shape:
        raise Mismatch(f"predict_sequences should return shape (samples, {spec.horizon})",
                       expected=(INFERENCE_WINDOWS, spec.horizon), found=found.shape)
    if np.allclose(found, honest, atol=1e-4):
        return
    if np.allclose(found, teacher_forcing.teacher_forced(model, encoder_inputs, decoder_inputs), atol=1e-4):
        raise Mismatch("predict_sequences gives what the training model gives with the true future loads as decoder "
                       "inputs: at forecast time those are unknown", todo="feed back each forecast instead")
    raise Mismatch("predict_sequences should start the decoder from the encoder's state with the last observed load "
                   "(encoder_inputs[:, -1:, :1]) and feed back each forecast",
                   expected=f"for the first test window {np.round(honest[0], 4).tolist()}",
                   found=np.round(found[0], 4).tolist())


FORECASTS = "forecasts_of_predict_sequences"


def _replay(forecasts):
    def predict_sequences(encoder_inputs):
        return forecasts
    return predict_sequences


def forecasts_on_test_windows(assignment) -> dict:
    """In the kernel: what the student's predict_sequences gives for the first test windows."""
    spec = assignment.spec
    return {"kind": "forecasts", "name": FORECASTS, "windows": INFERENCE_WINDOWS, "T": spec.T, "horizon": spec.horizon,
            "features": list(spec.features), "decoder_features": list(spec.decoder_features)}


SHAPES = Check("Tensor and model shapes", check_shapes, lambda assignment: ("train_inputs", "y_train", "model"))
LAYERS = Check("Model layers", check_layers)
INFERENCE = Check("Inference loop", check_inference, lambda assignment: ("model", "predict_sequences"),
                  forecasts_on_test_windows)
