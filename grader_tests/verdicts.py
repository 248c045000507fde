"""The grader's verdicts, outside the student's kernel: each check of an assignment run on the
evidence its test cell wrote (`evidence`), in a process that runs no code of the student's.

    python -m grader_tests.verdicts --serve

reads one JSON request per line ({"folder": EVIDENCE_FOLDER, "assignment": ID, "sources": [CODE CELL, ...]})
and answers each with one line, {check: {"passed": bool, "message": str | null, "title": str, "printed": str,
"measured": {figure: number}, "flag": [event, detail] | null}}; a check whose cell wrote no evidence is
failed ("the notebook did not reach the grader's check").

`--serve` imports TensorFlow and Keras once, before it has seen any evidence, and judges each
notebook in a child process forked from that state, which ends after its one verdict: nothing of one
submission is left for the next, and no notebook pays for TensorFlow's import or for a further
process to measure its MAPE in.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NO_EVIDENCE = ("the notebook did not reach the grader's check in this cell (an earlier line of the cell or of the "
               "notebook failed), so nothing it built could be graded")


def verdicts(folder: str, assignment_id: str, sources=()) -> dict:
    """{check: {"passed", "message", "title", "printed", "figures", "measured", "flag"}} of one notebook.
    `sources`: its code cells' source, from which `statically_set` reads the values its cells set.
    A "flag" is an (event, detail) pair for the integrity report: the grader's own finding."""
    from . import evidence, figures
    from .assignments import ASSIGNMENTS
    from .engine import outcome_of
    from .static import statically_set

    assignment = ASSIGNMENTS[assignment_id]
    found, namespaces, models = {}, {}, {}
    for name, check in assignment.checks.items():
        place = os.path.join(folder, name)
        if not os.path.isfile(os.path.join(place, evidence.MANIFEST)):
            found[name] = {"passed": False, "message": NO_EVIDENCE, "title": check.title, "printed": ""}
            continue
        try:
            namespaces[name] = evidence.load(place, models)
        except Exception as error:  # e.g. a manifest cut short when the kernel was killed: this check only
            found[name] = {"passed": False, "title": check.title, "printed": "",
                           "message": f"the grader could not read what this cell handed over ({type(error).__name__})"}
    changed = _changed({name: namespace for name, (namespace, _) in namespaces.items()})
    set_in_cells = statically_set(sources)
    for name, (namespace, problems) in namespaces.items():
        check = assignment.checks[name]
        if name in changed:
            event, why = changed[name]
            found[name] = {"passed": False, "title": check.title, "printed": "", "message": why,
                           "flag": (event, f"test_{name}: {why}")}
            continue
        namespace[evidence.SET_IN_CELLS] = set_in_cells  # the grader's reading, whatever the kernel named
        printed = io.StringIO()
        figures.SHOWN.clear()
        with contextlib.redirect_stdout(printed):
            message, flag, measured = outcome_of(assignment, check, namespace)
        if message and problems:
            message += "\n(the grader could not read: " + "; ".join(f"{k}: {v}" for k, v in problems.items()) + ")"
        found[name] = {"passed": message is None, "message": message, "title": check.title,
                       "printed": printed.getvalue(), "figures": list(figures.SHOWN), "measured": measured,
                       "flag": (flag[0], f"test_{name}: {flag[1]}") if flag else None}
    return found


def _changed(namespaces: dict) -> dict:
    """{check: (event, why it fails)} for the checks handed different values of one variable (another
    model, other forecasts) than other checks: every check of a notebook judges the same thing. A
    model is compared by its configuration and weights."""
    from . import evidence

    found = {}
    names = sorted({name for namespace in namespaces.values() for name in namespace} - set(evidence.RESERVED))
    for name in names:
        prints = {check: _fingerprint(ns[name]) for check, ns in namespaces.items() if name in ns}
        if len(set(prints.values())) < 2:
            continue
        groups = {}
        for check, fingerprint in prints.items():
            groups.setdefault(fingerprint, []).append(f"test_{check}")
        told = "; ".join(f"{', '.join(checks)}: {number}" for number, checks in enumerate(groups.values(), start=1))
        if name == "model":
            why = (f"the test cells were handed {len(groups)} different models ({told}): the model's layers or weights "
                   "changed between the test cells, and every test judges the one model the notebook built and trained")
        else:
            why = (f"the test cells were handed {len(groups)} different values of `{name}` ({told}): it changed between "
                   "the test cells, and every test judges the one value the notebook computed")
        for check in prints:
            found.setdefault(check, ("model changed" if name == "model" else "value changed", why))
    return found


def _fingerprint(value) -> str:
    """A hash of what a check reads: a model's configuration and weights, an array's values, a value."""
    import hashlib

    import keras
    import numpy as np
    import pandas as pd

    digest = hashlib.sha256(type(value).__name__.encode())
    if isinstance(value, keras.Model):
        digest.update(json.dumps(value.get_config(), sort_keys=True, default=str).encode())
        arrays = value.get_weights()
    elif isinstance(value, (np.ndarray, pd.Series, pd.DataFrame)):
        arrays = [np.asarray(value)]
    else:
        arrays = []
        digest.update(repr(getattr(value, "shape", value)).encode())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode() + (array.tobytes() if array.dtype != object else b""))
    return digest.hexdigest()


def _answer(request: dict) -> str:
    try:
        return json.dumps(verdicts(request["folder"], request["assignment"], request.get("sources", ())))
    except BaseException as error:  # the client reports it; the server goes on
        return json.dumps({"error": f"{type(error).__name__}: {error}"[:500]})


CHILD_MEMORY = 8 * 1024**3  # bytes of address space: a model of the course needs far less
CHILD_SECONDS = 300  # of CPU, and of wall time (an alarm)


def _limit_child() -> None:
    """The evidence is the student's: a model declared huge or slow must not take the grader down."""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_SECONDS, CHILD_SECONDS))
    signal.alarm(CHILD_SECONDS)


def serve() -> None:
    """Judge one request per line of stdin, each in a fresh fork; answers go to stdout, one line each."""
    import rnn_course  # noqa: F401  (quiet TensorFlow first)
    import keras  # noqa: F401

    import matplotlib.backends.backend_agg  # noqa: F401  (what each fork would import again: the figures' backend,
    import PIL.Image  # PIL's image plugins)

    from . import assignments, engine, evidence  # noqa: F401
    from .measure import __main__ as measurements
    from .measure import fresh

    fresh.measure_now = measurements.main  # this process runs no student code: measure here, not in another
    PIL.Image.preinit()

    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed to stdout goes to stderr, not into the answers
    for line in sys.stdin:
        request = json.loads(line)
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(read)
                _limit_child()
                with os.fdopen(write, "w") as pipe:
                    pipe.write(_answer(request))
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            answer = pipe.read()
        os.waitpid(child, 0)
        answers.write((answer or json.dumps({"error": "the judging process ended without a verdict"})) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
