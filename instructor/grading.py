"""A whole class graded in parallel (the grade command's engine, instructor/commands/grade.py): each
submitted student through nbgrader's own autograde, N at a time, on a local Dask cluster or on a running
one whose workers are other machines.
What travels with each student, so that no disk is shared: the submitted folder, a gradebook holding the
assignment alone, and the course's grading kit (nbgrader_config.py, grader_tests/, instructor/, the
assignment's source/ and release/; about 400 KB, unpacked once per machine). The worker runs `nbgrader autograde ASSIGNMENT --student ID` in a
scratch course folder and sends back the autograded folder, the scores nbgrader wrote and the integrity
rows. Only this process writes the course's gradebook, autograded/ and integrity.csv, one student at a
time, so workers never contend for the database. A student already graded for the submission on disk
is skipped unless --force; a worker that dies has its student graded again elsewhere (Dask's
`allowed-failures`), then reported. Workers need the course's environment and the data
(RNN_COURSE_DATA), like the machine that runs plain `nbgrader autograde`.

Before anyone is queued, every worker is asked whether it can run the sandbox; if one cannot, the
reason is printed once and nothing is graded. Exit status: 0 when every submission was graded, 1 when
some could not be (each said why), 2 when grading could not start.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import select
import shutil
import socket
import stat
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import warnings
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from grader_tests.plugins import integrity

from .classroom import GradedSubmission, failure_reason, missing_notebooks

KIT_PARTS = ("nbgrader_config.py", "grader_tests", "instructor")  # plus source/ and release/ of each assignment
SKIPPED = ("__pycache__", "*.pyc", ".ipynb_checkpoints")
AUTOGRADE_TIMEOUT = 3600  # seconds for one student's whole `nbgrader autograde`, the sandbox's own limits inside
STARTED_AHEAD = "[AutogradeApp | INFO] The notebook runs in a kernel started ahead"  # nbgrader's log (warm_pool)
LOCKED_RETRY_SECONDS = 120  # how long a gradebook write waits for another writer (Formgrader, a TA) to finish


class GradingUnavailable(RuntimeError):
    """Grading cannot run where it would (the message says why and what to do); nothing was queued."""


# --- The course: settings, the kit, what was submitted ---------------------------------------------

def course_settings(root: Path) -> dict:
    """db_url and course_id as nbgrader reads them from the course's nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    return {"db_url": coursedir.db_url, "course_id": coursedir.course_id}


def sandbox_wanted(root: Path, options=()) -> bool:
    """Whether the course's nbgrader_config.py, with the nbgrader options given, grades in the sandbox."""
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(KVArgParseConfigLoader(argv=list(options)).load_config())
    return bool(config.SandboxedExecute.get("sandbox", True))


def sandbox_problem() -> str | None:
    """Why this machine cannot run sandboxed kernels (None: it can); run on each worker."""
    from grader_tests.plugins import sandbox

    return sandbox.why_unavailable()


def grading_problem(client, wanted: bool) -> str | None:
    """Why the workers cannot grade (None: they can), asked of every worker before anyone is queued."""
    if not wanted:
        return None
    found = client.run(sandbox_problem)  # worker address -> its reason, or None
    reasons = sorted({reason for reason in found.values() if reason})
    if not reasons:
        return None
    where = "" if len(reasons) == 1 and all(found.values()) else \
        f" (on {sum(1 for r in found.values() if r)} of {len(found)} workers)"
    return "; ".join(reasons) + where


def unavailable_message(problem: str) -> str:
    return (f"Grading cannot start: the sandbox that students' notebooks run in cannot be set up: {problem}. "
            "Nothing was graded. (To grade anyway, with students' code running with your rights: "
            "--SandboxedExecute.sandbox=False.)")


def pack_kit(root: Path, assignments) -> bytes:
    """The grading kit as one tar archive, the same bytes for the same files (links followed)."""
    members = [root / part for part in KIT_PARTS] + [root / folder / a for folder in ("source", "release")
                                                     for a in assignments]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for top in members:
            paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
            for path in paths:
                relative = path.relative_to(root)
                if any(relative.match(pattern) or pattern in relative.parts for pattern in SKIPPED):
                    continue
                data = path.read_bytes()
                info = tarfile.TarInfo(relative.as_posix())
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack_folder(folder: Path) -> bytes:
    """A submitted or autograded folder as a tar archive (regular files only)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for top, dirs, files in os.walk(folder):  # links are neither followed nor packed
            dirs.sort()
            for name in sorted(files):
                path = Path(top, name)
                if path.is_file() and not path.is_symlink():
                    archive.add(path, path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")


def submitted_students(root: Path, assignment: str, chosen=None) -> list:
    folder = root / "submitted"
    found = sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir()) if folder.is_dir() else []
    return [s for s in found if chosen is None or s in chosen]


def _columns(row, *skip) -> dict:
    """A gradebook row's own columns (no ids, no links to other rows)."""
    from sqlalchemy import inspect

    return {c.key: getattr(row, c.key) for c in inspect(row).mapper.column_attrs
            if c.key != "id" and not c.key.endswith("_id") and c.key not in ("type", *skip)}


def assignment_gradebook(db_url: str, course_id: str, assignment: str) -> bytes:
    """A SQLite gradebook holding the assignment's definition alone (cells, points, checksums, due
    date), as nbgrader's generate_assignment recorded it in the course's gradebook."""
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gradebook.db"
        with Gradebook(db_url, course_id) as course, Gradebook(f"sqlite:///{path}", course_id) as copy:
            original = course.find_assignment(assignment)
            copy.update_or_create_assignment(assignment, **_columns(original, "name"))
            for notebook in original.notebooks:
                copy.update_or_create_notebook(notebook.name, assignment, **_columns(notebook, "name"))  # kernelspec
                for cells, add in ((notebook.grade_cells, copy.update_or_create_grade_cell),
                                   (notebook.solution_cells, copy.update_or_create_solution_cell),
                                   (notebook.task_cells, copy.update_or_create_task_cell),
                                   (notebook.source_cells, copy.update_or_create_source_cell)):
                    for cell in cells:
                        add(cell.name, notebook.name, assignment, **_columns(cell, "name"))
        return path.read_bytes()


def student_record(db_url: str, course_id: str, assignment: str, student: str) -> dict:
    """What the worker's gradebook needs of the student: names (nbgrader keeps them) and any extension."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gradebook:
        try:
            info = _columns(gradebook.find_student(student))
        except MissingEntry:
            info = {}
        try:
            extension = gradebook.find_submission(assignment, student).extension
        except MissingEntry:
            extension = None
    return {"info": info, "extension": extension}


def submission_digest(folder: Path) -> str:
    """What the student handed in, as one hash of its files' names and bytes (timestamp.txt included):
    a new submission differs even where the LMS gives no time."""
    digest = hashlib.sha256()
    with tarfile.open(fileobj=io.BytesIO(pack_folder(folder))) as archive:
        for member in archive.getmembers():
            digest.update(member.name.encode() + b"\0" + archive.extractfile(member).read() + b"\0")
    return digest.hexdigest()


def last_gradings(log: Path) -> dict:
    """student -> the last line of grading.jsonl about them."""
    last = {}
    if log.exists():
        for line in log.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                last[record["student"]] = record
    return last


def already_graded(root: Path, assignment: str, student: str, notebooks, last: dict) -> bool:
    """This command graded this very submission (the line it writes after everything else is stored)
    and autograded/ still holds its notebooks."""
    record = last.get(student) or {}
    autograded = root / "autograded" / student / assignment
    return (record.get("score") is not None
            and record.get("submission") == submission_digest(root / "submitted" / student / assignment)
            and all((autograded / f"{name}.ipynb").exists() for name in notebooks))


# --- On the worker -------------------------------------------------------------------------------------

def _kit_folder(kit_id: str, kit: bytes) -> Path:
    """The kit unpacked once per machine and kit version (worker processes of one machine share it,
    and with it the warm XLA caches under .grader_cache/)."""
    base = Path(tempfile.gettempdir()) / f"rnn-course-grading-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    found = os.lstat(base)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise RuntimeError(f"{base} is not a private folder of this user: refusing to run a grading kit from it")
    target = base / kit_id
    with open(base / f"{kit_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            partial = base / f"{kit_id}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            unpack(kit, partial)
            (partial / ".grader_cache").mkdir()
            partial.rename(target)
    return target


# nbgrader's start-up (imports: about 3 s a process) is paid once per worker: a server process imports
# nbgrader, then forks one child per student, which runs `nbgrader ARGS` as the command line does.
# After each student it forks the next one's child ahead: that child starts the sandboxed kernel the
# next student of the assignment takes (grader_tests.plugins.sandbox.start_for_next_run), then
# waits for its request; a request for another folder or grading kit gets a new child instead.
AUTOGRADER = r"""
import atexit, ctypes, json, os, shutil, signal, sys, traceback
import nbgrader.apps.nbgraderapp, nbgrader.api, nbconvert, nbclient, jupyter_client, sqlalchemy, nbformat  # noqa
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: ends with the worker that started it


def leave(code):
    try:
        atexit._run_exitfuncs()  # a kernel started ahead and not used is stopped
        sys.stdout.flush(), sys.stderr.flush()
    finally:
        os._exit(code)


def run(request, problem=None):
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        if problem:
            print("No kernel could be started ahead for this student:", problem, file=sys.stderr, flush=True)
        os.chdir(request["cwd"])
        sys.argv = ["nbgrader", *request["args"]]
        from nbgrader.apps.nbgraderapp import main
        main()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        leave(code)


def child(prepare=None):
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(read)
        return pid, write
    os.close(write)
    os.setsid()
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    problem = None
    if prepare is not None:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1), os.dup2(quiet, 2)
        try:
            os.chdir(prepare["cwd"])
            sys.path.insert(0, os.getcwd())  # the course folder's grading kit, as nbgrader does
            from grader_tests.plugins import sandbox
            sandbox.start_for_next_run(prepare["args"])
        except BaseException:  # the next student's kernel then starts when its notebook does
            problem = traceback.format_exc(limit=-3)
    with os.fdopen(read, "rb") as pipe:
        line = pipe.read()
    if not line:
        leave(0)
    run(json.loads(line), problem)


def place(request):  # its folder and the grading kit there: a child forked ahead has imported that kit
    return request["cwd"], os.path.realpath(os.path.join(request["cwd"], "grader_tests"))


ahead = None  # (pid, pipe, place) of the child forked for the next request
for line in sys.stdin:
    request = json.loads(line)
    if ahead is not None and ahead[2] != place(request):
        os.close(ahead[1])
        os.waitpid(ahead[0], 0)
        ahead = None
    pid, pipe = ahead[:2] if ahead is not None else child()
    try:
        os.write(pipe, line.encode())
    except BrokenPipeError:  # the child forked ahead ended: a new one
        os.waitpid(pid, 0)
        os.close(pipe)
        pid, pipe = child()
        os.write(pipe, line.encode())
    os.close(pipe)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    ahead = (*child(request), place(request)) if request.get("ahead") else None
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
if ahead is not None:  # the worker ends: the child forked ahead stops its kernel, and the scratch folder goes
    os.close(ahead[1])
    os.waitpid(ahead[0], 0)
    shutil.rmtree(ahead[2][0], ignore_errors=True)
"""


class Autograder:
    """`nbgrader ARGS` in a folder, through this thread's server (started on first use, again after a timeout)."""

    _local = threading.local()
    _servers: list = []  # every thread's, in this process

    @classmethod
    def stop_all(cls) -> None:
        """End this process's idle servers (a grade command's end: another's, on a shared cluster, may be
        grading): each stops the kernel it started ahead and removes its scratch folder; a thread whose
        server ended starts a new one."""
        for server in [server for server in cls._servers if not server.busy]:
            cls._servers.remove(server)
            with contextlib.suppress(OSError):
                server.stdin.close()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    @classmethod
    def course_folder(cls, kit_root: Path) -> Path:
        """This thread's scratch course folder, the same for each of its students (the kernel started ahead
        for the next one waits there): the kit of `kit_root` and nothing else. The kit's files are left as
        they are when they are the same, since the process forked ahead reads them meanwhile."""
        folder = getattr(cls._local, "folder", None)
        if folder is None or folder.parent != kit_root.parent or not folder.is_dir():
            folder = cls._local.folder = Path(tempfile.mkdtemp(prefix="course-", dir=kit_root.parent))
        links = {name: kit_root / name for name in ("grader_tests", "instructor", "source", "release", ".grader_cache")}
        config = (kit_root / "nbgrader_config.py").read_bytes()
        for entry in folder.iterdir():
            if entry.name in links and entry.is_symlink() and Path(os.readlink(entry)) == links[entry.name]:
                continue
            if entry.name == "nbgrader_config.py" and not entry.is_symlink() and entry.read_bytes() == config:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name, target in links.items():
            if not (folder / name).is_symlink():
                (folder / name).symlink_to(target)
        if not (folder / "nbgrader_config.py").exists():
            (folder / "nbgrader_config.py").write_bytes(config)
        return folder

    @classmethod
    def run(cls, args, cwd: Path, timeout: float, ahead: bool = False) -> tuple:
        """(return code, log) of `nbgrader ARGS` run in `cwd`. `ahead`: then start the kernel of a next
        run in the same folder, with the same ARGS but the student."""
        server = getattr(cls._local, "server", None)
        if server is None or server.poll() is not None:
            server = cls._local.server = subprocess.Popen(
                [sys.executable, "-c", AUTOGRADER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
            server.replies, server.busy = b"", False
            cls._servers.append(server)
        log = Path(cwd) / ".autograde.log"
        request = {"args": list(args), "cwd": str(cwd), "log": str(log), "ahead": ahead}
        server.busy = True
        try:
            server.stdin.write(json.dumps(request).encode() + b"\n")
            started = cls._reply(server, 60)
            ready = cls._reply(server, timeout) if started else None
        finally:
            server.busy = False
        if not started or not ready:
            if started:  # the child leads its own session, with the kernels it started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(json.loads(started)["pid"], 9)
            server.kill()
            server.wait()
            cls._local.server = None
            return -9, f"nbgrader autograde did not finish within {timeout:.0f} s, or its process ended"
        return json.loads(ready)["returncode"], log.read_text(errors="replace") if log.exists() else ""

    @staticmethod
    def _reply(server, timeout: float) -> str | None:
        """The server's next line, or None after `timeout` seconds or at its end (no buffer hides a line)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in server.replies:
            ready, _, _ = select.select([server.stdout], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(server.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                return None
            server.replies += chunk
        line, server.replies = server.replies.split(b"\n", 1)
        return line.decode()


def grade_on_worker(kit_id: str, kit: bytes, gradebook: bytes, assignment: str, student: str, record: dict,
                    submission: bytes, options: tuple = ()) -> dict:
    """Autograde one student in a scratch course folder; return what the course's folder needs."""
    from nbgrader.api import Gradebook

    began, started = time.time(), time.monotonic()
    kit_root = _kit_folder(kit_id, kit)
    course = Autograder.course_folder(kit_root)
    try:
        (course / "gradebook.db").write_bytes(gradebook)
        db_url = f"sqlite:///{course / 'gradebook.db'}"
        with Gradebook(db_url) as book:
            book.update_or_create_student(student, **record["info"])
            if record["extension"] is not None:
                book.update_or_create_submission(assignment, student, extension=record["extension"])
        unpack(submission, course / "submitted" / student / assignment)
        returncode, log = Autograder.run(
            ["autograde", assignment, "--student", student, "--force", f"--CourseDirectory.root={course}",
             f"--CourseDirectory.db_url={db_url}", *options], course, AUTOGRADE_TIMEOUT, ahead=not sandbox_rootless())
        log = log.replace(str(course), "<course>")
        autograded = course / "autograded" / student / assignment
        result = {"returncode": returncode, "log": log, "worker": socket.gethostname(),
                  "autograded": pack_folder(autograded) if returncode == 0 and autograded.is_dir() else None,
                  "scores": _scores(course, assignment, student) if returncode == 0 else None,
                  "integrity": _integrity_rows(course / integrity.FILE)}
    finally:
        Autograder.course_folder(kit_root)  # emptied: no student's work is left on the worker
    result["seconds"], result["began"] = time.monotonic() - started, began
    return result


def sandbox_rootless() -> bool:
    """Grading as an ordinary account: its workers start no kernel ahead (an ordinary account's kernels
    started ahead lost their reports in the grade command: not yet understood)."""
    from grader_tests.plugins.sandbox import rootless

    return rootless()


def _scores(course: Path, assignment: str, student: str) -> dict:
    """What nbgrader's autograde wrote for the submission (timestamps in UTC, naive as nbgrader keeps them)."""
    from nbgrader.api import Gradebook

    submitted = course / "submitted" / student / assignment
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        submission = book.find_submission(assignment, student)
        return {"timestamp": submission.timestamp,
                "notebooks": {nb.name: {"late_submission_penalty": nb.late_submission_penalty,
                                        "missing": not (submitted / f"{nb.name}.ipynb").exists(),
                                        "grades": {g.name: {"auto_score": g.auto_score,
                                                            "needs_manual_grade": g.needs_manual_grade}
                                                   for g in nb.grades},
                                        "comments": {c.name: c.auto_comment for c in nb.comments}}
                              for nb in submission.notebooks}}


def _integrity_rows(path: Path) -> list:
    import csv

    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# --- Back in the course folder --------------------------------------------------------------------------

def _retry_while_locked(write):
    """Run `write()`; while another program holds the SQLite gradebook (Formgrader saving a TA's
    score), wait and try again rather than lose the grade."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + LOCKED_RETRY_SECONDS
    while True:
        try:
            return write()
        except (OperationalError, InvalidEntry) as error:  # nbgrader's API wraps the first in the second
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def store_scores(db_url: str, course_id: str, assignment: str, student: str, scores: dict) -> tuple:
    """Write the worker's scores into the course's gradebook as nbgrader's own autograde would have:
    auto scores and comments replaced, a TA's manual scores kept (and then marked for review).
    Returns (score, max_score)."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    def write():
        with Gradebook(db_url, course_id) as book, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's update_or_create_submission, as in its autograde
            try:
                book.update_or_create_student(student)
                extra = {"timestamp": scores["timestamp"]} if scores["timestamp"] else {}
                submission = book.update_or_create_submission(assignment, student, **extra)
                for notebook in submission.notebooks:
                    graded = scores["notebooks"][notebook.name]
                    notebook.late_submission_penalty = graded["late_submission_penalty"]
                    for grade in notebook.grades:
                        new = graded["grades"][grade.name]
                        grade.auto_score = new["auto_score"]
                        # as SaveAutoGrades: a manual score, or no automatic one, asks for a TA's review;
                        # a notebook not submitted asks for none
                        grade.needs_manual_grade = not graded["missing"] and (
                            new["needs_manual_grade"] or grade.manual_score is not None)
                    for comment in notebook.comments:
                        comment.auto_comment = graded["comments"][comment.name]
                book.db.commit()
                return submission.score, submission.max_score
            except BaseException:
                book.db.rollback()
                raise

    return _retry_while_locked(write)


def _add_student(db_url: str, course_id: str, student: str) -> None:
    """As nbgrader's autograde does before it fails: exported grades then list the student, with 0."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as book:
        book.update_or_create_student(student)


def store_autograded(root: Path, assignment: str, student: str, archive: bytes) -> None:
    """Replace autograded/<student>/<assignment>/ at once (a crash leaves the old or the new folder)."""
    target = root / "autograded" / student / assignment
    partial = target.with_name(f".{assignment}.partial")
    old = target.with_name(f".{assignment}.old")
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    unpack(archive, partial)
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def store_integrity(root: Path, assignment: str, student: str, notebooks, rows: list) -> None:
    for notebook in notebooks:
        events = [(r["event"], r["detail"]) for r in rows
                  if (r["student"], r["assignment"], r["notebook"]) == (student, assignment, notebook)]
        integrity.record(str(root), (student, assignment, notebook), events)


# --- A class ------------------------------------------------------------------------------------------

class Progress:
    """A progress bar (counts, rate, time left) with a line per finished submission, or silence."""

    def __init__(self, total: int, title: str, quiet: bool):
        self.quiet = quiet
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            # the bar on a terminal only (disable=None); the finished lines carry the counts in logs too
            self.bar = tqdm(total=total, desc=title, unit="submission", file=sys.stderr, dynamic_ncols=True, disable=None,
                            bar_format="{desc}: {n_fmt}/{total_fmt} {bar} [{elapsed}<{remaining}, {rate_fmt}]")

        self.done, self.total = 0, total

    def finished(self, text: str, problem: bool = False) -> None:
        self.done += 1
        text = f"[{self.done}/{self.total}] {text}"
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
            self.bar.update()
        elif problem:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def describe(result: GradedSubmission, with_assignment: bool = False) -> str:
    who = f"{result.assignment} / {result.student}" if with_assignment else result.student
    if result.problem and result.score is None:
        return f"{who:<28} NOT GRADED  {result.seconds:6.1f} s  {result.problem}"
    note = f"  ({result.problem})" if result.problem else ""
    return f"{who:<28} {result.score:>5g}/{result.max_score:<5g} {result.seconds:6.1f} s{note}"


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None):
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # One single-threaded process per worker: each runs one nbgrader at a time, as a machine's share.
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def grade(root: Path, assignments, workers: int = 2, scheduler: str | None = None, students=None,
          force: bool = False, quiet: bool = False, db_url: str | None = None, options: tuple = (),
          client=None, report: bool = True) -> list:
    """Grade every submitted student of each assignment; returns one GradedSubmission per student graded or not.
    Raises GradingUnavailable, before anyone is queued, when the workers cannot run the sandbox."""
    root = Path(root).resolve()
    settings = course_settings(root)
    db_url = db_url or settings["db_url"]
    course_id = settings["course_id"]
    kit = pack_kit(root, assignments)
    kit_id = hashlib.sha256(kit).hexdigest()[:16]
    from distributed import as_completed

    wanted = sandbox_wanted(root, options)
    given = contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)
    with given as cluster:
        problem = grading_problem(cluster, wanted)
        if problem:
            raise GradingUnavailable(unavailable_message(problem))
        # every assignment's students queued at once: no worker waits for the last of one assignment
        classes = [_submit_class(root, cluster, kit, kit_id, assignment, db_url, course_id, students, force, quiet,
                                 options) for assignment in assignments]
        futures = {future: (one, *student) for one in classes for future, student in one.pop("futures").items()}
        progress = Progress(len(futures), ", ".join(assignments) if len(assignments) < 3 else "grading", quiet)
        try:
            for future in as_completed(futures):
                one, student, digest = futures.pop(future)  # a collected result is not kept (nor recomputed)
                result = _collect(root, future, student, one["assignment"], one["notebooks"], db_url, course_id)
                future.release()
                result.submission = digest
                with one["log"].open("a") as handle:
                    handle.write(json.dumps(journal_line(result), default=str) + "\n")
                one["results"].append(result)
                progress.finished(describe(result, len(assignments) > 1), problem=result.score is None)
                if len(one["results"]) == one["count"]:
                    _finish_class(root, one, db_url, cluster, quiet, report)
        finally:
            progress.close()
            with contextlib.suppress(Exception):  # best effort: a kernel left by a killed worker is swept later
                cluster.run(Autograder.stop_all)
        for one in classes:
            if not one["count"]:  # nothing to grade: the report is still written
                _finish_class(root, one, db_url, cluster, quiet, report)
    return [result for one in classes for result in one["results"]]


def _submit_class(root, client, kit, kit_id, assignment, db_url, course_id, students, force, quiet, options) -> dict:
    """Queue one assignment's students who need grading; the others are skipped, and said so."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as book:
        notebooks = [nb.name for nb in book.find_assignment(assignment).notebooks]
    log = root / "reports" / assignment / "grading.jsonl"
    last = last_gradings(log)
    everyone = submitted_students(root, assignment, students)
    todo = everyone if force else [s for s in everyone if not already_graded(root, assignment, s, notebooks, last)]
    skipped = len(everyone) - len(todo)
    if not quiet and skipped:
        print(f"{assignment}: {skipped} student(s) already graded for the submission on disk, skipped "
              "(--force grades them again)")
    log.parent.mkdir(parents=True, exist_ok=True)
    # passed by value, not scattered: data scattered to a worker that dies is lost with it
    gradebook = assignment_gradebook(db_url, course_id, assignment)
    futures = {}
    for student in todo:
        folder = root / "submitted" / student / assignment
        future = client.submit(grade_on_worker, kit_id, kit, gradebook, assignment, student,
                               student_record(db_url, course_id, assignment, student), pack_folder(folder),
                               tuple(options), key=f"grade-{assignment}-{student}-{time.time_ns()}", pure=False)
        futures[future] = (student, submission_digest(folder))
    return {"assignment": assignment, "notebooks": notebooks, "futures": futures, "count": len(futures),
            "results": [], "skipped": skipped, "log": log}


def _finish_class(root, one, db_url, client, quiet, report) -> None:
    _summary(one["assignment"], one["results"], one["skipped"], client, quiet)
    if report:
        from .class_report import write_report

        try:
            path = write_report(root, one["assignment"], db_url=db_url)
        except Exception as error:  # noqa: BLE001 - the grades are stored; the report can be written again
            print(f"The class report of {one['assignment']} could not be written: {type(error).__name__}: {error} "
                  f"(python -m instructor report {one['assignment']})", file=sys.stderr, flush=True)
        else:
            if not quiet:
                print(f"Class report: {path}", flush=True)


def _collect(root, future, student, assignment, notebooks, db_url, course_id) -> GradedSubmission:
    """Store one finished student's grading in the course folder; any failure becomes its `problem`."""
    result = GradedSubmission(student, assignment)
    try:
        done = future.result()
    except Exception as error:  # noqa: BLE001 - the class goes on; the reason is reported
        from distributed import KilledWorker

        if isinstance(error, KilledWorker):
            result.problem = ("the Dask worker grading it died each time it was tried (out of memory, or killed); "
                              "nothing was recorded")
        else:
            result.problem = f"grading failed on the worker: {type(error).__name__}: {error}"
    else:
        result.seconds, result.worker = round(done["seconds"], 2), done["worker"]
        result.started_ahead = sum(line.startswith(STARTED_AHEAD) for line in done["log"].splitlines())
        result.started = datetime.fromtimestamp(done["began"], UTC).isoformat(timespec="milliseconds")
        try:
            if done["returncode"] != 0 or done["autograded"] is None:
                result.problem = (missing_notebooks(root, assignment, student, notebooks)
                                  or failure_reason(done["log"]))
            else:
                store_autograded(root, assignment, student, done["autograded"])
                result.score, result.max_score = store_scores(db_url, course_id, assignment, student, done["scores"])
                result.problem = missing_notebooks(root, assignment, student, notebooks, graded=True)
            store_integrity(root, assignment, student, notebooks, done["integrity"])
        except Exception as error:  # noqa: BLE001 - reported as this student's, and the class goes on
            result.score = None
            result.problem = f"graded, but recording the result failed: {type(error).__name__}: {error}"
    if result.score is None:
        with contextlib.suppress(Exception):  # best effort: the line above already says what went wrong
            _retry_while_locked(lambda: _add_student(db_url, course_id, student))
    result.finished = datetime.now(UTC).isoformat(timespec="milliseconds")
    return result


def journal_line(result: GradedSubmission) -> dict:
    """The line of reports/<assignment>/grading.jsonl for one submission (its tests are in the gradebook)."""
    return {name: value for name, value in asdict(result).items() if name not in ("tests", "mape")}


def own_wall_time(results) -> float:
    """Seconds from the first of these submissions starting on a worker to the last one recorded: the
    assignment's own time, whatever else the workers graded before and after."""
    began = [datetime.fromisoformat(r.started) for r in results if r.started]
    ended = [datetime.fromisoformat(r.finished) for r in results if r.finished]
    return (max(ended) - min(began)).total_seconds() if began and ended else 0.0


def _summary(assignment, results, skipped, client, quiet) -> None:
    if quiet:
        return
    graded = [r for r in results if r.score is not None]
    failed = [r for r in results if r.score is None]
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    wall = own_wall_time(results)
    lines = [f"{assignment}: {len(graded)} graded, {len(failed)} not graded, {skipped} skipped, "
             f"in {wall:.0f} s on {workers} worker(s)"]
    if graded:
        scores = [r.score for r in graded]
        work = sum(r.seconds for r in results)
        lines.append(f"  score: mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g} "
                     f"of {graded[0].max_score:g}; {work / max(len(results), 1):.1f} s of grading per submission, "
                     f"{wall / max(len(results), 1):.1f} s per submission of wall time")
    lines += [f"  not graded: {r.student}: {r.problem}" for r in failed]
    print("\n".join(lines), flush=True)
