"""Sandboxed kernels started ahead: while one notebook runs, the next one's kernel starts and imports
what its assignment's set-up cell imports (TensorFlow, the student library), so that the next
notebook starts at once. Each pool kernel is a sandboxed kernel like any other (its own uid or user
namespace, its own folder, limits and report), made for one notebook and then discarded.

A kernel waiting in the pool is given to a notebook only if it was made for the same assignment,
notebook, kernel, options and environment; is still alive; has reported nothing (its audit report
is empty: no code of a notebook has run in it); and its notebook folder is still empty. Anything
else is shut down and the notebook gets a kernel started for it, as without the pool.

The pool lives in the grading process, one waiting kernel per event loop (nbclient runs a
process's notebooks one after another in its thread's loop), and is emptied when the process ends.
A kernel is started ahead only when the autograde run has another notebook to grade: not for the
last one, not for one student alone (the grade command's workers, Formgrader's button), not in a
validation. Only the grader can reach a waiting kernel: its folder (connection file, sockets) is
the kernel's own and lies in no other kernel's sandbox.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import functools
import json

WAITING: dict = {}  # event loop -> (key, manager, task starting its kernel)
_LEFT = {"notebooks": 0}  # notebooks an `nbgrader autograde` run has still to start, after the one running


def notebooks_after() -> int:
    """How many notebooks this process's autograde run starts after the running one (0 outside one:
    a kernel is started ahead only for a notebook that follows)."""
    return _LEFT["notebooks"]


def counting_notebooks(convert_notebooks):
    """nbgrader's Autograde.convert_notebooks, counting the notebooks of the run first."""
    @functools.wraps(convert_notebooks)
    def wrapper(converter):
        _LEFT["notebooks"] = sum(len(notebooks) for notebooks in converter.assignments.values())
        try:
            return convert_notebooks(converter)
        finally:
            _LEFT["notebooks"] = 0
    return wrapper


def counting_notebook(convert_single_notebook):
    """nbgrader's Autograde.convert_single_notebook, counting down the notebooks left."""
    @functools.wraps(convert_single_notebook)
    def wrapper(converter, notebook_filename):
        _drop(1)
        return convert_single_notebook(converter, notebook_filename)
    wrapper.counted = True
    return wrapper


def _drop(count: int) -> None:
    _LEFT["notebooks"] = max(0, _LEFT["notebooks"] - count)


def counting_skipped(init_destination):
    """nbgrader's Autograde.init_destination: a submission it skips (graded already) is not counted."""
    @functools.wraps(init_destination)
    def wrapper(converter, *args):
        wanted = init_destination(converter, *args)
        if not wanted:
            _drop(len(converter.notebooks))
        return wanted
    return wrapper


def counting_unknown(init_assignment):
    """nbgrader's Autograde.init_assignment, which drops the notebooks the gradebook does not know (and
    all of them when it fails): those are not counted."""
    @functools.wraps(init_assignment)
    def wrapper(converter, *args):
        before = len(converter.notebooks)
        try:
            done = init_assignment(converter, *args)
        except BaseException:
            _drop(before)
            raise
        _drop(before - len(converter.notebooks))
        return done
    return wrapper


def preload_modules(setup_source: str) -> list:
    """The modules a set-up cell imports at its top level (`import a.b`, `from a import b`), in order."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(setup_source))  # `%matplotlib inline` is not Python
    except SyntaxError:
        return []
    modules = []
    for node in tree.body:
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        modules += [name for name in names if name not in modules]
    return modules


def import_lines(modules: list) -> list:
    """IPython start-up code (`IPKernelApp.exec_lines`) that imports `modules` and leaves no name behind;
    it runs after ipykernel set up its output streams and matplotlib's backend, as a first cell would.
    A module that fails to import is reported (grader_tests/kernel/watch.py), so the kernel is not used."""
    if not modules:
        return []
    return ["import importlib as _grader_preload, sys as _grader_sys\n"
            f"for _grader_module in {json.dumps(modules)}:\n"
            "    try:\n"
            "        _grader_preload.import_module(_grader_module)\n"
            "    except Exception:\n"
            "        _grader_sys.audit('grader.preload_failed', _grader_module)\n"  # reported: the kernel is not used
            "_grader_sys.audit('grader.preload_done')\n"
            "del _grader_preload, _grader_sys, _grader_module"]


def kernel_arguments(execute) -> list:
    """The kernel's command-line arguments nbclient gives a kernel it starts (a kernel it did not start,
    one started ahead, would not have its history in memory)."""
    history = f"--HistoryManager.hist_file={execute.ipython_hist_file}"
    if execute.ipython_hist_file and not any(a.startswith("--HistoryManager.hist_file") for a in execute.extra_arguments):
        return [*execute.extra_arguments, history]
    return list(execute.extra_arguments)


def take(key):
    """The manager of the kernel started ahead for a notebook of `key`, or None. A kernel waiting for
    another key is shut down."""
    from jupyter_core.utils import ensure_event_loop

    try:
        loop = asyncio.get_running_loop()  # nbclient's (jupyter_core's run_sync), where start_ahead put it
    except RuntimeError:
        loop = ensure_event_loop()
    waiting = WAITING.pop(loop, None)
    if waiting is None:
        return None
    waiting_key, manager, task = waiting
    if waiting_key != key:
        discard(manager, task)
        return None
    manager.started_ahead = task
    return manager


def start_ahead(key, manager, extra_arguments: list) -> None:
    """Start `manager`'s kernel now, for the next notebook of `key`."""
    loop = asyncio.get_running_loop()
    old = WAITING.pop(loop, None)
    if old is not None:
        discard(old[1], old[2])

    async def start():
        await manager.start_kernel(extra_arguments=list(extra_arguments), ahead=True)
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)  # its start-up imports are done
        finally:
            client.stop_channels()

    task = loop.create_task(start())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # read here: never "never retrieved"
    WAITING[loop] = (key, manager, task)


def discard(manager, task=None) -> None:
    """Stop a kernel started ahead and remove what it made (synchronous: also at the process's end)."""
    if task is not None and not task.done():
        task.cancel()
    manager.stop_now()


@atexit.register
def _empty() -> None:
    while WAITING:
        _, (_, manager, task) = WAITING.popitem()
        discard(manager, task)
