"""The grading kit on hand-built models: right answers in any style pass, wrong ones fail with a
message that says what was expected and what was found."""

from pathlib import Path

import numpy as np
import pytest

import rnn_course  # noqa: F401  (quiet TensorFlow before keras is imported)
import keras
import tensorflow as tf
from keras.layers import GRU, LSTM, Dense, Flatten, RepeatVector, TimeDistributed
from keras.models import Sequential

from grader_tests import CheckFailed, judge, teacher_forcing
from grader_tests.assignments import ASSIGNMENTS, with_mape_pass_mark
from grader_tests.checks.namespace import describe_layer
from grader_tests.measure import forward
from grader_tests.measure.model_mape import measure_in_subprocess as evaluate_in_subprocess

W, R, E = "weight_initialization", "one_step_rnn_multivariate", "encoder_decoder"


def built(model, shape):
    model.build((None, *shape))
    return model


def gru_sequential():
    model = Sequential()
    model.add(GRU(6, return_sequences=True, input_shape=(6, 2)))
    model.add(GRU(4))
    model.add(Dense(1))
    return model


def gru_functional_tf_keras():
    inputs = tf.keras.Input(shape=(6, 2))
    hidden = tf.keras.layers.GRU(4)(tf.keras.layers.GRU(6, return_sequences=True)(inputs))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(hidden))


def encoder_decoder(first=LSTM, decoder_units=6, wrap=True):
    return Sequential([keras.Input(shape=(6, 2)), first(12, return_sequences=True), LSTM(6), RepeatVector(3),
                       LSTM(decoder_units, return_sequences=True),
                       TimeDistributed(Dense(1)) if wrap else Dense(1), Flatten()])


def feed_forward(init="glorot_uniform", bias=None, units=5, activation="relu"):
    return Sequential([keras.Input(shape=(6,)), Dense(units, activation=activation, kernel_initializer=init,
                                                       bias_initializer=bias or init), Dense(1)])


def rnn_namespace(model, T=6, horizon=1, **answers):
    n_train, n_valid = 23_376 - (T - 1) - horizon, 1_469 - (T - 1) - horizon
    return {"model": model, "X_train": np.zeros((n_train, T, 2)), "y_train": np.zeros((n_train, horizon)),
            "X_valid": np.zeros((n_valid, T, 2)), "y_valid": np.zeros((n_valid, horizon)), **answers}


def failure(assignment, name, namespace) -> str:
    with pytest.raises(CheckFailed) as error:
        judge(assignment, name, namespace)
    return error.value.message


@pytest.mark.parametrize("make", [gru_sequential, gru_functional_tf_keras])
def test_gru_model_in_any_style_passes(make, capsys):
    namespace = rnn_namespace(make())
    judge(R, "layers", namespace)
    judge(R, "shapes", namespace)
    assert capsys.readouterr().out.count("passed") == 2


def test_wrong_layer_names_expected_and_found():
    model = Sequential([keras.Input(shape=(6, 2)), LSTM(6, return_sequences=True), GRU(4), Dense(1)])
    message = failure(R, "layers", rnn_namespace(model))
    assert message.splitlines()[:3] == ["layer 1 should be a GRU layer", "expected: GRU(6, return_sequences=True)",
                                        "found: LSTM(6, activation='tanh', return_sequences=True)"]


def test_swapped_units_and_missing_layers_are_explained():
    swapped = Sequential([keras.Input(shape=(6, 2)), GRU(4, return_sequences=True), GRU(6), Dense(1)])
    assert "layer 1 should have 6 units" in failure(R, "layers", rnn_namespace(swapped))
    short = Sequential([keras.Input(shape=(6, 2)), GRU(6), Dense(1)])
    message = failure(R, "layers", rnn_namespace(short))
    assert "should have 3 layers" in message and "yours has 2" in message


def test_answers_report_each_wrong_value():
    answers = dict(T=12, HORIZON=1, FIRST_LAYER_LATENT_DIM=6, SECOND_LAYER_LATENT_DIM=4, BATCH_SIZE=64, EPOCHS=5)
    message = failure(R, "hyperparameters", answers)
    assert message == "T should be 6, found 12\nBATCH_SIZE should be 32, found 64"
    assert "`EPOCHS` is not defined" in failure(R, "hyperparameters", {k: v for k, v in answers.items() if k != "EPOCHS"})


def test_shapes_name_the_tensor_and_the_model():
    model = Sequential([keras.Input(shape=(12, 2)), GRU(6, return_sequences=True), GRU(4), Dense(1)])
    message = failure(R, "shapes", rnn_namespace(model, T=12))
    assert "X_train should have shape (23370, 6, 2), found (23364, 12, 2)" in message
    assert "the model's input shape should be (None, 6, 2), found (None, 12, 2)" in message


def test_missing_or_unbuilt_model_is_explained():
    assert "`model` is not defined" in failure(R, "layers", {})
    assert "`model` should be a Keras model\nfound: str" in failure(R, "layers", {"model": "GRU"})
    assert "never built" in failure(R, "layers", {"model": Sequential([GRU(6), Dense(1)])})


def test_encoder_decoder_layers():
    judge(E, "layers", {"model": encoder_decoder()})
    assert "layer 1 should be a LSTM layer" in failure(E, "layers", {"model": encoder_decoder(first=GRU)})
    assert "layer 4 should have 6 units" in failure(E, "layers", {"model": encoder_decoder(decoder_units=12)})
    assert "layer 5 should be TimeDistributed(Dense(...))" in failure(E, "layers", {"model": encoder_decoder(wrap=False)})


@pytest.mark.parametrize("init", ["glorot_uniform", keras.initializers.RandomNormal(), keras.initializers.GlorotUniform(seed=1)])
def test_random_initializers_pass(init):
    judge(W, "initializer", {"init": init, "model": feed_forward(init)})
    judge(W, "layers", {"model": feed_forward(init)})


def test_zeros_and_unused_initializers_fail():
    zeros = keras.initializers.Zeros()
    assert "every hidden unit then starts with the same weights" in failure(W, "initializer", {"init": zeros, "model": feed_forward(zeros)})
    message = failure(W, "initializer", {"init": "glorot_uniform", "model": feed_forward("glorot_uniform", bias="zeros")})
    assert "bias_initializer should be `init`\nexpected: GlorotUniform\nfound: Zeros" in message
    assert "`init` is not a Keras initializer" in failure(W, "initializer", {"init": 42, "model": feed_forward()})


def test_feed_forward_layers_and_parameter_count():
    assert "layer 1 should have 5 units" in failure(W, "layers", {"model": feed_forward(units=10)})
    assert "should use activation 'relu'" in failure(W, "layers", {"model": feed_forward(activation="sigmoid")})
    assert ASSIGNMENTS[W].spec.parameters == feed_forward().count_params() == 41
    assert ASSIGNMENTS[R].spec.parameters == gru_sequential().count_params()
    assert ASSIGNMENTS[E].spec.parameters == encoder_decoder().count_params()


def test_a_failure_shows_only_its_message_and_writes_no_stderr(capfd):
    error = pytest.raises(CheckFailed, judge, R, "layers", {}).value
    assert error._render_traceback_() == ["\x1b[1;31m✗ Model layers failed\x1b[0m", "  `model` is not defined",
                                          ("  \x1b[1mto do:\x1b[0m run the cell that defines it, and check that it "
                                           "ends without an error")]
    assert capfd.readouterr().err == ""


def test_describe_layer_reads_like_code():
    assert describe_layer(TimeDistributed(Dense(1))) == "TimeDistributed(Dense(1, activation='linear'))"
    assert describe_layer(RepeatVector(3)) == "RepeatVector(3)"


# --- the MAPE is measured in a fresh process ------------------------------------------------------

def test_mape_of_a_model_is_measured_from_its_own_weights(data_dir):
    model = gru_sequential()
    plain = evaluate_in_subprocess(R, model)
    assert plain["samples"] == 1_458 and 0.05 < plain["mape"] < 2.0, plain
    assert len(plain["week_forecast"]) == len(plain["week_actual"]) == 168  # the feedback's figure
    assert 1_000 < min(plain["week_actual"]) < max(plain["week_actual"]) < 30_000  # in MW
    model.predict = lambda *args, **kwargs: np.zeros((1_458, 1))  # a frozen answer planted on the object
    assert evaluate_in_subprocess(R, model) == plain


def test_mape_uses_the_models_own_window_length(data_dir):
    model = Sequential([keras.Input(shape=(12, 2)), GRU(6, return_sequences=True), GRU(4), Dense(1)])
    result = evaluate_in_subprocess(R, model)
    assert result["T"] == 12 and result["samples"] == 1_464 - 11 - 1


def test_models_the_grader_cannot_measure_are_explained(data_dir):
    wrong_features = Sequential([keras.Input(shape=(6, 1)), GRU(4), Dense(1)])
    assert "takes inputs of shape (None, 6, 1)" in evaluate_in_subprocess(R, wrong_features)["error"]
    wrong_horizon = Sequential([keras.Input(shape=(6, 2)), GRU(4), Dense(2)])
    assert "shape (samples, 1), is expected" in evaluate_in_subprocess(R, wrong_horizon)["error"]

    @keras.saving.register_keras_serializable(package="student")
    class Memorised(keras.layers.Layer):
        def call(self, x):
            return x[:, -1, :1]

    custom = Sequential([keras.Input(shape=(6, 2)), Memorised()])
    assert "could not be rebuilt from standard Keras layers" in evaluate_in_subprocess(R, custom)["error"]


# --- the numpy forward pass the grader uses instead of importing TensorFlow -----------------------

def branching_model():
    inputs = keras.Input(shape=(6, 2))
    merged = keras.layers.Concatenate()([GRU(3)(inputs), GRU(2)(inputs)])
    return keras.Model(inputs, Dense(1)(merged))


@pytest.mark.parametrize("make", [
    gru_sequential, gru_functional_tf_keras, encoder_decoder, lambda: feed_forward("random_normal"),
    lambda: encoder_decoder(first=GRU, wrap=False),
    lambda: Sequential([keras.Input(shape=(6, 2)), GRU(5, reset_after=False, bias_initializer="random_normal"),
                        keras.layers.Dropout(0.5), Dense(2, activation="sigmoid")]),
], ids=["gru", "functional", "encoder_decoder", "feed_forward", "gru_encoder_dense_decoder", "gru_no_reset_after"])
def test_numpy_forward_pass_matches_keras(make, tmp_path):
    model = make()
    path = tmp_path / "model.keras"
    keras.saving.save_model(model, path)
    x = np.random.default_rng(0).random((64, *model.input_shape[1:]), dtype=np.float32)
    assert forward.input_shape(path) == tuple(model.input_shape)
    np.testing.assert_allclose(forward.predict(path, x), model.predict(x, verbose=0), atol=1e-6)


def test_models_the_numpy_pass_does_not_know_are_measured_with_keras(tmp_path, data_dir):
    path = tmp_path / "model.keras"
    keras.saving.save_model(branching_model(), path)
    with pytest.raises(forward.Unsupported, match="not a chain"):
        forward.predict(path, np.zeros((1, 6, 2), np.float32))
    assert evaluate_in_subprocess(R, branching_model())["samples"] == 1_458


def test_pass_marks_are_the_ones_the_calibration_gives():
    from instructor.calibration import MEASURED, pass_marks

    measured = pass_marks(MEASURED)
    assert {a: rule for a, (_, _, rule) in measured.items()} == {
        a: entry.spec.mape_threshold for a, entry in with_mape_pass_mark().items()}


def test_mape_floors_are_the_ones_the_calibration_gives():
    from instructor.calibration import MEASURED, floors

    measured = floors(MEASURED)
    assert measured == {a: entry.spec.mape_floor for a, entry in with_mape_pass_mark().items()}
    assert ASSIGNMENTS["arima"].spec.mape_floor == 0.005  # half the deterministic reference's 1.17 %


# --- the labs' own checks ---------------------------------------------------------------------------

def test_data_lab_checks_compare_with_the_graders_own_values(energy, capsys):
    load = energy["load"]
    hourly = load.groupby(load.index.hour).mean()
    namespace = {"daily_load": load.resample("D").mean(), "hourly_profile": hourly, "peak_hour": int(hourly.idxmax()),
                 "weekday_profile": load.groupby(load.index.dayofweek).mean()}
    for name in ("daily_load", "hourly_profile", "weekday_profile"):
        judge("data_exploration", name, namespace)
    assert "Daily mean load: passed" in capsys.readouterr().out
    summed = dict(namespace, daily_load=load.resample("D").sum())
    assert "a sum instead of a mean" in failure("data_exploration", "daily_load", summed)
    assert "`peak_hour` should be" in failure("data_exploration", "hourly_profile", dict(namespace, peak_hour=3))
    assert "should hold 7 values" in failure("data_exploration", "weekday_profile", dict(namespace, weekday_profile=[1, 2]))


def test_arima_checks_name_the_expected_shape():
    message = failure("arima", "shapes", {"predictions": np.zeros((5, 3))})
    assert "should have shape (46, 3)" in message and "found: (5, 3)" in message
    assert "`predictions` is not defined" in failure("arima", "shapes", {})


def teacher_forcing_model(units=5):
    encoder_input = keras.Input(shape=(None, 2))
    _, state = GRU(units, return_state=True)(encoder_input)
    decoder_input = keras.Input(shape=(None, 1))
    sequence, _ = GRU(units, return_state=True, return_sequences=True)(decoder_input, initial_state=state)
    return keras.Model([encoder_input, decoder_input], TimeDistributed(Dense(1))(sequence))


def test_the_graders_inference_loop_feeds_back_its_forecasts():
    model = teacher_forcing_model()
    X = np.random.default_rng(0).random((4, 6, 2)).astype("float32")
    honest = teacher_forcing.forecast(model, X, 3)
    step, by_hand = X[:, -1:, :1], []  # one step at a time through the training model itself
    for h in range(3):
        step = np.asarray(model([X, np.concatenate([X[:, -1:, :1], *by_hand], axis=1) if by_hand else step]))[:, -1:, :]
        by_hand.append(step)
    np.testing.assert_allclose(honest, np.concatenate(by_hand, axis=1)[:, :, 0], atol=1e-5)
    future = np.random.default_rng(1).random((4, 3, 1)).astype("float32")
    assert not np.allclose(teacher_forcing.teacher_forced(model, X, future), honest, atol=1e-4)
    assert "2 GRU layers" in failure("reference_teacher_forcing", "layers", {"model": feed_forward()})
    assert "decoder GRU 1 load per step" in failure("reference_teacher_forcing", "layers", {"model": gru_sequential()})


# --- what the numpy pass does not reproduce goes to Keras, or is refused with a reason --------------

def _initial_state_model():
    inputs = keras.Input(shape=(6, 2))
    projected = Dense(3)(inputs)
    return keras.Model(inputs, Dense(1)(GRU(3)(projected, initial_state=projected[:, 0, :])))


def _quantized_model():
    model = Sequential([keras.Input(shape=(6, 2)), Flatten(), Dense(4), Dense(1)])
    model.quantize("int8")
    return model


@keras.saving.register_keras_serializable(package="student")
class CountingGRU(GRU):
    """A subclass of a built-in layer: same config keys, other behaviour."""

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences * 2.0, initial_state=initial_state, mask=mask, training=training)


@pytest.mark.parametrize("make", [
    _initial_state_model,
    lambda: Sequential([keras.Input(shape=(6, 2)), GRU(4), Dense(1, dtype="float16")]),
    _quantized_model,
    lambda: Sequential([keras.Input(shape=(6, 2)), Flatten(data_format="channels_first"), Dense(1)]),
    lambda: Sequential([keras.Input(shape=(6, 2)), CountingGRU(4), Dense(1)]),
], ids=["initial_state", "float16_policy", "int8_quantized", "flatten_channels_first", "subclassed_layer"])
def test_models_the_numpy_pass_would_get_wrong_go_to_keras(make, tmp_path):
    model = make()
    path = tmp_path / "model.keras"
    keras.saving.save_model(model, path)
    with pytest.raises(forward.Unsupported):
        forward.predict(path, np.zeros((2, 6, 2), np.float32))
    result = evaluate_in_subprocess(R, model)
    if "error" in result:  # the grader's process cannot rebuild a layer the student's kernel defined
        assert "could not be rebuilt from standard Keras layers" in result["error"]
    else:
        assert result["samples"] == 1_458 and np.isfinite(result["mape"])


def test_weights_that_do_not_match_their_configuration_are_refused(tmp_path):
    import json
    import zipfile

    path, forged = tmp_path / "model.keras", tmp_path / "forged.keras"
    keras.saving.save_model(gru_sequential(), path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(forged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["config"]["units"] = 2  # the stored kernel is (4, 1)
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.raises(forward.Unsupported, match="weights of shapes"):
        forward.predict(forged, np.zeros((2, 6, 2), np.float32))


def test_the_mape_check_draws_the_first_test_week_for_the_feedback(data_dir, capsys):
    import base64

    from grader_tests import figures

    figures.SHOWN.clear()
    with pytest.raises(CheckFailed):  # an untrained model
        judge(R, "mape", rnn_namespace(gru_sequential()))
    assert len(figures.SHOWN) == 1 and base64.b64decode(figures.SHOWN[0]).startswith(b"\x89PNG")


def test_what_a_student_named_cannot_add_lines_or_colours_to_a_verdict():
    from grader_tests.errors import CheckFailed, Mismatch

    forged = "Tensor\n\x1b[1;32m✓ Model layers: passed\x1b[0m"
    message = str(Mismatch("`model` should be a Keras model", found=forged))
    assert message.splitlines() == ["`model` should be a Keras model", "found: Tensor\\n\\x1b[1;32m✓ Model layers: passed\\x1b[0m"]
    rendered = CheckFailed("Model layers", "no model\n\x1b[1;32m✓ forged")._render_traceback_()
    assert not any("\x1b[1;32m" in line for line in rendered)  # only the grader's title line has colour
