"""What a submission built, written down by the hidden test cells and read back by the grader
outside the student's kernel: the verdicts of the checks are computed from this evidence only.

In the kernel, `export(check, names, namespace)` writes the named variables into
``.grader_evidence/<check>/`` of the notebook's folder in formats that carry no code: a Keras model
as ``.keras`` (loaded back with safe_mode), numbers and strings as JSON, arrays and pandas objects as
``.npy`` (loaded with allow_pickle=False), a mapping of arrays as their shapes; anything else as its
type name only. Outside, `load(folder)` rebuilds a namespace the same checks can read.
"""

from __future__ import annotations

import json
import os

FOLDER = ".grader_evidence"
MANIFEST = "manifest.json"
MAX_BYTES = 64 * 1024**2  # per check; a model of the course is well under 1 MiB
MAX_CHECKS, MAX_FILES = 32, 64  # folders, and files per folder, the grader copies out of the kernel
COLLECT_ERROR = "error_of_the_students_code"  # what the student's code raised when the check called it
# Names the grader adds to a check's namespace from its own reading, whatever the kernel handed over:
SET_IN_CELLS = "__set_in_cells__"  # {name: value} the cells' source sets (grader_tests.static)
OPTIMIZER_STEPS = "__optimizer_steps__"  # training steps the saved model's optimizer counted (None: never trained)
RESERVED = (SET_IN_CELLS, OPTIMIZER_STEPS)


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


class Shaped:
    """Stands in for a tensor the notebook prepared: the checks read only its shape."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def _opaque(type_name: str):
    """An object whose type has the student's value's type name, for the messages."""
    return type(type_name, (), {})()


def _load_value(folder, entry):
    import numpy as np
    import pandas as pd

    kind = entry["kind"]
    if kind == "value":
        return entry["value"]
    if kind in ("array", "series", "frame"):
        path = os.path.join(folder, os.path.basename(entry["file"]))
        array = np.load(path, allow_pickle=False)
        if kind == "series":
            return pd.Series(array)
        if kind == "frame":
            return pd.DataFrame(array, columns=entry["columns"])
        return array.tolist() if entry.get("type") in ("list", "tuple") else array
    if kind == "model":
        import keras

        return keras.saving.load_model(os.path.join(folder, os.path.basename(entry["file"])), compile=False,
                                       safe_mode=True)
    if kind == "initializer":
        import keras

        return keras.initializers.deserialize(entry["config"])
    if kind == "shapes":
        return {key: Shaped(shape) for key, shape in entry["shapes"].items()}
    if kind == "shape":
        return Shaped(entry["shape"])
    return _opaque(entry.get("type", "object"))


def load(folder: str) -> tuple[dict, dict]:
    """(namespace of the values that could be rebuilt, {name: why not} for the others)."""
    with open(os.path.join(folder, MANIFEST)) as handle:
        manifest = json.load(handle)
    namespace, problems = {}, {}
    for name, entry in manifest.items():
        if name in RESERVED or not isinstance(entry, dict):
            continue
        if entry.get("kind") == "missing":
            continue
        if entry.get("kind") == "unreadable":
            problems[name] = entry.get("error", "unreadable")
            continue
        try:
            namespace[name] = _load_value(folder, entry)
        except Exception as error:
            problems[name] = f"{type(error).__name__}: {error}"[:300]
            continue
        if entry.get("kind") == "model" and name == "model":
            namespace[OPTIMIZER_STEPS] = optimizer_steps(os.path.join(folder, os.path.basename(entry["file"])))
    return namespace, problems


def optimizer_steps(path: str) -> int | None:
    """The optimizer's step count saved with a .keras model (its first optimizer variable,
    `iterations`), None if the model was saved without a trained optimizer."""
    import io
    import zipfile

    import h5py
    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo("model.weights.h5").file_size > MAX_BYTES:  # no zip bomb is unpacked
                return None
            packed = archive.read("model.weights.h5")
        with h5py.File(io.BytesIO(packed), "r") as weights:
            value = np.asarray(weights["optimizer/vars/0"][()])
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        return None
    return int(value)
