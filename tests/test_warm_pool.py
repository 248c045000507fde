"""Kernels started ahead (grader_tests.plugins.warm_pool): what a kernel started ahead has imported
and shows, the kernels the pool refuses to hand over, and a class graded in one `nbgrader autograde`
run, and by the grade command's worker, that gets the same grades and MAPE with kernels started ahead
as without."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import run_sync

from grader_tests.plugins import sandbox, warm_pool
from instructor import classroom
from instructor.classroom import NOTEBOOKS
from instructor.submissions import VARIANTS, build
from kernel_output import collector

COURSE = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(sandbox.why_unavailable() is not None,
                                reason=f"no sandbox on this machine: {sandbox.why_unavailable()}")

SHOW = ("import sys, os\n"
        "print('preloaded', 'colorsys' in sys.modules, 'fractions' in sys.modules)\n"
        "print('names', sorted(n for n in globals() if not n.startswith('_') and n not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open', 'sys', 'os')))\n"
        "print('hidden', sorted(n for n in globals() if n.startswith('_grader')))\n"
        "print('folder', sorted(os.listdir('.')), os.getcwd().endswith('/work'))\n")


async def run(manager, code: str) -> str:
    printed, collect = collector()
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        await client.execute_interactive(code, timeout=60, output_hook=collect)
    finally:
        client.stop_channels()
    return "".join(printed)


def ahead(tmp_path, preload=("colorsys",)):
    manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir=str(tmp_path / "run"), wall_limit=600)
    manager.preload = list(preload)
    return manager


@pytest.fixture
def notebook_folder(tmp_path):
    folder = tmp_path / "notebook"
    folder.mkdir()
    (folder / "given.txt").write_text("given")
    return folder


def test_a_kernel_started_ahead_has_imported_its_modules_and_shows_nothing_else(tmp_path, notebook_folder):
    async def main():
        manager = ahead(tmp_path)
        warm_pool.start_ahead("key", manager, [])
        await warm_pool.WAITING[asyncio.get_running_loop()][2]  # started and ready
        folder = manager.sandbox_dir
        assert warm_pool.take("other key") is None, "a kernel made for another notebook is not handed over"
        assert not os.path.exists(folder), "and it is stopped and removed"
        manager = ahead(tmp_path)
        warm_pool.start_ahead("key", manager, [])
        assert warm_pool.take("key") is manager
        await manager.start_kernel(cwd=str(notebook_folder))  # as nbclient does: the hand-over
        assert getattr(manager, "_wall_timer", None) is not None, "timed from its notebook's start"
        try:
            return await run(manager, SHOW)
        finally:
            await manager.shutdown_kernel(now=True)

    run_sync(asyncio.sleep)(0)  # as after nbclient ran a notebook in this process: jupyter_core keeps its own loop
    printed = asyncio.run(main())
    assert "preloaded True False" in printed, printed
    assert "names []" in printed and "hidden []" in printed, printed
    assert "folder ['given.txt'] True" in printed, printed
    assert sorted(os.listdir(tmp_path / "run")) == [".lock", "seccomp.bpf"], "a kernel's folder was left behind"


@pytest.mark.parametrize("spoil, why", [
    (lambda m: os.killpg(m.provisioner.pgid, signal.SIGKILL), "it ended"),
    (None, "it reported an event before its notebook ran"),  # a set-up import failed as it started
    (lambda m: Path(m.sandbox_dir, "work", "planted.py").write_text("x = 1"), "its notebook folder is not empty"),
    (lambda m: os.write(m._events_write, b'{"event": "write denied", "detail": "/etc/x"}\n'),
     "it reported an event before its notebook ran"),
], ids=["died", "import failed", "folder touched", "reported"])
def test_a_kernel_started_ahead_that_died_or_was_touched_is_not_used(tmp_path, notebook_folder, caplog, spoil, why):
    async def main():
        manager = ahead(tmp_path, preload=("colorsys", "no_module_of_this_name") if spoil is None else ("colorsys",))
        warm_pool.start_ahead("key", manager, [])
        assert warm_pool.take("key") is manager
        await manager.started_ahead  # ready
        first = manager.sandbox_dir
        if spoil is not None:
            spoil(manager)
        await asyncio.sleep(0.5)
        await manager.start_kernel(cwd=str(notebook_folder))
        try:
            return first, manager.sandbox_dir, await run(manager, SHOW)
        finally:
            await manager.shutdown_kernel(now=True)

    first, used, printed = asyncio.run(main())
    assert used != first and not os.path.exists(first), ("the spoilt kernel was stopped and removed", caplog.text, printed)
    assert f"not used ({why})" in caplog.text, caplog.text
    assert "folder ['given.txt'] True" in printed and "planted" not in printed, printed
    assert sorted(os.listdir(tmp_path / "run")) == [".lock", "seccomp.bpf"]


def test_a_kernel_preloads_what_its_assignments_set_up_cell_imports():
    source = nbformat.read(COURSE / "source" / "one_step_rnn_multivariate" / "Quiz_one_step_RNN_multivariate.ipynb", 4)
    setup = next(cell for cell in source.cells if cell.cell_type == "code")
    modules = warm_pool.preload_modules(setup.source)
    assert modules[:2] == ["rnn_course", "datetime"] and "keras.layers" in modules and "matplotlib.pyplot" in modules
    assert warm_pool.preload_modules("%matplotlib inline\nimport numpy as np\nfrom . import x\nx = 1\n") == ["numpy"]


QUIZ = "one_step_rnn_multivariate"
CLASS = ("solution", "functional_tf_keras", "swapped_units", "tampered_metric", "rewrites_the_kit")  # right, right, wrong, attacks


def graded_outputs(root: Path, student: str) -> list:
    """Each graded cell's id and what it showed (the MAPE the test prints, the verdicts)."""
    notebook = nbformat.read(root / "autograded" / student / QUIZ / NOTEBOOKS[QUIZ], as_version=4)
    return [(cell.metadata.get("nbgrader", {}).get("grade_id"),
             [output.get("text") or output.get("evalue") or output.get("data", {}).get("text/plain") for output in cell.outputs])
            for cell in notebook.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.autograde
@pytest.mark.xdist_group(QUIZ)
def test_a_class_graded_in_one_run_gets_the_same_grades_and_mape_with_kernels_started_ahead(tmp_path):
    root = classroom.make_course_copy(tmp_path / "course")
    classroom.release(root, [QUIZ])
    for name in CLASS:
        classroom.submit(root, name, QUIZ, build(next(v for v in VARIANTS if v.assignment == QUIZ and v.name == name), root))
    results = {}
    for warm in (False, True):
        done = classroom.run_nbgrader(root, "autograde", QUIZ, "--force", f"--SandboxedExecute.warm_kernels={warm}")
        assert done.returncode == 0, done.stderr[-3000:]
        started_ahead = done.stderr.count("The notebook runs in a kernel started ahead")
        assert started_ahead == (len(CLASS) - 1 if warm else 0), done.stderr[-3000:]  # every notebook but the first
        assert "is not used" not in done.stderr
        grades = {}
        for name in CLASS:
            outcome = classroom.GradedSubmission(name, QUIZ)
            classroom.read_grades(root, outcome)
            grades[name] = (outcome.score, outcome.tests, graded_outputs(root, name))
        results[warm] = grades
    assert results[True] == results[False]
    # the grade command's worker: each student after the first in the kernel its server started ahead
    done = subprocess.run([sys.executable, "-m", "instructor", "grade", QUIZ, "--workers", "1", "--force"], cwd=root,
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(classroom.REPO), os.environ.get("PYTHONPATH")]))))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    journal = [json.loads(line) for line in (root / "reports" / QUIZ / "grading.jsonl").read_text().splitlines()]
    assert sorted(line["started_ahead"] for line in journal[-len(CLASS):]) == [0] + [1] * (len(CLASS) - 1), journal
    report = (root / "integrity.csv").read_text()  # what a kernel started ahead reported reaches the report
    assert any(line.startswith("rewrites_the_kit,") and "write denied" in line and "grader_tests/__init__.py" in line
               for line in report.splitlines()), report
    for name in CLASS:
        outcome = classroom.GradedSubmission(name, QUIZ)
        classroom.read_grades(root, outcome)
        assert (outcome.score, outcome.tests, graded_outputs(root, name)) == results[True][name], name
    mape = [text for _, outputs in results[True]["solution"][2] for text in outputs if text and "MAPE" in text]
    assert mape, results[True]["solution"][2]
    scores = {name: results[True][name][0] for name in CLASS}
    assert scores["solution"] == scores["functional_tf_keras"] > scores["swapped_units"] and scores["tampered_metric"] < scores["solution"]
    assert not any(str(tmp_path) in line for line in open("/proc/self/mounts")), "a kernel's tmpfs was left mounted"
