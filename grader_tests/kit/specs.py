"""The expected answer of each quiz and lab: variables, shapes, layers and the MAPE pass mark.

The pass marks are measured, not guessed: see grader_tests/CALIBRATION.md for the distributions
(reference solution over many seeds, and each known mistake) they were chosen from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Samples per split for T=6 (train before 2014-09-01; validation Sep-Oct 2014 with T-1 hours of
# look-back; test Nov-Dec 2014 without look-back, as in the tutorial).
HOURS_TRAIN, HOURS_VALID, HOURS_TEST = 23_376, 1_464 + 5, 1_464


def samples(hours: int, T: int, horizon: int) -> int:
    return hours - (T - 1) - horizon


@dataclass(frozen=True)
class LayerSpec:
    kind: str
    units: int | None = None
    return_sequences: bool | None = None
    activation: str | None = None
    recurrent_activation: str | None = None
    repeat: int | None = None
    wrapped: str | None = None  # TimeDistributed(<wrapped>)

    def text(self) -> str:
        if self.wrapped:
            return f"TimeDistributed({self.wrapped}({self.units}))"
        args = [str(a) for a in (self.units, self.repeat) if a is not None]
        if self.activation and self.kind == "Dense":
            args.append(f"activation='{self.activation}'")
        if self.return_sequences:
            args.append("return_sequences=True")
        return f"{self.kind}({', '.join(args)})"


@dataclass(frozen=True)
class Spec:
    assignment: str
    T: int
    horizon: int
    features: tuple
    flat_input: bool            # feed-forward nets take (samples, T * features)
    answers: dict               # variables the answer cells set
    layers: tuple
    parameters: int
    mape_threshold: float       # pass mark (fraction): MAPE must be below it
    data_shapes: dict = field(default_factory=dict)
    teacher_forcing: bool = False  # graded through the kit's own inference loop (kit/teacher_forcing.py)

    @property
    def input_shape(self) -> tuple:
        n = len(self.features)
        return (None, self.T * n) if self.flat_input else (None, self.T, n)

    @property
    def output_shape(self) -> tuple:
        return (None, self.horizon)


def _rnn_shapes(T, horizon, n_features):
    n_train, n_valid = samples(HOURS_TRAIN, T, horizon), samples(HOURS_VALID, T, horizon)
    return {"X_train": (n_train, T, n_features), "y_train": (n_train, horizon),
            "X_valid": (n_valid, T, n_features), "y_valid": (n_valid, horizon)}


def _flat_shapes(T, horizon, n_features):
    n_train, n_valid = samples(HOURS_TRAIN, T, horizon), samples(HOURS_VALID, T, horizon)
    return {"X_train": (n_train, T * n_features), "y_train": (n_train, horizon),
            "X_valid": (n_valid, T * n_features), "y_valid": (n_valid, horizon)}


def dense_params(inputs: int, units: int) -> int:
    return inputs * units + units


def gru_params(inputs: int, units: int) -> int:  # Keras' default reset_after=True has two biases per gate
    return 3 * (units * (units + inputs) + 2 * units)


def lstm_params(inputs: int, units: int) -> int:
    return 4 * (units * (units + inputs) + units)


def _lab(assignment, features, horizon, flat, layers, parameters, threshold):
    n = len(features)
    return Spec(assignment=assignment, T=6, horizon=horizon, features=features, flat_input=flat, answers={},
                layers=layers, parameters=parameters, mape_threshold=threshold,
                data_shapes=(_flat_shapes if flat else _rnn_shapes)(6, horizon, n))


RELU_5, OUT_1, OUT_3 = LayerSpec("Dense", 5, activation="relu"), LayerSpec("Dense", 1, activation="linear"), LayerSpec("Dense", 3, activation="linear")
GRU_5 = LayerSpec("GRU", 5, False, "tanh", "sigmoid")
LOAD, LOAD_TEMP = ("load",), ("load", "temp")


SPECS = {
    "weight_initialization": Spec(
        assignment="weight_initialization", T=6, horizon=1, features=("load",), flat_input=True,
        answers={},
        layers=(LayerSpec("Dense", 5, activation="relu"), LayerSpec("Dense", 1, activation="linear")),
        parameters=6 * 5 + 5 + 5 + 1,
        mape_threshold=0.045,
        data_shapes={"X_train": (samples(HOURS_TRAIN, 6, 1), 6), "y_train": (samples(HOURS_TRAIN, 6, 1), 1)},
    ),
    "one_step_rnn_multivariate": Spec(
        assignment="one_step_rnn_multivariate", T=6, horizon=1, features=("load", "temp"), flat_input=False,
        answers={"T": 6, "HORIZON": 1, "FIRST_LAYER_LATENT_DIM": 6, "SECOND_LAYER_LATENT_DIM": 4,
                 "BATCH_SIZE": 32, "EPOCHS": 5},
        layers=(LayerSpec("GRU", 6, True, "tanh", "sigmoid"), LayerSpec("GRU", 4, False, "tanh", "sigmoid"),
                LayerSpec("Dense", 1, activation="linear")),
        parameters=3 * (6 * (6 + 2) + 2 * 6) + 3 * (4 * (4 + 6) + 2 * 4) + 4 + 1,
        mape_threshold=0.05,
        data_shapes=_rnn_shapes(6, 1, 2),
    ),
    "encoder_decoder": Spec(
        assignment="encoder_decoder", T=6, horizon=3, features=("load", "temp"), flat_input=False,
        answers={"HORIZON": 3, "ENCODER_LAYER_1_DIM": 12, "ENCODER_LAYER_2_DIM": 6, "DECODER_DIM": 6},
        layers=(LayerSpec("LSTM", 12, True, "tanh", "sigmoid"), LayerSpec("LSTM", 6, False, "tanh", "sigmoid"),
                LayerSpec("RepeatVector", repeat=3), LayerSpec("LSTM", 6, True, "tanh", "sigmoid"),
                LayerSpec("TimeDistributed", 1, wrapped="Dense"), LayerSpec("Flatten")),
        parameters=4 * (12 * (12 + 2) + 12) + 4 * (6 * (6 + 12) + 6) + 4 * (6 * (6 + 6) + 6) + 7,
        mape_threshold=0.11,
        data_shapes=_rnn_shapes(6, 3, 2),
    ),
    # --- labs (tutorial notebooks; seed MAPE in grader_tests/CALIBRATION.md) ---
    "one_step_ff_univariate": _lab("one_step_ff_univariate", LOAD, 1, True, (RELU_5, OUT_1),
                                   dense_params(6, 5) + dense_params(5, 1), 0.04),
    "one_step_rnn_univariate": _lab("one_step_rnn_univariate", LOAD, 1, False, (GRU_5, OUT_1),
                                    gru_params(1, 5) + dense_params(5, 1), 0.035),
    "multi_step_rnn_vector_output": _lab("multi_step_rnn_vector_output", LOAD_TEMP, 3, False, (GRU_5, OUT_3),
                                         gru_params(2, 5) + dense_params(5, 3), 0.075),
    "multi_step_rnn_encoder_decoder_simple": _lab(
        "multi_step_rnn_encoder_decoder_simple", LOAD_TEMP, 3, False,
        (GRU_5, LayerSpec("RepeatVector", repeat=3), LayerSpec("GRU", 5, True, "tanh", "sigmoid"),
         LayerSpec("TimeDistributed", 1, wrapped="Dense"), LayerSpec("Flatten")),
        gru_params(2, 5) + gru_params(5, 5) + dense_params(5, 1), 0.09),
    "reference_one_step_rnn_multivariate": _lab("reference_one_step_rnn_multivariate", LOAD_TEMP, 1, False, (GRU_5, OUT_1),
                                                gru_params(2, 5) + dense_params(5, 1), 0.04),
    "reference_multivariate_ff_vector_output": _lab("reference_multivariate_ff_vector_output", LOAD_TEMP, 3, True,
                                                    (RELU_5, OUT_3), dense_params(12, 5) + dense_params(5, 3), 0.08),
    "reference_teacher_forcing": Spec(
        assignment="reference_teacher_forcing", T=6, horizon=3, features=LOAD_TEMP, flat_input=False, answers={},
        layers=(), parameters=gru_params(2, 5) + gru_params(1, 5) + dense_params(5, 1), mape_threshold=0.14,
        data_shapes={"encoder_input": (samples(HOURS_TRAIN, 6, 3), 6, 2), "decoder_input": (samples(HOURS_TRAIN, 6, 3), 3, 1),
                     "y_train": (samples(HOURS_TRAIN, 6, 3), 3, 1)},
        teacher_forcing=True),
}
