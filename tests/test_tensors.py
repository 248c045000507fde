"""TimeSeriesTensor, create_evaluation_df and mape keep the tutorial's contract."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler

from rnn_course import TimeSeriesTensor, create_evaluation_df, mape

VALID_START, TEST_START = "2014-09-01 00:00:00", "2014-11-01 00:00:00"


def splits(energy, T, features):
    """The tutorial's three frames: train, validation with T-1 hours of look-back, test without."""
    train = energy[energy.index < VALID_START][features].copy()
    look_back = dt.datetime.strptime(VALID_START, "%Y-%m-%d %H:%M:%S") - dt.timedelta(hours=T - 1)
    valid = energy[(energy.index >= look_back) & (energy.index < TEST_START)][features].copy()
    test = energy.copy()[TEST_START:][features]
    return train, valid, test


@pytest.mark.parametrize("features", [["load"], ["load", "temp"]])
def test_sample_counts_of_the_data_readme(energy, features):
    T, H = 6, 1
    structure = {"X": (range(-T + 1, 1), features)}
    counts = [TimeSeriesTensor(frame, "load", H, structure)["X"].shape for frame in splits(energy, T, features)]
    assert counts == [(23_370, 6, len(features)), (1_463, 6, len(features)), (1_458, 6, len(features))]


def test_inputs_are_the_last_T_values_and_targets_the_next_H(energy):
    T, H = 6, 3
    train = energy[energy.index < VALID_START][["load", "temp"]]
    tensors = TimeSeriesTensor(train, "load", H, {"X": (range(-T + 1, 1), ["load", "temp"])})
    X, y = tensors["X"], tensors["target"]
    assert X.shape == (23_376 - 5 - 3, 6, 2) and y.shape == (23_376 - 5 - 3, 3)
    np.testing.assert_array_equal(X[0], train.iloc[0:6].to_numpy())
    np.testing.assert_array_equal(y[0], train["load"].iloc[6:9].to_numpy())
    np.testing.assert_array_equal(X[100, :, 0], train["load"].iloc[100:106].to_numpy())
    assert tensors.dataframe.index[0] == train.index[5], "a sample is indexed by its forecast creation time t"
    assert list(tensors.dataframe.columns.names) == ["tensor", "feature", "time step"]
    assert list(tensors.dataframe["X"]["load"].columns) == ["t-5", "t-4", "t-3", "t-2", "t-1", "t"]


def test_static_features_and_incomplete_samples():
    index = pd.date_range("2020-01-01", periods=10, freq="h")
    frame = pd.DataFrame({"load": np.arange(10.0), "temp": np.arange(10.0) * 10}, index=index)
    tensors = TimeSeriesTensor(frame, "load", 2, {"X": (range(-2, 1), ["load"]), "C": (None, ["temp"])})
    assert tensors["X"].shape == (10 - 2 - 2, 3, 1) and tensors["C"].shape == (6, 1)
    np.testing.assert_array_equal(tensors["C"][:, 0], frame["temp"].iloc[2:8].to_numpy())
    kept = TimeSeriesTensor(frame, "load", 2, {"X": (range(-2, 1), ["load"])}, drop_incomplete=False)
    assert len(kept.dataframe) == 10 and kept.dataframe.isna().any(axis=1).sum() == 4
    tensors.subset_data(tensors.dataframe.iloc[:3])
    assert tensors["X"].shape == (3, 3, 1)


def test_evaluation_frame_is_in_original_units(energy):
    T, H = 6, 3
    _, _, test = splits(energy, T, ["load"])
    scaler = MinMaxScaler().fit(energy[energy.index < VALID_START][["load"]])
    scaled = test.copy()
    scaled[["load"]] = scaler.transform(test)
    tensors = TimeSeriesTensor(scaled, "load", H, {"X": (range(-T + 1, 1), ["load"])})
    eval_df = create_evaluation_df(tensors["target"], tensors, H, scaler)
    assert list(eval_df.columns) == ["timestamp", "h", "prediction", "actual"]
    assert len(eval_df) == 3 * len(tensors["target"])
    first = eval_df.iloc[0]
    assert first["h"] == "t+1" and first["timestamp"] == test.index[5]
    assert first["actual"] == pytest.approx(test["load"].iloc[6])
    assert mape(eval_df["prediction"], eval_df["actual"]) == pytest.approx(0.0, abs=1e-12)


def test_mape_is_a_fraction():
    assert mape(pd.Series([110.0, 90.0]), pd.Series([100.0, 100.0])) == pytest.approx(0.10)
    assert mape(np.array([1.0]), np.array([2.0])) == pytest.approx(0.5)
