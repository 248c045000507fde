"""The teacher-forcing encoder-decoder: finding its parts in any training model, and the honest
inference loop (the one home of this loop: the kit's checks, its MAPE measurement and the
research tools' results table use it).

A training model `Model([encoder_input, decoder_input], forecasts)` holds an encoder GRU (reading
the input window, returning its state), a decoder GRU (reading 1 load per step, starting from that
state) and a Dense output, maybe wrapped in TimeDistributed. The honest forecast starts the decoder
from the encoder's state with the last observed load and feeds each forecast back; it never sees a
load after the origin.
"""

from __future__ import annotations

import numpy as np


class NotTeacherForcing(Exception):
    """The model does not have the encoder-decoder structure; the message is for the student."""


def parts(model, encoder_features: int):
    """(encoder GRU, decoder GRU, output layer) of a training model whose encoder reads
    `encoder_features` features per hour."""
    import keras

    grus = [layer for layer in model.layers if isinstance(layer, keras.layers.GRU)]
    outputs = [layer for layer in model.layers if isinstance(layer, (keras.layers.Dense, keras.layers.TimeDistributed))]
    if len(grus) != 2 or len(outputs) != 1:
        raise NotTeacherForcing(f"the model should have 2 GRU layers (encoder, decoder) and one Dense(1) output; found "
                                f"{len(grus)} GRU and {len(outputs)} Dense layers")
    by_features = {int(layer.input.shape[-1]) if not isinstance(layer.input, list) else int(layer.input[0].shape[-1]): layer
                   for layer in grus}
    if set(by_features) != {encoder_features, 1}:
        raise NotTeacherForcing(f"the encoder GRU should read the {encoder_features}-feature window and the decoder GRU "
                                "1 load per step")
    encoder, decoder = by_features[encoder_features], by_features[1]
    if not encoder.return_state or not decoder.return_state or not decoder.return_sequences:
        raise NotTeacherForcing("the encoder GRU needs return_state=True, the decoder GRU return_state=True and "
                                "return_sequences=True")
    return encoder, decoder, outputs[0]


def forecast(model, encoder_inputs: np.ndarray, horizon: int) -> np.ndarray:
    """The honest inference loop: (samples, T, features) windows, load first -> (samples, horizon)
    scaled forecasts."""
    X = np.asarray(encoder_inputs, dtype="float32")
    encoder, decoder, output = parts(model, X.shape[-1])
    _, state = encoder(X)
    step = X[:, -1:, :1]
    forecasts = []
    for _ in range(horizon):
        sequence, state = decoder(step, initial_state=state)
        step = np.asarray(output(sequence), dtype="float32").reshape(len(X), 1, 1)
        forecasts.append(step[:, 0, 0])
    return np.stack(forecasts, axis=1)


def teacher_forced(model, encoder_inputs: np.ndarray, decoder_inputs: np.ndarray) -> np.ndarray:
    """What the training model gives when it is handed the true future loads (a leak)."""
    out = model([np.asarray(encoder_inputs, "float32"), np.asarray(decoder_inputs, "float32")])
    return np.asarray(out).reshape(len(encoder_inputs), -1)


def test_windows(spec, energy=None):
    """Scaled test-period windows built the tutorial's way (the kernel builds them alike): (encoder
    inputs, decoder inputs, targets, (low, span) of the load)."""
    from .kernel.hand_over import test_windows as build

    return build({"T": spec.T, "horizon": spec.horizon, "features": list(spec.features),
                  "decoder_features": list(spec.decoder_features)}, energy)
