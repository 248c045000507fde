"""Checks of the data lab: the student's summaries of the load against the values the grader
computes from the data in a fresh process."""

from __future__ import annotations

from ..errors import Mismatch
from ..measure import exploration_reference
from . import Check
from .namespace import variable


def _series(namespace, name, expected_length, what):
    """An answer that should be a sequence of numbers (Series, one-column DataFrame, array, list)."""
    import numpy as np
    import pandas as pd

    value = variable(namespace, name)
    if isinstance(value, pd.DataFrame):
        if value.shape[1] != 1:
            raise Mismatch(f"`{name}` should be one column of numbers ({what})",
                           found=f"a table with columns {list(value.columns)}")
        value = value.iloc[:, 0]
    try:
        numbers = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise Mismatch(f"`{name}` should hold numbers ({what})", found=type(value).__name__) from None
    if len(numbers) != expected_length:
        raise Mismatch(f"`{name}` should hold {expected_length} values ({what})", found=f"{len(numbers)} values")
    return numbers


def _first_difference(spec, found, expected, labels, name, what):
    import numpy as np

    close = np.isclose(found, expected, rtol=spec.relative_tolerance, atol=spec.relative_tolerance)
    if close.all():
        return
    first = int(np.flatnonzero(~close)[0])
    ratio = found[first] / expected[first] if expected[first] else float("nan")
    hint = (f" (that is {spec.hours_per_day} times the mean: a sum instead of a mean?)"
            if abs(ratio - spec.hours_per_day) < 1e-6 else "")
    raise Mismatch(f"`{name}` for {labels[first]} should be {expected[first]:,.1f} MW ({what}); "
                   f"{int((~close).sum())} of {len(found)} values differ",
                   expected=f"{expected[first]:,.1f} MW", found=f"{found[first]:,.1f}{hint}")


def check_daily_load(assignment, namespace):
    """The mean load of each calendar day, in date order."""
    spec, truth = assignment.spec, exploration_reference.in_subprocess()
    found = _series(namespace, "daily_load", len(truth["daily_load"]), "the mean load of each day")
    _first_difference(spec, found, truth["daily_load"], truth["days"], "daily_load",
                      f"the mean of that day's {spec.hours_per_day} loads")


def check_hourly_profile(assignment, namespace):
    """The mean load of each hour of the day, and the peak hour."""
    spec, truth = assignment.spec, exploration_reference.in_subprocess()
    hours = spec.hours_per_day
    found = _series(namespace, "hourly_profile", hours, "the mean load of each hour of the day, hour 0 first")
    _first_difference(spec, found, truth["hourly_profile"], [f"hour {h}" for h in range(hours)], "hourly_profile",
                      "the mean load at that hour over the three years")
    peak = variable(namespace, "peak_hour")
    if peak != truth["peak_hour"]:
        raise Mismatch("`peak_hour` should be the hour with the highest mean load", expected=truth["peak_hour"], found=repr(peak))


def check_weekday_profile(assignment, namespace):
    """The mean load of each day of the week, Monday first."""
    import numpy as np

    spec, truth = assignment.spec, exploration_reference.in_subprocess()
    first, days = spec.weekdays[0], spec.weekdays
    found = _series(namespace, "weekday_profile", len(days), f"the mean load of each day of the week, {first} first")
    shifted = truth["weekday_profile"][-1:] + truth["weekday_profile"][:-1]
    if np.allclose(found, shifted, rtol=spec.relative_tolerance):
        raise Mismatch(f"`weekday_profile` should start with {first} (pandas' dayofweek 0)", found=f"it starts with {days[-1]}")
    _first_difference(spec, found, truth["weekday_profile"], days, "weekday_profile",
                      "the mean load on that day of the week")


DAILY_LOAD = Check("Daily mean load", check_daily_load, lambda assignment: ("daily_load",))
HOURLY_PROFILE = Check("Daily pattern", check_hourly_profile, lambda assignment: ("hourly_profile", "peak_hour"))
WEEKDAY_PROFILE = Check("Weekly pattern", check_weekday_profile, lambda assignment: ("weekday_profile",))
