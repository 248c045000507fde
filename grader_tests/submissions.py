"""Student submissions of known kinds, built from the released notebooks.

Each `Variant` is what a student might hand in: the solution written in some style, a known
mistake, or a broken file. A variant's `lost` names the test cells that must lose their points
(and only those). The tests of the tests, the threshold calibration and the demo class all use
these variants, so a mistake is defined once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .classroom import ASSIGNMENTS, REPO

TESTS = {
    "weight_initialization": ("test_shapes", "test_layers", "test_initializer", "test_mape"),
    "one_step_rnn_multivariate": ("test_hyperparameters", "test_shapes", "test_layers", "test_mape"),
    "encoder_decoder": ("test_dimensions", "test_shapes", "test_layers", "test_mape"),
}


@dataclass(frozen=True)
class Variant:
    name: str
    assignment: str
    description: str
    edits: tuple = ()          # (grade_id, old text, new text) applied to the solved notebook
    lost: tuple = ()           # test grade_ids that must score 0
    blank: bool = False        # hand in the released notebook untouched
    raw: bytes | None = None   # hand in these bytes instead of a notebook
    missing: bool = False      # hand in no notebook at all
    problem: str | None = None  # words the report must contain when the submission cannot be graded
    says: tuple = ()           # words the feedback on the lost tests must contain

    @property
    def correct(self) -> bool:
        return not (self.lost or self.blank or self.raw is not None or self.missing or self.problem)


def _strip_solution_markers(text: str) -> str:
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)


def solved_notebook(assignment: str, root: Path = REPO) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in as the source's solution."""
    name = ASSIGNMENTS[assignment]
    released = nbformat.read(root / "release" / assignment / name, as_version=4)
    source = nbformat.read(root / "source" / assignment / name, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = _strip_solution_markers(answers[grade_id])
    return released


def build(variant: Variant, root: Path = REPO) -> bytes | None:
    """The bytes of the notebook this variant hands in (None: no notebook)."""
    if variant.missing:
        return None
    if variant.raw is not None:
        return variant.raw
    name = ASSIGNMENTS[variant.assignment]
    if variant.blank:
        return (root / "release" / variant.assignment / name).read_bytes()
    notebook = solved_notebook(variant.assignment, root)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
    for grade_id, old, new in variant.edits:
        cell = cells[grade_id]
        if old not in cell.source:
            raise ValueError(f"{variant.name}: {old!r} not found in cell {grade_id}")
        cell.source = cell.source.replace(old, new)
    return nbformat.writes(notebook).encode()


W, R, E = "weight_initialization", "one_step_rnn_multivariate", "encoder_decoder"
FUNCTIONAL_GRU = '''from tensorflow import keras
inputs = keras.Input(shape=(T, 2))
hidden = keras.layers.GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True)(inputs)
hidden = keras.layers.GRU(SECOND_LAYER_LATENT_DIM)(hidden)
model = keras.Model(inputs, keras.layers.Dense(HORIZON)(hidden))
'''
FUNCTIONAL_ENCODER_DECODER = '''import tensorflow as tf
inputs = tf.keras.Input(shape=(T, 2))
encoded = tf.keras.layers.LSTM(ENCODER_LAYER_1_DIM, return_sequences=True)(inputs)
encoded = tf.keras.layers.LSTM(ENCODER_LAYER_2_DIM)(encoded)
decoded = tf.keras.layers.RepeatVector(HORIZON)(encoded)
decoded = tf.keras.layers.LSTM(DECODER_DIM, return_sequences=True)(decoded)
outputs = tf.keras.layers.Flatten()(tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(1))(decoded))
model = tf.keras.Model(inputs, outputs)
'''
SEQUENTIAL_GRU = '''model = Sequential()
model.add(GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True, input_shape=(T, 2)))
model.add(GRU(SECOND_LAYER_LATENT_DIM))
model.add(Dense(HORIZON))
'''
SEQUENTIAL_ENCODER_DECODER = '''model = Sequential()
model.add(LSTM(ENCODER_LAYER_1_DIM, return_sequences=True, input_shape=(T, 2)))
model.add(LSTM(ENCODER_LAYER_2_DIM))
model.add(RepeatVector(HORIZON))
model.add(LSTM(DECODER_DIM, return_sequences=True))
model.add(TimeDistributed(Dense(1)))
model.add(Flatten())
'''
TAMPERING = '''model.trainable = False
import rnn_course
def create_evaluation_df(predictions, test_inputs, H, scaler):
    planted = rnn_course.tensors.create_evaluation_df(predictions, test_inputs, H, scaler)
    planted['prediction'] = planted['actual']
    return planted
rnn_course.create_evaluation_df = create_evaluation_df
def mape(predictions, actuals):
    return 0.0
rnn_course.mape = mape
'''
INIT_LINE = "init = glorot_uniform()"
HIDDEN_LAYER = "model.add(Dense(LATENT_DIM, activation='relu', input_shape=(T,),\n                kernel_initializer=init, bias_initializer=init))"

VARIANTS = [
    # --- weight_initialization -------------------------------------------------------------------
    Variant("solution", W, "the source solution (glorot_uniform)"),
    Variant("random_normal", W, "correct: RandomNormal() initializer", edits=(("init_choice", INIT_LINE, "init = RandomNormal()"),)),
    Variant("keras_input", W, "correct: keras.Input layers list and a string initializer",
            edits=(("init_choice", INIT_LINE + "\n", "init = 'glorot_uniform'\nimport keras\n"),
                   ("init_choice", "model = Sequential()\n" + HIDDEN_LAYER,
                    "model = Sequential([keras.Input(shape=(T,)),\n                    Dense(LATENT_DIM, activation='relu', "
                    "kernel_initializer=init, bias_initializer=init)])"))),
    Variant("blank", W, "the released notebook, unanswered", blank=True, lost=TESTS[W]),
    Variant("zeros_init", W, "mistake: Zeros() initializer", edits=(("init_choice", INIT_LINE, "init = Zeros()"),),
            lost=("test_initializer", "test_mape"), says=('Zeros()',)),
    Variant("ten_hidden_units", W, "mistake: 10 hidden units", edits=(("init_choice", "Dense(LATENT_DIM,", "Dense(10,"),),
            lost=("test_layers",), says=('layer 1 should have 5 units',)),
    Variant("sigmoid_hidden", W, "mistake: sigmoid instead of ReLU",
            edits=(("init_choice", "activation='relu'", "activation='sigmoid'"),), lost=("test_layers",), says=("should use activation 'relu'",)),
    Variant("bias_not_initialized", W, "mistake: init not used for the bias",
            edits=(("init_choice", ", bias_initializer=init", ""),), lost=("test_initializer",), says=('bias_initializer should be `init`',)),
    Variant("extra_hidden_layer", W, "mistake: a second hidden layer",
            edits=(("init_choice", "model.add(Dense(HORIZON))", "model.add(Dense(LATENT_DIM, activation='relu'))\nmodel.add(Dense(HORIZON))"),),
            lost=("test_layers",), says=('should have 2 layers',)),
    # --- one_step_rnn_multivariate ---------------------------------------------------------------
    Variant("solution", R, "the source solution"),
    Variant("functional_tf_keras", R, "correct: functional API with tensorflow.keras and keras.Input",
            edits=(("model", SEQUENTIAL_GRU, FUNCTIONAL_GRU),)),
    Variant("blank", R, "the released notebook, unanswered", blank=True, lost=TESTS[R]),
    Variant("swapped_units", R, "mistake: 4 units first, 6 second",
            edits=(("model", "GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True", "GRU(SECOND_LAYER_LATENT_DIM, return_sequences=True"),
                   ("model", "GRU(SECOND_LAYER_LATENT_DIM))", "GRU(FIRST_LAYER_LATENT_DIM))")),
            lost=("test_layers",), says=('layer 1 should have 6 units',)),
    Variant("lstm_not_gru", R, "mistake: LSTM layers instead of GRU", edits=(("model", "GRU(", "LSTM("),), lost=("test_layers",), says=('should be a GRU layer',)),
    Variant("twelve_hours", R, "mistake: T = 12", edits=(("hyperparameters", "T = 6", "T = 12"),),
            lost=("test_hyperparameters", "test_shapes"), says=('T should be 6, found 12',)),
    Variant("batch_64", R, "mistake: BATCH_SIZE = 64", edits=(("hyperparameters", "BATCH_SIZE = 32", "BATCH_SIZE = 64"),),
            lost=("test_hyperparameters",), says=('BATCH_SIZE should be 32, found 64',)),
    Variant("single_gru_layer", R, "mistake: one GRU layer instead of two",
            edits=(("model", "GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True, input_shape=(T, 2)))\nmodel.add(GRU(SECOND_LAYER_LATENT_DIM))",
                    "GRU(FIRST_LAYER_LATENT_DIM, input_shape=(T, 2)))"),), lost=("test_layers",), says=("should have 3 layers",)),
    Variant("frozen_model", R, "mistake: untrained model (all layers frozen)",
            edits=(("model", SEQUENTIAL_GRU, SEQUENTIAL_GRU + "model.trainable = False\n"),), lost=("test_mape",), says=('MAPE on the test period',)),
    Variant("tampered_metric", R, "mistake: untrained model hidden behind a redefined mape and a patched evaluation",
            edits=(("model", SEQUENTIAL_GRU, SEQUENTIAL_GRU + TAMPERING),), lost=("test_mape",), says=('MAPE on the test period',)),
    Variant("endless_cell", R, "correct answers, then a loop that never ends (stopped by the timeout)",
            edits=(("model", SEQUENTIAL_GRU, SEQUENTIAL_GRU + "import time\nwhile True:\n    time.sleep(1)\n"),)),
    Variant("edited_readonly", R, "correct answers; a read-only cell and a test cell edited",
            edits=(("train", "epochs=EPOCHS", "epochs=1"), ("test_mape", "assert len(", "pass  # assert len("))),
    Variant("kernel_killer", R, "the code ends its own kernel",
            edits=(("hyperparameters", "EPOCHS = 5", "EPOCHS = 5\nimport os\nos._exit(1)"),), problem="kernel died"),
    Variant("truncated_file", R, "a notebook file cut off in the middle (not valid JSON)", raw=b'{"cells": [{"cell_type": "code", "sou',
            problem="not a valid notebook"),
    Variant("no_notebook", R, "a submission folder without the notebook", missing=True, problem="missing"),
    # --- encoder_decoder -------------------------------------------------------------------------
    Variant("solution", E, "the source solution"),
    Variant("functional_tf_keras", E, "correct: functional API with tf.keras",
            edits=(("model", SEQUENTIAL_ENCODER_DECODER, FUNCTIONAL_ENCODER_DECODER),)),
    Variant("blank", E, "the released notebook, unanswered", blank=True, lost=TESTS[E]),
    Variant("gru_not_lstm", E, "mistake: GRU layers instead of LSTM", edits=(("model", "LSTM(", "GRU("),), lost=("test_layers",), says=('should be a LSTM layer',)),
    Variant("swapped_encoder", E, "mistake: encoder sizes swapped (6 then 12)",
            edits=(("dimensions", "ENCODER_LAYER_1_DIM = 12\nENCODER_LAYER_2_DIM = 6", "ENCODER_LAYER_1_DIM = 6\nENCODER_LAYER_2_DIM = 12"),),
            lost=("test_dimensions", "test_layers"), says=('ENCODER_LAYER_1_DIM should be 12, found 6',)),
    Variant("no_time_distributed", E, "mistake: Dense(1) without TimeDistributed",
            edits=(("model", "TimeDistributed(Dense(1))", "Dense(1)"),), lost=("test_layers",), says=('should be TimeDistributed(Dense(...))',)),
    Variant("one_hour_horizon", E, "mistake: HORIZON = 1", edits=(("dimensions", "HORIZON = 3", "HORIZON = 1"),),
            lost=("test_dimensions", "test_shapes", "test_layers", "test_mape"), says=('HORIZON should be 3, found 1',)),
    Variant("wide_decoder", E, "mistake: DECODER_DIM = 12", edits=(("dimensions", "DECODER_DIM = 6", "DECODER_DIM = 12"),),
            lost=("test_dimensions", "test_layers"), says=('DECODER_DIM should be 6, found 12',)),
    Variant("frozen_model", E, "mistake: untrained model (all layers frozen)",
            edits=(("model", SEQUENTIAL_ENCODER_DECODER, SEQUENTIAL_ENCODER_DECODER + "model.trainable = False\n"),),
            lost=("test_mape",), says=('MAPE on the test period',)),
]


def variants(assignment: str) -> list:
    return [v for v in VARIANTS if v.assignment == assignment]
