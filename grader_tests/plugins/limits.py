"""Limits on a graded notebook as a whole, where the per-process rlimits of the sandbox fall short
(grader_tests/plugins/sandbox.py uses them; docs/sandbox.md).

- **Memory of all the kernel's processes together.** Each kernel gets its own memory cgroup, made
  by the kernel manager before the launch; the launch command's first step (a shell, still root)
  writes its own pid into it, so the kernel and everything it starts are charged there before any
  student code runs. cgroup v2 (`memory.max`, `memory.oom.group`: over the limit the kernel's
  processes are all killed) is used where our own cgroup's subtree has the memory controller (or
  `SandboxKernelManager.cgroup_parent` names a delegated one); else cgroup v1 (`memory.limit_in_bytes`;
  the system kills the largest process over the limit, and `Watcher` the rest within 0.25 s).
  Where no writable memory cgroup exists (an ordinary account's grader, usually), `Watcher` sums the
  memory of the kernel's processes (each one's proportional share, Pss) from /proc every 0.25 s and
  kills the kernel above the limit: coarser (a burst between two looks, and files in its tmpfs, are
  not seen). The kernel's processes are those of its uid as root (every kernel has its own), those of
  its pid namespace for an ordinary account (whose kernels all run as the account).
- **Disk.** The kernel's writable folders (its copy of the notebook's folder, its /tmp with XLA's
  cache) live on one size-limited tmpfs per kernel, mounted by the grader (root) on the kernel's
  folder before anything is copied in: writing more is ENOSPC ("disk full" in the integrity report,
  also when the notebook hides the error: `Watcher` and the clean-up look at the free space).
  tmpfs pages are memory, charged to the writer's cgroup. Where tmpfs cannot be mounted (an ordinary
  account mounts none), `Watcher` adds up the folder's files every second and kills the kernel above
  the limit.
- **Output.** `OutputBudget` bounds what a notebook's outputs may hold (per cell: text, images;
  per notebook) where nbclient receives them, before nbgrader keeps them; `BoundedSockets` makes
  ZeroMQ drop any single message above `max_message_size` and queue few messages per socket, so
  neither one huge message nor a flood of them is buffered in the grader's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import re
import signal
import stat
import threading
import time

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import channel_socket_types

KiB, MiB, GiB = 1024, 1024**2, 1024**3


def human(size: int) -> str:
    """1073741824 -> '1 GiB', 1572864 -> '1.5 MiB', 1072693248 -> '1023 MiB'."""
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{size} bytes"


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _write(path: str, value) -> None:
    with open(path, "w") as handle:
        handle.write(str(value))


def _field(text: str, name: str) -> int | None:
    """The number after `name` in a 'key value' file (memory.events, memory.oom_control)."""
    match = re.search(rf"^{re.escape(name)} (\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


# --- memory: one cgroup per kernel ------------------------------------------------------------------

def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _cgroup_candidates() -> list:
    """(version, folder) of the memory cgroups this process belongs to and can see, v2 first."""
    own = {}
    with contextlib.suppress(OSError):
        for line in _read("/proc/self/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    found = []
    with contextlib.suppress(OSError):
        for line in _read("/proc/self/mountinfo").splitlines():
            left, _, right = line.partition(" - ")
            fields, (fstype, _, options) = left.split(), (right.split() + ["", "", ""])[:3]
            root, point = _unescape(fields[3]), _unescape(fields[4])
            if fstype == "cgroup2" and "" in own:
                version, path = 2, own[""]
            elif fstype == "cgroup" and "memory" in options.split(",") and "memory" in own:
                version, path = 1, own["memory"]
            else:
                continue
            if root != "/" and not (path == root or path.startswith(root + "/")):
                continue  # our cgroup is outside what this mount shows
            relative = path[len(root):] if root != "/" else path
            folder = os.path.normpath(point + "/" + relative.lstrip("/"))
            if version == 2 and "memory" not in _read_or_empty(os.path.join(folder, "cgroup.controllers")).split():
                continue
            found.append((version, folder))
    return sorted(found, key=lambda vf: -vf[0])


def _read_or_empty(path: str) -> str:
    try:
        return _read(path)
    except OSError:
        return ""


class MemoryCgroup:
    """The memory cgroup of one kernel: all its processes together get `limit` bytes."""

    def __init__(self, version: int, path: str, limit: int):
        self.version, self.path, self.limit = version, path, limit

    @classmethod
    def make(cls, name: str, limit: int, parent: str = "") -> MemoryCgroup | None:
        """A new cgroup `name` with the limit, under `parent` (a writable memory cgroup folder) or under
        this process's own memory cgroup; None where no writable one can be made."""
        if parent:
            candidates = [(2 if os.path.exists(os.path.join(parent, "cgroup.controllers")) else 1, parent)]
        else:
            candidates = _cgroup_candidates()
        for version, folder in candidates:
            if version == 2 and "memory" not in _read_or_empty(os.path.join(folder, "cgroup.subtree_control")).split():
                try:  # possible only in a cgroup that holds no process itself (a delegated subtree's root)
                    _write(os.path.join(folder, "cgroup.subtree_control"), "+memory")
                except OSError:
                    continue
            path = os.path.join(folder, name)
            try:
                os.mkdir(path, 0o755)
            except OSError:
                continue
            group = cls(version, path, limit)
            try:
                group._configure()
            except OSError:
                group.remove()
                continue
            return group
        return None

    def _configure(self) -> None:
        if self.version == 2:
            _write(os.path.join(self.path, "memory.max"), self.limit)
            for name, value in (("memory.swap.max", 0), ("memory.oom.group", 1)):
                with contextlib.suppress(OSError):
                    _write(os.path.join(self.path, name), value)
        else:
            _write(os.path.join(self.path, "memory.limit_in_bytes"), self.limit)
            with contextlib.suppress(OSError):  # no swap beyond the limit, where swap is accounted
                _write(os.path.join(self.path, "memory.memsw.limit_in_bytes"), self.limit)

    @property
    def procs(self) -> str:
        """The file a process writes its pid to in order to join."""
        return os.path.join(self.path, "cgroup.procs")

    def oom_kills(self) -> int:
        """How many processes the system killed for the limit (v1 kernels without the counter: the
        times the limit was reached)."""
        if self.version == 2:
            events = _read_or_empty(os.path.join(self.path, "memory.events"))
            return max(_field(events, "oom_kill") or 0, _field(events, "oom_group_kill") or 0)
        kills = _field(_read_or_empty(os.path.join(self.path, "memory.oom_control")), "oom_kill")
        if kills is None:
            kills = int(_read_or_empty(os.path.join(self.path, "memory.failcnt")) or 0)
        return kills

    def peak(self) -> int | None:
        """The most memory the cgroup held at once, bytes (None where the kernel does not say)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        text = _read_or_empty(os.path.join(self.path, name)).strip()
        return int(text) if text.isdigit() else None

    def pids(self) -> list:
        return [int(p) for p in _read_or_empty(self.procs).split()]

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        if self.version == 2 and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            with contextlib.suppress(OSError):
                _write(os.path.join(self.path, "cgroup.kill"), 1)
                return
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self, wait: float = 5.0) -> bool:
        """Delete the cgroup once its processes are gone (killed ones take a moment to leave)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                self.kill()
                time.sleep(0.05)


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks after boot; None if there is no such process): with its
    pid, it names one process, even after the pid is reused."""
    try:
        return _read(f"/proc/{int(pid)}/stat").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def _resident(pid: str, status: str) -> int:
    """Bytes of memory process `pid` holds: its proportional share of each page (Pss), so that forked
    processes sharing their parent's pages (TensorFlow's, say) are not counted once each; its resident
    size (VmRSS of `status`) where the kernel does not say."""
    with contextlib.suppress(OSError):
        pss = re.search(r"^Pss:\s+(\d+) kB", _read(f"/proc/{pid}/smaps_rollup"), re.MULTILINE)
        if pss:
            return int(pss.group(1)) * KiB
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(rss.group(1)) * KiB if rss else 0


def child_namespace(pid: int) -> str | None:
    """The pid namespace of `pid`'s first child in a namespace other than ours ("pid:[inode]"): the
    sandbox's, whose first process bwrap (`pid`) started."""
    ours = os.readlink("/proc/self/ns/pid")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            parent = re.search(r"^PPid:\s+(\d+)", _read(f"/proc/{name}/status"), re.MULTILINE)
            if parent and int(parent.group(1)) == pid:
                namespace = os.readlink(f"/proc/{name}/ns/pid")
                if namespace != ours:
                    return namespace
        except OSError:
            continue
    return None


def _buffer_bound(kind: str) -> int:
    """The most a socket (its send and receive buffers) or a pipe may hold here, bytes."""
    paths = {"socket": ("/proc/sys/net/core/wmem_max", "/proc/sys/net/core/rmem_max"),
             "pipe": ("/proc/sys/fs/pipe-max-size",)}[kind]
    try:
        return sum(int(_read(path)) for path in paths)
    except (OSError, ValueError):
        return 8 * MiB


BUFFER_BOUNDS = {kind: _buffer_bound(kind) for kind in ("socket", "pipe")}


def held_files(pids) -> tuple:
    """(memory, disk) bytes of what the processes `pids` hold open that neither Pss nor a folder shows:
    in-memory files (memfd_create), which no process need map; the most their sockets and pipes may
    hold queued (their buffers' bound: a socket's or pipe's queue cannot be read from /proc, and a
    cgroup, where there is one, counts them); and files deleted while open, whose blocks stay on disk.
    Each is counted once, however many processes hold it."""
    seen, memory, disk = set(), 0, 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    kind = target.split(":", 1)[0]
                    if kind in BUFFER_BOUNDS:
                        if target not in seen:  # socket:[inode], pipe:[inode]
                            seen.add(target)
                            memory += BUFFER_BOUNDS[kind]
                        continue
                    if not (target.startswith("/memfd:") or target.endswith(" (deleted)")):
                        continue
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                    if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        if target.startswith("/memfd:"):
                            memory += info.st_blocks * 512
                        else:
                            disk += info.st_blocks * 512
    return memory, disk


def processes_naming(text: str) -> list:
    """This account's processes whose command line holds `text` (a kernel's folder: bwrap and the kernel name it)."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                if text.encode() in handle.read() and os.stat(f"/proc/{name}").st_uid == os.geteuid():
                    found.append(int(name))
        except OSError:
            continue
    return found


def kill_and_wait(processes, seconds: float) -> bool:
    """SIGKILL what `processes()` lists until it lists nothing, for at most `seconds`; True when none is left."""
    deadline = time.monotonic() + seconds
    while True:
        left = processes()
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def namespace_processes(namespace: str) -> dict:
    """pid -> resident bytes of every process in the pid namespace `namespace` ("pid:[inode]"). The
    grader owns the kernel's user namespace, so it reads these links even of a process that made
    itself non-dumpable."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") == namespace:
                found[int(name)] = _resident(name, _read(f"/proc/{name}/status"))
        except OSError:
            continue
    return found


def uid_processes(uid: int) -> dict:
    """pid -> bytes held by every process whose real uid is `uid` (its uid from /proc/<pid>/status,
    which a process cannot hide by making itself non-dumpable). A zombie is left out: it holds nothing
    and only its parent can remove it."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = _read(f"/proc/{name}/status")
        except OSError:
            continue
        uids = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
        if uids and int(uids.group(1)) == uid and not re.search(r"^State:\s+Z", status, re.MULTILINE):
            found[int(name)] = _resident(name, status)
    return found


# --- disk: one tmpfs per kernel ---------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2


def mount_tmpfs(folder: str, size: int, files: int, uid: int) -> OSError | None:
    """Mount a tmpfs of `size` bytes and `files` inodes on `folder`, owned by `uid`, mode 0700 (as
    root); the error where it cannot be mounted."""
    options = f"size={size},nr_inodes={files},mode=0700,uid={uid},gid={uid}".encode()
    if _libc.mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
        number = ctypes.get_errno()
        return OSError(number, os.strerror(number), folder)
    return None


def unmount(folder: str) -> None:
    """Detach the tmpfs on `folder` (its memory is freed once nothing holds a file of it)."""
    if _libc.umount2(folder.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), folder)


def is_full(folder: str) -> bool:
    """The file system of `folder` has (nearly) no space or no inodes left."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < MiB or (info.f_files > 0 and info.f_favail == 0)


def folder_bytes(folder: str, most: int, most_entries: int = 200_000) -> int:
    """Bytes the files under `folder` take on disk, counted until `most` is passed; more than `most`
    when it holds more than `most_entries` names (which would hide files from a count that stops)."""
    total, seen, stack = 0, 0, [folder]
    while stack and total <= most:
        if seen > most_entries:
            return most + 1
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
    return total


class Watcher(threading.Thread):
    """Looks at one kernel every `interval` seconds and kills it (all its processes) when the notebook
    is over a limit that the system does not enforce by itself here:

    - memory, without a cgroup: the memory of the kernel's processes (`processes()`), of the memory
      files they hold open and the most their sockets and pipes may hold, summed;
    - memory, with a cgroup v1: after the system killed one process over the limit, the rest;
    - disk, without a tmpfs: the bytes of the kernel's folder, its files deleted while held open, and at
      most `files_limit` names (every 4th look).
    It also notes when the kernel's tmpfs was full, for the integrity report."""

    def __init__(self, *, processes, kill, cgroup: MemoryCgroup | None, memory_limit: int, folder: str,
                 tmpfs: bool, disk_limit: int, files_limit: int = 100_000, interval: float = 0.25):
        super().__init__(name=f"sandbox-watcher-{os.path.basename(folder)}", daemon=True)
        self.processes, self.kill, self.cgroup, self.memory_limit = processes, kill, cgroup, memory_limit
        self.folder, self.tmpfs, self.disk_limit, self.interval = folder, tmpfs, disk_limit, interval
        self.files_limit = files_limit
        self.over_memory = self.over_disk = self.disk_full = False
        self.peak_rss = 0
        self._finished = threading.Event()
        self._looks = 0

    def run(self) -> None:
        while not self._finished.wait(self.interval):
            try:
                self.look()
            except Exception:  # noqa: BLE001  (a watcher must not die of one odd /proc entry)
                pass

    def look(self) -> None:
        self._looks += 1
        if self.memory_limit and not self.over_memory:
            if self.cgroup is None:
                processes = self.processes()
                total = sum(processes.values()) + held_files(processes)[0]
                self.peak_rss = max(self.peak_rss, total)
                if total > self.memory_limit:
                    self.over_memory = True
                    self.kill(list(processes))
            elif self.cgroup.version == 1 and self.cgroup.oom_kills():
                self.over_memory = True
                self.kill([])
        if self.tmpfs:
            self.disk_full = self.disk_full or is_full(self.folder)
        elif self.disk_limit and not self.over_disk and self._looks % 4 == 0:
            processes = self.processes()
            if folder_bytes(self.folder, self.disk_limit, self.files_limit) + held_files(processes)[1] > self.disk_limit:
                self.over_disk = True
                self.kill(list(processes))

    def stop(self) -> None:
        self._finished.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=5)


# --- output: bounded before nbgrader keeps it ----------------------------------------------------------

def text_cost(value) -> int:
    """Bytes `value` takes in the notebook file, at most (as JSON with ASCII escapes)."""
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        return len(repr(value))


def output_cost(msg_type: str, content: dict) -> tuple:
    """(text bytes, image bytes) of one output message's content as the notebook would keep it."""
    text = image = 0
    if msg_type == "stream":
        text = text_cost(content.get("text", ""))
    elif msg_type == "error":
        text = sum(text_cost(content.get(k, "")) for k in ("ename", "evalue", "traceback"))
    else:
        data = content.get("data")
        for mime, value in (data.items() if isinstance(data, dict) else [("data", data)]):
            size = text_cost(value) + len(str(mime))
            if str(mime).startswith("image/"):
                image += size
            else:
                text += size
        if content.get("metadata"):
            text += text_cost(content["metadata"])
    return text, image


def short_error(content: dict) -> dict:
    """An error output's content cut to a few KiB: its name, the start of its value, the end of its
    traceback."""
    traceback = content.get("traceback")
    traceback = traceback[-20:] if isinstance(traceback, list) else [traceback]
    return {**content, "ename": str(content.get("ename", ""))[:200], "evalue": str(content.get("evalue", ""))[:2000],
            "traceback": [str(line)[:500] for line in traceback]}


def terminal_text(text: str) -> str:
    """What a terminal shows of `text`: a backspace erases the character before it, a carriage return
    followed by more of the line erases the line so far (nbclient's coalescing, in linear time)."""
    if "\b" in text:
        kept = []
        for char in text:
            if char == "\b" and kept and kept[-1] != "\n":
                kept.pop()
            else:
                kept.append(char)
        text = "".join(kept)
    if "\r" in text:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            last = line.rfind("\r", 0, len(line) - 1)
            if last >= 0:
                lines[i] = line[last + 1:]
        text = "\n".join(lines)
    return text


class OutputBudget:
    """What the outputs of one notebook may hold: `text` and `images` bytes per cell, `total` bytes for
    the notebook (text and images, and the state of its widgets). What is over is not kept; the cell
    shows one stream output instead, which says how much was cut and why. An error output over the
    limit is kept cut to a few KiB (once per cell): nbgrader scores a cell by its errors."""

    def __init__(self, text: int, images: int, total: int, message: int = 0):
        self.text, self.images, self.total, self.message = text, images, total, message
        self.cells = {}  # cell index -> [text bytes, image bytes]
        self.used = 0  # bytes of the whole notebook
        self.cut = {}  # cell index -> bytes cut
        self.closed = {}  # cell index -> the kinds ("text", "image") it may show no more of
        self.dropped = set()  # cells a message over the socket's limit was dropped from
        self.notices = {}  # cell index -> the notice output
        self.errors = set()  # cells that kept a shortened error output
        self.compacted = {}  # cell index -> its text bytes after its streams were last compacted

    def rule(self) -> str:
        return (f"a cell may show {human(self.text)} of text and {human(self.images)} of images, "
                f"a notebook {human(self.total)} in all")

    def _fits(self, cell: int, text: int, image: int) -> bool:
        used = self.cells.setdefault(cell, [0, 0])  # an image's text form is booked, not held against the text
        return ((image > 0 or used[0] + text <= self.text) and used[1] + image <= self.images
                and self.used + text + image <= self.total)

    def _take(self, cell: int, text: int, image: int) -> None:
        used = self.cells.setdefault(cell, [0, 0])
        used[0] += text
        used[1] += image
        self.used += text + image

    def admit(self, msg: dict, outs: list, cell: int, may_join: bool = True) -> bool:
        """Whether the output message `msg` may be added to the cell's outputs `outs` (a stream may be
        shortened to what fits, an error to a few KiB, in `msg` itself); True books its bytes.
        `may_join`: the cell's stream outputs may be compacted (no display id points into the cell)."""
        kind, content = msg["msg_type"], msg["content"]
        text, image = output_cost(kind, content)
        closed = self.closed.setdefault(cell, set())
        if not (image and "image" in closed) and not (text and not image and "text" in closed):
            if self._fits(cell, text, image):
                self._take(cell, text, image)
                return True
            if kind == "stream" and may_join and isinstance(content.get("text"), str):
                content["text"] = terminal_text(content["text"])  # a progress bar's updates
                text = output_cost(kind, content)[0]
                if self._fits(cell, text, image) or (self._compact(outs, cell) and self._fits(cell, text, image)):
                    self._take(cell, text, image)
                    return True
            used = self.cells[cell]
            over_total = self.used + text + image > self.total
            if text and (over_total or used[0] + text > self.text):
                closed.add("text")
            if image and (over_total or used[1] + image > self.images):
                closed.add("image")
            if kind == "stream" and self._keep_head(content, cell, text):
                return True
        if kind == "error" and cell not in self.errors:
            content.update(short_error(content))
            self.errors.add(cell)
            kept = output_cost(kind, content)[0]
            self._take(cell, kept, 0)
            self._cut(cell, max(0, text - kept))
            return True
        self._cut(cell, text + image)
        return False

    def _keep_head(self, content: dict, cell: int, cost: int) -> bool:
        """Shorten a stream that does not fit to the part that does (if that is worth keeping)."""
        room = min(self.text - self.cells[cell][0], self.total - self.used)
        if room <= 1024 or not isinstance(content.get("text"), str):
            return False
        kept = content["text"][:room - 64]
        while kept and text_cost(kept) > room:
            kept = kept[:len(kept) // 2]
        content["text"] = kept
        self._take(cell, text_cost(kept), 0)
        self._cut(cell, cost - text_cost(kept))
        return True

    def _compact(self, outs: list, cell: int) -> bool:
        """Join the cell's consecutive outputs of one stream and keep what a terminal would show of
        them (a progress bar's updates); True if that freed room. Done again only after the cell's text
        grew by a quarter of its limit (it costs a pass over the text)."""
        used = self.cells[cell][0]
        if used < self.compacted.get(cell, -self.text) + self.text // 4:
            return False
        notice = self.notices.get(cell)
        joined, before = [], 0
        for output in outs:
            if output.get("output_type") == "stream" and output is not notice:
                before += text_cost(output["text"])
                if joined and joined[-1].get("output_type") == "stream" and joined[-1] is not notice \
                        and joined[-1].get("name") == output.get("name"):
                    joined[-1]["text"] += output["text"]
                    continue
            joined.append(output)
        after = 0
        for output in joined:
            if output.get("output_type") == "stream" and output is not notice:
                output["text"] = terminal_text(output["text"])
                after += text_cost(output["text"])
        outs[:] = joined
        self.cells[cell][0] -= before - after
        self.used -= before - after
        self.compacted[cell] = self.cells[cell][0]
        return after < before

    def _cut(self, cell: int, size: int) -> None:
        self.cut[cell] = self.cut.get(cell, 0) + size

    def cleared(self, cell: int) -> None:
        """The cell's outputs were cleared (clear_output): their bytes are free again."""
        text, image = self.cells.pop(cell, [0, 0])
        self.used -= text + image
        self.notices.pop(cell, None)
        self.errors.discard(cell)
        self.compacted.pop(cell, None)
        self.closed.pop(cell, None)

    def replace(self, cell: int, old: dict, new: dict) -> bool:
        """Whether a display update that replaces the content `old` of an output of `cell` by `new`
        fits; True books the difference."""
        old_cost, new_cost = output_cost("display_data", old), output_cost("display_data", new)
        text, image = new_cost[0] - old_cost[0], new_cost[1] - old_cost[1]
        if self._fits(cell, max(text, 0), max(image, 0)):
            self._take(cell, text, image)
            return True
        self._cut(cell, sum(new_cost))
        return False

    def extra(self, cell: int, size: int) -> bool:
        """Whether `size` bytes the notebook keeps outside the cells (a widget's state) fit; True books them."""
        if self.used + size <= self.total:
            self.used += size
            return True
        self._cut(cell, size)
        return False

    def notice(self, outs: list, cell: int) -> bool:
        """Put (or update) the cell's one notice of what was cut; True the first time for this cell."""
        from nbformat.v4 import new_output

        what = [f"{human(self.cut[cell])} of this cell's output"] if self.cut.get(cell) else []
        if cell in self.dropped:
            what.append(f"a message over {human(self.message)}")
        text = f"[The grader cut {' and '.join(what)}: {self.rule()}.]\n"
        notice = self.notices.get(cell)
        first = notice is None
        if notice is None or not any(o is notice for o in outs):
            notice = new_output("stream", name="stdout", text=text)
            outs.append(notice)
            self.notices[cell] = notice
        else:
            notice["text"] = text
        return first


# --- sockets: one huge message is dropped, few are queued ----------------------------------------------

class BoundedSockets:
    """Every ZeroMQ socket to a kernel refuses messages above `max_message_size` bytes (ZeroMQ drops the
    message and the connection instead of buffering it) and queues at most `receive_hwm` messages
    (more wait in the kernel's own memory). Mixed into the kernel client and the kernel manager (whose
    control socket receives the shutdown reply)."""

    def _socket_limits(self) -> tuple:
        owner = self if hasattr(self, "max_message_size") else getattr(self, "parent", None)
        return (getattr(owner, "max_message_size", 8 * MiB), getattr(owner, "receive_hwm", 4))

    def _create_connected_socket(self, channel: str, identity: bytes | None = None):
        most, queued = self._socket_limits()
        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000  # as jupyter_client: no hang at exit
        sock.setsockopt(zmq.MAXMSGSIZE, most)
        sock.setsockopt(zmq.RCVHWM, queued)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:  # as jupyter_client 8.10
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(self._make_url(channel))
        return sock


class BoundedKernelClient(BoundedSockets, AsyncKernelClient):
    """The client nbclient talks to a sandboxed kernel with: bounded sockets (`BoundedSockets`), and an
    iopub connection that is made again after ZeroMQ dropped it for a message over the limit (ZeroMQ
    does not reconnect after such a protocol error: every later output would be lost)."""

    def connect_iopub(self, identity: bytes | None = None):
        sock = super().connect_iopub(identity)
        self._iopub_socket = sock
        self._iopub_monitor_socket = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self._iopub_monitor = zmq.Socket.shadow(self._iopub_monitor_socket.underlying)  # read without awaiting
        return sock

    def _monitor_events(self) -> list:
        from zmq.utils.monitor import parse_monitor_message

        events, monitor = [], getattr(self, "_iopub_monitor", None)
        while monitor is not None:
            try:
                events.append(parse_monitor_message(monitor.recv_multipart(zmq.NOBLOCK))["event"])
            except zmq.Again:
                break
            except zmq.ZMQError:
                break
        return events

    async def iopub_dropped(self, wait: float = 2.0) -> bool:
        """True if the iopub connection was dropped since the last call (then it is made again, and this
        waits up to `wait` s for the kernel to take it)."""
        if zmq.EVENT_DISCONNECTED not in self._monitor_events():
            return False
        sock, url = self._iopub_socket, self._make_url("iopub")
        with contextlib.suppress(zmq.ZMQError):
            sock.disconnect(url)
        sock.connect(url)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if zmq.EVENT_HANDSHAKE_SUCCEEDED in self._monitor_events():
                await asyncio.sleep(0.2)  # the subscription reaches the kernel
                break
            await asyncio.sleep(0.02)
        return True

    def stop_channels(self) -> None:
        monitor = getattr(self, "_iopub_monitor", None)
        if monitor is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._iopub_socket.disable_monitor()
            self._iopub_monitor_socket.close(linger=0)
            self._iopub_monitor = None
        super().stop_channels()
