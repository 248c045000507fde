"""The results table: the rows docs/research.md shows come from the committed results and choices, the
plot's week is the real load, and every family's chosen configuration is the one its search chose."""

import json
import statistics

import numpy as np

from research import results
from research.experiments import Config, build_model, prepare


def test_the_week_of_forecasts_is_seven_midnights_against_the_real_load(energy):
    config = Config("feed_forward", T=6, horizon=24, latent_dim=3)
    data = prepare(energy, config.T, config.horizon, with_test=True)
    week = results.week_of_forecasts(config, build_model(config), data)
    assert len(week["hours"]) == len(week["forecast"]) == len(week["actual"]) == 7 * 24
    assert week["hours"][0] == "2014-12-01 01:00:00" and week["hours"][-1] == "2014-12-08 00:00:00"
    real = energy.loc["2014-12-01 01:00":"2014-12-08 00:00", "load"].to_numpy()
    assert np.allclose(week["actual"], real, atol=0.06)


def test_the_table_sets_each_row_beside_the_tutorials_and_the_plot_is_drawn(tmp_path):
    week = {"hours": [str(np.datetime64("2014-12-01T01") + np.timedelta64(h, "h")) for h in range(168)],
            "forecast": [3000.0 + h for h in range(168)], "actual": [3010.0 + h for h in range(168)]}
    groups = {"tutorial": {"arima": {"mapes": [0.0496], "seconds": 384},
                           "feed_forward": {"mapes": [0.040, 0.042, 0.041, 0.043, 0.039], "seconds": 60, "week": week,
                                            "search": {"search_seconds": 600, "finalist_seconds": 120, "trials": 40}}},
              "calendar": {"encoder_decoder": {"mapes": [0.033, 0.034, 0.035, 0.034, 0.033], "seconds": 600, "week": week,
                                               "search": None}}}
    lines = results.table(groups).splitlines()
    tutorial, calendar = (lines.index(f"| ***{results.GROUPS[inputs]}*** | | | | | | | |") for inputs in ("tutorial", "calendar"))
    assert 1 < tutorial < calendar
    assert lines[tutorial + 1:calendar] == [
        "| ARIMA | 4.9 | 4.96 | - | - | deterministic | - | 6.4 min |",
        "| feed-forward | 4.27 | 4.10 | 0.16 | 3.90-4.30 | 5 | 12 min, 40 trials | 1.0 min |",
        "| RNN vector output | 3.67 | not run | | | | | |",
        "| RNN encoder-decoder | 3.58 | not run | | | | | |",
        "| RNN encoder-decoder, teacher forcing | 4.57 | not run | | | | | |"]
    assert "ARIMA" not in " ".join(lines[calendar:]) and len(lines) == calendar + 5
    assert lines[calendar + 3] == "| RNN encoder-decoder | 3.58 | 3.38 | 0.08 | 3.30-3.50 | 5 | - | 10.0 min |"
    assert results.best_neural_row(groups) == ("calendar", "encoder_decoder")
    path = results.plot_week(groups, tmp_path / "week.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_the_committed_rows_are_the_committed_choices():
    """What docs/research.md's table shows was measured with the configuration each group's search chose."""
    groups = json.loads(results.RESULTS.read_text())
    assert set(groups) <= set(results.GROUPS) and "arima" in groups["tutorial"]
    for inputs, rows in groups.items():
        for family, (config, search) in results.chosen_configs(inputs).items():
            if search is None or family not in rows:
                continue
            assert Config(**rows[family]["config"]) == config
            assert rows[family]["search"] == search["search"]
            assert len(rows[family]["mapes"]) >= 5 and statistics.fmean(rows[family]["mapes"]) < 0.2


def test_rows_are_measured_on_dask_each_seed_a_task(data_dir):
    config = Config("feed_forward", T=6, horizon=24, latent_dim=3, epochs=1)
    rows = results.measure_rows({"feed_forward": (config, None)}, seeds=2, arima=False, workers=1)
    row = rows["feed_forward"]
    assert [run["seed"] for run in row["runs"]] == [0, 1] and len(row["mapes"]) == 2
    assert all(0 < m < 1 for m in row["mapes"]) and row["config"] == config.as_dict() and row["search"] is None
    assert len(row["test_mape_by_step"]) == 24 and len(row["week"]["forecast"]) == 7 * 24
