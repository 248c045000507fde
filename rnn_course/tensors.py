"""The tutorial's helpers for shaping a time series into model inputs, rebuilt for pandas 3."""

from __future__ import annotations

from collections import UserDict

import numpy as np
import pandas as pd


def mape(predictions, actuals) -> float:
    """Mean absolute percentage error, as a fraction (0.02 means 2 %)."""
    predictions = np.asarray(predictions, dtype="float64")
    actuals = np.asarray(actuals, dtype="float64")
    return float(np.mean(np.abs(predictions - actuals) / np.abs(actuals)))


class TimeSeriesTensor(UserDict):
    """A dictionary of numpy tensors cut from a time series, ready for a Keras model.

    - `dataset`: a DataFrame indexed by time, one column per feature
    - `target`: the name of the column to forecast; ``self['target']`` has shape (samples, H)
    - `H`: the forecast horizon
    - `tensor_structure`: ``{tensor_name: (range(max_backward_shift, max_forward_shift + 1), [feature, ...])}``;
      a tensor with a range has shape (samples, len(range), len(features)), ordered by time step;
      ``(None, [feature, ...])`` takes the features unshifted, shape (samples, len(features))
    - `freq`: the series' frequency (default hourly)
    - `drop_incomplete`: drop samples with a missing value (default True)

    ``self.dataframe`` holds the shifted frame with columns (tensor, feature, time step), one row per
    sample, indexed by the forecast creation time t.
    """

    def __init__(self, dataset, target, H, tensor_structure, freq="h", drop_incomplete=True):
        super().__init__()
        self.dataset = dataset
        self.target = target
        self.tensor_structure = tensor_structure
        self.tensor_names = list(tensor_structure.keys())
        self.dataframe = self._shift_data(H, freq, drop_incomplete)
        self.data = self._df2tensors(self.dataframe)

    def _shift_data(self, H, freq, drop_incomplete):
        columns = {}
        for t in range(1, H + 1):
            columns[("target", "y", f"t+{t}")] = self.dataset[self.target].shift(-t, freq=freq)
        for name, (steps, features) in self.tensor_structure.items():
            for feature in features:
                if steps is None:
                    columns[(name, feature, "static")] = self.dataset[feature]
                    continue
                for t in steps:
                    period = "t" if t == 0 else f"t{t:+d}"
                    columns[(name, feature, period)] = self.dataset[feature].shift(-t, freq=freq)
        frame = pd.DataFrame(columns).reindex(self.dataset.index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["tensor", "feature", "time step"])
        if drop_incomplete:
            frame = frame.dropna(how="any")
        return frame

    def _df2tensors(self, dataframe):
        inputs = {"target": dataframe["target"].to_numpy()}
        for name, (steps, features) in self.tensor_structure.items():
            tensor = dataframe[name][features].to_numpy()
            if steps is None:
                tensor = tensor.reshape(tensor.shape[0], len(features))
            else:
                tensor = tensor.reshape(tensor.shape[0], len(features), len(steps))
                tensor = np.transpose(tensor, axes=[0, 2, 1])
            inputs[name] = tensor
        return inputs

    def subset_data(self, new_dataframe):
        """Rebuild the tensors after filtering ``self.dataframe``."""
        self.dataframe = new_dataframe
        self.data = self._df2tensors(self.dataframe)


def create_evaluation_df(predictions, test_inputs, H, scaler) -> pd.DataFrame:
    """A long frame (timestamp, h, prediction, actual) in the original units, for evaluation."""
    predictions = np.asarray(predictions).reshape(len(test_inputs.dataframe), H)
    eval_df = pd.DataFrame(predictions, columns=[f"t+{t}" for t in range(1, H + 1)])
    eval_df["timestamp"] = test_inputs.dataframe.index
    eval_df = pd.melt(eval_df, id_vars="timestamp", value_name="prediction", var_name="h")
    eval_df["actual"] = np.transpose(test_inputs["target"]).ravel()
    eval_df[["prediction", "actual"]] = scaler.inverse_transform(eval_df[["prediction", "actual"]].to_numpy())
    return eval_df
