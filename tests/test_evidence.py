"""The evidence the hidden test cells write down, read back outside the kernel: what a check reads
survives the trip, and nothing the student hands in can make the grader run code."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

import rnn_course  # noqa: F401  (quiet TensorFlow before keras is imported)
from grader_tests import evidence
from grader_tests.assignments import ASSIGNMENTS
from grader_tests.engine import failure_of


def round_trip(tmp_path, monkeypatch, namespace, names):
    monkeypatch.chdir(tmp_path)
    evidence.export("check", names, namespace)
    return evidence.load(tmp_path / evidence.FOLDER / "check")


def test_values_arrays_frames_shapes_and_models_survive(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input(shape=(6, 2)), keras.layers.GRU(6, return_sequences=True),
                              keras.layers.GRU(4), keras.layers.Dense(1)])
    namespace = {"T": 6, "rate": 0.5, "name": "gru", "peak": np.int64(18), "daily": pd.Series([1.0, 2.0]),
                 "table": pd.DataFrame({"load": [1.0], "temp": [2.0]}), "predictions": np.ones((46, 3)),
                 "rows": [1, 2, 3], "X_train": np.zeros((5, 6, 2)), "inputs": {"X": np.zeros((3, 6, 2))},
                 "init": keras.initializers.RandomNormal(), "model": model, "predict": print}
    loaded, problems = round_trip(tmp_path, monkeypatch, namespace, [*namespace, "undefined"])
    assert not problems and "undefined" not in loaded
    assert (loaded["T"], loaded["rate"], loaded["name"], loaded["peak"]) == (6, 0.5, "gru", 18)
    assert loaded["daily"].tolist() == [1.0, 2.0] and list(loaded["table"].columns) == ["load", "temp"]
    assert loaded["predictions"].shape == (46, 3) and loaded["rows"] == [1, 2, 3]
    assert loaded["X_train"].shape == (5, 6, 2) and loaded["inputs"]["X"].shape == (3, 6, 2)
    assert type(loaded["init"]) is keras.initializers.RandomNormal
    assert loaded["model"].count_params() == model.count_params()
    assert type(loaded["predict"]).__name__ == "builtin_function_or_method" and not callable(loaded["predict"])


def test_a_model_round_trip_gets_the_same_verdicts(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input(shape=(6, 2)), keras.layers.LSTM(6, return_sequences=True),
                              keras.layers.GRU(4), keras.layers.Dense(1)])
    assignment = ASSIGNMENTS["one_step_rnn_multivariate"]
    check = assignment.checks["layers"]
    loaded, _ = round_trip(tmp_path, monkeypatch, {"model": model}, check.reads(assignment))
    assert failure_of(assignment, check, loaded) == failure_of(assignment, check, {"model": model})
    assert "should be a GRU layer" in failure_of(assignment, check, loaded)


def test_evidence_cannot_carry_code(tmp_path):
    folder = tmp_path / "check"
    folder.mkdir()
    np.save(folder / "values.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (folder / evidence.MANIFEST).write_text(json.dumps({"values": {"kind": "array", "file": "values.npy"},
                                                        "escape": {"kind": "array", "file": "../../secret.npy"}}))
    loaded, problems = evidence.load(folder)
    assert "values" not in loaded and "Object arrays cannot be loaded" in problems["values"]
    assert "escape" not in loaded  # the file name is kept inside the folder


@pytest.mark.parametrize("check", ["layers", "mape"])
def test_a_cell_that_wrote_nothing_fails_outside(tmp_path, check):
    from grader_tests.verdicts import NO_EVIDENCE, verdicts

    found = verdicts(str(tmp_path), "one_step_rnn_multivariate")
    assert found[check] == {"passed": False, "message": NO_EVIDENCE, "title": found[check]["title"], "printed": ""}


def test_each_test_cell_shows_the_graders_verdict_and_forged_results_are_listed():
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from grader_tests import outside
    from grader_tests.verdicts import NO_EVIDENCE

    def test_cell(name, outputs):
        cell = new_code_cell(f'assert True\nfrom grader_tests import check; check("one_step_rnn_multivariate", "{name}", globals())')
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test_{name}", "points": 2}
        cell.outputs = outputs
        return cell

    forged = [new_output("stream", name="stdout", text="Model layers: passed\n")]
    error = [new_output("error", ename="NameError", evalue="x", traceback=["NameError: x"])]
    warning = [new_output("stream", name="stderr", text="a library's warning\n")]
    nb = new_notebook(cells=[test_cell("layers", forged), test_cell("shapes", error + warning), test_cell("mape", []),
                             test_cell("hyperparameters", []), test_cell("initializer", list(error)),
                             test_cell("dimensions", list(forged))])
    verdicts = {"layers": {"passed": False, "title": "Model layers", "message": "layer 1 should be a GRU layer"},
                "shapes": {"passed": True, "title": "Tensor and model shapes", "message": None},
                "mape": {"passed": True, "title": "Forecast accuracy (MAPE)", "message": None, "printed": "MAPE: 2%\n",
                         "figures": ["iVBORw0KGgo="]},
                "hyperparameters": {"passed": False, "title": "Hyperparameters", "message": NO_EVIDENCE},
                "initializer": {"passed": False, "title": "Weight initializer", "message": NO_EVIDENCE}}
    disagreements = outside.apply(nb, verdicts)
    assert disagreements == [("layers", "passed", "failed"), ("shapes", "failed", "passed"),
                             ("hyperparameters", "passed", "failed")]  # it ran to its end without the grader's call
    layers, shapes, mape, hyperparameters, initializer, dimensions = nb.cells
    assert layers.outputs[-1].output_type == "error" and "layer 1 should be a GRU layer" in layers.outputs[-1].evalue
    assert [o.text for o in shapes.outputs] == ["\x1b[1;32m✓ Tensor and model shapes: passed\x1b[0m\n"]  # no error, no stderr
    assert "no verdict for this test cell" in dimensions.outputs[-1].evalue  # no verdict: no points
    assert [o.get("text") for o in mape.outputs] == ["MAPE: 2%\n", None, "\x1b[1;32m✓ Forecast accuracy (MAPE): passed\x1b[0m\n"]
    assert mape.outputs[1].data["image/png"] == "iVBORw0KGgo="  # the grader's figure, under its printout
    assert NO_EVIDENCE in hyperparameters.outputs[-1].evalue
    assert initializer.outputs == error  # its own error (the cell stopped before the grader's call) says why
    nbformat.validate(nb)


def test_the_reason_a_file_is_no_notebook_cannot_put_html_in_formgrader():
    from nbconvert.filters import markdown2html

    from grader_tests.unreadable import note

    shown = markdown2html(note("/course/submitted/s/a/lab.ipynb", ValueError("<img src=x onerror=alert(1)> `x` [a](javascript:b)")))
    assert "<img" not in shown and "<a " not in shown and "<code>x</code>" not in shown  # text, not markup
    assert "Not graded" in shown and "&lt;img" in shown
