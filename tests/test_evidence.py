"""The evidence the hidden test cells write down, read back outside the kernel: what a check reads
survives the trip, and nothing the student hands in can make the grader run code."""

import json
import types

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

    from grader_tests.plugins import outside
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

    from grader_tests.plugins.unreadable import note

    shown = markdown2html(note("/course/submitted/s/a/lab.ipynb", ValueError("<img src=x onerror=alert(1)> `x` [a](javascript:b)")))
    assert "<img" not in shown and "<a " not in shown and "<code>x</code>" not in shown  # text, not markup
    assert "Not graded" in shown and "&lt;img" in shown


def test_a_result_the_kernel_displays_in_a_test_cell_scores_nothing():
    """nbgrader scores a test cell by its first execute_result (a number as partial credit, anything else
    as full marks) before it looks for errors: after the grader, only its verdict counts."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from nbgrader.utils import determine_grade

    from grader_tests.plugins import outside

    def test_cell(name, shown):
        cell = new_code_cell(f'from grader_tests import check; check("one_step_rnn_multivariate", "{name}", globals())')
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test_{name}", "points": 4}
        cell.outputs = [new_output("execute_result", data={"text/plain": shown}, execution_count=1)]
        return cell

    cells = [test_cell("layers", "'ok'"), test_cell("shapes", "10"), test_cell("mape", "1.5")]
    forged_graded = new_code_cell("1")  # a graded test cell without the grader's call (not in the source)
    forged_graded.metadata["nbgrader"] = {"grade": True, "grade_id": "test_extra", "points": 1}
    nb = new_notebook(cells=[*cells, forged_graded])
    failed = {"passed": False, "title": "Model layers", "message": "layer 1 should be a GRU layer"}
    outside.apply(nb, {"layers": failed, "shapes": dict(failed, title="Shapes"),
                       "mape": {"passed": True, "title": "MAPE", "message": None, "measured": {"mape": 0.02}}})
    assert [determine_grade(cell)[0] for cell in nb.cells] == [0, 0, 4, 0]
    assert all(o.output_type != "execute_result" for cell in nb.cells for o in cell.outputs)
    assert nb.cells[0].outputs[0].data == {"text/plain": "'ok'"}  # still shown to the reader
    assert nb.cells[2].metadata["grader"] == {"check": "mape", "passed": True, "measured": {"mape": 0.02}}


def test_the_cells_source_gives_the_values_they_set():
    from grader_tests.static import DYNAMIC, statically_set

    found = statically_set(["%matplotlib inline\nT = 6\nHORIZON = 1\nA = B = 2 * T\nX, Y = 1, 2\nEPOCHS = 5\n",
                            "for i in range(3):\n    EPOCHS = i\nBATCH_SIZE: int = 32\nimport numpy as np\n",
                            "not python ((", "Z = (W := 3) + 1\nglobals()['LR'] = 1"])
    assert {k: v for k, v in found.items() if v is not DYNAMIC} == {"T": 6, "HORIZON": 1, "A": 12, "B": 12, "X": 1,
                                                                    "Y": 2, "BATCH_SIZE": 32}
    assert found["EPOCHS"] is DYNAMIC and found["np"] is DYNAMIC and found["W"] is DYNAMIC and found["Z"] is DYNAMIC
    assert "LR" not in found  # set through globals(): a value handed over that no cell sets plainly


def test_handed_over_values_must_agree_with_the_cells_and_the_training():
    from grader_tests import evidence
    from grader_tests.assignments import ASSIGNMENTS
    from grader_tests.engine import outcome_of

    assignment = ASSIGNMENTS["one_step_rnn_multivariate"]
    answers = dict(assignment.spec.answers)
    check = assignment.checks["hyperparameters"]
    cells = {**answers}
    trained, frozen = types.SimpleNamespace(trainable_weights=[0]), types.SimpleNamespace(trainable_weights=[])
    honest = {**answers, "model": trained, evidence.SET_IN_CELLS: cells, evidence.OPTIMIZER_STEPS: 5 * 731}
    assert outcome_of(assignment, check, honest) == (None, None, {})
    message, flag, _ = outcome_of(assignment, check, dict(honest, **{evidence.SET_IN_CELLS: dict(cells, EPOCHS=1)}))
    assert flag[0] == "hand-over disagrees" and "the notebook's cells set EPOCHS = 1" in message
    message, flag, _ = outcome_of(assignment, check, dict(honest, **{evidence.OPTIMIZER_STEPS: 731}))
    assert flag[0] == "hand-over disagrees" and "731 optimizer steps" in message and "3,655" in message
    # a frozen model takes no step: the MAPE test judges it, not the hyperparameters test
    assert outcome_of(assignment, check, dict(honest, model=frozen, **{evidence.OPTIMIZER_STEPS: 0}))[0] is None
    without_t = {k: v for k, v in cells.items() if k != "T"}
    message, flag, _ = outcome_of(assignment, check, dict(honest, **{evidence.SET_IN_CELLS: without_t}))
    assert "no cell of the notebook sets T" in message


def test_a_mape_below_any_correct_models_fails_and_is_flagged(monkeypatch):
    from grader_tests.assignments import ASSIGNMENTS
    from grader_tests.checks import models
    from grader_tests.engine import outcome_of

    assignment = ASSIGNMENTS["one_step_rnn_multivariate"]
    monkeypatch.setattr(models, "trained_model", lambda namespace: object())
    for mape, expected in ((0.0, "implausible MAPE"), (0.0069, "implausible MAPE"), (0.0163, None)):
        monkeypatch.setattr(models.model_mape, "measure_in_subprocess", lambda assignment_id, model: {"mape": mape})
        message, flag, measured = outcome_of(assignment, assignment.checks["mape"], {})
        assert (flag[0] if flag else None) == expected and measured == {"mape": mape}
        assert (message is None) == (expected is None)


def test_every_check_judges_the_same_model():
    import keras

    from grader_tests.verdicts import _changed

    model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(4), keras.layers.Dense(1)])
    same = keras.models.clone_model(model)
    same.set_weights(model.get_weights())
    other = keras.models.clone_model(model)
    other.set_weights([w + 1 for w in model.get_weights()])
    forecasts = np.arange(6.0).reshape(2, 3)
    assert _changed({"layers": {"model": model, "T": 6, "__optimizer_steps__": 1},
                     "mape": {"model": same, "T": 6, "__optimizer_steps__": 2}}) == {}  # the grader's own readings
    changed = _changed({"shapes": {"model": model}, "layers": {"model": same}, "mape": {"model": other}})
    assert set(changed) == {"shapes", "layers", "mape"} and changed["mape"][0] == "model changed"
    assert "test_shapes, test_layers: 1; test_mape: 2" in changed["mape"][1]
    changed = _changed({"walk_forward": {"predictions": forecasts}, "mape": {"predictions": forecasts + 1e-9}})
    assert changed["mape"][0] == "value changed" and "`predictions`" in changed["mape"][1]


def test_the_integrity_report_lists_only_what_the_grader_checked(tmp_path):
    import csv

    from grader_tests.plugins import integrity

    lines = [{"event": "write denied", "detail": "/course/grader_tests/__init__.py"},  # a read-only mount: listed
             {"event": "write denied", "detail": "remove /usr/lib/x"},  # outside the writable folders: listed
             {"event": "write denied", "detail": "/tmp/allowed"},  # allowed: not a denial
             {"event": "connection denied", "detail": "('127.0.0.1', 47613)"},
             {"event": "connection denied", "detail": "__import__('os')"},
             {"event": "verdict overruled", "detail": "test_layers: forged"},
             {"event": "=HYPERLINK(\"x\")", "detail": "=1+1"}]
    raw = "\n".join(json.dumps(line) for line in lines).encode() + b"\nnot json\n"
    events = integrity.checked_report(raw, ["/work", "/tmp", "/dev"], ["/course/grader_tests"])
    assert events[:3] == [("write denied", "/course/grader_tests/__init__.py"), ("write denied", "remove /usr/lib/x"),
                          ("connection denied", "('127.0.0.1', 47613)")]
    assert events[3][0] == "unchecked report" and events[3][1].startswith("5 line(s)") and len(events) == 4
    integrity.record(str(tmp_path), ("=cmd|' /C calc'!A0", "a", "n"), events + [("time limit", "-1 s")])
    rows = list(csv.DictReader((tmp_path / integrity.FILE).open()))
    assert rows[0]["student"] == "'=cmd|' /C calc'!A0" and rows[-1]["detail"] == "'-1 s"
    assert rows[0]["source"] == integrity.KERNEL_REPORT and rows[-1]["source"] == "grader"


def test_a_model_file_that_refers_to_other_files_is_not_read(tmp_path):
    """The judge reads the evidence as the instructor: HDF5's external storage or links would make it
    read (and show) any file of the grading machine."""
    import io
    import zipfile

    import h5py

    from grader_tests import evidence

    model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(4), keras.layers.Dense(1)])
    model.compile(optimizer="RMSprop", loss="mse")
    model.fit(np.zeros((64, 6, 2)), np.zeros((64, 1)), verbose=0)
    honest = tmp_path / "model.keras"
    keras.saving.save_model(model, honest)
    evidence.contained(str(honest))
    assert evidence.optimizer_steps(str(honest)) == 2
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    with zipfile.ZipFile(honest) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    for attack in ("external storage", "external link"):
        weights = io.BytesIO(parts["model.weights.h5"])
        with h5py.File(weights, "r+") as file:
            if attack == "external storage":
                del file["optimizer/vars/0"]
                layout = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                layout.set_external(str(secret).encode(), 0, 8)
                h5py.h5d.create(file["optimizer/vars"].id, b"0", h5py.h5t.STD_I64LE, h5py.h5s.create(h5py.h5s.SCALAR),
                                dcpl=layout)
            else:
                file["layers/extra"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
        forged = tmp_path / "forged.keras"
        with zipfile.ZipFile(forged, "w") as archive:
            for name, data in dict(parts, **{"model.weights.h5": weights.getvalue()}).items():
                archive.writestr(name, data)
        with pytest.raises(ValueError, match="refer to other files"):
            evidence.contained(str(forged))
        folder = tmp_path / attack.replace(" ", "_")
        folder.mkdir()
        (folder / "model.keras").write_bytes(forged.read_bytes())
        (folder / evidence.MANIFEST).write_text(json.dumps({"model": {"kind": "model", "file": "model.keras"}}))
        namespace, problems = evidence.load(str(folder))
        assert "model" not in namespace and "refer to other files" in problems["model"]


def test_a_declared_bomb_or_a_legacy_hdf5_model_is_not_read(tmp_path):
    """A 32 KB model file may declare gigabytes of weights, or be a legacy Keras HDF5 file (which Keras
    loads by another road), under a .keras name or with a zip appended."""
    import io
    import zipfile

    import h5py

    from grader_tests import evidence

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    honest = tmp_path / "model.keras"
    keras.saving.save_model(model, honest)
    with zipfile.ZipFile(honest) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    weights = io.BytesIO(parts["model.weights.h5"])
    with h5py.File(weights, "r+") as file:
        file.create_dataset("layers/bomb", shape=(2**30,), dtype="float32")  # declared, never written
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w") as archive:
        for name, data in dict(parts, **{"model.weights.h5": weights.getvalue()}).items():
            archive.writestr(name, data)
    assert bomb.stat().st_size < 1024**2
    with pytest.raises(ValueError, match="declare more values"):
        evidence.contained(str(bomb))
    legacy = tmp_path / "legacy.keras"
    with h5py.File(legacy, "w") as file:
        file["x"] = np.zeros(3)
    with open(legacy, "ab") as handle:
        handle.write(honest.read_bytes())  # an HDF5 file with a zip appended
    with pytest.raises(ValueError, match="HDF5 file, not a .keras archive"):
        evidence.contained(str(legacy))
    with pytest.raises(ValueError, match=".keras archive only"):
        evidence.contained(str(tmp_path / "model.h5"))


def test_evidence_is_taken_through_no_link_fifo_or_swapped_folder(tmp_path):
    """The grader copies a check's evidence as root out of a folder the kernel owns: every step is
    relative to descriptors opened without following links."""
    import os

    from grader_tests.plugins import sandbox

    kernel = tmp_path / "kernel"
    (kernel / ".grader_evidence" / "layers").mkdir(parents=True)
    (kernel / ".grader_evidence" / "layers" / "manifest.json").write_text("{}")
    os.mkfifo(kernel / ".grader_evidence" / "layers" / "pipe")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    (kernel / ".grader_evidence" / "layers" / "stolen.txt").symlink_to(secret)
    (kernel / ".grader_evidence" / "mape").symlink_to(tmp_path)  # a link where a check's folder should be
    execute = sandbox.SandboxedExecute.__new__(sandbox.SandboxedExecute)
    execute._manager, execute._cwd, execute._events = None, str(kernel), []
    execute._evidence_dir = str(tmp_path / "taken")
    execute._take_evidence("layers")
    execute._take_evidence("mape")
    assert sorted(os.listdir(tmp_path / "taken" / "layers")) == ["manifest.json"]
    assert not (tmp_path / "taken" / "mape").exists()
    execute._clear_evidence("mape")  # removes the link, never what it points to
    execute._clear_evidence("layers")
    assert secret.exists() and not (kernel / ".grader_evidence" / "mape").exists()
    assert os.listdir(kernel / ".grader_evidence") == [] and execute._events == []
