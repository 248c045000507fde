"""Predict with a saved ``.keras`` model in numpy, without importing TensorFlow.

The grader measures MAPE in a fresh process; importing TensorFlow there costs seconds per
submission. The quizzes' models are chains of a few standard layers, so this module computes
their forward pass from the saved configuration and weights (float32, as Keras does). Anything
it does not know (another layer type or option, a branching model) raises `Unsupported`, and the
grader then uses Keras itself. Unit tests compare it with Keras' own predictions.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np


class Unsupported(Exception):
    """The model needs Keras to be evaluated."""


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
}
RNN_OPTIONS_SUPPORTED = {"go_backwards": False, "stateful": False, "return_state": False, "use_bias": True}
CLASS_NAMES = {"Dense", "GRU", "LSTM", "RepeatVector", "Flatten", "Dropout", "TimeDistributed"}


def _require_plain_layer(layer):
    """A built-in Keras layer computing in float32, not quantized, without LoRA: what this module
    reproduces. Anything else (a subclass of a built-in, mixed precision, int8) goes to Keras."""
    config = layer["config"]
    kind = layer["class_name"]
    if kind not in CLASS_NAMES or layer.get("module") != "keras.layers" or layer.get("registered_name") not in (None, kind):
        raise Unsupported(f"layer {layer.get('registered_name') or kind} of module {layer.get('module')}")
    dtype = config.get("dtype")
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    if name not in (None, "float32") or (isinstance(dtype, dict) and dtype.get("class_name") != "DTypePolicy"):
        raise Unsupported(f"dtype policy {name!r} of layer {config.get('name')}")
    if config.get("quantization_config") or config.get("lora_rank"):
        raise Unsupported(f"quantized or LoRA layer {config.get('name')}")
    if kind == "Flatten" and config.get("data_format", "channels_last") != "channels_last":
        raise Unsupported(f"Flatten with data_format={config.get('data_format')!r}")
    if kind == "TimeDistributed":
        _require_plain_layer(config["layer"])


def _activation(config, key):
    name = config.get(key)
    if isinstance(name, dict) or name not in ACTIVATIONS:
        raise Unsupported(f"activation {name!r}")
    return ACTIVATIONS[name]


def load(path):
    """(layer configs in order, without input layers; weights by layer name) from a .keras file."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights_file = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    if config["class_name"] not in ("Sequential", "Functional"):
        raise Unsupported(f"model class {config['class_name']}")
    layers = config["config"]["layers"]
    if config["class_name"] == "Functional":
        _require_chain(config["config"])
    layers = [layer for layer in layers if layer["class_name"] != "InputLayer"]
    for layer in layers:
        _require_plain_layer(layer)
    weights = {}
    for layer, stored in zip(layers, _storage_names(layers)):
        group = weights_file["layers"].get(stored)
        if group is None:
            raise Unsupported(f"no stored weights for layer {layer['config']['name']}")
        found = {}
        group.visititems(lambda key, item: found.__setitem__(key, np.asarray(item, dtype=np.float32))
                         if hasattr(item, "shape") else None)
        weights[layer["config"]["name"]] = found
    return layers, weights


def _storage_names(layers):
    """Keras stores a model's weights by class, in order: dense, dense_1, gru, ..."""
    seen, names = {}, []
    for layer in layers:
        base = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", layer["class_name"])).lower()
        names.append(base if base not in seen else f"{base}_{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return names


def _require_chain(config):
    """Functional models are supported when each layer feeds only the next one."""
    previous = None
    for layer in config["layers"]:
        nodes = layer.get("inbound_nodes", [])
        if layer["class_name"] == "InputLayer":
            if previous is not None:
                raise Unsupported("more than one input")
        else:
            if len(nodes) == 1 and "__keras_tensor__" in json.dumps(nodes[0].get("kwargs", {})):
                raise Unsupported("a layer called with other tensors as keyword arguments (initial_state=, mask=)")
            args = nodes[0].get("args", []) if len(nodes) == 1 else []
            history = args[0].get("config", {}).get("keras_history", [None]) if len(args) == 1 and isinstance(args[0], dict) else [None]
            if history[0] != previous:
                raise Unsupported("a model that is not a chain of layers")
        previous = layer["config"]["name"]
    outputs = config["output_layers"]
    outputs = [outputs] if outputs and isinstance(outputs[0], str) else outputs
    if [out[0] for out in outputs] != [previous]:
        raise Unsupported("outputs other than the last layer")


def _vars(weights, prefix):
    found = sorted((k for k in weights if k.startswith(prefix + "vars/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    return [weights[k] for k in found]


def _require_shapes(kind, found, expected):
    """The stored weights have the shapes the layer's configuration implies."""
    shapes = [tuple(w.shape) for w in found]
    if shapes != [tuple(e) for e in expected]:
        raise Unsupported(f"{kind} weights of shapes {shapes}, not the {expected} its configuration implies")


def _dense(config, weights, x, prefix=""):
    variables = _vars(weights, prefix)
    units, use_bias = config["units"], config.get("use_bias", True)
    _require_shapes("Dense", variables, [(x.shape[-1], units)] + ([(units,)] if use_bias else []))
    y = x @ variables[0]
    if config.get("use_bias", True):
        y = y + variables[1]
    return _activation(config, "activation")(y)


def _recurrent(kind, config, weights, x):
    for option, value in RNN_OPTIONS_SUPPORTED.items():
        if config.get(option, value) != value:
            raise Unsupported(f"{kind} with {option}={config.get(option)}")
    variables = _vars(weights, "cell/")
    units = config["units"]
    gates = 4 if kind == "LSTM" else 3
    bias_shape = (2, 3 * units) if kind == "GRU" and config.get("reset_after", True) else (gates * units,)
    _require_shapes(kind, variables, [(x.shape[-1], gates * units), (units, gates * units), bias_shape])
    kernel, recurrent, bias = variables
    act, rec_act = _activation(config, "activation"), _activation(config, "recurrent_activation")
    h = np.zeros((x.shape[0], units), np.float32)
    c = np.zeros_like(h)
    outputs = []
    for t in range(x.shape[1]):
        if kind == "LSTM":
            z = x[:, t] @ kernel + h @ recurrent + bias
            i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
            c = rec_act(f) * c + rec_act(i) * act(g)
            h = rec_act(o) * act(c)
        else:  # GRU
            reset_after = config.get("reset_after", True)
            x_part = x[:, t] @ kernel + (bias[0] if reset_after else bias)
            x_z, x_r, x_h = np.split(x_part, 3, axis=1)
            if reset_after:
                r_z, r_r, r_h = np.split(h @ recurrent + bias[1], 3, axis=1)
                z, r = rec_act(x_z + r_z), rec_act(x_r + r_r)
                candidate = act(x_h + r * r_h)
            else:
                r_z, r_r = np.split(h @ recurrent[:, :2 * units], 2, axis=1)
                z, r = rec_act(x_z + r_z), rec_act(x_r + r_r)
                candidate = act(x_h + (r * h) @ recurrent[:, 2 * units:])
            h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1) if config.get("return_sequences") else h


def _apply(layer, weights, x):
    kind, config = layer["class_name"], layer["config"]
    own = weights.get(config["name"], {})
    if kind == "Dense":
        return _dense(config, own, x)
    if kind in ("GRU", "LSTM"):
        return _recurrent(kind, config, own, x)
    if kind == "RepeatVector":
        return np.repeat(x[:, None, :], config["n"], axis=1)
    if kind == "Flatten":
        return x.reshape(len(x), -1)
    if kind == "Dropout":
        return x
    if kind == "TimeDistributed" and config["layer"]["class_name"] == "Dense":
        return _dense(config["layer"]["config"], own, x, prefix="layer/")
    raise Unsupported(f"layer {kind}")


def predict(path, x):
    """The model's predictions for `x`, computed in numpy (raises Unsupported when it cannot)."""
    out = np.asarray(x, dtype=np.float32)
    try:
        layers, weights = load(path)
        for layer in layers:
            out = _apply(layer, weights, out)
    except (KeyError, IndexError, TypeError, ValueError) as error:  # a configuration this module does not read
        raise Unsupported(f"{type(error).__name__}: {error}") from None
    return out


def input_shape(path):
    """The saved model's input shape, e.g. (None, 6, 2)."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))["config"]
    first = config["layers"][0]
    if first["class_name"] == "InputLayer":
        return tuple(first["config"]["batch_shape"])
    shape = first.get("build_config", {}).get("input_shape") or config.get("build_input_shape")
    if shape is None:
        raise Unsupported("unknown input shape")
    return tuple(shape)
