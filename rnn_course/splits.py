"""The course's split of the data, and its scaling: the one place these facts are written down.

Train before 1 September 2014, validate on September-October 2014, test on November-December
2014 (as in the tutorial). Features are min-max scaled to [0, 1] with the training period's
minimum and maximum, as the tutorial's MinMaxScaler does. The notebooks spell the same dates out
for teaching; a test checks that they agree with these.
"""

from __future__ import annotations

import pandas as pd

VALID_START = pd.Timestamp("2014-09-01 00:00:00")
TEST_START = pd.Timestamp("2014-11-01 00:00:00")


def training_scale(energy: pd.DataFrame, features) -> tuple[pd.Series, pd.Series]:
    """(low, span) per feature on the training period: scaled = (value - low) / span."""
    train = energy[energy.index < VALID_START][list(features)]
    low = train.min()
    return low, train.max() - low


def scaled_splits(energy: pd.DataFrame, features, T: int, with_test: bool = True) -> dict:
    """{'train', 'valid'[, 'test']: scaled frame} and 'load_scale': (low, span) of the load in MW.

    The validation frame starts T-1 hours early so that its first sample has a full look-back
    window; the test frame starts on TEST_START (the tutorial's choice)."""
    features = list(features)
    low, span = training_scale(energy, features)
    scaled = (energy[features] - low) / span
    parts = {
        "train": scaled[scaled.index < VALID_START],
        "valid": scaled[(scaled.index >= VALID_START - pd.Timedelta(hours=T - 1)) & (scaled.index < TEST_START)],
    }
    if with_test:
        parts["test"] = scaled[scaled.index >= TEST_START]
    parts["load_scale"] = (float(low["load"]), float(span["load"]))
    return parts


def hours_between(start, end) -> int:
    """Hourly rows from `start` up to `end` (excluded)."""
    return int((pd.Timestamp(end) - pd.Timestamp(start)) / pd.Timedelta(hours=1))
