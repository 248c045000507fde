"""The sandbox's set-up, without training anything: a sandboxed kernel's view of the machine, and
the refusal to grade where no sandbox can be set up. (The attacks graded through real `nbgrader
autograde` are in test_autograde.py.)"""

import asyncio
import os
from pathlib import Path

import pytest
from jupyter_client.manager import AsyncKernelManager

from grader_tests.plugins import sandbox
from kernel_output import collector

COURSE = Path(__file__).resolve().parents[1]  # this repository, a course folder

pytestmark = pytest.mark.skipif(sandbox.why_unavailable() is not None,
                                reason=f"no sandbox on this machine: {sandbox.why_unavailable()}")


def run_in_sandbox(code: str, tmp_path, report=None, **traits) -> str:
    """Start a sandboxed kernel in `tmp_path`, run `code`, return what it printed (and put what the
    kernel manager reported in the list `report`)."""
    async def main():
        manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir=str(tmp_path / "run"), **traits)
        await manager.start_kernel(cwd=str(tmp_path / "notebook"))
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive(code, timeout=60, output_hook=collect)
            return reply
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            if report is not None:
                report.extend(manager.events)

    printed, collect = collector()

    (tmp_path / "notebook").mkdir()
    (tmp_path / "notebook" / "given.txt").write_text("given")
    asyncio.run(main())
    return "".join(printed)


def test_a_sandboxed_kernel_is_unprivileged_offline_and_sees_only_what_it_is_given(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the gradebook")
    shared = tmp_path / "kit"
    shared.mkdir()
    (shared / "kit.py").write_text("KIT = 1\n")
    report = []
    printed = run_in_sandbox(f"""
import os, socket
print('uid', os.getuid(), os.getgid())
print('own folder', sorted(os.listdir('.')))
open('answer.txt', 'w').write('mine')
print('wrote own folder')
os.makedirs('locked/inner')
open('locked/inner/kept.txt', 'w').write('try to delete me')
os.chmod('locked/inner', 0)
os.chmod('locked', 0)  # its own folders without rights: the grader removes them still
for path in ({str(secret)!r}, {str(COURSE / 'source')!r}, {str(COURSE / 'nbgrader_config.py')!r}, '/etc/shadow'):
    print(path, 'visible' if os.path.exists(path) else 'hidden')
print('kit', open({str(shared / 'kit.py')!r}).read().strip())
try:
    open({str(shared / 'kit.py')!r}, 'a').write('KIT = 2')
    print('kit written')
except OSError as error:
    print('kit refused', type(error).__name__)
try:
    socket.create_connection(('1.1.1.1', 53), timeout=2)
    print('online')
except OSError as error:
    print('offline', type(error).__name__)
""", tmp_path, report, read_only=[(str(shared), str(shared))])
    assert "uid 62" in printed and "uid 0 " not in printed
    assert "own folder ['given.txt']" in printed and "wrote own folder" in printed, printed
    for path in (secret, COURSE / "source", COURSE / "nbgrader_config.py", "/etc/shadow"):
        assert f"{path} hidden" in printed
    assert "kit KIT = 1" in printed and "kit refused" in printed and "offline" in printed
    assert not (tmp_path / "notebook" / "answer.txt").exists(), "the kernel wrote in the real folder, not its copy"
    assert (shared / "kit.py").read_text() == "KIT = 1\n"
    assert sorted(os.listdir(tmp_path / "run")) == [".lock", "seccomp.bpf"], "the kernel's folder was not cleaned up"
    # the kernel's report for the integrity section: the denied write and connection, nothing else
    assert report == [("write denied", str(shared / "kit.py")), ("connection denied", "('1.1.1.1', 53)")], report


@pytest.mark.parametrize("swap", ["os.mkfifo(log)", "os.symlink('/dev/zero', log)", "os.symlink('/etc/shadow', log)"],
                         ids=["fifo", "endless", "secret"])
def test_the_kernels_own_log_is_read_as_it_was_made_whatever_the_kernel_puts_there(tmp_path, caplog, swap):
    """The kernel may replace the file that holds its own stdout and stderr: the grader reads the one it
    made, at most its last 4 KiB, and neither waits for a FIFO nor reads a link's target."""
    import signal

    caplog.set_level("DEBUG")
    signal.alarm(120)  # a grader that waited for the FIFO would wait for ever
    try:
        printed = run_in_sandbox(f"""
import os, sys
from ipykernel.connect import get_connection_file
log = os.path.join(os.path.dirname(get_connection_file()), 'kernel.log')
print('the kernel says this on its own stderr', file=sys.__stderr__, flush=True)
os.remove(log)
{swap}
print('swapped')
""", tmp_path)
    finally:
        signal.alarm(0)
    assert "swapped" in printed, printed
    tail = "\n".join(r.getMessage() for r in caplog.records if "own output" in r.getMessage())
    assert "root:" not in tail and "\x00" * 64 not in tail and len(tail) < 5000, tail[:300]


def test_memory_and_process_limits_hold(tmp_path):
    printed = run_in_sandbox("""
import threading, time
try:
    block = bytearray(3 * 1024 ** 3)
    print('memory granted')
except MemoryError:
    print('memory refused')
started = 0
try:
    for _ in range(500):
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
        started += 1
    print('threads', started)
except RuntimeError:
    print('threads refused after', started)
""", tmp_path, memory_limit=2 * 1024**3, process_limit=64)
    assert "memory refused" in printed and "threads refused after" in printed


@pytest.mark.skipif(sandbox.rootless(), reason="an ordinary account's kernels all run as its own uid")
def test_graders_with_their_own_run_folders_never_give_one_uid_to_two_kernels(tmp_path):
    """Two courses graded on one machine, or pytest's workers, pick kernel uids from the same range: a
    uid held by a kernel of one run folder is not given to a kernel of another (whose watcher would
    count, and could kill, the first one's processes)."""
    claimed = []
    try:
        for run in ("a", "b"):  # claimed, not started: the window in which no process shows the uid yet
            manager = sandbox.SandboxKernelManager(kernel_name="python3", run_dir=str(tmp_path / run))
            manager._claim_uid_and_folder()
            manager._events_read, manager._events_write = os.pipe()
            claimed.append(manager)
        first_uid, second_uid = (manager.sandbox_uid for manager in claimed)
    finally:
        for manager in claimed:
            manager._release()
    assert first_uid != second_uid
    assert not any(os.lstat(os.path.join(sandbox.UID_LOCKS, str(uid))).st_mode & 0o077
                   for uid in (first_uid, second_uid))


def test_grading_refuses_to_start_without_a_sandbox_unless_told(monkeypatch):
    monkeypatch.setattr(sandbox, "why_unavailable", lambda: "`bwrap` is not installed")
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap.*--SandboxedExecute.sandbox=False"):
        sandbox.SandboxedExecute()
    assert sandbox.SandboxedExecute(sandbox=False).kernel_manager_class is AsyncKernelManager
    monkeypatch.setattr(sandbox, "why_unavailable", lambda: None)
    assert sandbox.SandboxedExecute().kernel_manager_class is sandbox.SandboxKernelManager


def test_the_course_config_sandboxes_autograde_and_validate():
    from nbgrader.converters.autograde import Autograde
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(COURSE / "nbgrader_config.py")}
    exec(compile((COURSE / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), namespace)
    assert sandbox.SandboxedExecute in config.Autograde.autograde_preprocessors
    assert sandbox.SandboxedExecute in Validator().preprocessors
    assert not any(p.__name__ == "Execute" for p in config.Autograde.autograde_preprocessors)
    assert len(config.Autograde.autograde_preprocessors) == len(Autograde.class_traits()["autograde_preprocessors"].default())
