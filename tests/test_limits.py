"""Limits on a graded notebook as a whole (grader_tests/plugins/limits.py): the memory of all its processes
together, the disk it writes, the output it shows, and a cell that ignores the interrupt.

The first tests run tiny notebooks (no TensorFlow) through `SandboxedExecute` in this process, with
limits scaled down so that each takes seconds; the `autograde` ones grade a tiny assignment with real
`nbgrader autograde` and the course's configuration, and read the gradebook, the autograded notebook,
integrity.csv and the peak memory of the nbgrader process."""

import csv
import os
import subprocess
import sys
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from grader_tests.plugins import limits, sandbox
from instructor import classroom

MiB, GiB = 1024**2, 1024**3

pytestmark = pytest.mark.skipif(sandbox.why_unavailable() is not None,
                                reason=f"no sandbox on this machine: {sandbox.why_unavailable()}")

TEST_CELL = {"grade": True, "locked": True, "points": 1, "schema_version": 3, "solution": False, "task": False}
ANSWER_CELL = {"grade": False, "locked": False, "schema_version": 3, "solution": True, "task": False}

IGNORES_INTERRUPT = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""
THREE_PROCESSES = """
import os, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray({size})  # zero-filled: every page touched
        time.sleep(60)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""
FILLS_DISK = """
import os
written = 0
try:
    for i in range(5 * 1024):  # 5 GiB in 1 MiB files, half in the notebook's folder, half in /tmp
        with open(f'filler{i}.bin' if i % 2 else f'/tmp/filler{i}.bin', 'wb') as handle:
            handle.write(b'x' * 1024**2)
        written += 1
except OSError as error:
    pass  # the notebook hides the error
print('written', written, 'MiB')
"""
FLOODS_OUTPUT = """
import base64, os
from IPython.display import Image, display
for _ in range(1024):  # 1 GiB of stdout, in messages of 1 MiB
    print('x' * (1024**2 - 1), flush=True)
png = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')
for _ in range(256):  # 256 MiB of images
    display(Image(data=png + os.urandom(1024**2), format='png'))
"""


def notebook(*cells):
    """A notebook of code cells; a cell given as (grade_id, source) is a graded test cell."""
    made = []
    for cell in cells:
        if isinstance(cell, tuple):
            made.append(new_code_cell(cell[1], metadata={"nbgrader": {**TEST_CELL, "grade_id": cell[0]}}))
        else:
            made.append(new_code_cell(cell))
    nb = new_notebook(cells=made)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(tmp_path, nb, timeout=60, **options):
    """Run `nb` with SandboxedExecute in a folder of `tmp_path`; options are traits of SandboxedExecute or
    SandboxKernelManager. Returns the executed notebook and the preprocessor (its events, its manager)."""
    config = Config()
    config.SandboxedExecute.outside_verdicts = False  # plain test cells: scored by what they show
    config.SandboxedExecute.timeout = timeout
    config.SandboxKernelManager.run_dir = str(tmp_path / "run")
    for name, value in options.items():
        owner = "SandboxKernelManager" if sandbox.SandboxKernelManager.class_traits().get(name) else "SandboxedExecute"
        setattr(getattr(config, owner), name, value)
    folder = tmp_path / "notebook"
    folder.mkdir(exist_ok=True)
    preprocessor = sandbox.SandboxedExecute(config=config)
    nb, _ = preprocessor.preprocess(nb, {"metadata": {"path": str(folder)}})
    assert sorted(os.listdir(tmp_path / "run")) == [".lock", "seccomp.bpf"], "the kernel's folder was left behind"
    assert not any(str(tmp_path) in line for line in open("/proc/self/mounts")), "the kernel's tmpfs was left mounted"
    cgroup = getattr(preprocessor._manager, "cgroup", None)
    assert cgroup is None or not os.path.exists(cgroup.path), "the kernel's cgroup was left behind"
    return nb, preprocessor


def shown(cell) -> str:
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)


def errors(cell) -> list:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


# --- memory ---------------------------------------------------------------------------------------

def test_the_memory_of_all_processes_together_is_capped(tmp_path):
    """Three processes of 512 MiB each, under a limit of 1 GiB for the whole notebook (each alone is
    far below the address-space limit per process): the kernel is stopped, the notebook graded as far
    as it ran, and the report says why. (The course's figures, 3 x 3 GiB over 6 GiB, only take longer.)"""
    started = time.monotonic()
    nb, run = execute(tmp_path, notebook("x = 1", ("test_before", "assert x == 1"),
                                         THREE_PROCESSES.format(size=512 * MiB), ("test_after", "assert x == 1")),
                      notebook_memory_limit=GiB)
    if not sandbox.rootless() and any(version == 1 for version, _ in limits._cgroup_candidates()):  # root can always make a v1 child
        assert run._manager.cgroup is not None, "this machine offers a memory cgroup: it must be used"
    assert ("memory limit", "all processes together used more than 1 GiB; the kernel was stopped") in run._events
    assert any(event == "kernel died" for event, _ in run._events)
    assert errors(nb.cells[1]) == [] and errors(nb.cells[2]) == ["KernelStopped"]
    assert "more than 1 GiB of memory" in shown(nb.cells[2])
    assert errors(nb.cells[3]) == ["NotRun"] and "this test failed" in shown(nb.cells[3])
    assert time.monotonic() - started < 60


def test_without_a_cgroup_a_watcher_sums_the_memory_of_the_kernels_uid(tmp_path):
    nb, run = execute(tmp_path, notebook("x = 1", THREE_PROCESSES.format(size=512 * MiB), "print('after')"),
                      notebook_memory_limit=GiB, cgroup_parent=str(tmp_path / "no-cgroup-here"))
    assert run._manager.cgroup is None
    assert run._manager.watcher.over_memory and run._manager.watcher.peak_rss > GiB
    assert ("memory limit", "all processes together used more than 1 GiB; the kernel was stopped") in run._events
    assert errors(nb.cells[1]) == ["KernelStopped"] and errors(nb.cells[2]) == ["NotRun"]


MEMORY_FILES = """
import os
files = []
for n in range(3):  # 1.5 GiB in memory files no process maps: no process's resident memory grows
    fd = os.memfd_create(f'hidden{n}')
    for _ in range(512):
        os.write(fd, b'x' * 1024**2)
    files.append(fd)
print('held', len(files))
"""


def test_without_a_cgroup_a_watcher_counts_memory_files_no_process_maps(tmp_path):
    nb, run = execute(tmp_path, notebook("x = 1", MEMORY_FILES, "print('after')"),
                      notebook_memory_limit=GiB, cgroup_parent=str(tmp_path / "no-cgroup-here"))
    assert run._manager.cgroup is None and run._manager.watcher.over_memory
    assert ("memory limit", "all processes together used more than 1 GiB; the kernel was stopped") in run._events
    assert errors(nb.cells[1]) == ["KernelStopped"] and errors(nb.cells[2]) == ["NotRun"]


FULL_SOCKETS = """
import socket
pairs = []
for _ in range(200):  # 200 socket pairs, each left holding what its buffers take
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        while True:
            a.send(b'x' * 65536)
    except BlockingIOError:
        pairs.append((a, b))
print('held', len(pairs))
"""


def test_without_a_cgroup_the_watcher_bounds_what_sockets_hold(tmp_path):
    nb, run = execute(tmp_path, notebook("x = 1", FULL_SOCKETS, "import time; time.sleep(5)", "print('after')"),
                      notebook_memory_limit=GiB, cgroup_parent=str(tmp_path / "no-cgroup-here"))
    assert run._manager.cgroup is None and run._manager.watcher.over_memory
    assert "KernelStopped" in errors(nb.cells[1]) + errors(nb.cells[2]) and errors(nb.cells[3]) == ["NotRun"]


def test_a_memory_cgroup_is_made_with_its_limit_and_removed(tmp_path):
    if not limits._cgroup_candidates():
        pytest.skip("no memory cgroup on this machine")
    group = limits.MemoryCgroup.make(f"rnn-course-test-{os.getpid()}", 64 * MiB)
    if group is None and sandbox.rootless():
        pytest.skip("no memory cgroup this account may write (the watcher's case, tested above)")
    assert group is not None, "this machine offers a memory cgroup: it must be writable"
    try:
        assert os.path.isdir(group.path) and group.pids() == [] and group.oom_kills() == 0
        limit_file = "memory.max" if group.version == 2 else "memory.limit_in_bytes"
        assert int(open(os.path.join(group.path, limit_file)).read()) == 64 * MiB
    finally:
        assert group.remove() and not os.path.exists(group.path)


def test_what_a_killed_grader_left_is_removed_by_the_next_one(tmp_path):
    """A grader killed with SIGKILL cannot clean up: its kernel's tmpfs (memory), cgroup and folder (a
    uid) stay until the next kernel manager that uses the same run folder removes them. (An ordinary
    account's kernel has no tmpfs; it dies with its grader.)"""
    run_dir, notebook_folder = tmp_path / "run", tmp_path / "notebook"
    notebook_folder.mkdir()
    grader = subprocess.Popen([sys.executable, "-c", f"""
import asyncio, sys, time
sys.path.insert(0, {str(classroom.REPO)!r})
from grader_tests.plugins import sandbox
manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir={str(run_dir)!r})
asyncio.run(manager.start_kernel(cwd={str(notebook_folder)!r}))
print(manager.sandbox_dir, manager.cgroup.path if manager.cgroup else "", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    folder, cgroup = grader.stdout.readline().split(" ")
    cgroup = cgroup.strip()
    grader.kill()
    grader.wait()
    assert any(line.split()[1] == folder for line in open("/proc/self/mounts")) != sandbox.rootless()
    manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir=str(run_dir))
    manager._claim_uid_and_folder()
    try:
        assert not os.path.exists(folder) and not os.path.exists(folder + ".owner")
        assert not any(line.split()[1] == folder for line in open("/proc/self/mounts"))
        assert not cgroup or not os.path.exists(cgroup)
        assert not kernel_processes(folder), "the killed grader's kernel still runs"
    finally:
        manager.cgroup = None
        manager._events_read, manager._events_write = os.pipe()
        manager._release()


# --- disk -----------------------------------------------------------------------------------------

def kernel_processes(folder: str) -> list:
    """Processes whose command line names the kernel folder `folder` (its connection file)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if folder.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_the_disk_a_notebook_writes_is_capped_and_reported_even_when_it_hides_the_error(tmp_path):
    if sandbox.rootless():
        pytest.skip("an ordinary account mounts no tmpfs: the watcher's case below is its limit")
    nb, run = execute(tmp_path, notebook(FILLS_DISK, "print('after')"), disk_limit=256 * MiB)
    written = int(shown(nb.cells[0]).split()[1])
    assert 240 <= written < 256, shown(nb.cells[0])  # its folder and its /tmp share the 256 MiB
    assert shown(nb.cells[1]) == "after\n"
    assert ("disk full", "the notebook's folder and /tmp reached their 256 MiB (No space left on device)") in run._events
    assert run._manager.tmpfs


def test_without_a_tmpfs_a_watcher_adds_up_the_kernels_files(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "mount_tmpfs", lambda *args: OSError(1, "Operation not permitted"))
    nb, run = execute(tmp_path, notebook(FILLS_DISK.replace("5 * 1024", "2 * 1024"), "print('after')"),
                      disk_limit=128 * MiB)
    assert not run._manager.tmpfs and run._manager.watcher.over_disk
    assert ("disk full", "the notebook's folder and /tmp reached their 128 MiB (No space left on device); "
                         "the kernel was stopped") in run._events
    assert errors(nb.cells[0]) == ["KernelStopped"] and "wrote more than 128 MiB" in shown(nb.cells[0])
    assert errors(nb.cells[1]) == ["NotRun"]


HIDES_ITS_FILES = """
import os, time
held = []
for n in range(3):  # 384 MiB in files deleted while open: no folder shows them
    handle = open(f'/tmp/hidden{n}.bin', 'wb')
    os.remove(f'/tmp/hidden{n}.bin')
    for _ in range(128):
        handle.write(b'x' * 1024**2)
    handle.flush()
    held.append(handle)
time.sleep(5)
print('kept')
"""
MANY_NAMES = """
import time
for n in range(3000):  # names enough to stop a count before it reaches the files behind them
    open(f'/tmp/empty{n}', 'w').close()
time.sleep(5)
print('kept')
"""


@pytest.mark.parametrize("cell", [HIDES_ITS_FILES, MANY_NAMES], ids=["deleted_while_open", "many_names"])
def test_without_a_tmpfs_the_watcher_sees_what_a_folder_hides(tmp_path, monkeypatch, cell):
    monkeypatch.setattr(limits, "mount_tmpfs", lambda *args: OSError(1, "Operation not permitted"))
    nb, run = execute(tmp_path, notebook(cell, "print('after')"), disk_limit=128 * MiB, disk_files_limit=2000)
    assert not run._manager.tmpfs and run._manager.watcher.over_disk
    assert errors(nb.cells[0]) == ["KernelStopped"] and errors(nb.cells[1]) == ["NotRun"]


# --- output ---------------------------------------------------------------------------------------

def test_output_is_cut_per_cell_and_a_huge_message_is_dropped_at_the_socket(tmp_path):
    progress = "import sys\nfor i in range(20000):\n    sys.stdout.write('\\r' + str(i).rjust(100, '.'))\nprint()"
    big_error = "raise ValueError('e' * 3 * 1024**2)"
    updates = ("import base64, os\nfrom IPython.display import Image, display\n"
               "handle = display('small', display_id=True)\n"
               "for _ in range(5):\n    handle.update(Image(data=os.urandom(5 * 1024**2), format='png'))")
    one_message = "import sys\nsys.stdout.write('y' * 64 * 1024**2)\nsys.stdout.flush()"
    nb, run = execute(tmp_path, notebook(progress, big_error, updates, one_message, "print('after')"))
    # a progress bar's 2 MB of updates: what a terminal shows is kept, nothing is cut
    assert shown(nb.cells[0]).strip() == "19999".rjust(100, ".") and not run._budget.cut.get(0)
    # an error too big is kept short: nbgrader scores a cell by its error
    assert errors(nb.cells[1]) == ["ValueError"] and len(nbformat.writes(nb)) < 2 * MiB + 64 * 1024
    # display updates may not grow a cell past its images
    assert nb.cells[2].outputs[0].data == {"text/plain": "'small'"}
    assert "The grader cut" in shown(nb.cells[2])
    # one message over the socket's limit: dropped by ZeroMQ, the connection made again
    assert "a message over 8 MiB" in shown(nb.cells[3])
    assert shown(nb.cells[4]) == "after\n"
    events = [detail for event, detail in run._events if event == "output limit"]
    assert events[0].startswith("cell 2: output over the limit was cut") and events[1].startswith("cell 3:")
    assert events[2] == "cell 4: a message over 8 MiB was dropped" and len(events) == 3


def test_sockets_to_the_kernel_refuse_huge_messages_and_queue_few(tmp_path):
    import zmq

    manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir=str(tmp_path / "run"))
    manager.connection_file = str(tmp_path / "kernel.json")
    manager.ip = str(tmp_path / "ipc")
    manager.write_connection_file()
    client = manager.client()
    for channel in ("shell", "iopub", "stdin", "control"):
        sock = getattr(client, "connect_" + channel)()
        assert sock.getsockopt(zmq.MAXMSGSIZE) == 8 * MiB and sock.getsockopt(zmq.RCVHWM) == 4
        if channel == "iopub":
            client._iopub_monitor_socket.close(linger=0)
        sock.close(linger=0)


def test_terminal_text_keeps_what_a_terminal_shows_in_linear_time():
    assert limits.terminal_text("ab\bc\n12\r34\r\nxy\r") == "ac\n34\r\nxy\r"
    started = time.monotonic()
    assert limits.terminal_text("x" * 4 * MiB + "\r") == "x" * 4 * MiB + "\r"  # nbclient's regex: quadratic
    assert len(limits.terminal_text("a" * MiB + "\b" * MiB)) == 0
    assert time.monotonic() - started < 5


# --- time -----------------------------------------------------------------------------------------

def test_a_cell_that_ignores_the_interrupt_has_its_kernel_stopped_and_the_notebook_is_graded(tmp_path):
    nb, run = execute(tmp_path, notebook("x = 1", ("test_before", "assert x == 1"),
                                         "import time\nwhile True:\n    time.sleep(0.1)",  # stops at the interrupt
                                         ("test_between", "assert x == 1"),
                                         IGNORES_INTERRUPT, ("test_after", "assert x == 1")),
                      timeout=3, interrupt_grace=2)
    assert errors(nb.cells[1]) == [] and errors(nb.cells[3]) == []
    assert "KeyboardInterrupt" in errors(nb.cells[2])
    assert errors(nb.cells[4]) == ["KernelStopped"] and "ignored the interrupt" in shown(nb.cells[4])
    assert errors(nb.cells[5]) == ["NotRun"]
    assert run._events == [("time limit", "cell 3 stopped after 3 s"), ("time limit", "cell 5 stopped after 3 s"),
                           ("time limit", "cell 5 ignored the interrupt; the kernel was stopped")]


def test_a_kernel_that_ends_itself_is_graded_as_far_as_it_ran(tmp_path):
    nb, run = execute(tmp_path, notebook("x = 1", ("test_before", "assert x == 1"), "import os\nos._exit(1)",
                                         ("test_after", "assert x == 1")))
    assert errors(nb.cells[1]) == [] and errors(nb.cells[2]) == ["KernelStopped"] and errors(nb.cells[3]) == ["NotRun"]
    assert run._events == [("kernel died", "the kernel ended before the notebook did (its own exit, or the memory "
                                           "or process limit)")]


def test_the_course_config_sets_the_limits():
    from grader_tests.plugins.sandbox import SandboxedExecute, SandboxKernelManager

    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(classroom.REPO / "nbgrader_config.py")}
    exec(compile((classroom.REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), namespace)
    manager, execute_ = SandboxKernelManager(config=config), SandboxedExecute(config=config)
    assert manager.notebook_memory_limit == 6 * GiB and manager.disk_limit == GiB
    assert manager.max_message_size == 8 * MiB
    assert (execute_.text_per_cell, execute_.images_per_cell, execute_.output_per_notebook) == (MiB, 4 * MiB, 20 * MiB)


# --- through real nbgrader autograde ----------------------------------------------------------------

ASSIGNMENT = "limits"
PEAK_RSS = """
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write(f"PEAK_RSS_KIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n"))
from nbgrader.apps.nbgraderapp import main
sys.argv = ["nbgrader", *sys.argv[1:]]
main()
"""


def limits_notebook(answer: str = "pass"):
    nb = notebook("x = 1", ("test_before", "assert x == 1"), answer, ("test_after", "assert x == 1"))
    nb.cells[2].metadata["nbgrader"] = {**ANSWER_CELL, "grade_id": "answer"}
    nb.cells[0].metadata["nbgrader"] = {**ANSWER_CELL, "grade_id": "setup"}
    return nb


@pytest.fixture(scope="module")
def limits_course(tmp_path_factory):
    """A course folder with the tiny assignment `limits` released."""
    root = classroom.make_course_copy(tmp_path_factory.mktemp("limits-course"))
    (root / "source" / ASSIGNMENT).mkdir()
    nbformat.write(limits_notebook(), root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    classroom.release(root, [ASSIGNMENT])
    return root


def autograde(root, student, answer, *options):
    """Submit `answer` as the student's answer cell and autograde it (without outside verdicts: the
    tiny assignment has plain test cells). Returns {test: score}, the integrity rows, the autograded
    notebook's size in bytes and the nbgrader process's peak resident memory in bytes."""
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00 UTC")
    nbformat.write(limits_notebook(answer), folder / f"{ASSIGNMENT}.ipynb")
    env = dict(os.environ, PATH=os.pathsep.join([str(classroom.VENV_BIN), os.environ.get("PATH", "")]))
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, "autograde", ASSIGNMENT, "--student", student, "--force",
                           "--SandboxedExecute.outside_verdicts=False", *options],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    peak = int(done.stderr.rsplit("PEAK_RSS_KIB ", 1)[1].split()[0]) * 1024
    outcome = classroom.GradedSubmission(student, ASSIGNMENT)
    classroom.read_grades(root, outcome)
    with (root / "integrity.csv").open() as handle:
        rows = [(r["event"], r["detail"]) for r in csv.DictReader(handle) if r["student"] == student]
    size = (root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_size
    return {test: score for test, (score, _) in outcome.tests.items()}, rows, size, peak


@pytest.mark.autograde
@pytest.mark.xdist_group("limits")
def test_a_flood_of_output_leaves_a_small_notebook_and_nbgrader_small(limits_course):
    scores, rows, size, peak = autograde(limits_course, "floods_output", FLOODS_OUTPUT)
    print(f"floods_output: autograded notebook {size / MiB:.1f} MiB, nbgrader's peak {peak / MiB:.0f} MiB")
    assert scores == {"test_before": 1, "test_after": 1}
    assert size < 6 * MiB, f"the autograded notebook holds {size} bytes"
    # Unbounded, this flood took nbgrader to 6.3 GB. Bounded, its peak was 177-211 MiB on an idle machine
    # and once 863 MiB in a full CI run (2 workers; the cause of that spread is not yet known).
    assert peak < 1024 * MiB, f"nbgrader's process reached {peak >> 20} MiB"
    assert [event for event, _ in rows] == ["output limit"], rows


@pytest.mark.autograde
@pytest.mark.xdist_group("limits")
def test_an_endless_cell_that_ignores_the_interrupt_is_graded(limits_course):
    scores, rows, _, _ = autograde(limits_course, "ignores_interrupt", IGNORES_INTERRUPT,
                                   "--Execute.timeout=3", "--SandboxedExecute.interrupt_grace=2")
    assert scores == {"test_before": 1, "test_after": 0}
    assert rows == [("time limit", "cell 3 stopped after 3 s"),
                    ("time limit", "cell 3 ignored the interrupt; the kernel was stopped")]


@pytest.mark.autograde
@pytest.mark.xdist_group("limits")
def test_a_notebook_over_its_memory_is_stopped_and_graded(limits_course):
    scores, rows, _, _ = autograde(limits_course, "hogs_memory", THREE_PROCESSES.format(size=512 * MiB),
                                   f"--SandboxKernelManager.notebook_memory_limit={GiB}")
    assert scores == {"test_before": 1, "test_after": 0}
    assert ("memory limit", "all processes together used more than 1 GiB; the kernel was stopped") in rows
    assert any(event == "kernel died" for event, _ in rows)


@pytest.mark.autograde
@pytest.mark.xdist_group("limits")
def test_a_notebook_that_fills_its_disk_is_reported(limits_course):
    scores, rows, _, _ = autograde(limits_course, "fills_disk", FILLS_DISK)
    assert scores == {"test_before": 1, "test_after": 1}
    assert rows == [("disk full", "the notebook's folder and /tmp reached their 1 GiB (No space left on device)")]
