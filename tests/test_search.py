"""The hyperparameter search: a real (tiny) search on a local Dask cluster, resumed, and the rule
that chooses the best configuration without looking at the test set."""

import json

from research import search
import numpy as np

from research.experiments import Config, build_model, forecast

TINY = {"family": "feed_forward", "grid": {"latent_dim": [3, 5]}, "runs": 1, "workers": 1,
        "fixed": {"T": 6, "horizon": 3, "epochs": 1}}


def test_a_search_writes_every_trial_resumes_and_reports_the_best(tmp_path, data_dir):
    out = tmp_path / "search.jsonl"
    said = []
    report = search.search(out=out, echo=said.append, **TINY)
    records = search.read_results(out)
    assert sorted(r["config"]["latent_dim"] for r in records) == [3, 5]
    assert all(0 < r["valid_mape"] < 1 and "test_mape" not in r for r in records)
    best = min(records, key=lambda r: r["valid_mape"])["config"]
    assert report["best"] == best
    assert 0 < report["test_mape_mean"] < 1
    assert json.loads(out.with_suffix(".best.json").read_text())["best"] == best

    said.clear()
    again = search.search(out=out, echo=said.append, **TINY)
    assert said[0] == "2 configurations x 1 runs: 2 finished already, 0 to run"
    assert len(search.read_results(out)) == 2 and again["best"] == best


def test_the_best_configuration_is_chosen_by_validation_mape_alone():
    def record(latent_dim, valid, test):
        return {"config": Config("rnn_vector_output", latent_dim=latent_dim).as_dict(), "valid_mape": valid,
                "test_mape": test}
    records = [record(5, 0.040, 0.020), record(5, 0.042, 0.021), record(10, 0.035, 0.090), record(10, 0.037, 0.095)]
    assert search.best_config(records).latent_dim == 10


def test_grid_points_cover_the_grid_or_a_reproducible_sample():
    points = search.grid_points("feed_forward", search.SEED_GRID, {}, None)
    assert len(points) == 3 ** 6
    assert search.grid_points("feed_forward", search.SEED_GRID, {}, 10) == search.grid_points(
        "feed_forward", search.SEED_GRID, {}, 10)


def test_each_family_forecasts_horizon_hours_from_t_hours_of_load_and_temperature():
    X = np.zeros((3, 12, 2), "float32")
    for family in ("feed_forward", "rnn_vector_output", "encoder_decoder", "teacher_forcing"):
        config = Config(family, T=12, hidden_layers=2, horizon=24, alpha=0.001)
        assert forecast(config, build_model(config), X).shape == (3, 24)
