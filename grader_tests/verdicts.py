"""The grader's verdicts, outside the student's kernel: each check of an assignment run on the
evidence its test cell wrote (`evidence`), in a process that runs no code of the student's.

    python -m grader_tests.verdicts --serve

reads one JSON request per line ({"folder": EVIDENCE_FOLDER, "assignment": ID}) and answers each with
one line, {check: {"passed": bool, "message": str | null, "title": str, "printed": str}}; a check whose
cell wrote no evidence is failed ("the notebook did not reach the grader's check").

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


def verdicts(folder: str, assignment_id: str) -> dict:
    from . import evidence, figures
    from .assignments import ASSIGNMENTS
    from .engine import failure_of

    assignment = ASSIGNMENTS[assignment_id]
    found = {}
    for name, check in assignment.checks.items():
        place = os.path.join(folder, name)
        if not os.path.isfile(os.path.join(place, evidence.MANIFEST)):
            found[name] = {"passed": False, "message": NO_EVIDENCE, "title": check.title, "printed": ""}
            continue
        try:
            namespace, problems = evidence.load(place)
        except Exception as error:  # e.g. a manifest cut short when the kernel was killed: this check only
            found[name] = {"passed": False, "title": check.title, "printed": "",
                           "message": f"the grader could not read what this cell handed over ({type(error).__name__})"}
            continue
        printed = io.StringIO()
        figures.SHOWN.clear()
        with contextlib.redirect_stdout(printed):
            message = failure_of(assignment, check, namespace)
        if message and problems:
            message += "\n(the grader could not read: " + "; ".join(f"{k}: {v}" for k, v in problems.items()) + ")"
        found[name] = {"passed": message is None, "message": message, "title": check.title,
                       "printed": printed.getvalue(), "figures": list(figures.SHOWN)}
    return found


def _answer(request: dict) -> str:
    try:
        return json.dumps(verdicts(request["folder"], request["assignment"]))
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

    from . import assignments, engine, evidence  # noqa: F401
    from .measure import __main__ as measurements
    from .measure import fresh

    fresh.measure_now = measurements.main  # this process runs no student code: measure here, not in another

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
