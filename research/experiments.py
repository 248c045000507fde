"""Train and measure the tutorial's multi-step model families at any horizon, on load and temperature.

What the hyperparameter search (`research.search`) runs. Splits and scaling as in the labs
(`rnn_course.splits`). The test split is built only when it is asked for, so that choosing a model
cannot read it.
"""

from __future__ import annotations

import functools
import json
import random
import time
from dataclasses import asdict, dataclass
from unittest import mock

import numpy as np
import pandas as pd

from rnn_course import TimeSeriesTensor
from rnn_course import mape as mape_of
from rnn_course.splits import scaled_splits

FEATURES = ["load", "temp"]
# Known in advance, so a forecast may use them: for each hour of the window, the calendar of the hour
# `horizon` hours later. With horizon 24 the window's last 24 hours then carry the calendar of the 24
# hours forecast (is tomorrow a Sunday, a holiday?) without changing any family's architecture.
CALENDAR = ["holiday", "weekend", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos"]
FAMILIES = ("feed_forward", "rnn_vector_output", "encoder_decoder", "teacher_forcing")
# The two groups of the results table, each searched on its own: the tutorial's inputs (load and
# temperature), like for like with its table, and the same with the calendar inputs added.
INPUTS = {"tutorial": False, "calendar": True}


@dataclass(frozen=True)
class Config:
    """One point of the search: a model family and its hyperparameters (names as in the tutorial)."""

    family: str
    T: int = 72                   # hours of history in each input window
    latent_dim: int = 5           # units per hidden layer
    hidden_layers: int = 1        # hidden (feed-forward) or recurrent (encoder) layers
    batch_size: int = 32
    learning_rate: float = 0.001  # RMSprop
    alpha: float = 0.0            # L2 penalty on the hidden layers' weights
    loss: str = "mse"             # or "mae", closer to the MAPE the table measures
    free_running: bool = False    # teacher forcing: then trained on its own fed-back forecasts, as it is used
    calendar: bool = False        # add the CALENDAR inputs (the tutorial's models read load and temperature only)
    lr_schedule: bool = False     # halve the learning rate after 2 epochs without a better validation MAPE
    horizon: int = 24
    epochs: int = 50              # at most; early stopping on validation MAPE, patience 5, best weights kept

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; choose one of {', '.join(FAMILIES)}")

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def features(self) -> list:
        return features(self.calendar)


def features(with_calendar: bool) -> list:
    """The input features of each hour of the window, load first."""
    return FEATURES + CALENDAR if with_calendar else FEATURES


def settings(items: list) -> dict:
    """Command-line FIELD=VALUE items (JSON values) as a dict, e.g. ["calendar=true"] -> {"calendar": True}."""
    return {field: json.loads(value) for field, value in (item.split("=", 1) for item in items)}


def calendar(hours: pd.DatetimeIndex) -> pd.DataFrame:
    """The CALENDAR features of `hours`: US federal holidays (as observed), Saturday or Sunday, and
    the hour of the day and the day of the week as points on a circle."""
    from pandas.tseries.holiday import USFederalHolidayCalendar

    days = hours.normalize()
    holidays = USFederalHolidayCalendar().holidays(days.min(), days.max())
    hour, weekday = hours.hour.to_numpy(), hours.dayofweek.to_numpy()
    return pd.DataFrame({"holiday": days.isin(holidays).astype(float), "weekend": (weekday >= 5).astype(float),
                         "hour_sin": np.sin(2 * np.pi * hour / 24), "hour_cos": np.cos(2 * np.pi * hour / 24),
                         "weekday_sin": np.sin(2 * np.pi * weekday / 7), "weekday_cos": np.cos(2 * np.pi * weekday / 7)},
                        index=hours)


def prepare(energy: pd.DataFrame, T: int, horizon: int, with_test: bool = False, with_calendar: bool = False) -> dict:
    """Scaled input windows and targets per split: {'train': (X, y), 'valid': (X, y)[, 'test': (X, y)],
    'load_scale': (low, span), 'origins': {split: forecast times}} with X shaped (samples, T, features):
    load and temperature, then with_calendar the CALENDAR of the hour `horizon` hours later."""
    if with_calendar:
        ahead = calendar(energy.index + pd.Timedelta(hours=horizon))
        energy = energy.join(ahead.set_axis(energy.index))
    splits = scaled_splits(energy, features(with_calendar), T, with_test=with_test)
    structure = {"X": (range(-T + 1, 1), features(with_calendar))}
    data = {"origins": {}}
    for name in ("train", "valid", "test") if with_test else ("train", "valid"):
        tensors = TimeSeriesTensor(splits[name], "load", horizon, structure)
        data[name] = (tensors["X"].astype("float32"), tensors["target"].astype("float32"))
        data["origins"][name] = tensors.dataframe.index
    data["load_scale"] = splits["load_scale"]
    return data


@functools.lru_cache(maxsize=4)
def prepared(T: int, horizon: int, with_test: bool = False, with_calendar: bool = False) -> dict:
    """`prepare` on the course's data, kept per worker process: trials and seeds of one window share it."""
    from rnn_course import load_data

    return prepare(load_data(), T, horizon, with_test=with_test, with_calendar=with_calendar)


def data_for(config: Config, with_test: bool = False) -> dict:
    """The prepared splits that `config` reads."""
    return prepared(config.T, config.horizon, with_test=with_test, with_calendar=config.calendar)


def build_model(config: Config):
    """The family's Keras model for `config` (inputs: windows of T hours of `config.features`)."""
    import keras
    from keras import layers

    regularizer = keras.regularizers.L2(config.alpha) if config.alpha else None
    model = keras.Sequential()
    if config.family == "feed_forward":
        model.add(keras.Input(shape=(config.T * len(config.features),)))
        for _ in range(config.hidden_layers):
            model.add(layers.Dense(config.latent_dim, activation="relu", kernel_regularizer=regularizer))
        model.add(layers.Dense(config.horizon))
        return model
    if config.family == "teacher_forcing":
        return _teacher_forcing_model(config, regularizer)
    model.add(keras.Input(shape=(config.T, len(config.features))))
    for layer in range(config.hidden_layers):
        last = layer == config.hidden_layers - 1
        model.add(layers.GRU(config.latent_dim, return_sequences=not last, kernel_regularizer=regularizer))
    if config.family == "rnn_vector_output":
        model.add(layers.Dense(config.horizon))
    else:  # encoder_decoder
        model.add(layers.RepeatVector(config.horizon))
        model.add(layers.GRU(config.latent_dim, return_sequences=True, kernel_regularizer=regularizer))
        model.add(layers.TimeDistributed(layers.Dense(1)))
        model.add(layers.Flatten())
    return model


def _teacher_forcing_model(config: Config, regularizer):
    """Functional encoder-decoder trained with the true previous loads as decoder inputs (one GRU each)."""
    import keras
    from keras import layers

    encoder_input = keras.Input(shape=(None, len(config.features)))
    _, state = layers.GRU(config.latent_dim, return_state=True, kernel_regularizer=regularizer)(encoder_input)
    decoder_input = keras.Input(shape=(None, 1))
    sequence, _ = layers.GRU(config.latent_dim, return_sequences=True, return_state=True,
                             kernel_regularizer=regularizer)(decoder_input, initial_state=state)
    return keras.Model([encoder_input, decoder_input], layers.TimeDistributed(layers.Dense(1))(sequence))


def free_running_model(config: Config, model):
    """The teacher-forcing model's own layers, unrolled as they are used: the decoder starts from the
    last observed load and reads back each of its forecasts, so training sees its own errors."""
    import keras

    from grader_tests import teacher_forcing

    encoder, decoder, output = teacher_forcing.parts(model, len(config.features))
    encoder_input = keras.Input(shape=(config.T, len(config.features)))
    _, state = encoder(encoder_input)
    step = encoder_input[:, -1:, :1]
    forecasts = []
    for _ in range(config.horizon):
        sequence, state = decoder(step, initial_state=state)
        step = output(sequence)
        forecasts.append(step)
    return keras.Model(encoder_input, keras.layers.Concatenate(axis=1)(forecasts))


def _inputs(config: Config, X: np.ndarray, y: np.ndarray | None = None):
    if config.family == "feed_forward":
        return X.reshape(len(X), -1)
    if config.family == "teacher_forcing":  # decoder inputs: the true loads at t .. t+horizon-1
        return [X, np.concatenate([X[:, -1:, :1], y[:, :-1, None]], axis=1)]
    return X


def _targets(config: Config, y: np.ndarray) -> np.ndarray:
    return y[..., None] if config.family == "teacher_forcing" else y


def forecast(config: Config, model, X: np.ndarray) -> np.ndarray:
    """(samples, horizon) scaled forecasts; teacher forcing feeds each forecast back to its decoder
    (the grading kit's loop, the one the teacher-forcing lab is graded with)."""
    if config.family != "teacher_forcing":
        return np.asarray(model(_inputs(config, X)))
    from grader_tests import teacher_forcing

    return teacher_forcing.forecast(model, X, config.horizon)


def train(config: Config, data: dict, seed: int, callbacks=()):
    """Train a fresh model on the training split. After each epoch the model forecasts the validation
    split as it would in use (teacher forcing feeding back its own forecasts) and logs `val_mape`;
    training stops when that has not improved for 5 epochs, keeping the best epoch's weights (with
    `lr_schedule`, the learning rate is halved after 2 epochs without improvement).
    `callbacks` are more Keras callbacks, called after `val_mape` is logged."""
    import keras
    from keras.src.random import seed_generator  # no public way to give Keras a generator of its own

    class ValidationMAPE(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_mape"] = mape(config, model, data, "valid")

    def fit(trained, inputs, targets, valid_inputs, valid_targets):
        trained.compile(optimizer=keras.optimizers.RMSprop(learning_rate=config.learning_rate), loss=config.loss,
                        steps_per_execution=64, jit_compile=True)
        stopping = keras.callbacks.EarlyStopping(monitor="val_mape", mode="min", patience=5, restore_best_weights=True)
        schedule = [keras.callbacks.ReduceLROnPlateau(monitor="val_mape", mode="min", factor=0.5, patience=2,
                                                      min_lr=1e-5)] if config.lr_schedule else []
        return trained.fit(inputs, targets, batch_size=config.batch_size, epochs=config.epochs,
                           validation_data=(valid_inputs, valid_targets), verbose=0,
                           callbacks=[ValidationMAPE(), *schedule, stopping, *callbacks])

    keras.utils.set_random_seed(seed)
    # Keras draws the seeds of layers' initializers from Python's global `random`, which other threads
    # draw from too (a Dask worker's timers): a generator of its own makes the training depend on
    # `seed` alone. In a quiet process it draws what the global one would.
    with mock.patch.object(seed_generator, "python_random", random.Random(seed)):
        model = build_model(config)
        (X_train, y_train), (X_valid, y_valid) = data["train"], data["valid"]
        started = time.monotonic()
        history = fit(model, _inputs(config, X_train, y_train), _targets(config, y_train),
                      _inputs(config, X_valid, y_valid), _targets(config, y_valid))
        epochs = len(history.history["loss"])
        if config.family == "teacher_forcing" and config.free_running:
            # The same weights, trained further as they are used (the cure for teacher forcing's drift).
            history = fit(free_running_model(config, model), X_train, y_train[..., None], X_valid, y_valid[..., None])
            epochs += len(history.history["loss"])
    return model, {"epochs": epochs, "train_seconds": round(time.monotonic() - started, 1)}


def mape(config: Config, model, data: dict, split: str) -> float:
    """MAPE (fraction) of the model's forecasts on one split, in MW."""
    X, y = data[split]
    low, span = data["load_scale"]
    return mape_of(forecast(config, model, X) * span + low, y * span + low)
