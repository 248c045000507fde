"""Pictures a check adds to its verdict: PNGs that the judging process hands to the notebook with
the verdict (grader_tests/verdicts.py), shown under the test cell in the feedback and Formgrader."""

import base64
import io

WEEK = 168  # hours in the first test week, the one the MAPE figure shows
SHOWN: list = []  # base64 PNGs of the check being judged


def forecast_week(forecast, actual, title: str) -> None:
    """The model's t+1 forecast against the actual load over the first test week (matplotlib's Agg
    canvas directly: no pyplot, so no backend of the calling process is switched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 2.8), dpi=80)
    axes = figure.subplots()
    axes.plot(actual, color="#424242", linewidth=1.6, label="actual load")
    axes.plot(forecast, color="#1565c0", linewidth=1.2, label="your model's forecast (t+1)")
    axes.set_title(title, fontsize=11)
    axes.set_xlabel("hour of the first test week (from 2014-11-01)")
    axes.set_ylabel("MW")
    axes.set_xticks(range(0, len(actual) + 1, 24))
    axes.legend(loc="upper right", fontsize=9)
    figure.tight_layout()
    png = io.BytesIO()
    FigureCanvasAgg(figure).print_png(png)
    SHOWN.append(base64.b64encode(png.getvalue()).decode("ascii"))
