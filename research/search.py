"""Hyperparameter search on Dask for the multi-step model families (the tutorial tuned them for
HORIZON=24 on a batch service that no longer exists).

Every grid point is trained `--runs` times (seeds 0, 1, ...) on a Dask cluster: a local one by
default, or the scheduler at `--scheduler`. Each finished trial is appended to the results file at
once, so an interrupted search loses no finished trial and a rerun resumes where it stopped. Trials
see only the training and validation splits; the best configuration is chosen by mean validation
MAPE, and only then is its test MAPE measured (same seeds, retrained).

    python -m research.search --family feed_forward --out search/feed_forward.jsonl
    python -m research.search --family encoder_decoder --grid '{"T": [72, 168], "latent_dim": [5, 15]}' --sample 8
    python -m research.search --family rnn_vector_output --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import math
import random
import socket
import statistics
from pathlib import Path

from .experiments import FAMILIES, Config

# The seed's grid for the feed-forward network; the recurrent families use the same axes.
SEED_GRID = {
    "latent_dim": [5, 10, 15],
    "hidden_layers": [1, 2, 3],
    "batch_size": [8, 16, 32],
    "T": [72, 168, 336],
    "learning_rate": [0.01, 0.001, 0.0001],
    "alpha": [0.1, 0.001, 0.0],
}


def grid_points(family: str, grid: dict, fixed: dict, sample: int | None, seed: int = 0) -> list:
    """Every combination of the grid's values (or `sample` of them, drawn with `seed`) as Configs."""
    names = sorted(grid)
    points = [Config(family=family, **fixed, **dict(zip(names, values)))
              for values in itertools.product(*(grid[name] for name in names))]
    if sample is not None and sample < len(points):
        points = random.Random(seed).sample(points, sample)
    return points


def trial_id(config: Config, run: int) -> str:
    text = json.dumps(config.as_dict(), sort_keys=True) + f"/run{run}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def _data(T: int, horizon: int, with_test: bool):
    from rnn_course import load_data

    from .experiments import prepare

    return prepare(load_data(), T, horizon, with_test=with_test)


def _one_thread_per_worker() -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already set by this worker's first trial
        pass


def run_trial(config: Config, run: int) -> dict:
    """Train one model (seed `run`) and measure it on the validation split. Runs on a Dask worker."""
    from .experiments import mape, train

    _one_thread_per_worker()
    data = _data(config.T, config.horizon, False)
    model, facts = train(config, data, seed=run)
    return {"trial": trial_id(config, run), "config": config.as_dict(), "run": run,
            "valid_mape": mape(config, model, data, "valid"), **facts, "worker": socket.gethostname()}


def test_best(config: Config, run: int) -> dict:
    """Retrain the chosen configuration (seed `run`) and measure it on the test split."""
    from .experiments import mape, train

    data = _data(config.T, config.horizon, True)
    model, facts = train(config, data, seed=run)
    return {"run": run, "valid_mape": mape(config, model, data, "valid"), "test_mape": mape(config, model, data, "test"),
            **facts}


def read_results(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_and_se(values: list) -> tuple:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return mean, se


def summarize(records: list) -> list:
    """Per configuration: mean and standard error of the validation MAPE over its runs, best first."""
    groups = {}
    for record in records:
        groups.setdefault(json.dumps(record["config"], sort_keys=True), []).append(record["valid_mape"])
    rows = [(json.loads(key), *mean_and_se(values), len(values)) for key, values in groups.items()]
    return sorted(rows, key=lambda row: row[1])


def best_config(records: list) -> Config:
    """The configuration with the lowest mean validation MAPE. Test results are never looked at."""
    return Config(**summarize(records)[0][0])


def _client(scheduler: str | None, workers: int):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"))


def search(family: str, grid: dict, out: Path, runs: int = 5, sample: int | None = None, fixed: dict | None = None,
           scheduler: str | None = None, workers: int = 2, echo=print) -> dict:
    """Run the missing trials of the search, then measure the best configuration on the test split."""
    from dask.distributed import as_completed

    points = grid_points(family, grid, fixed or {}, sample)
    done = {record["trial"] for record in read_results(out)}
    todo = [(config, run) for config in points for run in range(runs) if trial_id(config, run) not in done]
    echo(f"{len(points)} configurations x {runs} runs: {len(points) * runs - len(todo)} finished already, "
         f"{len(todo)} to run")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _client(scheduler, workers) as client:
        futures = [client.submit(run_trial, config, run, pure=False) for config, run in todo]
        for number, future in enumerate(as_completed(futures), start=1):
            record = future.result()
            with out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            echo(f"({number}/{len(todo)}) {_describe(record['config'])} run {record['run']}: "
                 f"validation MAPE {record['valid_mape']:.2%} ({record['epochs']} epochs, {record['train_seconds']} s)")
        wanted = {trial_id(config, run) for config in points for run in range(runs)}
        records = [r for r in read_results(out) if r["trial"] in wanted]
        best = best_config(records)
        tested = client.gather([client.submit(test_best, best, run, pure=False) for run in range(runs)])
    test_mean, test_se = mean_and_se([t["test_mape"] for t in tested])
    report = {"best": best.as_dict(), "test_mape_mean": test_mean, "test_mape_se": test_se, "runs": tested,
              "table": [{"config": c, "valid_mape_mean": m, "valid_mape_se": se, "runs": n} for c, m, se, n in summarize(records)]}
    out.with_suffix(".best.json").write_text(json.dumps(report, indent=1) + "\n")
    echo("\n| configuration | runs | validation MAPE (mean ± s.e.) |\n| --- | --- | --- |")
    for row in report["table"]:
        echo(f"| {_describe(row['config'])} | {row['runs']} | {row['valid_mape_mean']:.2%} ± {row['valid_mape_se']:.2%} |")
    echo(f"\nBest by validation MAPE: {_describe(report['best'])}; its test MAPE over {runs} runs: "
         f"{test_mean:.2%} ± {test_se:.2%}")
    return report


def _describe(config: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in config.items() if key not in ("family", "epochs"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=FAMILIES, required=True)
    parser.add_argument("--grid", default=None, help="JSON object of axis -> values to search instead of the seed's "
                        "grid; axes left out keep their default (experiments.Config)")
    parser.add_argument("--sample", type=int, help="run this many grid points drawn at random (seed 0) instead of all")
    parser.add_argument("--runs", type=int, default=5, help="trainings per grid point (seeds 0, 1, ...)")
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=50, help="at most, with early stopping (patience 5)")
    parser.add_argument("--out", type=Path, help="results file (JSON lines); default search/<family>.jsonl")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler; default: a local cluster")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    args = parser.parse_args(argv)
    grid = json.loads(args.grid) if args.grid else SEED_GRID
    out = args.out or Path("search") / f"{args.family}.jsonl"
    try:
        search(args.family, grid, out, runs=args.runs, sample=args.sample,
               fixed={"horizon": args.horizon, "epochs": args.epochs}, scheduler=args.scheduler, workers=args.workers)
    except KeyboardInterrupt:
        raise SystemExit(f"\nInterrupted. {len(read_results(out))} finished trials are in {out}; "
                         "run the same command again to resume.") from None


if __name__ == "__main__":
    main()
