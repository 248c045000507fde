"""The sandboxed kernel's own report of what the sandbox refuses it, for the instructor's integrity
report (never for the grade, which the grader computes outside the kernel).

The sandbox starts each kernel as ``python -c <this file> -f CONNECTION_FILE``: this module
installs an audit hook (PEP 578; it cannot be removed) and then runs ipykernel. The hook writes one
JSON line to a pipe the kernel manager reads when the kernel ends (file descriptor
$GRADER_EVENTS_FD), for each attempt the sandbox denies by its rules:

- a write (open for writing, remove, rename, mkdir, chmod, ...) outside the notebook's folder,
  /tmp and /dev, or in a read-only folder ($GRADER_READ_ONLY: the kit, the data, ...): the sandbox
  shows everything else read-only or not at all;
- a network connection (the sandbox has no network);
- many new processes (the process limit is near).

Code in the kernel can close the pipe and so stop the report from then on, or write lines of its
own; it cannot take back a line already written.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = {"os.remove": 0, "os.rename": 0, "os.rmdir": 0, "os.mkdir": 0, "os.chmod": 0, "os.chown": 0,
               "os.truncate": 0, "os.symlink": 1, "os.link": 1, "os.utime": 0, "shutil.rmtree": 0}
PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.posix_spawn", "subprocess.Popen", "os.exec"}
MAX_EVENTS = 100
PROCESSES_WORTH_REPORTING = 64


class Reporter:
    def __init__(self, fd: int, writable: list, read_only: list):
        self.fd, self.writable, self.read_only, self.sent, self.processes = fd, writable, read_only, set(), 0
        self.preloading = True  # until the start-up imports of a kernel started ahead are done (warm_pool)
        self.busy = threading.local()

    def send(self, kind: str, detail: str) -> None:
        if (kind, detail) in self.sent or len(self.sent) >= MAX_EVENTS:
            return
        self.sent.add((kind, detail))
        try:
            os.write(self.fd, (json.dumps({"event": kind, "detail": detail[:300]}) + "\n").encode())
        except OSError:  # closed by the notebook, or full: the report stops here
            pass

    def outside(self, path) -> bool:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):  # a file descriptor
            return False
        if "/__pycache__/" in path:  # Python's own byte-code cache beside read-only modules
            return False
        real = os.path.realpath(path)

        def under(roots):
            return any(real == root or real.startswith(root + os.sep) for root in roots)

        return under(self.read_only) or not under(self.writable)

    def __call__(self, event: str, args: tuple) -> None:
        if getattr(self.busy, "on", False):
            return
        self.busy.on = True
        try:
            self.audit(event, args)
        except Exception:  # the report must never break the student's code
            pass
        finally:
            self.busy.on = False

    def audit(self, event, args):
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                      (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and self.outside(path):
                self.send("write denied", os.fsdecode(path))
        elif event in PATH_EVENTS:
            path = args[PATH_EVENTS[event]]
            if self.outside(path):
                self.send("write denied", f"{event.split('.')[-1]} {os.fsdecode(path)}")
        elif event == "socket.connect":
            sock, address = args
            if getattr(sock, "family", None) != socket.AF_UNIX:
                self.send("connection denied", f"{address}")
        elif event == "grader.preload_failed" and self.preloading:  # the grader then does not use this kernel
            self.send("set-up import failed", str(args[0] if args else ""))
        elif event == "grader.preload_done":
            self.preloading = False
        elif event in PROCESS_EVENTS:
            self.processes += 1
            if self.processes == PROCESSES_WORTH_REPORTING:
                self.send("many processes", f"{self.processes} processes started (more are not counted)")


def main() -> None:
    fd = int(os.environ.pop("GRADER_EVENTS_FD", "-1"))
    if fd >= 0:
        writable = [os.path.realpath(p) for p in (os.getcwd(), "/tmp", "/dev")]
        read_only = [p for p in os.environ.pop("GRADER_READ_ONLY", "").split(os.pathsep) if p]
        sys.addaudithook(Reporter(fd, writable, read_only))
    import runpy

    sys.argv[0] = "ipykernel_launcher"
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
