"""Hyperparameter search on Dask for the multi-step model families at HORIZON=24: Optuna's TPE
sampler proposes configurations, its Hyperband pruner stops the unpromising ones after a few epochs
(the budget goes to the configurations that pay), and the trials run in parallel on Dask workers.

    python -m research.search --inputs tutorial --family feed_forward --minutes 30
    python -m research.search --inputs calendar --family encoder_decoder --minutes 100 --scheduler tcp://10.0.0.5:8786

Each family is searched once per group of inputs (`--inputs`: the tutorial's load and temperature,
or with the calendar inputs too), the calendar axis fixed to the group's. Every trial is logged as
it happens in Optuna's journal, `research/searches/<inputs>_inputs/<family>.journal`
(parameters, validation MAPE after each epoch, pruned or complete, seconds); interrupting the
search loses at most the trials in flight, and the same command resumes it until the family's
budget of wall time (`--minutes`, counted over every run) is spent. Trials see only the training
and validation splits. Then the best `--finalists` configurations are trained again with
`--finalist-seeds` seeds (also validation only, logged in `<family>.finalists.jsonl`), and the one
with the lowest mean validation MAPE is written to `<family>.best.json`, which
`python -m research.results` reads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import socket
import statistics
import time
import warnings
from pathlib import Path

from .experiments import FAMILIES, INPUTS, Config, settings

SEARCHES = Path(__file__).parent / "searches"
# The searches made before the groups of inputs, with the calendar as an axis: each group's search
# started from the trials of these that ran with its inputs (`seed_from`).
FIRST_SEARCHES = SEARCHES / "first_searches"
SEEDS = 5
# Hyperband's smallest budget: a trial is first compared with the others after this many epochs.
MIN_EPOCHS = 3
# Axes added to the space after the first trials, with the value those trials ran with.
LATER_AXES = {"calendar": False, "free_running": False, "lr_schedule": False}
# Each trial records its cap on epochs (`--epochs` of its run) as this user attribute; trials from
# before it was recorded take the study's attribute of the same name.
MAX_EPOCHS = "max_epochs"
# What every search fixes unless told otherwise: the table's horizon and the cap on epochs.
FIXED = {"horizon": 24, "epochs": 50}


def suggest(trial, family: str, fixed: dict) -> Config:
    """The search space: the tutorial's axes (T, units, layers, batch size, learning rate, L2), each
    wider than its grid, and the loss; an axis in `fixed` is not searched."""
    recurrent = family != "feed_forward"
    axes = {
        "T": lambda: trial.suggest_categorical("T", [72, 168] if recurrent else [72, 168, 336]),
        "latent_dim": lambda: trial.suggest_int("latent_dim", 8, 96 if recurrent else 256, log=True),
        "hidden_layers": lambda: trial.suggest_int("hidden_layers", 1, 2 if recurrent else 3),
        # Recurrent trials cost 5-10 times more per epoch: their batches start at 64.
        "batch_size": lambda: trial.suggest_categorical("batch_size", [64, 128, 256] if recurrent else [32, 64, 128, 256]),
        "learning_rate": lambda: trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "alpha": lambda: trial.suggest_categorical("alpha", [0.0, 1e-5, 1e-4, 1e-3]),
        "loss": lambda: trial.suggest_categorical("loss", ["mse", "mae"]),
        "calendar": lambda: trial.suggest_categorical("calendar", [False, True]),
        "lr_schedule": lambda: trial.suggest_categorical("lr_schedule", [False, True]),
    }
    if family == "teacher_forcing":  # one GRU each for encoder and decoder, as the lab and the kit's loop have it
        del axes["hidden_layers"]
        axes["free_running"] = lambda: trial.suggest_categorical("free_running", [False, True])
    return Config(family=family, **{name: pick() for name, pick in axes.items() if name not in fixed}, **fixed)


def folder_of(inputs: str) -> Path:
    """Where the searches of a group of inputs (a key of INPUTS) keep their journals and choices."""
    return SEARCHES / f"{inputs}_inputs"


def fixed_for(inputs: str, **more) -> dict:
    """The axes a group's search does not search: the calendar inputs, off or on."""
    return {**FIXED, **more, "calendar": INPUTS[inputs]}


def one_thread_per_worker() -> None:
    """One TensorFlow thread per trial: the workers are the parallelism."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already set by this worker's first trial
        pass


def _pruning_callback(trial, deadline: float):
    """Reports the validation MAPE after every epoch and stops the training when Hyperband says so,
    or when the search's budget of wall time (`deadline`, a time.time()) is spent."""
    import keras

    class ReportAndPrune(keras.callbacks.Callback):
        pruned, epochs = False, 0  # epochs counted over both of teacher forcing's trainings

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1
            trial.report(logs["val_mape"], self.epochs)
            if time.time() > deadline:
                trial.set_user_attr("stopped_by_budget", True)
            elif not trial.should_prune():
                return
            self.pruned = self.model.stop_training = True

    return ReportAndPrune()


def objective(trial, family: str, fixed: dict, deadline: float = math.inf) -> float:
    """Train one proposed configuration (seed 0) and return its validation MAPE. Runs on a Dask worker."""
    import optuna

    from .experiments import data_for, mape, train

    one_thread_per_worker()
    config = suggest(trial, family, fixed)
    trial.set_user_attr(MAX_EPOCHS, config.epochs)
    data = data_for(config)
    pruning = _pruning_callback(trial, deadline)
    try:
        model, facts = train(config, data, seed=0, callbacks=[pruning])
    except Exception as error:  # the journal keeps why (Optuna logs it only to the worker's stderr)
        trial.set_user_attr("failure", repr(error)[:500])
        raise
    for key, value in {**facts, "worker": socket.gethostname()}.items():
        trial.set_user_attr(key, value)
    if pruning.pruned:
        raise optuna.TrialPruned()
    return mape(config, model, data, "valid")


def open_study(family: str, storage):
    import optuna

    return optuna.create_study(study_name=family, storage=storage, direction="minimize", load_if_exists=True)


def _run_one_trial(storage, family: str, fixed: dict, sampler_seed: int, epochs: int, deadline: float) -> None:
    """One trial of the study, on a worker: the sampler sees every trial finished so far."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    study = optuna.load_study(study_name=family, storage=storage,
                              sampler=optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=10),
                              pruner=optuna.pruners.HyperbandPruner(min_resource=min(MIN_EPOCHS, epochs), max_resource=epochs,
                                                                    reduction_factor=3))
    study.optimize(lambda trial: objective(trial, family, fixed, deadline), n_trials=1, catch=(Exception,))


def journal(family: str, folder: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(folder / f"{family}.journal")))


def _fail_trials_left_running(study) -> int:
    """Trials of an interrupted run stay RUNNING in the journal; they are marked failed."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    return len(stale)


def _seconds(trial) -> float:
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return 0.0


def seed_from(study, family: str, source: Path, folder: Path, axes: dict) -> dict | None:
    """Start an empty study from the finished trials of an earlier search of `family` (the journal in
    `source`) that ran with the values `axes` gives the axes this study does not search (an axis
    added later counts as LATER_AXES's value in the trials made before it), and from that search's
    finalists' trainings of those configurations. The study is charged with the earlier search's
    wall time in proportion: the copied trials' share of its trials' seconds, the copied trainings'
    share of its finalists' seconds. Done once: a study with trials is left as it is."""
    import copy

    import optuna
    from optuna.trial import TrialState

    if study.get_trials(deepcopy=False) or not (source / f"{family}.journal").exists():
        return None
    earlier = optuna.load_study(study_name=family, storage=journal(family, source))  # read, not written
    finished = earlier.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    numbers = {}
    for trial in finished:
        ran_with = {**LATER_AXES, **trial.params}
        if trial.state == TrialState.FAIL or any(ran_with.get(axis) != value for axis, value in axes.items()):
            continue
        kept = copy.deepcopy(trial)
        kept.params = {name: value for name, value in trial.params.items() if name not in axes}
        kept.distributions = {name: d for name, d in trial.distributions.items() if name not in axes}
        kept.user_attrs = {**trial.user_attrs, MAX_EPOCHS: max_epochs(earlier, trial),
                           "copied_from": f"{source.name}/{family}.journal trial {trial.number}"}
        study.add_trial(kept)
        numbers[trial.number] = study.get_trials(deepcopy=False)[-1].number
    total = sum(_seconds(trial) for trial in finished) or 1.0
    share = sum(_seconds(trial) for trial in finished if trial.number in numbers) / total
    records = read_results(source / f"{family}.finalists.jsonl")
    kept_records = [{**record, **({"search_trial": numbers[record["search_trial"]]} if "search_trial" in record else {})}
                    for record in records if all(Config(**record["config"]).as_dict()[axis] == value for axis, value in axes.items())]
    out = folder / f"{family}.finalists.jsonl"
    with out.open("a") as handle:
        for record in kept_records:
            handle.write(json.dumps(record) + "\n")
    trained = sum(record["train_seconds"] for record in records if "search_trial" not in record) or 1.0
    trained_share = sum(record["train_seconds"] for record in kept_records if "search_trial" not in record) / trained
    seeded = {"source": f"{source.name}/{family}.journal", "trials": len(numbers), "of": len(finished),
              "finalist_trainings": len(kept_records), "search_seconds": round(share * earlier.user_attrs.get("search_seconds", 0.0), 1),
              "finalist_seconds": round(trained_share * earlier.user_attrs.get("finalist_seconds", 0.0), 1)}
    study.set_user_attr("seeded_from", seeded)
    study.set_user_attr("search_seconds", seeded["search_seconds"])
    study.set_user_attr("finalist_seconds", seeded["finalist_seconds"])
    return seeded


def dask_client(workers: int, scheduler: str | None = None):
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR))


def try_best_with(study, changes: dict) -> dict | None:
    """Queue the best trial so far with `changes` (new axes switched on, say) as the next trial, so
    that the sampler learns what they are worth at once rather than after many random trials. Not
    queued again if it has been."""
    from optuna.trial import TrialState

    if not changes or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    params = {**study.best_trial.params, **changes}
    study.enqueue_trial(params, skip_if_exists=True)
    return params


def run_search(family: str, folder: Path, minutes: float, max_trials: int | None = None, workers: int = 2,
               scheduler: str | None = None, fixed: dict | None = None, echo=print, try_with: dict | None = None,
               seeded_from: Path | None = None) -> dict:
    """Run trials until the family's wall-time budget (over all runs) or `max_trials` is spent;
    `try_with` first queues the best trial with those changes (`try_best_with`); a new study starts
    from the trials of the search in `seeded_from` that ran with its fixed axes (`seed_from`)."""
    import optuna
    from dask.distributed import wait
    from optuna.trial import TrialState
    from optuna_integration import DaskStorage

    fixed = {**FIXED, **(fixed or {})}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(family, journal(family, folder))
    if seeded_from and (seeded := seed_from(study, family, seeded_from, folder,
                                            {axis: fixed[axis] for axis in LATER_AXES if axis in fixed})):
        echo(f"{family}: started from {seeded['trials']} of the {seeded['of']} trials of {seeded['source']} "
             f"and {seeded['finalist_trainings']} of its finalists' trainings, charged "
             f"{seeded['search_seconds'] / 60:.1f} + {seeded['finalist_seconds'] / 60:.1f} minutes")
    stale = _fail_trials_left_running(study)
    if queued := try_best_with(study, try_with or {}):
        echo(f"{family}: the best trial so far, with {try_with}, queued (unless run before): {queued}")
    spent = float(study.user_attrs.get("search_seconds", 0.0))
    finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    echo(f"{family}: {finished} trials finished already ({stale} interrupted ones marked failed), "
         f"{spent / 60:.1f} of {minutes:g} minutes spent")
    budget = minutes * 60 - spent

    def save_time():
        study.set_user_attr("search_seconds", spent + time.monotonic() - started)

    def may_start() -> bool:
        if max_trials is not None and len(study.get_trials(deepcopy=False)) >= max_trials:
            return False
        return time.monotonic() - started < budget

    with dask_client(workers, scheduler) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        client.run(_quiet)
        storage = DaskStorage(storage=study._storage, client=client)
        started = time.monotonic()
        deadline = time.time() + budget  # trials still training then are stopped (and count as pruned)
        running, submitted = set(), 0
        base = len(study.trials)
        try:
            while True:
                while may_start() and len(running) < workers:
                    # Each trial gets its own sampler seed, so that parallel trials do not propose the same point.
                    running.add(client.submit(_run_one_trial, storage, family, fixed, base + submitted,
                                              fixed["epochs"], deadline, pure=False))
                    submitted += 1
                if not running:
                    break
                done, running = wait(running, return_when="FIRST_COMPLETED")
                running = set(running)
                for future in done:
                    future.result()
                save_time()
                _echo_last(study, echo)
        finally:
            save_time()
    return summary(study)


def _echo_last(study, echo) -> None:
    from optuna.trial import TrialState

    trial = max(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)),
                key=lambda t: t.datetime_complete)
    epochs = trial.user_attrs.get("epochs", "?")
    if trial.state == TrialState.COMPLETE:
        outcome = f"validation MAPE {trial.value:.2%} after {epochs} epochs"
    elif trial.state == TrialState.PRUNED:
        by = "the budget" if trial.user_attrs.get("stopped_by_budget") else "Hyperband"
        outcome = f"stopped by {by} after {epochs} epochs (validation MAPE {trial.value:.2%})"
    else:
        outcome = f"failed: {trial.user_attrs.get('failure', 'see the log')}"
    echo(f"  trial {trial.number}: {outcome} ({_describe(trial.params)})")


def _quiet() -> None:
    """On each worker: DaskStorage's warning that it is experimental, once is enough."""
    import optuna

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


def summary(study) -> dict:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    return {"trials": len(states), "complete": states.count(TrialState.COMPLETE),
            "pruned": states.count(TrialState.PRUNED), "failed": states.count(TrialState.FAIL),
            "epochs": sum(t.user_attrs.get("epochs", 0) for t in trials),
            "max_epochs": sorted({cap for t in trials if (cap := max_epochs(study, t))}),
            "search_seconds": round(float(study.user_attrs.get("search_seconds", 0.0)), 1)}


def max_epochs(study, trial) -> int | None:
    """The cap on epochs `trial` ran with."""
    return trial.user_attrs.get(MAX_EPOCHS, study.user_attrs.get(MAX_EPOCHS))


def finalists(study, family: str, count: int, fixed: dict) -> list:
    """The `count` complete trials with the lowest validation MAPE (distinct configurations), as
    (Config, trial) pairs; each configuration has the cap on epochs its trial ran with."""
    import optuna
    from optuna.trial import TrialState

    chosen = []
    for trial in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.value):
        ran_with = {**fixed, "epochs": max_epochs(study, trial) or fixed["epochs"]}
        config = suggest(optuna.trial.FixedTrial({**LATER_AXES, **trial.params}), family, ran_with)
        if config not in [known for known, _ in chosen]:
            chosen.append((config, trial))
        if len(chosen) == count:
            break
    return chosen


def trial_id(config: Config, seed: int) -> str:
    # An axis added later is left out while it is off, so that older trials keep their ids.
    settings = {key: value for key, value in config.as_dict().items() if key not in LATER_AXES or value != LATER_AXES[key]}
    text = json.dumps(settings, sort_keys=True) + f"/run{seed}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def validate(config: Config, seed: int) -> dict:
    """Train `config` with `seed` and measure it on the validation split. Runs on a Dask worker."""
    from .experiments import data_for, mape, train

    one_thread_per_worker()
    data = data_for(config)
    model, facts = train(config, data, seed=seed)
    return {"trial": trial_id(config, seed), "config": config.as_dict(), "seed": seed,
            "valid_mape": mape(config, model, data, "valid"), **facts, "worker": socket.gethostname()}


def read_results(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_and_sd(values: list) -> tuple:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else float("nan")


def best_config(records: list) -> tuple:
    """The configuration with the lowest mean validation MAPE over its seeds, and every
    configuration's row, best first. Test results are never looked at."""
    groups = {}
    for record in records:
        settings = Config(**record["config"]).as_dict()  # with the axes added since, at their values then
        groups.setdefault(json.dumps(settings, sort_keys=True), []).append(record["valid_mape"])
    rows = sorted(({"config": json.loads(key), **dict(zip(("valid_mape_mean", "valid_mape_sd"), mean_and_sd(values))),
                    "seeds": len(values)} for key, values in groups.items()), key=lambda row: row["valid_mape_mean"])
    return Config(**rows[0]["config"]), rows


def choose(family: str, folder: Path, count: int = 3, seeds: int = SEEDS, workers: int = 2,
           scheduler: str | None = None, fixed: dict | None = None, echo=print) -> dict:
    """Train the search's `count` best configurations with `seeds` seeds each (resumable), choose by
    mean validation MAPE, and write `<family>.best.json`."""
    from dask.distributed import as_completed

    fixed = {**FIXED, **(fixed or {})}
    study = open_study(family, journal(family, folder))
    out = folder / f"{family}.finalists.jsonl"
    pairs = finalists(study, family, count, fixed)
    candidates = [config for config, _ in pairs]
    done = {record["trial"] for record in read_results(out)}
    for config, trial in pairs:
        # Seed 0 is the search's own trial, a training with seed 0: it is not repeated.
        if trial_id(config, 0) not in done and seeds:
            record = {"trial": trial_id(config, 0), "config": config.as_dict(), "seed": 0, "valid_mape": trial.value,
                      **{key: trial.user_attrs[key] for key in ("epochs", "train_seconds", "worker")},
                      "search_trial": trial.number}
            with out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            done.add(record["trial"])
    todo = [(config, seed) for config in candidates for seed in range(seeds) if trial_id(config, seed) not in done]
    echo(f"{family}: {len(candidates)} finalists x {seeds} seeds, {len(todo)} trainings to run")
    started = time.monotonic()
    if todo:
        with dask_client(workers, scheduler) as client:
            futures = [client.submit(validate, config, seed, pure=False) for config, seed in todo]
            for future in as_completed(futures):
                record = future.result()
                with out.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                echo(f"  {_describe(record['config'])} seed {record['seed']}: validation MAPE {record['valid_mape']:.2%}")
    wanted = {trial_id(config, seed) for config in candidates for seed in range(seeds)}
    records = [r for r in read_results(out) if r["trial"] in wanted]
    best, rows = best_config(records)
    finalist_seconds = float(study.user_attrs.get("finalist_seconds", 0.0)) + time.monotonic() - started
    study.set_user_attr("finalist_seconds", finalist_seconds)
    report = {"best": best.as_dict(), "finalists": rows,
              "search": {**summary(study), "finalist_seconds": round(finalist_seconds, 1),
                         "sampler": "TPE (10 random start-up trials)",
                         "pruner": f"Hyperband (from epoch {MIN_EPOCHS} to the trial's cap, reduction factor 3)"}}
    (folder / f"{family}.best.json").write_text(json.dumps(report, indent=1) + "\n")
    echo(f"{family}: chosen on validation: {_describe(report['best'])} "
         f"({rows[0]['valid_mape_mean']:.2%} ± {rows[0]['valid_mape_sd']:.2%} over {rows[0]['seeds']} seeds)")
    return report


def _describe(config: dict) -> str:
    return ", ".join(f"{key}={value:.2g}" if isinstance(value, float) and value else f"{key}={value}"
                     for key, value in config.items() if key not in ("family", "epochs", "horizon"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", choices=INPUTS, required=True,
                        help="tutorial: load and temperature; calendar: with the calendar inputs too")
    parser.add_argument("--family", choices=FAMILIES, required=True)
    parser.add_argument("--minutes", type=float, default=100, help="the family's search budget of wall time, over all runs")
    parser.add_argument("--trials", type=int, help="at most this many trials in all")
    parser.add_argument("--finalists", type=int, default=2, help="best configurations trained again with more seeds")
    parser.add_argument("--finalist-seeds", type=int, default=SEEDS, help="seeds per finalist (0, 1, ...)")
    parser.add_argument("--epochs", type=int, default=50, help="at most, with early stopping (patience 5), for this run's trials")
    parser.add_argument("--folder", type=Path, help="where the journals and choices are written (default: the group's folder)")
    parser.add_argument("--seed-from", type=Path, nargs="?", const=FIRST_SEARCHES, metavar="FOLDER",
                        help="start a new search from the trials of the journal in FOLDER (default: the first searches, "
                             "research/searches/first_searches) that ran with its inputs")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler; default: a local cluster")
    parser.add_argument("--workers", type=int, default=2, help="trials run at once")
    parser.add_argument("--try-best-with", action="append", default=[], metavar="AXIS=VALUE",
                        help="first run the best trial so far with this axis changed (JSON value), e.g. calendar=true")
    args = parser.parse_args(argv)
    fixed = fixed_for(args.inputs, epochs=args.epochs)
    folder = args.folder or folder_of(args.inputs)
    try_with = settings(args.try_best_with)
    try:
        found = run_search(args.family, folder, args.minutes, args.trials, args.workers, args.scheduler, fixed,
                           try_with=try_with, seeded_from=args.seed_from)
        print(f"{args.family}: {found}")
        choose(args.family, folder, args.finalists, args.finalist_seeds, workers=args.workers, scheduler=args.scheduler,
               fixed=fixed)
    except KeyboardInterrupt:
        raise SystemExit("\nInterrupted. Every finished trial is in the journal; run the same command again to resume.") from None


if __name__ == "__main__":
    main()
