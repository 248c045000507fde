"""Every kernel that runs a student's notebook under the course's nbgrader runs in a sandbox.

`install(c, ...)` in nbgrader_config.py swaps nbgrader's Execute for `SandboxedExecute` in
`nbgrader autograde` (and in an instructor's `nbgrader validate`). Each kernel then runs:

- as its own unprivileged uid (62000 and up, one per running kernel, so process limits are its own);
- in bubblewrap (Debian's `bubblewrap`): a filesystem that shows only /usr, a few /etc files, the
  Python environment, the grading kit, the student library and the data, all read-only, plus a
  private copy of the notebook's folder and a private /tmp, the only places it can write; the
  course's source/, solutions/, gradebook and other students' folders do not exist for it;
- with no network (its own empty network namespace), its own pid, ipc and uts namespaces, a
  seccomp filter against new namespaces and mounts, and no capabilities;
- under rlimits: address space (memory), processes, file size, open files;
- within a wall-time budget for the whole notebook, and a hard kill past it.

The kernel talks to nbclient over ZeroMQ's ipc transport: unix sockets in its own folder, which
both sides see at the same path (a new network namespace cannot reach the grader's loopback).

Where the sandbox cannot be set up (no bwrap, not root, not Linux), grading refuses to start unless
the instructor passes ``--SandboxedExecute.sandbox=False``, and then warns that it grades without
one (the same option grades unconfined anywhere, for a comparison of costs).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import signal
import stat
import struct
import sys
import sysconfig
import tempfile
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, List, Tuple, Unicode, default

from . import evidence, integrity

XLA_CACHE = "/tmp/xla-cache"  # in the sandbox (its private /tmp): XLA's compiled steps (TF_XLA_FLAGS)
WARM_CACHES = os.path.join(".grader_cache", "xla")  # in the course folder: one per assignment, from its solution
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "hosts", "ssl", "ca-certificates", "mime.types", "fonts"]


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine; the message says why and what to do."""


def why_unavailable(bwrap: str = "bwrap") -> str | None:
    """None when this machine can run sandboxed kernels, else the reason."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "the sandbox needs nbgrader to run as root (it starts each kernel as its own unprivileged user)"
    for tool in (bwrap, "setpriv", "prlimit"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: apt-get install bubblewrap util-linux)"
    return None


def seccomp_filter() -> bytes:
    """Classic-BPF seccomp program for bwrap --seccomp (x86_64): EPERM for new namespaces, mounts,
    keyrings, bpf, perf and userfaultfd; clone3 -> ENOSYS so that glibc falls back to clone, whose
    CLONE_NEW* flags are refused; anything but x86_64 system calls is killed."""
    load, jump_equal, jump_set, ret = 0x20, 0x15, 0x45, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x50000 | 1, 0x50000 | 38
    # unshare setns mount umount2 pivot_root keyctl add_key request_key bpf perf_event_open
    # userfaultfd open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr
    denied = [272, 308, 165, 166, 155, 250, 248, 249, 321, 298, 323, 428, 429, 430, 431, 432, 433, 442]
    program = [(load, 0, 0, 4), (jump_equal, 1, 0, 0xC000003E), (ret, 0, 0, kill), (load, 0, 0, 0),
               (0x35, 0, 1, 0x40000000), (ret, 0, 0, eperm)]  # no x32 system calls
    for number in denied:
        program += [(jump_equal, 0, 1, number), (ret, 0, 0, eperm)]
    program += [(jump_equal, 0, 1, 435), (ret, 0, 0, enosys),
                (jump_equal, 0, 3, 56), (load, 0, 0, 16), (jump_set, 0, 1, 0x7E020000), (ret, 0, 0, eperm),
                (ret, 0, 0, allow)]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _special_files(folder, names):
    """copytree's ignore: sockets, fifos and devices (a stale kernel socket, say)."""
    kept = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
    return [n for n in names if not any(test(os.lstat(os.path.join(folder, n)).st_mode) for test in kept)]


def python_roots() -> list:
    """Folders the kernel's Python needs: the virtual environment and the interpreter it was made from."""
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.realpath(sysconfig.get_paths()["stdlib"])}
    roots = sorted(os.path.realpath(r) for r in roots)
    return [r for r in roots if not any(r.startswith(other + "/") for other in roots)]


def _copy_files(source: str, target: str, max_files: int, max_bytes: int) -> None:
    """Copy the regular files of `source` (no links, no devices; within the bounds) into `target`."""
    os.makedirs(target, exist_ok=True)
    copied = 0
    for name in sorted(os.listdir(source))[:max_files]:
        path = os.path.join(source, name)
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and copied + info.st_size <= max_bytes:
            shutil.copyfile(path, os.path.join(target, name), follow_symlinks=False)
            copied += info.st_size


def _printable(text, most: int) -> str:
    """What the kernel reported, on one line and without terminal codes (it goes to the log)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))[:most]


def watched(cmd: list) -> list:
    """The kernel command with ipykernel started by grader_tests.watch, which reports denied attempts
    (given as `python -c SOURCE`: the kernel needs no access to the kit to start)."""
    from . import watch

    cmd = list(cmd)
    for i in range(len(cmd) - 1):
        if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
            with open(watch.__file__) as handle:
                cmd[i:i + 2] = ["-c", handle.read()]
            break
    return cmd


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox (see the module's docstring)."""

    run_dir = Unicode("/run/rnn-course-sandbox", config=True, help="root-owned folder of the kernels' folders")
    uid_base = Integer(62000, config=True, help="first uid given to a kernel")
    uid_count = Integer(1000, config=True)
    read_only = List(Tuple(Unicode(), Unicode()), config=True,
                     help="(host path, path in the sandbox) pairs the kernel may read: the kit, the library, the data")
    memory_limit = Integer(6 * 1024**3, config=True, help="address space of the kernel, bytes (RLIMIT_AS; 0: none)")
    process_limit = Integer(256, config=True, help="processes and threads of the kernel's uid (RLIMIT_NPROC)")
    file_size_limit = Integer(512 * 1024**2, config=True, help="largest file the kernel may write, bytes")
    open_files_limit = Integer(1024, config=True)
    wall_limit = Float(0, config=True, help="seconds after which the kernel is killed (0: never)")
    pass_env = List(Unicode(), ["PYTHONPATH", "LANG", "LC_ALL", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
                                "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS",
                                "KERAS_BACKEND", "RNN_COURSE_DATA"], config=True)
    bwrap = Unicode("bwrap", config=True)

    @default("transport")
    def _transport_default(self):
        return "ipc"

    # --- one uid and one folder per kernel ------------------------------------------------------
    def _uids_in_use(self) -> set:
        used = set()
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    used.add(os.stat("/proc/" + pid).st_uid)
                except OSError:
                    pass
        for name in os.listdir(self.run_dir):
            try:
                used.add(os.stat(os.path.join(self.run_dir, name)).st_uid)
            except OSError:
                pass
        return used

    def _claim_uid_and_folder(self) -> None:
        os.makedirs(self.run_dir, mode=0o711, exist_ok=True)
        with open(os.path.join(self.run_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = self._uids_in_use()
            uid = next(u for u in range(self.uid_base, self.uid_base + self.uid_count) if u not in used)
            folder = os.path.join(self.run_dir, "k-" + uuid.uuid4().hex[:16])
            os.mkdir(folder, 0o700)
            os.chown(folder, uid, uid)  # claims the uid before the lock is released
        for sub in ("tmp", "work"):
            os.mkdir(os.path.join(folder, sub), 0o700)
            os.chown(os.path.join(folder, sub), uid, uid)
        self.sandbox_uid, self.sandbox_dir = uid, folder

    async def _async_pre_start_kernel(self, **kw):
        if not getattr(self, "sandbox_dir", None):  # a restart keeps its uid, folder, sockets and report
            self._claim_uid_and_folder()
            self.connection_file = os.path.join(self.sandbox_dir, "kernel.json")
            self.ip = os.path.join(self.sandbox_dir, "ipc")  # an absolute ipc address: <ip>-1 ... <ip>-5
            self._events_read, self._events_write = os.pipe()  # the kernel's report (grader_tests.watch)
            os.set_blocking(self._events_read, False)
            os.set_blocking(self._events_write, False)
            self.events = []
        cwd = os.path.realpath(kw.get("cwd") or os.getcwd())
        self.kernel_cwd = cwd  # the notebook's folder, at the same path in the sandbox
        try:
            cmd, kw = await super()._async_pre_start_kernel(**kw)  # writes kernel.json (0600)
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
            self._copy_warm_cache()
            work = os.path.join(self.sandbox_dir, "work")
            if not os.listdir(work):  # the kernel writes a private copy of the notebook's folder
                shutil.copytree(cwd, work, dirs_exist_ok=True, symlinks=True, ignore=_special_files)
                self._hand_over(work)
        except BaseException:
            self._release()
            raise
        kw["pass_fds"] = (self._events_write,)
        return self.sandbox_command(watched(cmd), cwd, kw.get("env") or os.environ), kw

    def sandbox_command(self, cmd, cwd, env) -> list:
        uid, folder = str(self.sandbox_uid), self.sandbox_dir
        limits = ["prlimit", f"--nproc={self.process_limit}", f"--nofile={self.open_files_limit}",
                  f"--fsize={self.file_size_limit}", "--core=0"]
        if self.memory_limit:
            limits.append(f"--as={self.memory_limit}")
        # bwrap runs as root (only root can bind what the kernel's uid cannot reach, such as a Python
        # under /root) and builds the namespaces; setpriv inside drops to the uid and every capability.
        wrap = [self.bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--die-with-parent", "--hostname", "sandbox",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_SETPCAP", "--cap-add", "CAP_DAC_OVERRIDE",  # for --chdir; setpriv drops them all
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                "--size", str(256 * 1024**2), "--perms", "1777", "--tmpfs", "/dev/shm",  # multiprocessing needs it
                "--bind", os.path.join(folder, "tmp"), "/tmp",  # first: later mounts may lie under /tmp
                "--dir", "/etc"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink("/" + link):
                wrap += ["--symlink", os.readlink("/" + link), "/" + link]
        for name in ETC_FILES:
            if os.path.exists("/etc/" + name):
                wrap += ["--ro-bind", "/etc/" + name, "/etc/" + name]
        made = {"/", "/usr", "/proc", "/dev", "/tmp", "/etc"}

        def mount(option, source, target):
            # bwrap makes missing parent folders with mode 0700, which the uid could not cross
            parents, parent = [], os.path.dirname(target)
            while parent not in made:
                parents.append(parent)
                made.add(parent)
                parent = os.path.dirname(parent)
            for parent in reversed(parents):
                wrap.extend(["--dir", parent])
            wrap.extend([option, source, target])
            made.add(target)

        for root in python_roots():
            if not root.startswith("/usr/"):
                mount("--ro-bind", root, root)
        for source, target in self.read_only:
            if os.path.exists(source):
                mount("--ro-bind", os.path.realpath(source), target)
        mount("--bind", folder, folder)  # kernel.json and the ipc sockets, at the same path
        mount("--bind", os.path.join(folder, "work"), cwd)
        wrap += ["--chdir", cwd, "--clearenv"]
        kept = {name: env[name] for name in self.pass_env if name in env}
        kept.update(JPY_PARENT_PID="1",  # its parent is bwrap's pid 1: no parent poller, no banner
                    HOME="/tmp", TMPDIR="/tmp", MPLCONFIGDIR="/tmp/.matplotlib",
                    PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
                    PYTHONDONTWRITEBYTECODE="1", GRADER_EVENTS_FD=str(self._events_write),
                    GRADER_EVIDENCE=os.path.join(cwd, evidence.FOLDER),
                    TF_XLA_FLAGS=f"--tf_xla_persistent_cache_directory={XLA_CACHE}",
                    GRADER_READ_ONLY=os.pathsep.join(target for _, target in self.read_only))
        for name, value in sorted(kept.items()):
            wrap += ["--setenv", name, value]
        seccomp = os.path.join(self.run_dir, "seccomp.bpf")
        if not os.path.exists(seccomp):
            with open(seccomp + ".new", "wb") as handle:
                handle.write(seccomp_filter())
            os.replace(seccomp + ".new", seccomp)
        wrap[1:1] = ["--seccomp", "9"]
        # jupyter_client interrupts with killpg(SIGINT): bwrap's monitor must ignore it (ipykernel
        # installs its own handler), or an interrupted cell would end the kernel.
        shell = ["/bin/sh", "-c", 'f=$1; shift; trap "" INT; umask 022; exec "$@" 9<"$f"', "sandbox", seccomp]
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
        return shell + limits + wrap + ["--"] + drop + list(cmd)

    # --- hard wall-time limit and clean-up --------------------------------------------------------
    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.wall_limit:
            self._wall_timer = asyncio.get_running_loop().call_later(self.wall_limit, self._wall_kill)

    def _wall_kill(self):
        group = getattr(self.provisioner, "pgid", None)
        self.log.error("The kernel ran past its wall-time limit (%s s) and was killed", self.wall_limit)
        self.events.append(("time limit", f"the kernel was killed after {self.wall_limit:g} s"))
        if group:
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass

    def _keep_evidence(self) -> None:
        """Copy what the hidden test cells wrote down out of the kernel's private folder before it is
        deleted (bounded: at most MAX_CHECKS folders)."""
        from .evidence import FOLDER, MAX_BYTES, MAX_CHECKS, MAX_FILES

        target = getattr(self, "evidence_target", None)
        source = self._kernel_folder("work", FOLDER)
        if target and source:
            for check in sorted(os.listdir(source))[:MAX_CHECKS]:
                if self._kernel_folder("work", FOLDER, check):
                    _copy_files(os.path.join(source, check), os.path.join(target, check), MAX_FILES, MAX_BYTES)

    def _kernel_folder(self, *parts) -> str | None:
        """sandbox_dir/<parts> if it is a folder reached through no link (the kernel owns them all)."""
        path = os.path.realpath(self.sandbox_dir)
        for part in parts:
            path = os.path.join(path, part)
            if os.path.islink(path) or not os.path.isdir(path):
                return None
        return path

    def _copy_warm_cache(self) -> None:
        """Start the kernel with XLA's cache folder (TensorFlow writes into it only if it exists),
        holding a private copy of the assignment's warm cache (`warm_cache`) if there is one."""
        source = getattr(self, "warm_cache", None)
        target = os.path.join(self.sandbox_dir, "tmp", os.path.basename(XLA_CACHE))
        if os.path.exists(target):  # a restarted kernel keeps its own
            return
        if source and os.path.isdir(source):
            shutil.copytree(source, target)
        else:
            os.mkdir(target)
        self._hand_over(target)

    def _hand_over(self, folder: str) -> None:
        """Make everything under `folder` the kernel's own (its uid)."""
        for root, dirs, files in os.walk(folder):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, self.sandbox_uid, self.sandbox_uid)

    def _keep_cache(self) -> None:
        """For the warm-up run of a solution only: keep what XLA compiled (`cache_target`)."""
        target = getattr(self, "cache_target", None)
        source = self._kernel_folder("tmp", os.path.basename(XLA_CACHE))
        if target and source:
            _copy_files(source, target, max_files=10_000, max_bytes=1024**3)

    def _read_events(self) -> None:
        """What the kernel reported (grader_tests.watch), as far as the grader can check it against the
        sandbox's own rules (integrity.checked_report): the kernel can write into its report."""
        chunks = []
        try:
            while chunk := os.read(self._events_read, 65536):
                chunks.append(chunk)
        except BlockingIOError:
            pass
        writable = [os.path.realpath(getattr(self, "kernel_cwd", None) or "/nonexistent"), "/tmp", "/dev"]
        read_only = [target for _, target in self.read_only]
        self.events += integrity.checked_report(b"".join(chunks), writable, read_only)

    def _release(self) -> None:
        """Delete the kernel's folder (which frees its uid) and close its report."""
        timer = getattr(self, "_wall_timer", None)
        if timer:
            timer.cancel()
        shutil.rmtree(self.sandbox_dir, ignore_errors=True)
        self.sandbox_dir = None
        for fd in (self._events_read, self._events_write):
            os.close(fd)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "sandbox_dir", None):
            self._keep_evidence()
            self._keep_cache()
            self._read_events()
            self._release()

    # AsyncKernelManager binds cleanup_resources to the base class's function, and nbclient calls it
    # (not shutdown_kernel) when the kernel has died: bind it to the override.
    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(Execute):
    """nbgrader's Execute with sandboxed kernels and a time budget for the whole notebook.

    nbgrader 0.9.6's Execute sets `kernel_manager_class` in its own keyword arguments, which beat
    the configuration: hence a subclass, put in place by `install`."""

    notebook_timeout = Integer(0, config=True, help="seconds for all cells together (0: no budget)")
    sandbox = Bool(True, config=True, help="run kernels in the sandbox; False runs students' code with your rights")
    outside_verdicts = Bool(True, config=True, help="judge the test cells outside the kernel; False (only to measure "
                                                    "what they cost) scores what the kernel shows, which it can forge")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        problem = why_unavailable() if self.sandbox else "--SandboxedExecute.sandbox=False was given"
        if problem is None:
            self.kernel_manager_class = SandboxKernelManager
        elif self.sandbox:
            raise SandboxUnavailable(
                f"refusing to run students' notebooks without the sandbox: {problem}. Install what it needs "
                "(see the README), or grade without it with --SandboxedExecute.sandbox=False")
        else:
            self.log.warning("Grading WITHOUT the sandbox (%s): students' code runs with your rights", problem)
        if not self.outside_verdicts:
            self.log.warning("Grading WITHOUT outside verdicts: the points are what the student's kernel shows")

    _warm_failed: set = set()  # assignments whose solution could not warm the cache, in this process

    def create_kernel_manager(self):
        manager = super().create_kernel_manager()
        manager.evidence_target = getattr(self, "_evidence_dir", None)
        manager.warm_cache = getattr(self, "_warm_cache", None)
        self._manager = manager
        return manager

    def warm_cache(self, assignment: str | None, notebook: str | None) -> str | None:
        """The folder of XLA's compiled training steps of the assignment's own solution
        (source/<assignment>/<notebook>.ipynb), made once per course folder by running that notebook
        in the sandbox. Each student's kernel starts with a private copy: a model like the solution's
        skips the compilation, and no kernel can change what another one starts with."""
        if self.kernel_manager_class is not SandboxKernelManager or not assignment or not notebook \
                or assignment in self._warm_failed:
            return None
        source = os.path.join(os.getcwd(), "source", assignment, notebook + ".ipynb")
        target = os.path.join(os.getcwd(), WARM_CACHES, assignment)
        if os.path.isdir(target):
            return target
        if not os.path.isfile(source):
            return None
        with open(source) as handle:
            if "jit_compile=True" not in handle.read():
                return None
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one warm-up per assignment, even when classes are graded in parallel
            if not os.path.isdir(target):
                try:
                    self._run_solution(source, target)
                except Exception as error:  # grading goes on with a cold cache
                    self.log.warning("Warming XLA's cache with %s failed: %s", source, error)
        if not os.path.isdir(target):
            self._warm_failed.add(assignment)  # not tried again in this run
            return None
        return target

    def _run_solution(self, source: str, target: str) -> None:
        import nbformat
        from jupyter_core.utils import run_sync
        from nbclient import NotebookClient

        started = time.monotonic()
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        manager = SandboxKernelManager(config=self.config, kernel_name=self.kernel_name or "python3")
        manager.cache_target = partial
        client = NotebookClient(nbformat.read(source, as_version=4), km=manager, timeout=self.timeout,
                                allow_errors=True, resources={"metadata": {"path": os.path.dirname(source)}})
        try:
            client.execute()
        finally:
            if manager.has_kernel:  # a kernel manager handed to nbclient is left running
                run_sync(manager.shutdown_kernel)(now=True)
        if os.path.isdir(partial):
            os.replace(partial, target)
            self.log.info("XLA's cache warmed with %s in %.1f s", source, time.monotonic() - started)

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook, then give each hidden test cell the grader's verdict, computed outside the
        kernel from the evidence its cell wrote down (grader_tests.outside), and report what the
        sandbox refused it (grader_tests.integrity)."""
        from nbclient.exceptions import DeadKernelError

        from . import evidence, outside

        self._deadline = time.monotonic() + self.notebook_timeout if self.notebook_timeout else None
        self._events, self._manager = [], None
        info = (resources or {}).get("nbgrader", {})
        who = (info.get("student"), info.get("assignment"), info.get("notebook"))
        cwd = ((resources or {}).get("metadata") or {}).get("path") or os.getcwd()
        planted = os.path.join(cwd, evidence.FOLDER)
        shutil.rmtree(planted, ignore_errors=True)  # evidence is what this run writes, not what was handed in
        judged = bool(outside.test_cells(nb)) and self.outside_verdicts
        if judged:
            outside.judge.start()
        try:
            self._warm_cache = self.warm_cache(who[1], who[2])
            with tempfile.TemporaryDirectory(prefix="grader-evidence-") as evidence_dir:
                self._evidence_dir = evidence_dir
                try:
                    nb, resources = super().preprocess(nb, resources, km)
                except DeadKernelError:
                    self._events.append(("kernel died", "the kernel ended before the notebook did (its own exit, "
                                                        "or the memory or process limit)"))
                    raise
                finally:
                    self._events[:0] = getattr(self._manager, "events", [])
                if self.kernel_manager_class is not SandboxKernelManager and os.path.isdir(planted):
                    shutil.copytree(planted, evidence_dir, dirs_exist_ok=True, symlinks=True)
                shutil.rmtree(planted, ignore_errors=True)
                if judged:
                    self._apply_verdicts(nb, who, evidence_dir)
                self._events += integrity.limits_shown(nb)
        finally:
            self._report(who)
        return nb, resources

    def _apply_verdicts(self, nb, who, evidence_dir):
        """Judge the evidence outside the kernel and give each test cell its verdict. The assignment is
        nbgrader's (a validation, which has none, takes the one its test cells name); the judge also
        reads the cells' source, to compare what the kernel handed over with what the cells set."""
        from . import outside

        named = {assignment for _, assignment, _ in outside.hidden_checks(nb)}
        assignment_id = who[1] or (named.pop() if len(named) == 1 else None)
        sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
        try:
            if assignment_id is None:
                raise RuntimeError("its test cells name no single assignment")
            verdicts = outside.judge(evidence_dir, assignment_id, sources)
        except Exception as error:
            self.log.error("The grader could not judge %s / %s: %s", who[0], who[1], error)
            verdicts = {name: {"passed": False, "title": "Grading", "printed": "",
                               "message": f"the grader could not judge this notebook ({error}); tell your instructor"}
                        for _, name in outside.test_cells(nb) if name}
        for name, verdict in verdicts.items():
            if verdict.get("flag"):
                self._events.append(tuple(verdict["flag"]))
        for check, shown, verdict in outside.apply(nb, verdicts):
            self._events.append(("verdict overruled", f"test_{check}: the kernel showed {shown}, "
                                                      f"the grader's verdict: {verdict}"))

    def _report(self, who):
        """The integrity section of this notebook in the log, and its rows in integrity.csv (autograde
        only: a validation has no student)."""
        if who[0] is None:
            return
        text = integrity.section(who, self._events)
        if text:
            self.log.warning(text)
        integrity.record(os.getcwd(), who, self._events)

    async def _async_handle_timeout(self, timeout, cell=None):
        number = next((i for i, c in enumerate(self.nb.cells, start=1) if c is cell), "?")
        self._events.append(("time limit", f"cell {number} stopped after {timeout} s"))
        return await super()._async_handle_timeout(timeout, cell)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if getattr(self, "_deadline", None) and cell is not None:
            left = max(1, int(self._deadline - time.monotonic()))
            timeout = left if timeout is None else min(timeout, left)
        return timeout


def install(c, read_only, notebook_timeout: int, **kernel_options) -> None:
    """From nbgrader_config.py: run every kernel of `nbgrader autograde` and `nbgrader validate` in the
    sandbox. `read_only`: (host path, sandbox path) pairs; `kernel_options`: SandboxKernelManager traits."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.validator import Validator

    autograde = list(Autograde.class_traits()["autograde_preprocessors"].default())
    c.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p for p in autograde]
    # Validator.preprocessors is not configurable in nbgrader 0.9.6: change its default instead.
    validator = Validator.class_traits()["preprocessors"]
    validator.default_args = ([SandboxedExecute if p is Execute else p for p in validator.default()],)
    c.SandboxedExecute.notebook_timeout = notebook_timeout
    c.SandboxKernelManager.read_only = [tuple(pair) for pair in read_only]
    c.SandboxKernelManager.wall_limit = float(notebook_timeout + 120)
    for name, value in kernel_options.items():
        setattr(c.SandboxKernelManager, name, value)
