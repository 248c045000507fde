"""Every kernel that runs a student's notebook under the course's nbgrader runs in a sandbox.

`install(c, ...)` in nbgrader_config.py swaps nbgrader's Execute for `SandboxedExecute` in
`nbgrader autograde` (and in an instructor's `nbgrader validate`). Each kernel then runs:

- as its own unprivileged uid (62000 and up, one per running kernel, so process limits are its own)
  when nbgrader runs as root; run by an ordinary account (a Formgrader hub service), in a user
  namespace of its own instead (`--unshare-user`: uid 62000 inside, the grader's account outside;
  see "Grading as an ordinary account" in docs/deployment.md for what differs);
- in bubblewrap (Debian's `bubblewrap`): a filesystem that shows only /usr, a few /etc files, the
  Python environment, the grading kit, the student library and the data, all read-only, plus a
  private copy of the notebook's folder and a private /tmp, the only places it can write; the
  course's source/, solutions/, gradebook and other students' folders do not exist for it;
- with no network (its own empty network namespace), its own pid, ipc and uts namespaces, a
  seccomp filter against new namespaces and mounts, and no capabilities;
- under rlimits: address space (memory), processes, file size, open files;
- under limits of the notebook as a whole (grader_tests/plugins/limits.py): the memory of all its processes
  together (a cgroup per kernel, or a watcher), the disk it writes (its writable folders are one
  tmpfs), the output it shows (per cell and per notebook) and the size of each message it sends;
- within a wall-time budget for the whole notebook, and a hard kill past it; a cell that ignores the
  interrupt at its timeout has its kernel stopped. A kernel that ends early leaves its notebook
  graded as far as it ran.

The kernel talks to nbclient over ZeroMQ's ipc transport: unix sockets in its own folder, which
both sides see at the same path (a new network namespace cannot reach the grader's loopback).

Where the sandbox cannot be set up (no bwrap, no user namespaces for an ordinary account, not Linux),
grading refuses to start unless
the instructor passes ``--SandboxedExecute.sandbox=False``, and then warns that it grades without
one (the same option grades unconfined anywhere, for a comparison of costs).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import json
import os
import queue
import shutil
import signal
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, List, Tuple, Unicode, default

from .. import evidence
from . import integrity, limits, warm_pool

XLA_CACHE = "/tmp/xla-cache"  # in the sandbox (its private /tmp): XLA's compiled steps (TF_XLA_FLAGS)
WARM_CACHES = os.path.join(".grader_cache", "xla")  # in the course folder: one per assignment, from its solution
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "hosts", "ssl", "ca-certificates", "mime.types", "fonts"]


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine; the message says why and what to do."""


ROOTLESS_UID = 62000  # the kernel's uid inside its user namespace, when the grader is an ordinary account


def rootless() -> bool:
    """The grader is an ordinary account: each kernel gets a user namespace instead of a uid of its own."""
    return os.geteuid() != 0


_userns_checked: dict = {}


def _user_namespace_problem(bwrap: str) -> str | None:
    """Why bwrap cannot make a user namespace for this account (None: it can), tried once per process."""
    if bwrap not in _userns_checked:
        try:
            done = subprocess.run([bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
                                   "--", "true"], capture_output=True, text=True, timeout=60)
            error = None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")
        except (OSError, subprocess.SubprocessError) as failure:
            error = str(failure)
        _userns_checked[bwrap] = None if error is None else (
            f"bwrap cannot make a user namespace for this account ({error}): allow unprivileged user namespaces "
            "(Debian 11: sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04: an AppArmor profile for bwrap, "
            "or sysctl kernel.apparmor_restrict_unprivileged_userns=0), or grade as root")
    return _userns_checked[bwrap]


def why_unavailable(bwrap: str = "bwrap") -> str | None:
    """None when this machine can run sandboxed kernels, else the reason."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    needed = (bwrap, "prlimit") if rootless() else (bwrap, "setpriv", "prlimit")
    for tool in needed:
        if shutil.which(tool) is None:
            return (f"`{tool}` is not installed (Debian: "
                    + ("apt-get install bubblewrap util-linux)" if not rootless() else
                       "ask an administrator to run `apt-get install bubblewrap util-linux`)"))
    return _user_namespace_problem(bwrap) if rootless() else None


def default_run_dir() -> str:
    """Where the kernels' folders live: a root-owned folder under /run as root, else a folder of the
    account's own (its runtime folder, or /tmp)."""
    if not rootless():
        return "/run/rnn-course-sandbox"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    with contextlib.suppress(OSError):
        if runtime and os.stat(runtime).st_uid == os.geteuid():
            return os.path.join(runtime, "rnn-course-sandbox")
    return os.path.join(tempfile.gettempdir(), f"rnn-course-sandbox-{os.geteuid()}")


UID_LOCKS = "/run/rnn-course-kernel-uids"  # one lock file per kernel uid in use, for every grader of the machine


def make_run_dir(folder: str) -> None:
    """The kernels' folder, made if missing; refused when someone else could have put it there (a
    shared /tmp): it must be a folder, not a link, of this account, that no one else can write."""
    os.makedirs(folder, mode=0o711 if not rootless() else 0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{folder} is not a folder of this account that only it can write; remove it, "
                                 "or name another with --SandboxKernelManager.run_dir")


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


def remove_tree(folder: str) -> None:
    """Delete a kernel's folder. The kernel may have taken the rights off folders of its own, which
    keeps an ordinary account (though their owner) from listing and emptying them: each folder
    gets them back first, found without following links."""
    if rootless():
        stack = [folder]
        while stack:
            path = stack.pop()
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    os.chmod(path, 0o700)
                    with os.scandir(path) as entries:
                        stack.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
    shutil.rmtree(folder, ignore_errors=True)


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


def _disk_full(error) -> bool:
    """The error (of a copy) says the disk is full."""
    return getattr(error, "errno", None) == errno.ENOSPC or "[Errno 28]" in str(error)


NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _open_below(start: str, parts) -> int | None:
    """A descriptor of start/parts..., each part a folder opened without following a link; None if not."""
    try:
        fd = os.open(start, NO_FOLLOW | os.O_DIRECTORY)
    except OSError:
        return None
    found = _open_below_fd(fd, parts)
    os.close(fd)
    return found


def _open_below_fd(fd: int, parts) -> int | None:
    current = os.dup(fd)
    for part in parts:
        try:
            following = os.open(part, NO_FOLLOW | os.O_DIRECTORY, dir_fd=current)
        except OSError:  # missing, a file, or a link (ELOOP / ENOTDIR)
            os.close(current)
            return None
        os.close(current)
        current = following
    return current


def _copy_files_fd(source: int, target: str, max_files: int, max_bytes: int) -> None:
    """Copy the regular files of the folder `source` (a descriptor) into `target`, within the bounds."""
    os.makedirs(target, exist_ok=True)
    copied = 0
    for name in sorted(os.listdir(source))[:max_files]:
        try:
            handle = os.open(name, NO_FOLLOW, dir_fd=source)
        except OSError:  # a link, or gone
            continue
        try:
            info = os.fstat(handle)
            if not stat.S_ISREG(info.st_mode) or copied + info.st_size > max_bytes:
                continue
            with open(os.path.join(target, os.path.basename(name)), "wb") as out:
                left = max_bytes - copied
                while left > 0 and (chunk := os.read(handle, min(1 << 20, left))):
                    out.write(chunk)
                    left -= len(chunk)
                    copied += len(chunk)
        finally:
            os.close(handle)


def watched(cmd: list) -> list:
    """The kernel command with ipykernel started by grader_tests.kernel.watch, which reports denied attempts
    (given as `python -c SOURCE`: the kernel needs no access to the kit to start)."""
    from ..kernel import watch

    cmd = list(cmd)
    for i in range(len(cmd) - 1):
        if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
            with open(watch.__file__) as handle:
                cmd[i:i + 2] = ["-c", handle.read()]
            break
    return cmd


async def _connected(client, wait_for_ready, timeout=None) -> None:
    """A new client of a kernel that answered another client before is ready once the reply to its
    own request and the kernel's idle status after it both came back: both channels are connected.
    (jupyter_client's own wait, `wait_for_ready`, also listens for 0.2 s of silence on IOPub.)"""
    request = client.kernel_info()
    try:
        while (await client.get_shell_msg(timeout=5))["parent_header"].get("msg_id") != request:
            pass
        while True:
            message = await client.get_iopub_msg(timeout=1)
            if message["parent_header"].get("msg_id") == request and message["msg_type"] == "status" \
                    and message["content"].get("execution_state") == "idle":
                return
    except queue.Empty:  # a subscription that came too late, say: jupyter_client's own wait
        await wait_for_ready(timeout)


class SandboxKernelManager(limits.BoundedSockets, AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox (see the module's docstring); its sockets, and
    its clients', are bounded (`limits.BoundedSockets`)."""

    run_dir = Unicode(config=True, help="the grader's own folder of the kernels' folders (default: "
                                        "/run/rnn-course-sandbox as root, else $XDG_RUNTIME_DIR/rnn-course-sandbox "
                                        "or /tmp/rnn-course-sandbox-<uid>)")
    uid_base = Integer(62000, config=True, help="first uid given to a kernel")
    uid_count = Integer(1000, config=True)
    read_only = List(Tuple(Unicode(), Unicode()), config=True,
                     help="(host path, path in the sandbox) pairs the kernel may read: the kit, the library, the data")
    memory_limit = Integer(6 * 1024**3, config=True, help="address space of each of the kernel's processes, bytes "
                                                         "(RLIMIT_AS; 0: none)")
    notebook_memory_limit = Integer(6 * 1024**3, config=True,
                                    help="memory of all the kernel's processes together, bytes: a cgroup per kernel, or "
                                         "a watcher where no cgroup can be made (grader_tests.plugins.limits; 0: none)")
    cgroup_parent = Unicode("", config=True, help="a writable memory cgroup folder to make the kernels' cgroups in "
                                                  "('': the grader's own cgroup, if it can hold children)")
    disk_limit = Integer(1024**3, config=True, help="bytes the kernel may write in all (its folder is a tmpfs this big)")
    disk_files_limit = Integer(100_000, config=True, help="files and folders the kernel's tmpfs may hold")
    max_message_size = Integer(8 * 1024**2, config=True, help="largest message taken from the kernel, bytes (ZeroMQ "
                                                              "drops a bigger one)")
    receive_hwm = Integer(4, config=True, help="messages queued per socket in the grader (more wait in the kernel)")
    process_limit = Integer(256, config=True, help="processes and threads of the kernel's uid (RLIMIT_NPROC)")
    file_size_limit = Integer(512 * 1024**2, config=True, help="largest file the kernel may write, bytes")
    open_files_limit = Integer(1024, config=True)
    wall_limit = Float(0, config=True, help="seconds after which the kernel is killed (0: never)")
    pass_env = List(Unicode(), config=True, help="environment variables the kernel gets from the grader")
    bwrap = Unicode("bwrap", config=True)
    preload = List(Unicode(), help="modules the kernel imports as it starts (its assignment's set-up cell's: "
                                   "grader_tests.plugins.warm_pool)")

    @default("pass_env")
    def _pass_env_default(self):
        import rnn_course
        from rnn_course.data import ENV_VAR

        return ["PYTHONPATH", "LANG", "LC_ALL", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
                *rnn_course.THREAD_VARIABLES, *rnn_course.TENSORFLOW_ENVIRONMENT, ENV_VAR]

    @default("run_dir")
    def _run_dir_default(self):
        return default_run_dir()

    @property
    def rootless(self) -> bool:
        return rootless()

    @default("transport")
    def _transport_default(self):
        return "ipc"

    @default("client_factory")
    def _client_factory_default(self):
        return limits.BoundedKernelClient

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

    def _claim_uid(self, candidates) -> int:
        """The first of `candidates` no other kernel on this machine holds, held until `_release`: a lock
        per uid in UID_LOCKS, since graders with other run folders (two courses, pytest's workers) pick
        from the same uids, and two kernels of one uid could see, and kill, each other."""
        make_run_dir(UID_LOCKS)
        for uid in candidates:
            handle = os.open(os.path.join(UID_LOCKS, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            self._uid_lock = handle
            return uid
        raise SandboxUnavailable(f"all {self.uid_count} kernel uids from {self.uid_base} are in use")

    def _claim_uid_and_folder(self) -> None:
        make_run_dir(self.run_dir)
        with open(os.path.join(self.run_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._sweep_stale()
            folder = os.path.join(self.run_dir, "k-" + uuid.uuid4().hex[:16])
            if self.rootless:  # the kernel's processes are the grader's account, in a user namespace of their own
                uid = os.geteuid()
                os.mkdir(folder, 0o700)
            else:
                used = self._uids_in_use()
                uid = self._claim_uid(u for u in range(self.uid_base, self.uid_base + self.uid_count) if u not in used)
                os.mkdir(folder, 0o700)
                os.chown(folder, uid, uid)
            self._owner = {"pid": os.getpid(), "start": limits.process_start(os.getpid()),
                           "pid_namespace": os.stat("/proc/self/ns/pid").st_ino}
            self._write_owner(folder)
        self.sandbox_uid, self.sandbox_dir = uid, folder
        self._mount_disk()
        for sub in ("tmp", "work"):
            os.mkdir(os.path.join(folder, sub), 0o700)
            self._hand_over(os.path.join(folder, sub))

    def _write_owner(self, folder: str) -> None:
        """<folder>.owner (root's, beside the kernel's folder, which the kernel could write): which grader
        process made the folder, and the kernel's cgroup, for `_sweep_stale`."""
        with open(folder + ".owner.new", "w") as handle:
            json.dump(self._owner, handle)
        os.replace(folder + ".owner.new", folder + ".owner")

    def _sweep_stale(self) -> None:
        """Remove what the kernels of a grader that ended without cleaning up (SIGKILL) left: their
        processes, tmpfs, cgroup and folder (which hold memory and a uid). Under the run folder's lock."""
        here = os.stat("/proc/self/ns/pid").st_ino
        for name in os.listdir(self.run_dir):
            if not (name.startswith("k-") and name.endswith(".owner")):
                continue
            owner_file = os.path.join(self.run_dir, name)
            try:
                with open(owner_file) as handle:
                    owner = json.load(handle)
                if owner["pid_namespace"] != here or limits.process_start(owner["pid"]) == owner["start"]:
                    continue  # its grader still runs (or is out of sight)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            folder = owner_file[:-len(".owner")]
            with contextlib.suppress(OSError):
                uid = os.stat(folder).st_uid
                if not self.rootless and self.uid_base <= uid < self.uid_base + self.uid_count:
                    for pid in limits.uid_processes(uid):
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
            if self.rootless:  # its kernel dies with its grader, but not at once on a busy machine
                limits.kill_and_wait(lambda: limits.processes_naming(folder), seconds=10)
            if owner.get("cgroup"):
                limits.MemoryCgroup(owner.get("cgroup_version", 1), owner["cgroup"], 0).remove(wait=2)
            with contextlib.suppress(OSError):
                limits.unmount(folder)
            remove_tree(folder)
            with contextlib.suppress(OSError):
                os.remove(owner_file)
            self.log.warning("Removed %s, left by a grader that ended without cleaning up", folder)

    # --- limits on the notebook as a whole (grader_tests.plugins.limits) ------------------------------------
    _tmpfs_warned = False

    def _mount_disk(self) -> None:
        """The kernel's folder (its notebook folder's copy, its /tmp, kernel.json, sockets) becomes a
        tmpfs of `disk_limit` bytes, owned by the kernel's uid."""
        self.tmpfs = False
        if self.disk_limit and self.rootless:  # only root mounts: the watcher adds up the folder instead
            if not SandboxKernelManager._tmpfs_warned:
                SandboxKernelManager._tmpfs_warned = True
                self.log.info("An ordinary account mounts no tmpfs: the kernels' disk use is watched")
        elif self.disk_limit:
            error = limits.mount_tmpfs(self.sandbox_dir, self.disk_limit, self.disk_files_limit, self.sandbox_uid)
            self.tmpfs = error is None
            if error and not SandboxKernelManager._tmpfs_warned:
                SandboxKernelManager._tmpfs_warned = True
                self.log.warning("No tmpfs for the kernels' folders (%s): their disk use is watched instead", error)

    def _make_cgroup(self) -> None:
        """The kernel's memory cgroup (None where none can be made: the watcher sums its uid's memory)."""
        self.cgroup = None
        if self.notebook_memory_limit:
            self.cgroup = limits.MemoryCgroup.make("rnn-course-" + os.path.basename(self.sandbox_dir),
                                                   self.notebook_memory_limit, self.cgroup_parent)
            if self.cgroup is not None:
                self._owner.update(cgroup=self.cgroup.path, cgroup_version=self.cgroup.version)
                self._write_owner(self.sandbox_dir)
            if self.cgroup is None and not SandboxKernelManager._cgroup_warned:
                SandboxKernelManager._cgroup_warned = True
                self.log.warning("No writable memory cgroup: the memory of each kernel's processes is watched "
                                 "from /proc instead (see grader_tests/plugins/limits.py)")

    _cgroup_warned = False

    def kill_all(self, pids=()) -> None:
        """SIGKILL the kernel: its process group (while its leader runs: a reaped one's id may be reused),
        its cgroup, and `pids` (processes of its uid), and as an ordinary account every process of its pid
        namespace."""
        if self.rootless:
            pids = list(pids) + list(self.kernel_processes())
        group = getattr(self.provisioner, "pgid", None)
        process = getattr(self.provisioner, "process", None)
        if group and process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGKILL)
        if getattr(self, "cgroup", None):
            self.cgroup.kill()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def _start_watcher(self) -> None:
        if getattr(self, "watcher", None) is None or not self.watcher.is_alive():
            self.watcher = limits.Watcher(processes=self.kernel_processes, kill=self.kill_all, cgroup=self.cgroup,
                                          memory_limit=self.notebook_memory_limit, folder=self.sandbox_dir,
                                          tmpfs=self.tmpfs, disk_limit=self.disk_limit,
                                          files_limit=self.disk_files_limit)
            self.watcher.start()

    def kernel_processes(self) -> dict:
        """pid -> bytes held (Pss) by each of the kernel's processes: those of its uid as root; as an
        ordinary account (whose kernels all run as its uid), those in the kernel's pid namespace."""
        if not self.rootless:
            return limits.uid_processes(self.sandbox_uid)
        if not getattr(self, "pid_namespace", None):
            process = getattr(self.provisioner, "process", None)
            self.pid_namespace = limits.child_namespace(process.pid) if process is not None else None
        return limits.namespace_processes(self.pid_namespace) if self.pid_namespace else {}

    def _check_limits(self) -> None:
        """After the kernel: the limits it reached, as events of the integrity report, and what it used
        (`usage`, for the log)."""
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.stop()
            if self.tmpfs:
                watcher.disk_full = watcher.disk_full or limits.is_full(self.sandbox_dir)
        cgroup = getattr(self, "cgroup", None)
        over_memory = bool(watcher and watcher.over_memory) or bool(cgroup and cgroup.oom_kills())
        if over_memory:
            self.stopped_for = self.stopped_for or "memory"
            self.events.append(("memory limit", f"all processes together used more than "
                                                f"{limits.human(self.notebook_memory_limit)}; the kernel was stopped"))
        if watcher is not None and watcher.over_disk:
            self.stopped_for = self.stopped_for or "disk"
        if watcher is not None and (watcher.disk_full or watcher.over_disk):
            self.events.append(("disk full", f"the notebook's folder and /tmp reached their "
                                             f"{limits.human(self.disk_limit)} (No space left on device)"
                                             + ("; the kernel was stopped" if watcher.over_disk else "")))
        peak = cgroup.peak() if cgroup else (watcher.peak_rss if watcher else None)
        used = None
        if self.tmpfs:
            with contextlib.suppress(OSError):
                info = os.statvfs(self.sandbox_dir)
                used = (info.f_blocks - info.f_bfree) * info.f_frsize
        self.usage = {"memory_peak": peak, "disk_used": used}
        self.log.debug("Kernel %s used: memory %s at most, disk %s", os.path.basename(self.sandbox_dir),
                       limits.human(peak) if peak else "?", limits.human(used) if used is not None else "?")

    def _log_kernel_output(self) -> None:
        """The kernel's own stdout and stderr (not the notebook's: ipykernel's log, crashes) went to a file
        in its folder; its end goes to the debug log. Read through the descriptor opened when the file was
        made: the kernel may since have put a link, a FIFO or a huge file at that path."""
        handle = getattr(self, "_kernel_log_read", None)
        if handle is None:
            return
        with contextlib.suppress(OSError):
            tail = os.pread(handle, 4096, max(0, os.fstat(handle).st_size - 4096)).decode(errors="replace").strip()
            if tail:
                self.log.debug("The kernel's own output ended with:\n%s", tail)
        os.close(handle)
        self._kernel_log_read = None

    async def _async_pre_start_kernel(self, **kw):
        ahead = kw.pop("ahead", False)  # started before its notebook is known (warm_pool): no folder to copy yet
        restart = bool(getattr(self, "sandbox_dir", None))
        if not restart:  # a restart keeps its uid, folder, sockets and report
            self._claim_uid_and_folder()
            self.connection_file = os.path.join(self.sandbox_dir, "kernel.json")
            self.ip = os.path.join(self.sandbox_dir, "ipc")  # an absolute ipc address: <ip>-1 ... <ip>-5
            self._events_read, self._events_write = os.pipe()  # the kernel's report (grader_tests.kernel.watch)
            os.set_blocking(self._events_read, False)
            os.set_blocking(self._events_write, False)
            self.events = []
            self.stopped_for = None  # "memory", "disk", "time": why the grader stopped the kernel
            self._make_cgroup()
        notebook_folder = None if ahead or restart else os.path.realpath(kw.get("cwd") or os.getcwd())
        self.kernel_cwd = os.path.join(self.sandbox_dir, "work")  # the notebook folder's copy, its working folder
        kw["cwd"] = self.sandbox_dir
        self._ahead = ahead
        try:
            cmd, kw = await super()._async_pre_start_kernel(**kw)  # writes kernel.json (0600)
            self._hand_over(self.connection_file)
            self._copy_warm_cache()
            if notebook_folder:
                self._receive_notebook(notebook_folder)
            # the kernel's own stdout and stderr (ipykernel's log, a crash), bounded by its disk limit
            log = os.path.join(self.sandbox_dir, "kernel.log")
            self._kernel_log = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            if getattr(self, "_kernel_log_read", None) is None:
                self._kernel_log_read = os.open(log, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except BaseException:
            self._release()
            raise
        kw["pass_fds"] = (self._events_write,)
        kw["stdout"] = kw["stderr"] = self._kernel_log
        cmd = watched(cmd) + [f"--IPKernelApp.exec_lines={line}" for line in warm_pool.import_lines(self.preload)]
        return self.sandbox_command(cmd, self.kernel_cwd, kw.get("env") or os.environ), kw

    def _receive_notebook(self, notebook_folder: str) -> None:
        """Copy the notebook's folder into the kernel's (once: a restarted kernel keeps its own)."""
        work = os.path.join(self.sandbox_dir, "work")
        if os.listdir(work):
            return
        try:
            shutil.copytree(notebook_folder, work, dirs_exist_ok=True, symlinks=True, ignore=_special_files)
        except (OSError, shutil.Error) as error:
            if not _disk_full(error):
                raise
            self.events.append(("disk full", f"the notebook's folder is bigger than the "
                                             f"{limits.human(self.disk_limit)} its kernel may write: "
                                             "not all of it was copied"))
        self._hand_over(work)

    # --- a kernel started ahead (grader_tests.plugins.warm_pool) --------------------------------------
    started_ahead = None  # the task that started this manager's kernel before its notebook was known

    async def _async_start_kernel(self, **kw):
        if not kw.get("ahead") and self.started_ahead is not None and await self.adopt(kw.get("cwd")):
            return None
        return await AsyncKernelManager.start_kernel(self, **kw)

    start_kernel = _async_start_kernel

    async def adopt(self, notebook_folder: str | None) -> bool:
        """Give the kernel started ahead its notebook's folder. False if it cannot be used (`_unused`
        says why): it is then stopped, and this manager starts a kernel afresh when asked."""
        task, self.started_ahead = self.started_ahead, None
        problem = await self._unused(task)
        if problem is None:
            self._receive_notebook(os.path.realpath(notebook_folder or os.getcwd()))
            self._start_wall_timer()
            self._answered = True
            self.log.info("The notebook runs in a kernel started ahead (%s)", os.path.basename(self.sandbox_dir))
            return True
        self.log.warning("The kernel started ahead is not used (%s): a kernel is started for this notebook", problem)
        self.stop_now()  # not jupyter_client's shutdown, which would close this manager's ZeroMQ context
        self._close_control_socket()
        if self.provisioner is not None:
            await self.provisioner.cleanup(restart=False)
            self.provisioner = None
        return False

    async def _unused(self, task) -> str | None:
        """None if the kernel started ahead is alive, has run no notebook's code and reported nothing,
        and its notebook folder is still empty; else what is wrong with it."""
        try:
            await task
        except BaseException as error:  # noqa: BLE001 (a cancelled start too)
            return f"it did not start: {error!r}"[:200]
        if not await self.is_alive():
            return "it ended"
        try:
            reported = os.read(self._events_read, 1)
        except BlockingIOError:
            reported = b""
        if reported:
            return "it reported an event before its notebook ran"
        if os.listdir(os.path.join(self.sandbox_dir, "work")):
            return "its notebook folder is not empty"
        return None

    _answered = False  # its kernel has answered a client already: it is ready

    def client(self, **kwargs):
        client = super().client(**kwargs)
        if self._answered:
            client.wait_for_ready = functools.partial(_connected, client, client.wait_for_ready)
        return client

    def stop_now(self) -> None:
        """Kill the kernel and remove everything it made, at once (synchronous: also at the process's end)."""
        self.kill_all()
        process = getattr(self.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        if getattr(self, "sandbox_dir", None):
            try:
                self._check_limits()
            finally:
                self._release()

    def sandbox_command(self, cmd, cwd, env) -> list:
        uid, folder = str(self.sandbox_uid), self.sandbox_dir
        limits = ["prlimit", f"--nofile={self.open_files_limit}", f"--fsize={self.file_size_limit}", "--core=0"]
        if self.memory_limit:
            limits.append(f"--as={self.memory_limit}")
        if self.rootless:
            # bwrap makes a user namespace (uid ROOTLESS_UID inside, the grader's account outside) and
            # drops every capability in it. Processes are counted per user and namespace: set inside, the
            # limit counts this kernel's processes, not all of the account's.
            identity = ["--unshare-user", "--uid", str(ROOTLESS_UID), "--gid", str(ROOTLESS_UID), "--cap-drop", "ALL"]
            drop = ["prlimit", f"--nproc={self.process_limit}", "--"]
        else:
            # bwrap runs as root (only root can bind what the kernel's uid cannot reach, such as a Python
            # under /root) and builds the namespaces; setpriv inside drops to the uid and every capability.
            limits.insert(1, f"--nproc={self.process_limit}")
            identity = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                        "--cap-add", "CAP_SETPCAP", "--cap-add", "CAP_DAC_OVERRIDE"]  # for --chdir; setpriv drops them all
            drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        wrap = [self.bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--die-with-parent", "--hostname", "sandbox", *identity,
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
        mount("--bind", folder, folder)  # kernel.json, the ipc sockets and the notebook's copy (work/), at the same path
        wrap += ["--chdir", cwd, "--clearenv"]
        kept = {name: env[name] for name in self.pass_env if name in env}
        kept.update(JPY_PARENT_PID="1",  # its parent is bwrap's pid 1: no parent poller, no banner
                    HOME="/tmp", TMPDIR="/tmp", MPLCONFIGDIR="/tmp/.matplotlib",
                    PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
                    PYTHONDONTWRITEBYTECODE="1", GRADER_EVENTS_FD=str(self._events_write),
                    GRADER_EVIDENCE=os.path.join(cwd, evidence.FOLDER),
                    TF_XLA_FLAGS=f"--tf_xla_persistent_cache_directory={XLA_CACHE}",
                    GRADER_READ_ONLY=os.pathsep.join(target for _, target in self.read_only))
        plan = getattr(self, "plan", None)
        if plan is not None:  # what each hidden check hands over, as data (grader_tests.plan)
            kept["GRADER_PLAN"] = os.path.join(folder, "plan.json")
            with open(os.open(kept["GRADER_PLAN"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644),
                      "w") as handle:
                json.dump(plan, handle)
        for name, value in sorted(kept.items()):
            wrap += ["--setenv", name, value]
        seccomp = os.path.join(self.run_dir, "seccomp.bpf")
        if not os.path.exists(seccomp):
            with open(seccomp + ".new", "wb") as handle:
                handle.write(seccomp_filter())
            os.replace(seccomp + ".new", seccomp)
        wrap[1:1] = ["--seccomp", "9"]
        # jupyter_client interrupts with killpg(SIGINT): bwrap's monitor must ignore it (ipykernel
        # installs its own handler), or an interrupted cell would end the kernel. The shell joins the
        # kernel's memory cgroup first (still root), so everything the kernel starts is charged there;
        # it ends the launch if it cannot.
        cgroup = self.cgroup.procs if getattr(self, "cgroup", None) else ""
        shell = ["/bin/sh", "-c", 'f=$1; g=$2; shift 2; if [ -n "$g" ]; then echo $$ > "$g" || exit 125; fi; '
                 'trap "" INT; umask 022; exec "$@" 9<"$f"', "sandbox", seccomp, cgroup]
        return shell + limits + wrap + ["--"] + drop + list(cmd)

    # --- hard wall-time limit and clean-up --------------------------------------------------------
    async def _async_launch_kernel(self, kernel_cmd, **kw):
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            if isinstance(kw.get("stdout"), int):
                with contextlib.suppress(OSError):
                    os.close(kw["stdout"])  # the kernel holds its own copy
        if not self._ahead:  # a kernel started ahead is timed from when its notebook starts
            self._start_wall_timer()
        self._start_watcher()

    def _start_wall_timer(self) -> None:
        if self.wall_limit:
            self._wall_timer = asyncio.get_running_loop().call_later(self.wall_limit, self._wall_kill)

    def _wall_kill(self):
        self.log.error("The kernel ran past its wall-time limit (%s s) and was killed", self.wall_limit)
        self.events.append(("time limit", f"the kernel was killed after {self.wall_limit:g} s"))
        self.stopped_for = self.stopped_for or "time"
        self.kill_all()

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
        try:
            if source and os.path.isdir(source):
                shutil.copytree(source, target)
            else:
                os.mkdir(target)
        except (OSError, shutil.Error) as error:  # a cache bigger than the kernel's disk: start cold
            if not _disk_full(error):
                raise
            self.log.warning("XLA's warm cache %s does not fit in the kernel's %s: the kernel starts without it",
                             source, limits.human(self.disk_limit))
            shutil.rmtree(target, ignore_errors=True)
            os.mkdir(target)
        self._hand_over(target)

    def _hand_over(self, folder: str) -> None:
        """Make everything under `folder` the kernel's own (its uid; as an ordinary account, it is already)."""
        if self.rootless:
            return
        if not os.path.isdir(folder):
            os.lchown(folder, self.sandbox_uid, self.sandbox_uid)
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
        """What the kernel reported (grader_tests.kernel.watch), as far as the grader can check it against the
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
        """Stop what is left of the kernel, delete its cgroup and its folder (which frees its uid) and
        close its report."""
        timer = getattr(self, "_wall_timer", None)
        if timer:
            timer.cancel()
        if getattr(self, "watcher", None) is not None:
            self.watcher.stop()
        self.kill_all()
        if getattr(self, "tmpfs", False):
            try:
                limits.unmount(self.sandbox_dir)
            except OSError as error:
                self.log.warning("The kernel's tmpfs could not be unmounted: %s", error)
        if getattr(self, "cgroup", None) is not None and not self.cgroup.remove():
            self.log.warning("The kernel's cgroup %s could not be removed", self.cgroup.path)
        remove_tree(self.sandbox_dir)
        with contextlib.suppress(OSError):
            os.remove(self.sandbox_dir + ".owner")
        self.sandbox_dir = None
        for fd in (self._events_read, self._events_write, getattr(self, "_uid_lock", None),
                   getattr(self, "_kernel_log_read", None)):  # (a lazily unmounted tmpfs lives while a file is open)
            if fd is not None:
                os.close(fd)
        self._uid_lock = self._kernel_log_read = None
        self.pid_namespace = None  # a kernel this manager starts next (after one started ahead was refused) has its own

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "sandbox_dir", None):
            try:
                self._check_limits()
                self._keep_cache()
                self._read_events()
                self._log_kernel_output()
            finally:
                self._release()  # the tmpfs and the cgroup are never left behind

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
    interrupt_grace = Float(10, config=True, help="seconds a cell interrupted at its timeout has to end; then the "
                                                  "kernel is stopped and the notebook graded as far as it ran")
    text_per_cell = Integer(1024**2, config=True, help="bytes of text output (streams, text, HTML, errors) a cell keeps")
    images_per_cell = Integer(4 * 1024**2, config=True, help="bytes of image output (base64) a cell keeps")
    output_per_notebook = Integer(20 * 1024**2, config=True, help="bytes of output the whole notebook keeps")
    # nbgrader raises when a cell's last output messages (its idle status) do not come within
    # iopub_timeout; messages can be lost here (one over the socket's size limit drops the connection,
    # which is then made again), and the notebook goes on instead.
    raise_on_iopub_timeout = Bool(False, config=True, help="give up the notebook when a cell's outputs are late")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        problem = why_unavailable() if self.sandbox else "--SandboxedExecute.sandbox=False was given"
        if problem is None:
            self.kernel_manager_class = SandboxKernelManager
        elif self.sandbox:
            raise SandboxUnavailable(
                f"refusing to run students' notebooks without the sandbox: {problem}. Install what it needs "
                "(see docs/deployment.md), or grade without it with --SandboxedExecute.sandbox=False")
        else:
            self.log.warning("Grading WITHOUT the sandbox (%s): students' code runs with your rights", problem)
        if not self.outside_verdicts:
            self.log.warning("Grading WITHOUT outside verdicts: the points are what the student's kernel shows")

    _warm_failed: set = set()  # assignments whose solution could not warm the cache, in this process
    warm_kernels = Bool(True, config=True, help="in an autograde, start the next notebook's kernel while one runs "
                                                "(grader_tests.plugins.warm_pool); False: each kernel when its notebook starts")

    def create_kernel_manager(self):
        manager = None
        if self.kernel_manager_class is SandboxKernelManager and self.warm_kernels:
            manager = warm_pool.take(self._pool_key())
            if manager is not None:
                manager.log = self.log  # a manager made in another process's set-up logs where this notebook's run does
        if manager is None:
            manager = super().create_kernel_manager()
            self._configure(manager)
        self.km = self._manager = manager
        return manager

    def _configure(self, manager) -> None:
        manager.client_class = "jupyter_client.asynchronous.AsyncKernelClient"
        manager.warm_cache = getattr(self, "_warm_cache", None)
        manager.plan = getattr(self, "_plan", None)
        if isinstance(manager, SandboxKernelManager):
            manager.preload = getattr(self, "_preload", [])

    def _pool_key(self):
        """What a kernel started ahead must have been made for to run this notebook."""
        env = tuple((name, os.environ.get(name)) for name in SandboxKernelManager(config=self.config).pass_env)
        return (self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name"), json.dumps(self._plan),
                self._warm_cache, tuple(self._preload), env, os.getcwd(),
                tuple(a for a in self.extra_arguments if not a.startswith("--HistoryManager.hist_file=")))  # nbclient's

    async def async_start_new_kernel_client(self):
        if isinstance(self.km, SandboxKernelManager) and self.km.started_ahead is not None:
            cwd = ((self.resources or {}).get("metadata") or {}).get("path")
            if not await self.km.adopt(cwd):
                await self.async_start_new_kernel()
        client = await super().async_start_new_kernel_client()
        if isinstance(self.km, SandboxKernelManager) and self.warm_kernels and warm_pool.notebooks_after():
            ahead = SandboxKernelManager(kernel_name=self.km.kernel_name, config=self.config)
            self._configure(ahead)
            warm_pool.start_ahead(self._pool_key(), ahead, warm_pool.kernel_arguments(self))
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)  # nbclient binds the base class's

    def warm_cache(self, assignment: str | None, notebook: str | None, build: bool = True) -> str | None:
        """The folder of XLA's compiled training steps of the assignment's own solution
        (source/<assignment>/<notebook>.ipynb), made once per course folder by running that notebook
        in the sandbox. Each student's kernel starts with a private copy: a model like the solution's
        skips the compilation, and no kernel can change what another one starts with. `build`: False
        returns None rather than make a missing cache."""
        if self.kernel_manager_class is not SandboxKernelManager or not assignment or not notebook \
                or assignment in self._warm_failed:
            return None
        source = os.path.join(os.getcwd(), "source", assignment, notebook + ".ipynb")
        target = os.path.join(os.getcwd(), WARM_CACHES, assignment)
        if os.path.isdir(target):
            return target
        if not os.path.isfile(source) or not build:
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

    @staticmethod
    def preload(assignment: str | None, notebook: str | None) -> list:
        """The modules the set-up cell of the assignment's own notebook (source/, never the student's)
        imports: a kernel imports them as it starts."""
        import nbformat

        source = os.path.join(os.getcwd(), "source", assignment or "", (notebook or "") + ".ipynb")
        if not assignment or not notebook or not os.path.isfile(source):
            return []
        cells = [cell for cell in nbformat.read(source, as_version=4).cells if cell.cell_type == "code"]
        return warm_pool.preload_modules(cells[0].source) if cells else []

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
        kernel from the evidence its cell wrote down (grader_tests.plugins.outside), and report what the
        sandbox refused it (grader_tests.plugins.integrity)."""
        from nbclient.exceptions import DeadKernelError

        from .. import evidence
        from . import outside

        self._deadline = time.monotonic() + self.notebook_timeout if self.notebook_timeout else None
        self._events, self._manager = [], None
        info = (resources or {}).get("nbgrader", {})
        who = (info.get("student"), info.get("assignment"), info.get("notebook"))
        cwd = ((resources or {}).get("metadata") or {}).get("path") or os.getcwd()
        planted = os.path.join(cwd, evidence.FOLDER)
        shutil.rmtree(planted, ignore_errors=True)  # evidence is what this run writes, not what was handed in
        # an autograde judges every test cell; a validation of a student's copy (no hidden checks, no
        # assignment) has only the visible tests, which decide
        judged = bool(outside.test_cells(nb)) and self.outside_verdicts and bool(who[1] or outside.hidden_checks(nb))
        if judged:
            outside.judge.start()
        self._cwd = cwd
        self._test_cells = {index: name for index, cell in enumerate(nb.cells) for test, name in outside.test_cells(nb)
                            if test is cell and name} if judged else {}
        try:
            self._warm_cache = self.warm_cache(who[1], who[2])
            self._plan = self.plan(nb, who[1])
            self._preload = self.preload(who[1], who[2])
            if self.kernel_manager_class is not SandboxKernelManager and self._plan is not None:
                self._unconfined_plan(self._plan)
            with tempfile.TemporaryDirectory(prefix="grader-evidence-") as evidence_dir:
                self._evidence_dir = evidence_dir
                try:
                    nb, resources = super().preprocess(nb, resources, km)
                except DeadKernelError:  # graded as far as it ran
                    if not getattr(self, "_stopped", None):
                        self._events.append(("kernel died", "the kernel ended before the notebook did (its own exit, "
                                                            "or the memory or process limit)"))
                    self._not_run(nb)
                finally:
                    self._events[:0] = getattr(self._manager, "events", [])
                shutil.rmtree(planted, ignore_errors=True)
                if judged:
                    self._apply_verdicts(nb, who, evidence_dir)
                self._events += integrity.limits_shown(nb)
        finally:
            self._report(who)
        return nb, resources

    @staticmethod
    def plan(nb, assignment_id: str | None) -> dict | None:
        """What the notebook's hidden checks hand over (grader_tests.plan), for its kernel: the
        assignment is nbgrader's; a validation, which has none, takes the one its test cells name."""
        from . import outside
        from ..plan import plan

        named = {assignment for _, assignment, _ in outside.hidden_checks(nb)}
        assignment_id = assignment_id or (named.pop() if len(named) == 1 else None)
        try:
            return plan(assignment_id) if assignment_id else None
        except KeyError:  # not an assignment of the catalogue: its checks fail with the kernel's own error
            return None

    def _unconfined_plan(self, plan: dict) -> None:
        """Without the sandbox, the kernel inherits this process's environment: the plan goes there."""
        handle, path = tempfile.mkstemp(prefix="grader-plan-", suffix=".json")
        with os.fdopen(handle, "w") as file:
            json.dump(plan, file)
        os.environ[evidence.PLAN] = path

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
        """Interrupt the cell (nbgrader's reply: CellTimeoutError); a cell that has not ended
        `interrupt_grace` seconds later (it ignores SIGINT, or catches KeyboardInterrupt and goes on) has
        its kernel stopped: the notebook is graded as far as it ran (`_not_run`)."""
        from jupyter_core.utils import ensure_async
        from nbclient.exceptions import DeadKernelError

        number = next((i for i, c in enumerate(self.nb.cells, start=1) if c is cell), "?")
        self._events.append(("time limit", f"cell {number} stopped after {timeout} s"))
        reply = await super()._async_handle_timeout(timeout, cell)
        if cell is None or not self.interrupt_on_timeout or self.km is None or self.kc is None:
            return reply
        answer = await self._reply_after_interrupt(self.interrupt_grace)
        if answer is not None:
            return reply or answer
        self.log.error("Cell %s ignored the interrupt for %s s: stopping its kernel", number, self.interrupt_grace)
        self._events.append(("time limit", f"cell {number} ignored the interrupt; the kernel was stopped"))
        self._stopped = f"it ran past its {timeout} s and ignored the interrupt"
        if hasattr(self.km, "kill_all"):
            self.km.kill_all()
        else:
            await ensure_async(self.km.kill_kernel())
        raise DeadKernelError(f"cell {number} ignored the interrupt")

    async def _reply_after_interrupt(self, grace: float):
        """The kernel's execute_reply if it comes within `grace` seconds (the interrupted cell ended)."""
        from queue import Empty

        from jupyter_core.utils import ensure_async

        deadline = time.monotonic() + grace
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                return None
            if msg.get("msg_type") == "execute_reply":
                return msg
        return None

    def preprocess_cell(self, cell, resources, index):
        """Run one cell. A test cell's evidence is what the kernel wrote for its check while that cell
        ran: removed before it runs, taken out of the kernel's folder when it has run. Evidence written
        by other cells (a planted hand-over), or by a test cell that never ran, does not count."""
        self._running = index  # the cell a kernel that ends now was running
        check = getattr(self, "_test_cells", {}).get(index)
        if check:
            self._clear_evidence(check)
        result = super().preprocess_cell(cell, resources, index)
        if check:
            self._take_evidence(check)
        return result

    def _open_evidence(self) -> int | None:
        """A descriptor of the kernel's evidence folder, opened one folder at a time without following
        a link (the kernel owns everything below its folder and may swap a folder for a link at any
        moment: every later step is relative to descriptors, never to a path it could change)."""
        from ..evidence import FOLDER

        manager = getattr(self, "_manager", None)
        if isinstance(manager, SandboxKernelManager):
            if not manager.sandbox_dir:
                return None
            start, parts = os.path.realpath(manager.sandbox_dir), ("work", FOLDER)
        else:
            start, parts = os.path.realpath(self._cwd), (FOLDER,)
        return _open_below(start, parts)

    def _clear_evidence(self, check: str) -> None:
        """Remove what the kernel wrote for `check` before its test cell runs."""
        folder = self._open_evidence()
        if folder is None:
            return
        try:
            try:
                shutil.rmtree(check, dir_fd=folder)  # the fd-based rmtree: it follows no link
            except NotADirectoryError:
                os.unlink(check, dir_fd=folder)
            except OSError as error:
                if error.errno == errno.ENOENT:
                    return
                os.unlink(check, dir_fd=folder)  # a link where the folder was
        except OSError as error:  # whatever the kernel made of it, grading goes on
            self._events.append(("evidence tampered", f"test_{check}: its evidence could not be cleared ({error.strerror})"))
        finally:
            os.close(folder)

    def _take_evidence(self, check: str) -> None:
        """Copy what the test cell of `check` wrote down out of the kernel's folder: regular files only,
        each opened relative to the folder's descriptor without following a link (bounded)."""
        from ..evidence import MAX_BYTES, MAX_FILES

        target = os.path.join(self._evidence_dir, check)
        shutil.rmtree(target, ignore_errors=True)
        folder = self._open_evidence()
        if folder is None:
            return
        try:
            source = _open_below_fd(folder, (check,))
            if source is not None:
                try:
                    _copy_files_fd(source, target, MAX_FILES, MAX_BYTES)
                finally:
                    os.close(source)
        except OSError as error:
            shutil.rmtree(target, ignore_errors=True)
            self._events.append(("evidence tampered", f"test_{check}: its evidence could not be read ({error.strerror})"))
        finally:
            os.close(folder)

    def _not_run(self, nb) -> None:
        """After the kernel ended early: the cell it was running and each code cell after it show why,
        as an error (a test cell among them fails); the cells before keep what they showed."""
        from nbformat.v4 import new_output

        from ..errors import RED, RESET

        manager = getattr(self, "_manager", None)
        reason = getattr(manager, "stopped_for", None)
        if getattr(self, "_stopped", None):
            why = self._stopped
        elif reason == "memory":
            why = (f"all its processes together used more than {limits.human(manager.notebook_memory_limit)} "
                   "of memory, and the grader stopped it")
        elif reason == "disk":
            why = f"the notebook wrote more than {limits.human(manager.disk_limit)}, and the grader stopped it"
        elif reason == "time":
            why = f"the notebook ran past its {manager.wall_limit:g} s, and the grader stopped it"
        else:
            why = "its own exit, or the memory or process limit"
        running = getattr(self, "_running", None)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip() or (running is not None and index < running):
                continue
            if index == running:
                ename, text = "KernelStopped", f"the kernel ended while this cell ran ({why})"
            else:
                cell.outputs = []
                where = f"in cell {running + 1}" if running is not None else "before the first cell"
                ename, text = "NotRun", f"not run: the kernel ended {where} ({why})"
            if cell.metadata.get("nbgrader", {}).get("grade"):
                text += "; this test failed because it did not run to its end"
            cell.outputs.append(new_output("error", ename=ename, evalue=text, traceback=[f"{RED}{ename}{RESET}: {text}"]))

    # --- what a notebook's outputs may hold (grader_tests.plugins.limits.OutputBudget) --------------------------
    OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}

    def reset_execution_trackers(self):
        super().reset_execution_trackers()
        self._budget = limits.OutputBudget(self.text_per_cell, self.images_per_cell, self.output_per_notebook)
        self._running, self._stopped = None, None

    def _over(self, outs, cell_index, detail: str | None = None) -> None:
        """Part of the cell's output was cut: the cell's notice says so; the first time, an event."""
        if self._budget.notice(outs, cell_index):
            self._events.append(("output limit", f"cell {cell_index + 1}: "
                                                 + (detail or f"output over the limit was cut ({self._budget.rule()})")))

    def output(self, outs, msg, display_id, cell_index):
        """Each output message as nbclient receives it: kept if it fits the cell's and the notebook's
        budget, else cut (`_over`)."""
        if msg["msg_type"] not in self.OUTPUT_TYPES:
            return None  # nbclient would log each one (a kernel could fill the log)
        hooked = bool(self.output_hook_stack[msg["parent_header"].get("msg_id")])  # a widget's Output: booked all the same
        if self.clear_before_next_output and not hooked:  # nbclient clears the cell before adding this output
            self._budget.cleared(cell_index)
        may_join = not any(cell_index in cells for cells in self._display_id_map.values())
        if not self._budget.admit(msg, outs, cell_index, may_join):
            if self.clear_before_next_output and not hooked:
                outs[:] = []
                self.clear_display_id_mapping(cell_index)
                self.clear_before_next_output = False
            self._over(outs, cell_index)
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if self._budget.cut.get(cell_index):
            self._over(outs, cell_index)
        return out

    def clear_output(self, outs, msg, cell_index):
        if not msg["content"].get("wait") and not self.output_hook_stack[msg["parent_header"].get("msg_id")]:
            self._budget.cleared(cell_index)
        super().clear_output(outs, msg, cell_index)

    def _update_display_id(self, display_id, msg):
        """A display update replaces the data of the outputs shown under its id, in any cell: only if
        each still fits its cell's budget."""
        content = msg["content"]
        new = {"data": content.get("data") or {}, "metadata": content.get("metadata") or {}}
        for cell_index, indices in self._display_id_map.get(display_id, {}).items():
            outputs = self.nb.cells[cell_index].outputs
            for i in indices:
                if i < len(outputs):
                    old = {"data": outputs[i].get("data") or {}, "metadata": outputs[i].get("metadata") or {}}
                    if not self._budget.replace(cell_index, old, new):
                        self._over(outputs, cell_index)
                        return
        super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs, msg, cell_index):
        """A widget's state is kept in the notebook's metadata: booked to the notebook's budget."""
        size = limits.text_cost(msg["content"].get("data")) + sum(len(b) for b in msg.get("buffers") or [])
        if not self._budget.extra(cell_index, size):
            self._over(outs, cell_index)
            return
        super().handle_comm_msg(outs, msg, cell_index)

    async def on_cell_executed(self, **kwargs):
        """nbgrader's: an error reply no output showed becomes an output (cut to a few KiB here). And if
        ZeroMQ dropped a message over the size limit during the cell (and with it the connection that
        brings outputs), the cell says so and the connection is made again for the next cells."""
        reply, cell, index = kwargs.get("execute_reply"), kwargs["cell"], kwargs["cell_index"]
        if reply and (reply.get("content") or {}).get("status") == "error":
            reply["content"] = limits.short_error(reply["content"])
        dropped = getattr(self.kc, "iopub_dropped", None)
        if dropped is not None and await dropped():
            self._budget.message = getattr(self.km, "max_message_size", 0)
            self._budget.dropped.add(index)
            self._over(cell.outputs, index, f"a message over {limits.human(self._budget.message)} was dropped")
        super().on_cell_executed(**kwargs)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if getattr(self, "_deadline", None) and cell is not None:
            left = max(1, int(self._deadline - time.monotonic()))
            timeout = left if timeout is None else min(timeout, left)
        return timeout


def start_for_next_run(args: list) -> bool:
    """Start, in this process, the kernel that the first notebook of the next `nbgrader ARGS` run here
    will take (grader_tests.plugins.warm_pool): the grade command's workers fork a process that does
    this while a student is graded, and hand it the next student (instructor/grading.py). `args`: the
    current run's (`autograde ASSIGNMENT --student ID ...`), in its course folder, the working folder;
    only the student differs in the next. False if its options start no kernel ahead."""
    import glob

    import nbformat
    from jupyter_core.utils import ensure_event_loop
    from nbgrader.apps.autogradeapp import AutogradeApp

    app = AutogradeApp()  # not its singleton: the run makes its own
    app.initialize(list(args[1:]))
    execute = SandboxedExecute(config=app.config)
    notebooks = sorted(glob.glob(os.path.join(os.getcwd(), "source", glob.escape(app.extra_args[0]), "*.ipynb")))
    if execute.kernel_manager_class is not SandboxKernelManager or not execute.warm_kernels or not notebooks:
        return False
    assignment, notebook = app.extra_args[0], os.path.basename(notebooks[0])[:-len(".ipynb")]
    execute.nb = nbformat.read(notebooks[0], as_version=4)
    execute._warm_cache = execute.warm_cache(assignment, notebook, build=False)
    execute._plan = execute.plan(execute.nb, assignment)
    execute._preload = execute.preload(assignment, notebook)
    manager = SandboxKernelManager(kernel_name=execute.kernel_name or execute.nb.metadata.get("kernelspec", {}).get("name", ""),
                                   config=app.config)
    execute._configure(manager)
    loop = ensure_event_loop()  # the one nbclient will run the notebook in

    async def begin():
        warm_pool.start_ahead(execute._pool_key(), manager, warm_pool.kernel_arguments(execute))
        await asyncio.wait([warm_pool.WAITING[loop][2]])

    os.environ["NBGRADER_EXECUTION"] = "autograde"  # as nbgrader's autograde sets it while it runs a notebook
    try:
        loop.run_until_complete(begin())
    finally:
        del os.environ["NBGRADER_EXECUTION"]
    return True


def install(c, read_only, notebook_timeout: int, **kernel_options) -> None:
    """From nbgrader_config.py: run every kernel of `nbgrader autograde` and `nbgrader validate` in the
    sandbox. `read_only`: (host path, sandbox path) pairs; `kernel_options`: traits of SandboxKernelManager
    (limits of the kernel) or of SandboxedExecute (limits of the outputs)."""
    from nbgrader.converters import base
    from nbgrader.converters.autograde import Autograde
    from nbgrader.validator import Validator

    from .unreadable import files_within

    if not getattr(base.find_all_files, "within", False):  # a link out of a submission is not followed
        base.find_all_files = files_within(base.find_all_files)
        base.find_all_files.within = True
    if not getattr(Autograde.convert_single_notebook, "counted", False):  # kernels are started ahead only for a next one
        Autograde.convert_notebooks = warm_pool.counting_notebooks(Autograde.convert_notebooks)
        Autograde.convert_single_notebook = warm_pool.counting_notebook(Autograde.convert_single_notebook)
        Autograde.init_destination = warm_pool.counting_skipped(Autograde.init_destination)
        Autograde.init_assignment = warm_pool.counting_unknown(Autograde.init_assignment)

    autograde = list(Autograde.class_traits()["autograde_preprocessors"].default())
    c.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p for p in autograde]
    # Validator.preprocessors is not configurable in nbgrader 0.9.6: change its default instead.
    validator = Validator.class_traits()["preprocessors"]
    validator.default_args = ([SandboxedExecute if p is Execute else p for p in validator.default()],)
    c.SandboxedExecute.notebook_timeout = notebook_timeout
    c.SandboxKernelManager.read_only = [tuple(pair) for pair in read_only]
    c.SandboxKernelManager.wall_limit = float(notebook_timeout + 120)
    for name, value in kernel_options.items():  # traits of the kernel manager, or of SandboxedExecute
        owner = "SandboxKernelManager" if SandboxKernelManager.class_traits().get(name) else "SandboxedExecute"
        if not getattr(globals()[owner], "class_traits")().get(name):
            raise TypeError(f"sandbox.install: no option {name!r}")
        setattr(getattr(c, owner), name, value)
