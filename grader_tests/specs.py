"""What a correct answer looks like, one kind of spec per kind of assignment: variables, shapes,
layers, the forecasting set-up, and the pass marks.

The MAPE pass marks are measured, not guessed: docs/grading.md gives the distributions
(each solution over many seeds, and each known mistake) they were chosen from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_course import sarima
from rnn_course.data import FIRST_HOUR
from rnn_course.splits import TEST_START, VALID_START, hours_between

# Hours per split (the validation period with T-1 hours of look-back, added per model).
HOURS_TRAIN = hours_between(FIRST_HOUR, VALID_START)   # 23,376
HOURS_VALID = hours_between(VALID_START, TEST_START)   # 1,464


def samples(hours: int, T: int, horizon: int) -> int:
    """Samples of T hours of input and `horizon` hours of target in `hours` consecutive hours."""
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
class ModelSpec:
    """A Keras model trained on windows of T hours, forecasting `horizon` hours of load."""

    T: int
    horizon: int
    features: tuple
    flat_input: bool            # feed-forward nets take (samples, T * features)
    layers: tuple
    parameters: int
    mape_threshold: float       # pass mark (fraction): the test MAPE must be below it
    mape_floor: float = 0.0     # below it no correct model scores: failed and flagged (docs/grading.md)
    answers: dict = field(default_factory=dict)  # variables the answer cells set, and their values

    @property
    def input_shape(self) -> tuple:
        n = len(self.features)
        return (None, self.T * n) if self.flat_input else (None, self.T, n)

    @property
    def output_shape(self) -> tuple:
        return (None, self.horizon)

    @property
    def data_shapes(self) -> dict:
        """The training and validation tensors the notebook prepares."""
        n = len(self.features)
        window = (self.T * n,) if self.flat_input else (self.T, n)
        shapes = {}
        for split, hours in (("train", HOURS_TRAIN), ("valid", HOURS_VALID + self.T - 1)):
            count = samples(hours, self.T, self.horizon)
            shapes[f"X_{split}"], shapes[f"y_{split}"] = (count, *window), (count, self.horizon)
        return shapes


@dataclass(frozen=True)
class TeacherForcingSpec:
    """An encoder GRU and a decoder GRU of `latent_dim` units, the decoder fed the true previous
    loads in training and its own forecasts at inference (the grader's loop measures the MAPE)."""

    T: int
    horizon: int
    latent_dim: int
    output_units: int
    parameters: int
    mape_threshold: float
    mape_floor: float = 0.0
    features: tuple = ("load", "temp")
    decoder_features: tuple = ("load",)

    @property
    def data_shapes(self) -> dict:
        count = samples(HOURS_TRAIN, self.T, self.horizon)
        return {"encoder_input": (count, self.T, len(self.features)),
                "decoder_input": (count, self.horizon, len(self.decoder_features)),
                "y_train": (count, self.horizon, self.output_units)}


@dataclass(frozen=True)
class ArimaSpec:
    """Walk-forward SARIMA forecasts over the last days of 2014."""

    horizon: int
    train_start: str             # the first hour the notebook keeps
    test_start: str              # the first forecast origin
    test_hours: int
    checked_origins: tuple       # origins whose forecasts the grader recomputes
    mape_threshold: float
    mape_floor: float = 0.0
    order: tuple = sarima.ORDER
    seasonal_order: tuple = sarima.SEASONAL_ORDER
    window: int = sarima.WINDOW
    relative_tolerance: float = 2e-3  # of a recomputed forecast (SARIMAX's optimizer is not bit-exact)

    @property
    def prediction_shape(self) -> tuple:
        return (self.test_hours - self.horizon + 1, self.horizon)


@dataclass(frozen=True)
class ExplorationSpec:
    """Summaries of the load, compared with what the grader computes from the data itself."""

    hours_per_day: int = 24
    weekdays: tuple = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    relative_tolerance: float = 1e-6


def dense_params(inputs: int, units: int) -> int:
    return inputs * units + units


def gru_params(inputs: int, units: int) -> int:  # Keras' default reset_after=True has two biases per gate
    return 3 * (units * (units + inputs) + 2 * units)


def lstm_params(inputs: int, units: int) -> int:
    return 4 * (units * (units + inputs) + units)


def recurrent(kind: str, units: int, sequences: bool = False) -> LayerSpec:
    return LayerSpec(kind, units, sequences, "tanh", "sigmoid")


def dense(units: int, activation: str = "linear") -> LayerSpec:
    return LayerSpec("Dense", units, activation=activation)


def repeat(times: int) -> LayerSpec:
    return LayerSpec("RepeatVector", repeat=times)


TIME_DISTRIBUTED_DENSE_1 = LayerSpec("TimeDistributed", 1, wrapped="Dense")
FLATTEN = LayerSpec("Flatten")
