"""Start-up for course notebooks: quiet, reproducible TensorFlow."""

import logging
import warnings

import rnn_course  # noqa: F401  (sets the TensorFlow environment variables first)

# Keras 3 warns about styles the tutorial teaches (input_shape= on the first layer, one
# initializer object used twice); they are correct here and must not reach stderr.
QUIET_WARNINGS = [
    r"Do not pass an `input_shape`",
    r"The initializer \w+ is unseeded",
    r"Argument `input_length` is deprecated",
]


def start(seed: int = 42) -> None:
    """Silence TensorFlow's warnings and seed every random generator Keras uses."""
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import absl.logging
    import keras
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
    keras.utils.set_random_seed(seed)
