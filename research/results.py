"""The tutorial's results table, reproduced: each model family at HORIZON=24, test MAPE on
November-December 2014 beside the tutorial's, mean and spread over seeds, wall time, in two groups
of rows: the tutorial's inputs (load and temperature), like for like, and with the calendar inputs.

    python -m research.results                         # every row of both groups, 5 seeds each
    python -m research.results --inputs tutorial --family encoder_decoder --skip-arima   # one row again, the others kept
    python -m research.results --untuned --family teacher_forcing --set free_running=true --skip-arima --out research/untuned.json

Each neural row trains the configuration its group's search chose
(`research/searches/<inputs>_inputs/<family>.best.json`, committed, so no search is run here) or,
for a family never searched, an untuned point of the tutorial's grid. Rows are kept in
`research/results.json` per group (a run replaces only the rows it measures); the table and the
plot of the best row's forecasts over a test week are made from it. ARIMA, which reads the load
alone, is a row of the tutorial's group.

ARIMA is the course's SARIMA (`rnn_course.sarima`) in walk-forward over every test hour; to
fit 1,441 forecast origins in minutes it is refitted once a day (at midnight) and, at the other
hours, extended with the hours observed since, keeping that day's parameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from rnn_course import mape as mape_of
from rnn_course import sarima
from rnn_course.splits import TEST_START

from .experiments import INPUTS, Config, data_for, forecast, mape, settings, train
from .search import folder_of

HORIZON = 24
RESULTS = Path(__file__).parent / "results.json"
TUTORIAL_TABLE = {"arima": 4.9, "feed_forward": 4.27, "rnn_vector_output": 3.67, "encoder_decoder": 3.58,
                  "teacher_forcing": 4.57}
NAMES = {"arima": "ARIMA", "feed_forward": "feed-forward", "rnn_vector_output": "RNN vector output",
         "encoder_decoder": "RNN encoder-decoder", "teacher_forcing": "RNN encoder-decoder, teacher forcing"}
GROUPS = {"tutorial": "load and temperature (the tutorial's inputs)", "calendar": "load, temperature and the calendar"}
# Untuned points of the tutorial's grid, for a family without a committed search.
REFERENCE = {family: Config(family, T=72, latent_dim=15, hidden_layers=2 if family == "feed_forward" else 1,
                            batch_size=32, learning_rate=0.001)
             for family in ("feed_forward", "rnn_vector_output", "encoder_decoder", "teacher_forcing")}
# The week of the plot: Monday 1 to Sunday 7 December 2014, forecast each midnight for the next 24 hours.
PLOT_WEEK = ("2014-12-01", 7)


def untuned_configs(inputs: str) -> dict:
    """Per family: the tutorial-grid reference point with a group's inputs."""
    return {family: dataclasses.replace(reference, calendar=INPUTS[inputs]) for family, reference in REFERENCE.items()}


def chosen_configs(inputs: str) -> dict:
    """Per family: (configuration, the search's report or None) of a group of inputs."""
    configs = {}
    for family, untuned in untuned_configs(inputs).items():
        path = folder_of(inputs) / f"{family}.best.json"
        report = json.loads(path.read_text()) if path.exists() else None
        configs[family] = (Config(**report["best"]) if report else untuned, report)
    return configs


def arima_walk_forward(energy, horizon: int = HORIZON) -> float:
    """Test MAPE of the course's SARIMA forecasting `horizon` hours from every test hour."""
    load = energy["load"].to_numpy(dtype=float)
    first = int((energy.index < TEST_START).sum())
    forecasts, actuals = [], []
    fitted, fitted_at = None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for origin in range(first, len(load) - horizon + 1):
            if fitted is None or (origin - first) % 24 == 0:
                fitted, fitted_at = sarima.fit(load[:origin]), origin
            current = fitted.extend(load[fitted_at:origin]) if origin > fitted_at else fitted
            forecasts.append(current.forecast(horizon))
            actuals.append(load[origin:origin + horizon])
    return mape_of(forecasts, actuals)


def week_of_forecasts(config: Config, model, data: dict) -> dict:
    """The day-ahead forecasts made at each midnight of the plot week, and the actual load, in MW."""
    X, y = data["test"]
    origins = data["origins"]["test"]
    low, span = data["load_scale"]
    start, days = PLOT_WEEK
    midnights = [origins.get_loc(np.datetime64(start) + np.timedelta64(day, "D")) for day in range(days)]
    predicted = forecast(config, model, X[midnights]) * span + low
    # Each origin forecasts the hours t+1 .. t+24: the week's hours from 01:00 on its first day.
    hours = [str(origins[i] + np.timedelta64(step, "h")) for i in midnights for step in range(1, HORIZON + 1)]
    return {"hours": hours, "forecast": np.round(predicted.ravel(), 1).tolist(),
            "actual": np.round((y[midnights] * span + low).ravel(), 1).tolist()}


def mape_by_step(config: Config, model, data: dict) -> list:
    """Test MAPE (%) of the forecasts 1, 2, ... 24 hours ahead: how the error grows with the step."""
    X, y = data["test"]
    low, span = data["load_scale"]
    predicted = forecast(config, model, X) * span + low
    actual = y * span + low
    return [round(100 * mape_of(predicted[:, step], actual[:, step]), 3) for step in range(actual.shape[1])]


def measure(config: Config, seed: int) -> dict:
    """Train `config` with `seed` and measure it on validation and test. Runs on a Dask worker; seed 0
    also gives the plot's week and the error per step ahead."""
    from .search import one_thread_per_worker

    one_thread_per_worker()
    data = data_for(config, with_test=True)
    model, facts = train(config, data, seed=seed)
    run = {"family": config.family, "seed": seed, "valid_mape": mape(config, model, data, "valid"),
           "test_mape": mape(config, model, data, "test"), **facts}
    if seed == 0:
        run["week"] = week_of_forecasts(config, model, data)
        run["test_mape_by_step"] = mape_by_step(config, model, data)
    return run


def arima_row() -> dict:
    """The ARIMA row (on a Dask worker)."""
    from rnn_course import load_data

    started = time.monotonic()
    return {"mapes": [arima_walk_forward(load_data())], "seconds": time.monotonic() - started}


def measure_rows(configs: dict, seeds: int, arima: bool = True, workers: int = 2, scheduler: str | None = None) -> dict:
    """{key: row} for `configs` ({key: (config, search report)}, a key naming a row, e.g. (inputs,
    family)) and, with `arima`, {"arima": row}: the walk-forward and every (row, seed) training are
    tasks on Dask."""
    from dask.distributed import as_completed

    from .search import dask_client

    runs, rows = {key: [] for key in configs}, {}
    with dask_client(workers, scheduler) as client:
        tasks = {client.submit(arima_row, pure=False): "arima"} if arima else {}
        if arima:
            print("arima: walk-forward over 1,441 test hours ...", flush=True)
        tasks.update({client.submit(measure, config, seed, pure=False): key
                      for key, (config, _) in configs.items() for seed in range(seeds)})
        for future in as_completed(tasks):
            key, run = tasks[future], future.result()
            if key == "arima":
                rows["arima"] = run
                print(f"  arima: test MAPE {run['mapes'][0]:.2%} ({run['seconds'] / 60:.1f} min)", flush=True)
                continue
            runs[key].append(run)
            print(f"  {_label(key)} seed {run['seed']}: test MAPE {run['test_mape']:.2%} "
                  f"({run['epochs']} epochs, {run['train_seconds']} s)", flush=True)
    for key, (config, search) in configs.items():
        ordered = sorted(runs[key], key=lambda run: run["seed"])
        first = ordered[0]
        rows[key] = {"config": config.as_dict(), "mapes": [run["test_mape"] for run in ordered],
                     "runs": [{k: v for k, v in run.items() if k not in ("week", "test_mape_by_step", "family")}
                              for run in ordered],
                     "seconds": statistics.fmean(run["train_seconds"] for run in ordered),
                     "week": first["week"], "test_mape_by_step": first["test_mape_by_step"],
                     "search": search["search"] if search else None}
    return rows


def _label(key) -> str:
    return " / ".join(key) if isinstance(key, tuple) else str(key)


def table(groups: dict) -> str:
    """The Markdown table, a group of rows per group of inputs ({inputs: {family: row}}): the
    tutorial's MAPE beside ours, with the cost of the search (its trials and finalists) and of one
    training (mean over the seeds)."""
    lines = [("| model | tutorial's MAPE % | ours: mean % | s.d. | range | seeds | search: wall time, trials | "
              "one training (ARIMA: the walk-forward) |"),
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for inputs, rows in groups.items():
        lines.append(f"| ***{GROUPS[inputs]}*** | | | | | | | |")
        for family, theirs in TUTORIAL_TABLE.items():
            if family == "arima" and inputs != "tutorial":
                continue
            lines.append(_table_row(family, theirs, rows.get(family)))
    return "\n".join(lines)


def _table_row(family: str, theirs: float, row: dict | None) -> str:
    if row is None:
        return f"| {NAMES[family]} | {theirs} | not run | | | | | |"
    values = [100 * m for m in row["mapes"]]
    spread = f"{statistics.stdev(values):.2f}" if len(values) > 1 else "-"
    ranged = f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else "-"
    seeds = len(values) if len(values) > 1 else "deterministic"
    search = row.get("search")
    searched = (f"{(search['search_seconds'] + search['finalist_seconds']) / 60:.0f} min, {search['trials']} trials"
                if search else "-")
    return (f"| {NAMES[family]} | {theirs} | {statistics.fmean(values):.2f} | {spread} | {ranged} | {seeds} | "
            f"{searched} | {row['seconds'] / 60:.1f} min |")


def best_neural_row(groups: dict) -> tuple:
    """(inputs, family) of the neural row with the lowest mean test MAPE."""
    return min(((inputs, family) for inputs, rows in groups.items() for family in rows
                if family != "arima" and rows[family].get("week")),
               key=lambda pair: statistics.fmean(groups[pair[0]][pair[1]]["mapes"]))


def plot_week(groups: dict, path: Path) -> Path:
    """The best row's day-ahead forecasts (seed 0) against the actual load over the plot week."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates
    import matplotlib.pyplot as plt
    import pandas as pd

    inputs, family = best_neural_row(groups)
    rows = groups[inputs]
    week = rows[family]["week"]
    hours = pd.to_datetime(week["hours"])
    figure, axes = plt.subplots(figsize=(11, 4), dpi=110)
    axes.plot(hours, week["actual"], color="black", linewidth=1.4, label="actual load")
    axes.plot(hours, week["forecast"], color="tab:orange", linewidth=1.4,
              label=f"{NAMES[family]} ({GROUPS[inputs]}): forecast made at midnight for the next 24 hours")
    for day in hours[::HORIZON]:
        axes.axvline(day - pd.Timedelta(hours=1), color="grey", linewidth=0.5, alpha=0.5)
    week_mape = mape_of(week["forecast"], week["actual"])
    last_day = hours[-1] - pd.Timedelta(hours=1)
    axes.set_title(f"{NAMES[family]} (seed 0), {hours[0]:%a %d} - {last_day:%a %d %B %Y}: MAPE {week_mape:.2%} this week, "
                   f"{statistics.fmean(rows[family]['mapes']):.2%} over the test period (mean of seeds)", fontsize=10)
    axes.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%a %d %b"))
    axes.set_ylabel("load (MW)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=9, frameon=False)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--inputs", action="append", choices=INPUTS, help="only these groups of rows (default: both)")
    parser.add_argument("--family", action="append", help="only these neural families (default: all)")
    parser.add_argument("--skip-arima", action="store_true", help="(ARIMA is a row of the tutorial's group)")
    parser.add_argument("--workers", type=int, default=2, help="trainings at once (a local Dask cluster)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler; default: a local cluster")
    parser.add_argument("--untuned", action="store_true",
                        help="the tutorial-grid reference points instead of the searched configurations (give --out too)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a field of the configurations measured (JSON value), e.g. free_running=true")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the rows, kept between runs")
    parser.add_argument("--plot", type=Path, default=Path("docs/figures/best_forecast_week.png"))
    args = parser.parse_args(argv)
    if (args.untuned or args.set) and args.out == RESULTS:
        parser.error(f"these rows would replace the searched ones in {RESULTS}; give another --out")
    changes = settings(args.set)
    groups = json.loads(args.out.read_text()) if args.out.exists() else {}
    today = datetime.date.today().isoformat()
    wanted = {}
    for inputs in args.inputs or INPUTS:
        chosen = ({family: (config, None) for family, config in untuned_configs(inputs).items()}
                  if args.untuned else chosen_configs(inputs))
        wanted.update({(inputs, family): (dataclasses.replace(config, **changes), search)
                       for family, (config, search) in chosen.items() if not args.family or family in args.family})
    for key, (config, _) in wanted.items():
        print(f"{_label(key)}: {config}", flush=True)
    arima = not args.skip_arima and "tutorial" in (args.inputs or INPUTS)
    for key, row in measure_rows(wanted, args.seeds, arima, args.workers, args.scheduler).items():
        inputs, family = ("tutorial", "arima") if key == "arima" else key
        groups.setdefault(inputs, {})[family] = {**row, "measured": today}
    args.out.write_text(json.dumps(groups, indent=1) + "\n")
    print("\n" + table(groups))
    if any(row.get("week") for rows in groups.values() for row in rows.values()):
        print(f"\nThe best row's week: {plot_week(groups, args.plot)}")


if __name__ == "__main__":
    main()
