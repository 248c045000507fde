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

from grader_tests.assignments import ASSIGNMENTS as CATALOGUE

from .classroom import NOTEBOOKS, REPO

TESTS = {a.id: a.tests for a in CATALOGUE.values()}  # grade_ids of the autograded test cells


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
    demo: bool = False         # handed in by the demo class (`python -m instructor demo`)

    @property
    def in_demo(self) -> bool:
        return self.demo or self.name == "solution"

    @property
    def correct(self) -> bool:
        return not (self.lost or self.blank or self.raw is not None or self.missing or self.problem)


def _strip_solution_markers(text: str) -> str:
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)


def solved_notebook(assignment: str, root: Path = REPO) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in as the source's solution."""
    name = NOTEBOOKS[assignment]
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
    name = NOTEBOOKS[variant.assignment]
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
LSTM_MODEL = SEQUENTIAL_GRU.replace("GRU(", "LSTM(")
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
# Attacks on the grading machine (issue: grading no submission can break). Each is added to an answer
# cell after a model with a known mistake (LSTM layers): the attacker must get exactly what that model
# earns, and the students graded after it their own grades. Each prints what it found for the tests.
ATTACK_PORT = 47613  # the tests listen on this loopback port while the class is graded
ATTACKS = {
    "rewrites_the_kit": ("the answer cell rewrites the grading kit on disk", """
import os, grader_tests
try:
    with open(grader_tests.__file__, 'a') as kit_file:
        kit_file.write('\\ncheck = lambda assignment, name, namespace: None\\n')
    print('ATTACK kit rewritten')
except OSError as error:
    print('ATTACK kit refused:', type(error).__name__)
"""),
    "reads_the_kit": ("the answer cell looks for the kit's specs, pass marks and checks", """
import os, grader_tests
try:
    import grader_tests.specs
    print('ATTACK specs imported')
except ImportError as error:
    print('ATTACK specs hidden:', type(error).__name__)
print('ATTACK kit shows:', sorted(name for name in os.listdir(os.path.dirname(grader_tests.__file__)) if name.endswith('.py')))
"""),
    "rewrites_the_data": ("the answer cell overwrites the course data", """
import os
try:
    with open(os.path.join(os.environ['RNN_COURSE_DATA'], 'energy.csv'), 'a') as data_file:
        data_file.write('2015-01-01 00:00:00,0,0\\n')
    print('ATTACK data rewritten')
except (OSError, KeyError) as error:
    print('ATTACK data refused:', type(error).__name__)
"""),
    "reads_the_course": ("the answer cell reads the source notebook, the gradebook and other students' work", """
import glob, os
found = [path for pattern in ('../../../source/*/*.ipynb', '../../../gradebook.db', '../../../submitted/*/*/*.ipynb',
                              '/root/*', '/etc/shadow') for path in glob.glob(pattern) if os.access(path, os.R_OK)]
print('ATTACK readable:', found or 'nothing')
"""),
    "phones_home": ("the answer cell opens a connection to the grading machine's loopback", f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {ATTACK_PORT}), timeout=3).close()
    print('ATTACK connected')
except OSError as error:
    print('ATTACK network refused:', type(error).__name__)
"""),
    "memory_hog": ("the answer cell asks for 8 GiB of memory", """
try:
    hog = bytearray(8 * 1024 ** 3)
    print('ATTACK memory granted')
except MemoryError:
    print('ATTACK memory refused: MemoryError')
"""),
    "fork_loop": ("the answer cell forks processes until it cannot", """
import os, time
children = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        children += 1
    print('ATTACK forked', children)
except OSError as error:
    print('ATTACK fork refused after', children, 'children:', type(error).__name__)
"""),
}


# Attacks inside the student's own kernel, which no sandbox stops: they change what the test cells
# show, so the grader judges outside the kernel, from the evidence the cells wrote down.
KERNEL_ATTACKS = {
    "replaces_the_kit_module": ("a stand-in for the kit in sys.modules that says every check passed", """
import sys, types
stand_in = types.ModuleType('grader_tests')
stand_in.check = lambda assignment, name, namespace: print(name, 'passed')
sys.modules['grader_tests'] = stand_in
""", ("test_hyperparameters", "test_shapes", "test_layers", "test_mape")),
    "forges_passed": ("the kit's check wrapped to print 'passed' after it, and tracebacks hidden", """
import grader_tests
real_check = grader_tests.check
def check(assignment, name, namespace):
    try:
        real_check(assignment, name, namespace)
    finally:
        print('Model layers: passed')
grader_tests.check = check
get_ipython().showtraceback = lambda *args, **kwargs: None
""", ("test_layers",)),
}

# Attacks on nbgrader's own scoring and on the evidence (issue: grading no submission can fool, round two).
# nbgrader scores a test cell by its first execute_result (a number as partial credit, anything else as
# full marks) before it looks for errors: a hook that displays a result in every cell.
DISPLAYS_OK = """ip = get_ipython()
ip.events.register('pre_run_cell', lambda *args: ip.displayhook('ok'))
ip.events.register('post_run_cell', lambda *args: ip.displayhook(10))
"""
# The model judged is the model measured: a hook hands the MAPE test another model than the others.
SWAPS_THE_MODEL = """import keras
ip = get_ipython()
def swap(info):
    if '"mape"' in info.raw_cell:
        other = keras.models.clone_model(ip.user_ns['model'])
        other.set_weights([weights * 0.5 for weights in ip.user_ns['model'].get_weights()])
        ip.user_ns['model'] = other
ip.events.register('pre_run_cell', swap)
"""
# Values handed over agree with the cells and the training: one epoch trained behind the cells' back,
# EPOCHS = 5 handed over.
TRAINS_ONE_EPOCH = """globals()['EPOCHS'] = 1
ip = get_ipython()
ip.events.register('post_run_cell', lambda result: 'model' + '.fit(' in result.info.raw_cell and ip.user_ns.update(EPOCHS=5))
"""
# The kernel writes its own lines into the integrity report's pipe (a formula, a forged event), then closes it.
FORGES_THE_REPORT = """import fcntl, json, os, stat
for name in os.listdir('/proc/self/fd'):
    try:
        fd = int(name)
        if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
            for event, detail in (('=HYPERLINK("http://evil")', '=1+1'), ('verdict overruled', 'test_layers: forged'),
                                  ('write denied', '/tmp/inside-the-sandbox-is-allowed')):
                os.write(fd, (json.dumps({'event': event, 'detail': detail}) + '\\n').encode())
            os.close(fd)
    except OSError:
        pass
print('ATTACK report written')
"""

# A test cell's evidence is what its own run wrote: evidence handed over by an answer cell, for test cells
# that then never run, does not count.
PLANTS_THE_HAND_OVER = """
from grader_tests import check
for name in ('daily_load', 'hourly_profile', 'weekday_profile'):
    check('data_exploration', name, globals())
import os
os._exit(0)
"""

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
    Variant("blank", W, demo=True, description="the released notebook, unanswered", blank=True, lost=TESTS[W]),
    Variant("zeros_init", W, demo=True, description="mistake: Zeros() initializer", edits=(("init_choice", INIT_LINE, "init = Zeros()"),),
            lost=("test_initializer", "test_mape"), says=('Zeros()',)),
    Variant("ten_hidden_units", W, demo=True, description="mistake: 10 hidden units", edits=(("init_choice", "Dense(LATENT_DIM,", "Dense(10,"),),
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
    Variant("blank", R, demo=True, description="the released notebook, unanswered", blank=True, lost=TESTS[R]),
    Variant("swapped_units", R, "mistake: 4 units first, 6 second",
            edits=(("model", "GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True", "GRU(SECOND_LAYER_LATENT_DIM, return_sequences=True"),
                   ("model", "GRU(SECOND_LAYER_LATENT_DIM))", "GRU(FIRST_LAYER_LATENT_DIM))")),
            lost=("test_layers",), says=('layer 1 should have 6 units',)),
    Variant("lstm_not_gru", R, demo=True, description="mistake: LSTM layers instead of GRU", edits=(("model", "GRU(", "LSTM("),), lost=("test_layers",), says=('should be a GRU layer',)),
    Variant("twelve_hours", R, demo=True, description="mistake: T = 12", edits=(("hyperparameters", "T = 6", "T = 12"),),
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
    *(Variant(name, R, f"attack with a wrong model (LSTM layers): {text}",
              edits=(("model", "GRU(", "LSTM("), ("model", LSTM_MODEL, LSTM_MODEL + code)),
              demo=name == "rewrites_the_kit",
              # the fork loop's kernel dies of its own loop: graded, every test not run
              **({"lost": TESTS[R], "says": ("did not run",)} if name == "fork_loop"
                 else {"lost": ("test_layers",), "says": ("should be a GRU layer",)}))
      for name, (text, code) in ATTACKS.items()),
    *(Variant(name, R, f"attack with a wrong model (LSTM layers): {text}",
              edits=(("model", "GRU(", "LSTM("), ("model", LSTM_MODEL, LSTM_MODEL + code)), lost=lost,
              demo=name == "forges_passed")
      for name, (text, code, lost) in KERNEL_ATTACKS.items()),
    Variant("displays_ok", R, "attack: no answers, a hook that displays 'ok' and 10 as every cell's result",
            edits=(("hyperparameters", "EPOCHS = 5\n", "EPOCHS = 5\n" + DISPLAYS_OK), ("model", SEQUENTIAL_GRU, LSTM_MODEL)),
            lost=("test_layers",), says=("should be a GRU layer",)),
    Variant("swaps_the_model", R, "attack: a hook hands the MAPE test another model than the other tests",
            edits=(("model", SEQUENTIAL_GRU, SEQUENTIAL_GRU + SWAPS_THE_MODEL),),
            lost=("test_hyperparameters", "test_shapes", "test_layers", "test_mape"), says=("changed between the test cells",)),
    Variant("trains_one_epoch", R, "attack: one epoch trained behind the cells' back, EPOCHS = 5 handed over",
            edits=(("model", SEQUENTIAL_GRU, SEQUENTIAL_GRU + TRAINS_ONE_EPOCH),),
            lost=("test_hyperparameters",), says=("731 optimizer steps",)),
    Variant("forges_the_report", R, "attack with a wrong model (LSTM layers): writes its own lines into the integrity report",
            edits=(("model", SEQUENTIAL_GRU, LSTM_MODEL + FORGES_THE_REPORT),), lost=("test_layers",), says=("should be a GRU layer",)),
    Variant("honest_after_attacks", R, "an honest mistake graded after the attacks: 10 GRU units in the first layer",
            edits=(("model", "GRU(FIRST_LAYER_LATENT_DIM, return_sequences=True", "GRU(10, return_sequences=True"),),
            lost=("test_layers",), says=("layer 1 should have 6 units",)),
    Variant("kernel_killer", R, "the code ends its own kernel",
            edits=(("hyperparameters", "EPOCHS = 5", "EPOCHS = 5\nimport os\nos._exit(1)"),), lost=TESTS[R],
            says=("did not run",)),
    Variant("truncated_file", R, demo=True, description="a notebook file cut off in the middle (not valid JSON)", raw=b'{"cells": [{"cell_type": "code", "sou',
            problem="not a valid notebook"),
    Variant("no_notebook", R, "a submission folder without the notebook", missing=True, problem="missing"),
    # --- encoder_decoder -------------------------------------------------------------------------
    Variant("solution", E, "the source solution"),
    Variant("functional_tf_keras", E, "correct: functional API with tf.keras",
            edits=(("model", SEQUENTIAL_ENCODER_DECODER, FUNCTIONAL_ENCODER_DECODER),)),
    Variant("blank", E, demo=True, description="the released notebook, unanswered", blank=True, lost=TESTS[E]),
    Variant("gru_not_lstm", E, demo=True, description="mistake: GRU layers instead of LSTM", edits=(("model", "LSTM(", "GRU("),), lost=("test_layers",), says=('should be a LSTM layer',)),
    Variant("swapped_encoder", E, "mistake: encoder sizes swapped (6 then 12)",
            edits=(("dimensions", "ENCODER_LAYER_1_DIM = 12\nENCODER_LAYER_2_DIM = 6", "ENCODER_LAYER_1_DIM = 6\nENCODER_LAYER_2_DIM = 12"),),
            lost=("test_dimensions", "test_layers"), says=('ENCODER_LAYER_1_DIM should be 12, found 6',)),
    Variant("no_time_distributed", E, "mistake: Dense(1) without TimeDistributed",
            edits=(("model", "TimeDistributed(Dense(1))", "Dense(1)"),), lost=("test_layers",), says=('should be TimeDistributed(Dense(...))',)),
    Variant("one_hour_horizon", E, demo=True, description="mistake: HORIZON = 1", edits=(("dimensions", "HORIZON = 3", "HORIZON = 1"),),
            lost=("test_dimensions", "test_shapes", "test_layers", "test_mape"), says=('HORIZON should be 3, found 1',)),
    Variant("wide_decoder", E, "mistake: DECODER_DIM = 12", edits=(("dimensions", "DECODER_DIM = 6", "DECODER_DIM = 12"),),
            lost=("test_dimensions", "test_layers"), says=('DECODER_DIM should be 6, found 12',)),
    Variant("frozen_model", E, "mistake: untrained model (all layers frozen)",
            edits=(("model", SEQUENTIAL_ENCODER_DECODER, SEQUENTIAL_ENCODER_DECODER + "model.trainable = False\n"),),
            lost=("test_mape",), says=('MAPE on the test period',)),
]


# --- labs: the solution, another correct style, the blank notebook, typical mistakes, an untrained model ---
D = "data_exploration"
FF_1, GRU_1, VEC = "one_step_ff_univariate", "one_step_rnn_univariate", "multi_step_rnn_vector_output"
ENC, GRU_2, FF_3 = "multi_step_rnn_encoder_decoder_simple", "reference_one_step_rnn_multivariate", "reference_multivariate_ff_vector_output"
LAB_SOLUTIONS = {
    FF_1: "model = Sequential()\nmodel.add(Dense(LATENT_DIM, activation='relu', input_shape=(T,)))\nmodel.add(Dense(HORIZON))\n",
    GRU_1: "model = Sequential()\nmodel.add(GRU(LATENT_DIM, input_shape=(T, 1)))\nmodel.add(Dense(HORIZON))\n",
    VEC: "model = Sequential()\nmodel.add(GRU(LATENT_DIM, input_shape=(T, 2)))\nmodel.add(Dense(HORIZON))\n",
    ENC: ("model = Sequential()\nmodel.add(GRU(LATENT_DIM, input_shape=(T, 2)))\nmodel.add(RepeatVector(HORIZON))\n"
          "model.add(GRU(LATENT_DIM, return_sequences=True))\nmodel.add(TimeDistributed(Dense(1)))\nmodel.add(Flatten())\n"),
    GRU_2: "model = Sequential()\nmodel.add(GRU(LATENT_DIM, input_shape=(T, 2)))\nmodel.add(Dense(HORIZON))\n",
    FF_3: "model = Sequential()\nmodel.add(Dense(LATENT_DIM, activation='relu', input_shape=(T * 2,)))\nmodel.add(Dense(HORIZON))\n",
}
LAB_OTHER_STYLES = {
    FF_1: "import keras\nmodel = keras.Sequential([keras.Input(shape=(T,)), keras.layers.Dense(LATENT_DIM, activation='relu'),\n"
          "                          keras.layers.Dense(HORIZON)])\n",
    GRU_1: "from tensorflow import keras\ninputs = keras.Input(shape=(T, 1))\n"
           "model = keras.Model(inputs, keras.layers.Dense(HORIZON)(keras.layers.GRU(LATENT_DIM)(inputs)))\n",
    VEC: "import tensorflow as tf\ninputs = tf.keras.Input(shape=(T, 2))\n"
         "model = tf.keras.Model(inputs, tf.keras.layers.Dense(HORIZON)(tf.keras.layers.GRU(LATENT_DIM)(inputs)))\n",
    ENC: ("import keras\ninputs = keras.Input(shape=(T, 2))\nstate = keras.layers.GRU(LATENT_DIM)(inputs)\n"
          "steps = keras.layers.GRU(LATENT_DIM, return_sequences=True)(keras.layers.RepeatVector(HORIZON)(state))\n"
          "outputs = keras.layers.Flatten()(keras.layers.TimeDistributed(keras.layers.Dense(1))(steps))\n"
          "model = keras.Model(inputs, outputs)\n"),
    GRU_2: "import keras\nmodel = keras.Sequential([keras.Input(shape=(T, 2)), GRU(LATENT_DIM), Dense(HORIZON)])\n",
    FF_3: "from tensorflow import keras\nmodel = keras.Sequential([keras.Input(shape=(2 * T,)), keras.layers.Dense(LATENT_DIM, activation='relu'),\n"
          "                          keras.layers.Dense(HORIZON)])\n",
}
LAB_MISTAKES = {  # name: (description, old, new, lost, says)
    FF_1: [("sigmoid_hidden", "sigmoid instead of ReLU", "activation='relu'", "activation='sigmoid'", ("test_layers",), "should use activation 'relu'"),
           ("ten_hidden_units", "10 hidden units", "Dense(LATENT_DIM,", "Dense(10,", ("test_layers",), "layer 1 should have 5 units")],
    GRU_1: [("lstm_not_gru", "an LSTM layer instead of a GRU", "GRU(", "LSTM(", ("test_layers",), "should be a GRU layer"),
            ("ten_units", "10 GRU units", "GRU(LATENT_DIM,", "GRU(10,", ("test_layers",), "layer 1 should have 5 units")],
    VEC: [("one_hour_output", "an output of 1 hour instead of HORIZON", "Dense(HORIZON)", "Dense(1)",
           ("test_shapes", "test_layers", "test_mape"), "output shape should be (None, 3)"),
          ("lstm_not_gru", "an LSTM layer instead of a GRU", "GRU(", "LSTM(", ("test_layers",), "should be a GRU layer")],
    ENC: [("no_time_distributed", "Dense(1) without TimeDistributed", "TimeDistributed(Dense(1))", "Dense(1)",
           ("test_layers",), "should be TimeDistributed(Dense(...))"),
          ("lstm_not_gru", "LSTM layers instead of GRU", "GRU(", "LSTM(", ("test_layers",), "should be a GRU layer")],
    GRU_2: [("lstm_not_gru", "an LSTM layer instead of a GRU", "GRU(", "LSTM(", ("test_layers",), "should be a GRU layer"),
            ("ten_units", "10 GRU units", "GRU(LATENT_DIM,", "GRU(10,", ("test_layers",), "layer 1 should have 5 units")],
    FF_3: [("sigmoid_hidden", "sigmoid instead of ReLU", "activation='relu'", "activation='sigmoid'", ("test_layers",), "should use activation 'relu'"),
           ("one_hour_output", "an output of 1 hour instead of HORIZON", "Dense(HORIZON)", "Dense(1)",
            ("test_shapes", "test_layers", "test_mape"), "output shape should be (None, 3)")],
}
for _lab, _solution in LAB_SOLUTIONS.items():
    VARIANTS += [
        Variant("solution", _lab, "the source solution"),
        Variant("other_style", _lab, "correct: keras.Input / functional API / tensorflow.keras",
                edits=(("model", _solution, LAB_OTHER_STYLES[_lab]),)),
        Variant("blank", _lab, "the released notebook, unanswered", blank=True, lost=TESTS[_lab]),
        *(Variant(name, _lab, f"mistake: {text}", edits=(("model", old, new),), lost=lost, says=(says,),
                  demo=number == 0)  # the demo class hands in each lab's first typical mistake
          for number, (name, text, old, new, lost, says) in enumerate(LAB_MISTAKES[_lab])),
        Variant("frozen_model", _lab, "mistake: untrained model (all layers frozen)",
                edits=(("model", _solution, _solution + "model.trainable = False\n"),), lost=("test_mape",),
                says=("MAPE on the test period",)),
    ]

DAILY = "daily_load = energy['load'].resample('D').mean()"
WEEKDAY = "weekday_profile = energy.groupby(energy.index.dayofweek)['load'].mean()"
VARIANTS += [
    Variant("solution", D, "the source solution"),
    Variant("other_style", D, "correct: groupby on dates, numpy arrays, a one-column DataFrame",
            edits=(("daily_load", DAILY, "daily_load = energy[['load']].groupby(energy.index.date).mean()"),
                   ("profiles", WEEKDAY, "weekday_profile = np.array([energy['load'][energy.index.dayofweek == d].mean() for d in range(7)])"))),
    Variant("blank", D, "the released notebook, unanswered", blank=True, lost=TESTS[D]),
    Variant("daily_sum", D, demo=True, description="mistake: daily sums instead of means", edits=(("daily_load", ".mean()", ".sum()"),),
            lost=("test_daily_load",), says=("a sum instead of a mean",)),
    Variant("temperature_profile", D, "mistake: the hourly profile of temperature, not load",
            edits=(("profiles", "groupby(energy.index.hour)['load']", "groupby(energy.index.hour)['temp']"),),
            lost=("test_hourly_profile",), says=("hourly_profile` for hour 0 should be",)),
    Variant("displays_ok", D, "attack: a daily sum, and a hook that displays 'ok' and 10 as every cell's result",
            edits=(("daily_load", ".mean()", ".sum()\n" + DISPLAYS_OK),), lost=("test_daily_load",), says=("a sum instead of a mean",)),
    Variant("plants_the_hand_over", D, "attack: the answer cell hands over every check's evidence itself, then ends "
            "its kernel so that no test cell runs", edits=(("profiles", WEEKDAY, WEEKDAY + PLANTS_THE_HAND_OVER),),
            lost=TESTS[D], says=("did not run",)),
    Variant("sunday_first", D, "mistake: weekdays counted from Sunday",
            edits=(("profiles", WEEKDAY, "weekday_profile = energy.groupby(energy.index.strftime('%w'))['load'].mean()"),),
            lost=("test_weekday_profile",), says=("should start with Monday",)),
]

A = "arima"
ARIMA_LOOP = """history = list(train['load'].values)
rows = []
params = None  # the first fit starts from statsmodels' own guess, each later one from the previous fit's parameters
started = time.time()
for t in range(len(test) - HORIZON + 1):
    fitted = SARIMAX(history[-WINDOW:], order=ORDER, seasonal_order=SEASONAL_ORDER, concentrate_scale=True).fit(
        start_params=params, low_memory=True, cov_type='none', disp=False)
    params = fitted.params
    rows.append(fitted.forecast(HORIZON))
    history.append(test['load'].iloc[t])
    if t % 10 == 0:
        print(f'forecast origin {t}: {time.time() - started:.0f} s')
predictions = np.array(rows)
"""
ARIMA_COMPREHENSION = """series = np.concatenate([train['load'].values, test['load'].values])
predictions = np.array([SARIMAX(series[:len(train) + t][-WINDOW:], order=ORDER, seasonal_order=SEASONAL_ORDER)
                        .fit(disp=False).forecast(HORIZON) for t in range(len(test) - HORIZON + 1)])
"""
APPEND = "    history.append(test['load'].iloc[t])\n"
FIT = "    fitted = SARIMAX(history[-WINDOW:]"
VARIANTS += [
    Variant("solution", A, "the source solution"),
    Variant("other_style", A, "correct: one list comprehension over slices of the whole series, each model fitted from scratch",
            edits=(("walk_forward", ARIMA_LOOP, ARIMA_COMPREHENSION),)),
    Variant("blank", A, "the released notebook, unanswered", blank=True, lost=TESTS[A]),
    Variant("reads_the_origin_hour", A, "mistake: the origin's true load is added before the fit (the forecast sees the hour it predicts)",
            edits=(("walk_forward", APPEND, ""), ("walk_forward", FIT, APPEND + FIT)),
            lost=("test_walk_forward", "test_mape"), says=("no later hour",)),
    Variant("five_origins", A, "mistake: the loop stops after 5 forecast origins",
            edits=(("walk_forward", "for t in range(len(test) - HORIZON + 1):", "for t in range(5):"),),
            lost=("test_shapes", "test_walk_forward", "test_mape"), says=("should have shape (46, 3)",)),
]

TF = "reference_teacher_forcing"
TF_LOOP = """    for h in range(HORIZON):
        step, state = [np.asarray(x) for x in decoder_model([step, state])]
        forecasts.append(step[:, 0, 0])
"""
VARIANTS += [
    Variant("solution", TF, "the source solution"),
    Variant("other_style", TF, "correct: Dense(1) without TimeDistributed, and decoder_model.predict in the loop",
            edits=(("model", "decoder_dense = TimeDistributed(Dense(1))", "decoder_dense = Dense(1)"),
                   ("inference", TF_LOOP, """    for h in range(HORIZON):
        step, state = decoder_model.predict([step, state], verbose=0)
        forecasts.append(step[:, 0, 0])
"""))),
    Variant("blank", TF, "the released notebook, unanswered", blank=True, lost=TESTS[TF]),
    Variant("reads_the_future", TF, demo=True, description="mistake: the inference loop feeds the true future loads to the decoder",
            edits=(("inference", TF_LOOP, """    true_loads = test_inputs['decoder_input'][:len(encoder_inputs)]
    for h in range(HORIZON):
        step, state = [np.asarray(x) for x in decoder_model([true_loads[:, h:h + 1], state])]
        forecasts.append(step[:, 0, 0])
"""),), lost=("test_inference",), says=("true future loads",)),
    Variant("no_feedback", TF, "mistake: the last observed load is fed at every step instead of the forecasts",
            edits=(("inference", TF_LOOP, """    last_load = step
    for h in range(HORIZON):
        step, state = [np.asarray(x) for x in decoder_model([last_load, state])]
        forecasts.append(step[:, 0, 0])
"""),), lost=("test_inference",), says=("feed back each forecast",)),
    Variant("wide_layers", TF, "mistake: GRU layers of 2 * LATENT_DIM units",
            edits=(("model", "GRU(LATENT_DIM,", "GRU(2 * LATENT_DIM,"),
                   ("inference", "Input(shape=(LATENT_DIM,))", "Input(shape=(2 * LATENT_DIM,))")),
            lost=("test_layers",), says=("should have LATENT_DIM = 5 units",)),
    Variant("frozen_model", TF, "mistake: untrained model (all layers frozen)",
            edits=(("model", "model = Model([encoder_input, decoder_input], decoder_output)\n",
                    "model = Model([encoder_input, decoder_input], decoder_output)\nmodel.trainable = False\n"),),
            lost=("test_mape",), says=("MAPE on the test period",)),
]


def variants(assignment: str) -> list:
    return [v for v in VARIANTS if v.assignment == assignment]
