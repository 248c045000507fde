"""What a submission built, written down by the hidden test cells in the kernel (`kernel.hand_over`)
and read back by the grader outside it: the verdicts of the checks are computed from this evidence
only. `load(folder)` rebuilds a namespace the checks can read: a Keras model with safe_mode, arrays
with allow_pickle=False, no code of the student's.
"""

from __future__ import annotations

import json
import os

from .kernel.hand_over import COLLECT_ERROR, FOLDER, MANIFEST, MAX_BYTES, MAX_CHECKS, MAX_FILES, PLAN, export  # noqa: F401
# Names the grader adds to a check's namespace from its own reading, whatever the kernel handed over:
SET_IN_CELLS = "__set_in_cells__"  # {name: value} the cells' source sets (grader_tests.static)
OPTIMIZER_STEPS = "__optimizer_steps__"  # training steps the saved model's optimizer counted (None: never trained)
RESERVED = (SET_IN_CELLS, OPTIMIZER_STEPS)


class Shaped:
    """Stands in for a tensor the notebook prepared: the checks read only its shape."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def _opaque(type_name: str):
    """An object whose type has the student's value's type name, for the messages."""
    return type(type_name, (), {})()


def _load_value(folder, entry, models: dict | None = None):
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

        path = os.path.join(folder, os.path.basename(entry["file"]))
        contained(path)
        key = _digest(path) if models is not None else None
        if key in (models or {}):
            return models[key]
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        if key is not None and not any(getattr(layer, "stateful", False) for layer in model._flatten_layers()):
            models[key] = model  # predicting changes no state of it: the checks may share it
        return model
    if kind == "initializer":
        import keras

        return keras.initializers.deserialize(entry["config"])
    if kind == "shapes":
        return {key: Shaped(shape) for key, shape in entry["shapes"].items()}
    if kind == "shape":
        return Shaped(entry["shape"])
    return _opaque(entry.get("type", "object"))


def _digest(path: str) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load(folder: str, models: dict | None = None) -> tuple[dict, dict]:
    """(namespace of the values that could be rebuilt, {name: why not} for the others). `models`: the
    models loaded for a notebook's other checks, by their file's digest; a file of the same bytes is
    loaded once (the test cells of a notebook hand over the same model)."""
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
            namespace[name] = _load_value(folder, entry, models)
        except Exception as error:
            problems[name] = f"{type(error).__name__}: {error}"[:300]
            continue
        if entry.get("kind") == "model" and name == "model":
            namespace[OPTIMIZER_STEPS] = optimizer_steps(os.path.join(folder, os.path.basename(entry["file"])))
    return namespace, problems


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def contained(path: str) -> None:
    """Raise ValueError unless the file at `path` is a .keras archive that holds only what it should:
    the judge opens it as the instructor, and HDF5 can make a reader open other files (external links,
    external storage of a dataset's bytes, virtual datasets), declare far more than it holds, or be a
    legacy Keras HDF5 file that Keras would load by another road (a file named otherwise, or an HDF5
    file with a zip appended)."""
    import io
    import zipfile

    import h5py

    if not path.endswith(".keras") or not zipfile.is_zipfile(path):
        raise ValueError("a model is handed over as a .keras archive only")
    with open(path, "rb") as handle:
        if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            raise ValueError("the model file is an HDF5 file, not a .keras archive")
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if sum(member.file_size for member in members) > MAX_BYTES:
            raise ValueError("the model file unpacks to more than the grader reads")
        for member in members:
            if not member.filename.endswith(".h5"):
                continue
            with h5py.File(io.BytesIO(archive.read(member)), "r") as weights:
                problems, declared = [], [0]

                def visit(name, link):
                    if not isinstance(link, h5py.HardLink):
                        problems.append(f"{name} is a link")
                        return
                    item = weights[name]
                    if isinstance(item, h5py.Dataset):
                        if item.is_virtual or item.external:
                            problems.append(f"{name} keeps its values outside the file")
                        declared[0] += int(item.size or 0) * item.dtype.itemsize

                weights.visititems_links(visit)
                if problems:
                    raise ValueError(f"the model's weights refer to other files ({problems[0]})")
                if declared[0] > MAX_BYTES:
                    raise ValueError("the model's weights declare more values than the grader reads")


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
