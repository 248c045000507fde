"""In the student's kernel: write down what each hidden check reads, for the grader outside it.

`check(assignment_id, name, namespace)` finds the check in the plan the grader handed to the kernel
($GRADER_PLAN, a JSON file: {check: {"reads": [variable, ...], "collect": {...} or null}}), and writes
the named variables into ``.grader_evidence/<check>/`` of the notebook's folder ($GRADER_EVIDENCE) in
formats that carry no code: a Keras model as ``.keras``, numbers and strings as JSON, arrays and pandas
objects as ``.npy``, a mapping of arrays as their shapes; anything else as its type name only.
Nothing it does reaches stderr (nbgrader scores a test cell that writes to stderr as failed).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings

FOLDER = ".grader_evidence"
MANIFEST = "manifest.json"
MAX_BYTES = 64 * 1024**2  # per check; a model of the course is well under 1 MiB
MAX_CHECKS, MAX_FILES = 32, 64  # folders, and files per folder, the grader copies out of the kernel
COLLECT_ERROR = "error_of_the_students_code"  # what the student's code raised when the check called it
PLAN = "GRADER_PLAN"  # the environment variable naming the plan's file


def check(assignment_id: str, name: str, namespace: dict) -> None:
    """Hand the notebook's variables (`globals()`) that the hidden check `name` reads to the grader."""
    step = _plan(assignment_id).get(name)
    if step is None:
        raise KeyError(f"unknown check {assignment_id}/{name}; the notebook does not match the grading kit")
    with no_stderr():
        try:
            extra = collected(step.get("collect"), namespace)
        except Exception as error:  # the student's code failed: the grader is told why
            extra = {COLLECT_ERROR: f"{type(error).__name__}: {error}"[:300]}
        export(name, step["reads"], namespace, extra)


def _plan(assignment_id: str) -> dict:
    path = os.environ.get(PLAN)
    if not path:
        raise RuntimeError(f"no grading plan for {assignment_id}: this kernel was not started by the course's grader")
    with open(path) as handle:
        return json.load(handle)


def collected(collect, namespace: dict) -> dict:
    """What a check computes in the kernel with the student's code (the plan's "collect")."""
    if not collect:
        return {}
    if collect["kind"] == "forecasts":  # predict_sequences of the teacher-forcing lab on the test windows
        predict = namespace.get("predict_sequences")
        if not callable(predict):
            return {}
        import numpy as np

        windows = test_windows(collect)[0][:collect["windows"]]
        return {collect["name"]: np.asarray(predict(windows), dtype=float)}
    raise ValueError(f"unknown collection {collect['kind']!r}")


def test_windows(collect: dict, energy=None):
    """Scaled test-period windows built the tutorial's way: (encoder inputs, decoder inputs, targets,
    (low, span) of the load)."""
    from rnn_course import TimeSeriesTensor, load_data
    from rnn_course.splits import scaled_splits

    T, horizon = collect["T"], collect["horizon"]
    splits = scaled_splits(load_data() if energy is None else energy, list(collect["features"]), T)
    tensors = TimeSeriesTensor(splits["test"], "load", horizon,
                               {"encoder_input": (range(-T + 1, 1), list(collect["features"])),
                                "decoder_input": (range(0, horizon), list(collect["decoder_features"]))})
    return tensors["encoder_input"], tensors["decoder_input"], tensors["target"], splits["load_scale"]


@contextlib.contextmanager
def no_stderr():
    """Send Python and OS-level stderr (TensorFlow's C++ logs) to nowhere while the hand-over runs."""
    sys_err = io.StringIO()
    saved_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stderr(sys_err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)


def _describe(name, value, folder):
    import sys

    import numpy as np
    import pandas as pd

    keras = sys.modules.get("keras")  # not imported by the notebook: then no value is a Keras object

    if keras is not None and isinstance(value, keras.Model):
        path = os.path.join(folder, f"{name}.keras")
        keras.saving.save_model(value, path)
        return {"kind": "model", "file": os.path.basename(path)}
    if keras is not None and isinstance(value, keras.initializers.Initializer):
        return {"kind": "initializer", "config": keras.initializers.serialize(value)}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"kind": "value", "value": value}
    if isinstance(value, pd.DataFrame):
        np.save(os.path.join(folder, f"{name}.npy"), value.to_numpy(dtype=float), allow_pickle=False)
        return {"kind": "frame", "file": f"{name}.npy", "columns": [str(c) for c in value.columns]}
    if isinstance(value, pd.Series):
        np.save(os.path.join(folder, f"{name}.npy"), value.to_numpy(dtype=float), allow_pickle=False)
        return {"kind": "series", "file": f"{name}.npy"}
    if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value and
                                         all(isinstance(v, (int, float, np.number)) for v in value)):
        array = np.asarray(value)
        if array.dtype != object:
            np.save(os.path.join(folder, f"{name}.npy"), array, allow_pickle=False)
            return {"kind": "array", "file": f"{name}.npy", "type": type(value).__name__}
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        shapes = {str(key): list(getattr(value[key], "shape", ())) for key in list(value.keys())[:32]}
        return {"kind": "shapes", "shapes": shapes, "type": type(value).__name__}
    if hasattr(value, "shape"):
        return {"kind": "shape", "shape": list(value.shape), "type": type(value).__name__}
    return {"kind": "opaque", "type": type(value).__name__}


def export(check: str, names, namespace: dict, extra: dict | None = None) -> None:
    """Write the variables `names` (and `extra` values computed by the check) for the grader."""
    folder = os.path.join(os.environ.get("GRADER_EVIDENCE") or FOLDER, check)
    os.makedirs(folder, exist_ok=True)
    manifest = {}
    for name, value in [(n, namespace.get(n, _MISSING)) for n in names] + list((extra or {}).items()):
        try:
            manifest[name] = {"kind": "missing"} if value is _MISSING else _describe(name, value, folder)
        except Exception as error:  # the grader then says the value could not be read
            manifest[name] = {"kind": "unreadable", "error": f"{type(error).__name__}: {error}"[:300]}
    with open(os.path.join(folder, MANIFEST), "w") as handle:
        json.dump(manifest, handle)


class _Missing:
    pass


_MISSING = _Missing()


