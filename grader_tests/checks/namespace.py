"""Reading a student's variables and Keras models, and describing them in messages."""

from __future__ import annotations

from ..errors import Mismatch


def variable(namespace, name):
    if name not in namespace:
        raise Mismatch(f"`{name}` is not defined", todo="run the cell that defines it, and check that it ends without an error")
    return namespace[name]


def trained_model(namespace):
    import keras

    model = variable(namespace, "model")
    if not isinstance(model, keras.Model):
        raise Mismatch("`model` should be a Keras model", found=type(model).__name__)
    if not model.built:
        raise Mismatch("`model` was never built or trained", todo="run the training cell after defining it")
    return model


def shape(value) -> tuple:
    return tuple(getattr(value, "shape", ()))


def io_shape(found) -> tuple:
    if isinstance(found, list):  # a functional model with one input
        found = found[0] if len(found) == 1 else found
    return tuple(found)


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
