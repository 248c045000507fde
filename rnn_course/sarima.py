"""The tutorial's seasonal ARIMA model of the load: one place for its order and fitting window."""

from __future__ import annotations

import warnings

import numpy as np

ORDER = (4, 1, 0)               # (p, d, q)
SEASONAL_ORDER = (1, 1, 0, 24)  # (P, D, Q, s): daily season
WINDOW = 720                    # hours of history each walk-forward fit sees (30 days)


def fit(history):
    """SARIMAX(ORDER)x(SEASONAL_ORDER) fitted on the last WINDOW values of `history` (MW)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SARIMAX(np.asarray(history, dtype=float)[-WINDOW:], order=ORDER,
                       seasonal_order=SEASONAL_ORDER).fit(disp=False)
