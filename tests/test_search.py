"""The hyperparameter search: a real (tiny) search on a local Dask cluster, resumed, and the rule
that chooses the best configuration without looking at the test set."""

import json

import numpy as np

from research import search
from research.experiments import Config, build_model, forecast

TINY = {"family": "feed_forward", "fixed": {"T": 6, "horizon": 3, "epochs": 2, "hidden_layers": 1, "batch_size": 256}}


def test_a_search_logs_every_trial_resumes_and_chooses_on_validation(tmp_path, data_dir):
    said = []
    found = search.run_search(folder=tmp_path, minutes=10, max_trials=3, workers=2, echo=said.append, **TINY)
    assert found["trials"] == 3 and found["complete"] + found["pruned"] + found["failed"] == 3 and found["failed"] == 0
    assert found["search_seconds"] > 0
    assert said[0] == "feed_forward: 0 trials finished already (0 interrupted ones marked failed), 0.0 of 10 minutes spent"
    study = search.open_study("feed_forward", search.journal("feed_forward", tmp_path))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert complete and all(0 < t.value < 1 and t.intermediate_values for t in complete)
    assert all(t.user_attrs["epochs"] >= 1 for t in complete)

    # A trial left running by an interrupted search is marked failed; the search goes on to its limit.
    study.ask()
    said.clear()
    again = search.run_search(folder=tmp_path, minutes=10, max_trials=5, workers=1, echo=said.append, **TINY)
    assert said[0].startswith("feed_forward: 3 trials finished already (1 interrupted ones marked failed)")
    assert again["trials"] == 5 and again["failed"] == 1 and again["search_seconds"] > found["search_seconds"]

    # The finalists: the best complete trials (by validation MAPE), each trained again with 2 seeds.
    finalists = min(2, len({json.dumps(t.params, sort_keys=True) for t in study.trials if t.state.name == "COMPLETE"}))
    report = search.choose("feed_forward", tmp_path, count=2, seeds=2, workers=1, fixed=TINY["fixed"], echo=said.append)
    records = search.read_results(tmp_path / "feed_forward.finalists.jsonl")
    assert len(records) == 2 * finalists and all("test_mape" not in r for r in records)
    # Seed 0 of a finalist is its search trial (the same training), not trained again.
    values = {t.number: t.value for t in study.trials}
    assert all(values[r["search_trial"]] == r["valid_mape"] for r in records if r["seed"] == 0)
    assert all("search_trial" not in r for r in records if r["seed"] == 1)
    assert report["best"] == report["finalists"][0]["config"] and report["finalists"][0]["seeds"] == 2
    assert json.loads((tmp_path / "feed_forward.best.json").read_text())["best"] == report["best"]
    said.clear()
    search.choose("feed_forward", tmp_path, count=2, seeds=2, workers=1, fixed=TINY["fixed"], echo=said.append)
    assert said[0] == f"feed_forward: {finalists} finalists x 2 seeds, 0 trainings to run"


def test_a_trial_still_training_when_the_budget_is_spent_is_stopped(tmp_path, data_dir):
    fixed = {**TINY["fixed"], "epochs": 500}
    found = search.run_search("feed_forward", tmp_path, minutes=0.05, workers=1, fixed=fixed, echo=print)
    [trial] = search.open_study("feed_forward", search.journal("feed_forward", tmp_path)).trials
    assert trial.state.name == "PRUNED" and trial.user_attrs["stopped_by_budget"]
    assert 1 <= trial.user_attrs["epochs"] < 500 and found["search_seconds"] < 60


def test_the_best_configuration_is_chosen_by_validation_mape_alone():
    def record(latent_dim, valid, test):
        return {"config": Config("rnn_vector_output", latent_dim=latent_dim).as_dict(), "valid_mape": valid,
                "test_mape": test}
    records = [record(5, 0.040, 0.020), record(5, 0.042, 0.021), record(10, 0.035, 0.090), record(10, 0.037, 0.095)]
    best, rows = search.best_config(records)
    assert best.latent_dim == 10 and [row["seeds"] for row in rows] == [2, 2]


def test_the_committed_choices_are_configurations_of_their_family_and_group():
    from research.experiments import INPUTS

    chosen_in = {}
    for inputs, calendar in INPUTS.items():
        for path in search.folder_of(inputs).glob("*.best.json"):
            chosen = json.loads(path.read_text())
            best = Config(**chosen["best"])
            assert best.family == path.name.split(".")[0] and best.calendar is calendar
            assert chosen["finalists"][0]["config"] == chosen["best"] and chosen["finalists"][0]["seeds"] >= 3
            assert (path.parent / f"{best.family}.journal").exists()
            chosen_in.setdefault(inputs, []).append(best.family)
    assert sorted(chosen_in) == ["calendar", "tutorial"]


def test_a_groups_search_starts_from_the_earlier_trials_that_ran_with_its_inputs(tmp_path):
    """Trials made before the calendar axis existed count as run without it; the group is charged the
    copied trials' share of the earlier search's seconds, and seed 0 of a finalist still points at its trial."""
    import datetime

    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution

    earlier = search.open_study("rnn_vector_output", search.journal("rnn_vector_output", tmp_path / "first"))
    start = datetime.datetime(2026, 11, 1)
    for number, (params, minutes, value) in enumerate([({"latent_dim": 8}, 1, 0.05), ({"latent_dim": 16, "calendar": False}, 2, 0.04),
                                                       ({"latent_dim": 32, "calendar": True}, 7, 0.03)]):
        distributions = {"latent_dim": IntDistribution(8, 96), "calendar": CategoricalDistribution([False, True])}
        trial = optuna.trial.create_trial(params=params, value=value, user_attrs={"epochs": 5},
                                          distributions={name: distributions[name] for name in params})
        trial.datetime_start, trial.datetime_complete = start, start + datetime.timedelta(minutes=minutes)
        earlier.add_trial(trial)
    earlier.set_user_attr("search_seconds", 1000.0)
    earlier.set_user_attr("finalist_seconds", 300.0)
    config = {"family": "rnn_vector_output", "latent_dim": 16, "T": 72}
    lines = [{"trial": "a", "config": config, "seed": 0, "valid_mape": 0.04, "search_trial": 1, "train_seconds": 9},
             {"trial": "b", "config": config, "seed": 1, "valid_mape": 0.041, "train_seconds": 100},
             {"trial": "c", "config": {**config, "latent_dim": 32, "calendar": True}, "seed": 1, "valid_mape": 0.03,
              "train_seconds": 200}]
    (tmp_path / "first" / "rnn_vector_output.finalists.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    first_journal = (tmp_path / "first" / "rnn_vector_output.journal").read_bytes()
    folder = tmp_path / "tutorial_inputs"
    study = search.open_study("rnn_vector_output", search.journal("rnn_vector_output", folder))
    seeded = search.seed_from(study, "rnn_vector_output", tmp_path / "first", folder, {"calendar": False})
    assert [t.params for t in study.trials] == [{"latent_dim": 8}, {"latent_dim": 16}]
    assert [t.user_attrs["copied_from"] for t in study.trials] == ["first/rnn_vector_output.journal trial 0",
                                                                   "first/rnn_vector_output.journal trial 1"]
    assert seeded["search_seconds"] == 300.0 and seeded["finalist_seconds"] == 100.0
    assert study.user_attrs["search_seconds"] == 300.0
    copied = search.read_results(folder / "rnn_vector_output.finalists.jsonl")
    assert [r["trial"] for r in copied] == ["a", "b"] and copied[0]["search_trial"] == 1
    # Done once: resuming the group's search does not copy the trials again.
    assert search.seed_from(study, "rnn_vector_output", tmp_path / "first", folder, {"calendar": False}) is None
    assert len(study.trials) == 2
    calendar_folder = tmp_path / "calendar_inputs"
    study = search.open_study("rnn_vector_output", search.journal("rnn_vector_output", calendar_folder))
    search.seed_from(study, "rnn_vector_output", tmp_path / "first", calendar_folder, {"calendar": True})
    assert [t.params for t in study.trials] == [{"latent_dim": 32}] and study.user_attrs["search_seconds"] == 700.0
    assert (tmp_path / "first" / "rnn_vector_output.journal").read_bytes() == first_journal  # read, never written


def test_each_family_forecasts_horizon_hours_from_t_hours_of_load_and_temperature_and_maybe_the_calendar():
    for family in ("feed_forward", "rnn_vector_output", "encoder_decoder", "teacher_forcing"):
        for calendar in (False, True):
            config = Config(family, T=12, hidden_layers=2, horizon=24, alpha=0.001, calendar=calendar)
            X = np.zeros((3, 12, 2 + 6 * calendar), "float32")
            assert forecast(config, build_model(config), X).shape == (3, 24)


def test_the_calendar_inputs_of_a_window_are_those_of_the_hours_it_forecasts(energy):
    """The window ending at 23:00 on Wednesday 26 November 2014 forecasts Thanksgiving: its last 24
    hours carry Thanksgiving's calendar (a holiday, not a weekend), its first hours Monday's."""
    from research.experiments import CALENDAR, FEATURES, prepare

    data = prepare(energy, 48, 24, with_test=True, with_calendar=True)
    X, _ = data["test"]
    window = X[data["origins"]["test"].get_loc(np.datetime64("2014-11-26T23:00"))]
    columns = {name: window[:, i] for i, name in enumerate(FEATURES + CALENDAR)}
    assert window.shape == (48, 8)
    assert list(columns["holiday"]) == [0] * 24 + [1] * 24 and not columns["weekend"].any()
    assert np.allclose(columns["hour_sin"], np.tile((np.sin(2 * np.pi * np.arange(24) / 24) + 1) / 2, 2), atol=1e-6)
    assert np.allclose(columns["weekday_cos"][-24:], columns["weekday_cos"][-24])  # Thursday all day
    assert not np.allclose(columns["weekday_cos"][0], columns["weekday_cos"][-1])


def test_free_running_training_unrolls_the_kits_own_forecast_loop():
    """Teacher forcing trained on its own forecasts learns exactly the loop it is measured (and graded) with."""
    from grader_tests import teacher_forcing
    from research.experiments import free_running_model

    config = Config("teacher_forcing", T=12, horizon=24, latent_dim=4, free_running=True)
    model = build_model(config)
    X = np.random.default_rng(0).random((5, 12, 2), dtype="float32")
    unrolled = np.asarray(free_running_model(config, model)(X))[..., 0]
    assert unrolled.shape == (5, 24)
    assert np.allclose(unrolled, teacher_forcing.forecast(model, X, 24), atol=1e-5)


def test_the_best_trial_is_tried_again_with_a_new_axis_switched_on_once():
    import optuna
    from optuna.distributions import IntDistribution

    study = optuna.create_study()
    for units, value in ((8, 0.05), (16, 0.04)):
        study.add_trial(optuna.trial.create_trial(params={"latent_dim": units}, value=value,
                                                  distributions={"latent_dim": IntDistribution(8, 96)}))
    assert search.try_best_with(study, {"calendar": True}) == {"latent_dim": 16, "calendar": True}
    search.try_best_with(study, {"calendar": True})
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1
    trial = study.ask()  # the next trial is the queued one
    assert trial.suggest_int("latent_dim", 8, 96) == 16 and trial.suggest_categorical("calendar", [False, True]) is True


def test_a_finalist_keeps_the_cap_on_epochs_its_trial_ran_with():
    """Resuming a search with another `--epochs` must not retrain its older trials under the new cap."""
    import optuna
    from optuna.distributions import IntDistribution

    study = optuna.create_study()
    study.set_user_attr(search.MAX_EPOCHS, 30)  # the cap of the trials made before trials recorded theirs
    for units, value, attrs in ((8, 0.05, {}), (16, 0.04, {search.MAX_EPOCHS: 50})):
        study.add_trial(optuna.trial.create_trial(params={"latent_dim": units}, value=value, user_attrs=attrs,
                                                  distributions={"latent_dim": IntDistribution(8, 96)}))
    fixed = {"horizon": 24, "epochs": 80, "T": 72, "hidden_layers": 1, "batch_size": 64, "learning_rate": 1e-3,
             "alpha": 0.0, "loss": "mae", "calendar": True}
    chosen = search.finalists(study, "rnn_vector_output", 2, fixed)
    assert [(config.latent_dim, config.epochs) for config, _ in chosen] == [(16, 50), (8, 30)]


def test_a_training_depends_on_its_seed_alone_not_on_other_threads(data_dir):
    """Another thread drawing from Python's global `random` meanwhile (a Dask worker's timers do) does
    not change a training: the results table's rows are reproduced on any worker."""
    import random
    import threading

    from research.experiments import data_for, train

    config = Config("rnn_vector_output", T=24, latent_dim=4, batch_size=256, epochs=1)
    data = data_for(config)

    def weights(noisy: bool) -> list:
        drawing = threading.Event()

        def draw():
            while not drawing.is_set():
                random.random()

        other = threading.Thread(target=draw, daemon=True)
        if noisy:
            other.start()
        try:
            model, _ = train(config, data, seed=3)
        finally:
            drawing.set()
        return [np.asarray(w) for w in model.get_weights()]

    quiet, noisy = weights(False), weights(True)
    assert all(np.array_equal(a, b) for a, b in zip(quiet, noisy, strict=True))
