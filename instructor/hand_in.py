"""How submissions reach the course folder: nbgrader's exchange on a shared server, or an LMS's zip.

- `TrustedCollect` is `nbgrader collect` (set in nbgrader_config.py) trusting only what the file
  system says: a submission is collected for the Unix user who owns it, whatever name it claims;
  links and special files in it are left out; its time is when its files were last written
  (which no student can set back), not the time written in its name or in `timestamp.txt`.
- `LmsFileNames` is `nbgrader zip_collect`'s file-name plugin for the LMS patterns of
  nbgrader_config.py; every file it cannot collect is reported with the reason.
- `python -m instructor.hand_in exchange` makes the exchange folder and writes the students'
  nbgrader configuration (course id, exchange folder, cell timeout), from nbgrader_config.py
  (README, "Hand-in").
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fnmatch
import io
import json
import os
import pwd
import re
import resource
import secrets
import select
import shutil
import signal
import stat
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.utils import parse_utc
from traitlets import Dict, Float, Integer

REPO = Path(__file__).resolve().parent.parent
STUDENTS_CONFIG = "/etc/jupyter/nbgrader_config.py"  # read by every user's nbgrader and Jupyter server
# A student id Formgrader can show: nbgrader's own pages write ids into HTML unescaped (its templates
# have no autoescape), so an id with markup would run in a TA's browser. Unix names and LMS ids fit.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class TrustedCollect(ExchangeCollect):
    """nbgrader's collect, judging each submission by its owner and by what its owner could read.

    Every submission is copied by a child process that runs as the Unix user who owns it: a link to
    a file that user cannot read (the course's solutions, another student's home) copies nothing, and
    no file can be swapped between a check and the copy. The child sends regular files only, as a
    tar stream, within limits of files, depth, bytes and time, with the latest change time (ctime)
    of what it read: a write or chmod moves it on, and only root can move it back."""

    time_tolerance = Float(
        10.0, help="Seconds a submission's files may be written after the time in its name (an honest "
                   "`nbgrader submit` copies them within a second); later, their own time is recorded."
    ).tag(config=True)
    max_entries = Integer(1000, help="Files and folders copied from one submission at most").tag(config=True)
    max_depth = Integer(8, help="Folder levels copied from one submission at most").tag(config=True)
    copy_timeout = Float(120.0, help="Seconds one submission's copy may take").tag(config=True)

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self._staging = tempfile.mkdtemp(prefix="collect-")  # root's, mode 0700
        pattern = "{}+{}+*".format(self.coursedir.student_id or "*", self.coursedir.assignment_id)
        newest = {}
        for path in sorted(Path(self.inbound_path).glob(pattern)):
            try:  # one broken or hostile submission never stops the others
                record = self._judged(str(path))
            except Exception as error:  # noqa: BLE001  (whatever it is, it is reported and the class goes on)
                self.log.error("Not collected: %s: %s", path.name, error)
                continue
            if record is None:
                continue
            on_time = self.duedate is None or record["timestamp"] <= self.duedate
            key = (self.before_duedate and on_time, record["timestamp"])
            if record["username"] not in newest or key > newest[record["username"]][0]:
                newest[record["username"]] = (key, record)
        self.src_records = [record for _, record in newest.values()]

    def _judged(self, path: str):
        """The submission's record with its trusted time and its staged copy, or None (reported)."""
        record = self._path_to_record(path)
        if not SAFE_ID.fullmatch(record["username"]):
            raise ValueError(f"its student id {record['username']!r} holds characters Formgrader's pages would run as "
                             "markup (letters, digits, . _ - only)")
        info, inbound = os.lstat(path), os.lstat(self.inbound_path)
        if not stat.S_ISDIR(info.st_mode) or info.st_dev != inbound.st_dev:
            raise ValueError("it is not a folder of the exchange")
        if self.check_owner and _owner(info.st_uid) != record["username"]:
            self.log.error("Not collected: %s claims to be %s's submission but was handed in by %s.",
                           record["filename"], record["username"], _owner(info.st_uid))
            return None
        staged = os.path.join(self._staging, record["filename"])
        written, skipped = self._copy_as(info.st_uid, path, staged)
        for name, reason in skipped:
            self.log.error("Not collected: %s of %s is %s.", name, record["filename"], reason)
        if not 0 <= (written - record["timestamp"]).total_seconds() <= self.time_tolerance:
            self.log.error("%s: its files were written at %s, not at the %s it claims; %s is recorded.",
                           record["filename"], written, record["timestamp"], written)
            record["timestamp"] = written
        Path(staged, "timestamp.txt").write_text(record["timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        secret = Path(staged, "submission_secret.txt")
        if not (secret.is_file() and re.fullmatch(r"[0-9a-f]{128}", secret.read_text())):
            self.log.error("%s: its submission_secret.txt is missing or not nbgrader's; its feedback will not reach "
                           "the student through the exchange.", record["filename"])
            secret.write_text(secrets.token_hex(64))
        if not any(Path(staged).rglob("*.ipynb")):
            self.log.error("%s holds no notebook once collected: there is nothing of it to grade.", record["filename"])
        record["staged"], record["uid"] = staged, info.st_uid
        return record

    def _copy_as(self, uid: int, source: str, target: str):
        """Copy `source` as `uid` into `target`: (latest ctime, [(path, why it was left out)])."""
        limits = {"max_entries": self.max_entries, "max_depth": self.max_depth, "ignore": list(self.coursedir.ignore),
                  "max_file": 1000 * self.coursedir.max_file_size, "max_bytes": 1000 * self.coursedir.max_dir_size}
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the submitter's uid, no groups, nothing more
            status = 1
            try:
                os.close(read_end)
                try:
                    gid = pwd.getpwuid(uid).pw_gid
                except KeyError:
                    gid = 65534
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
                with os.fdopen(write_end, "wb") as out:
                    _send_tree(source, out, uid, **limits)
                status = 0
            except BaseException as error:  # noqa: BLE001  (the child always ends here, with the reason)
                os.write(2, f"copying {source} as uid {uid}: {type(error).__name__}: {error}\n".encode())
            finally:
                os._exit(status)
        os.close(write_end)
        data, deadline, most = bytearray(), time.monotonic() + self.copy_timeout, limits["max_bytes"] + (1 << 20)
        try:
            while True:
                ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(read_end, 1 << 20) if ready else None
                if chunk is None or len(data) > most:
                    os.kill(pid, signal.SIGKILL)
                    raise TimeoutError("its copy took too long or grew too big")
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
        if status != 0:
            raise OSError("its owner could not read it")
        return _receive_tree(bytes(data), target)

    def init_dest(self):
        pass

    def copy_files(self):
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect", self.coursedir.assignment_id,
                             self.coursedir.course_id)
        for record in self.src_records:
            student = record["username"]
            dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, self.coursedir.assignment_id)
            if os.path.isdir(dest):
                existing = self.coursedir.get_existing_timestamp(dest)
                newer = existing is None or record["timestamp"] > existing
                if not ((self.update and newer) or (self.before_duedate and existing != record["timestamp"])):
                    self.log.info("Submission already exists, use --update to update: %s %s", student,
                                  self.coursedir.assignment_id)
                    continue
                self.log.info("Updating submission: %s %s", student, self.coursedir.assignment_id)
                shutil.rmtree(dest)
            else:
                self.log.info("Collecting submission: %s %s", student, self.coursedir.assignment_id)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.move(record["staged"], dest)
            enrol(self.coursedir.db_url, student, _full_name(record["uid"], student))
        shutil.rmtree(self._staging, ignore_errors=True)


def _send_tree(source: str, out, uid: int, max_entries: int, max_depth: int, max_file: int, max_bytes: int,
               ignore: list) -> None:
    """In the child: the regular files and folders under `source` as a tar stream, opened without
    following links and without blocking, each read once up to its size when opened; last, a member
    "/meta" with the latest ctime and what was left out."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    top = os.open(source, flags | os.O_DIRECTORY)
    latest, skipped, entries, total = os.fstat(top).st_ctime, [], 0, 0
    stack = [(top, "", 0)]
    with tarfile.open(fileobj=out, mode="w|") as tar:
        while stack:
            folder, relative, depth = stack.pop()
            for name in sorted(os.listdir(folder)):
                path = os.path.join(relative, name)
                if any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
                    continue
                entries += 1
                if entries > max_entries:
                    skipped.append((path, f"beyond the first {max_entries} files"))
                    break
                try:
                    handle = os.open(name, flags, dir_fd=folder)
                except OSError as error:
                    skipped.append((path, "a link" if error.errno == errno.ELOOP else f"unreadable ({error.strerror})"))
                    continue
                info = os.fstat(handle)
                latest = max(latest, info.st_ctime)
                if stat.S_ISDIR(info.st_mode) and depth < max_depth:
                    member = tarfile.TarInfo(path)
                    member.type, member.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(member)
                    stack.append((handle, path, depth + 1))
                    continue
                if not stat.S_ISREG(info.st_mode):
                    skipped.append((path, "a folder too deep" if stat.S_ISDIR(info.st_mode) else "not a regular file"))
                elif info.st_uid != uid:
                    skipped.append((path, "someone else's file"))
                elif info.st_size > max_file or total + info.st_size > max_bytes:
                    skipped.append((path, f"too big ({info.st_size} bytes)"))
                else:
                    with os.fdopen(handle, "rb", closefd=False) as stream:
                        content = stream.read(info.st_size)
                    total += len(content)
                    member = tarfile.TarInfo(path)
                    member.size, member.mode, member.mtime = len(content), 0o644, int(info.st_mtime)
                    tar.addfile(member, io.BytesIO(content))
                    latest = max(latest, os.fstat(handle).st_ctime)
                os.close(handle)
            os.close(folder)
        meta = json.dumps({"latest": latest, "skipped": skipped}).encode()
        member = tarfile.TarInfo("/meta")
        member.size = len(meta)
        tar.addfile(member, io.BytesIO(meta))


def _receive_tree(data: bytes, target: str):
    """In the collecting process: unpack what the child sent (tarfile's "data" filter: no links, no
    special files, no paths outside `target`)."""
    os.makedirs(target)
    meta = {"latest": 0.0, "skipped": [("everything", "not sent")]}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            if member.name == "/meta":
                meta = json.load(tar.extractfile(member))
            else:
                tar.extract(member, target, filter="data")
    latest = parse_utc(datetime.datetime.fromtimestamp(meta["latest"], datetime.UTC))
    return latest, [tuple(item) for item in meta["skipped"]]


def enrol(db_url: str, student_id: str, full_name: str) -> None:
    """Give a student of the gradebook a name ("John Doe": first John, last Doe; one word: the last
    name), unless it has one: Formgrader lists students as "last, first", and "None, None" without."""
    if not SAFE_ID.fullmatch(student_id):
        raise ValueError(f"{student_id!r} is not a student id Formgrader can show safely (letters, digits, . _ -)")
    first, _, last = full_name.strip().rpartition(" ")
    with Gradebook(db_url) as gradebook:
        try:
            student = gradebook.find_student(student_id)
            if student.first_name or student.last_name:
                return
        except MissingEntry:
            pass
        gradebook.update_or_create_student(student_id, first_name=first or None, last_name=last or student_id)


def _full_name(uid: int, fallback: str) -> str:
    """The name of the Unix account (its GECOS field), or `fallback`."""
    try:
        return pwd.getpwuid(uid).pw_gecos.split(",")[0].strip() or fallback
    except KeyError:
        return fallback


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class LmsFileNames(FileNameCollectorPlugin):
    """Each file of an LMS download is collected by the pattern that matches its whole path inside
    its archive's folder; the student id is the name the LMS wrote, in lower case without spaces or
    punctuation. Every file that is not collected is reported, and stays in the extracted folder."""

    patterns = Dict(help="LMS name -> regular expression with the groups student_id, file_id and lms_id "
                         "(and optionally late), matched against each file's path inside its archive's folder"
                    ).tag(config=True)

    def collect(self, submitted_file: str):
        root, _, inside = submitted_file.partition("/extracted/")
        relative = inside.partition("/")[2]  # without the folder named after the archive
        if not hasattr(self, "_shared"):
            self._shared = self._ids_of_two_students(root + "/extracted")
        found = self._match(relative)
        if found is None:
            self.log.error("Not collected: %s matches no LMS file-name pattern (%s in nbgrader_config.py); it stays in "
                           "the extracted folder: rename it, or add its LMS's pattern.", inside, ", ".join(self.patterns))
            return None
        lms, student_id, file_id, late, name, _ = found
        if student_id in self._shared:
            self.log.error("Not collected: %s: two students of the LMS are both %s (ids %s); file their notebooks "
                           "in submitted/<student id>/ by hand.", inside, student_id, ", ".join(sorted(self._shared[student_id])))
            return None
        if late:
            self.log.warning("%s: %s marks %s's submission late.", inside, lms, student_id)
        enrol(self.parent.coursedir.db_url, student_id, name)
        return {"student_id": student_id, "file_id": file_id}

    def _match(self, relative: str):
        """(lms, student id, file id, late, the LMS's name, LMS id) of the first pattern matching, or None."""
        for lms, pattern in self.patterns.items():
            match = re.fullmatch(pattern, relative)
            if match:
                found = match.groupdict()
                student_id = re.sub(r"[^a-z0-9]", "", found["student_id"].lower())
                return lms, student_id, found["file_id"], bool(found.get("late")), found["student_id"], found["lms_id"]
        return None

    def _ids_of_two_students(self, extracted: str) -> dict:
        """Student ids that the LMS's names give to more than one of its students: id -> LMS ids."""
        ids = {}
        for folder, _, names in os.walk(extracted):
            for name in names:
                found = self._match(os.path.relpath(os.path.join(folder, name), extracted).partition("/")[2])
                if found:
                    ids.setdefault(found[1], set()).add(found[5])
        return {student_id: lms_ids for student_id, lms_ids in ids.items() if len(lms_ids) > 1}


def write_students_config(target: Path, course_id: str, exchange_root: str, cell_timeout: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"# The students' nbgrader configuration of the course {course_id}: written by\n"
        "# `python -m instructor.hand_in exchange` from the course's nbgrader_config.py; edit that one.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.Exchange.root = {exchange_root!r}\n"
        "# Validate (the button, or `nbgrader validate`) lets a training cell run as long as grading does\n"
        f"c.Execute.timeout = {cell_timeout!r}\n"
        "# nbgrader submit, then a word on unanswered cells and how to validate\n"
        "c.ExchangeFactory.submit = 'rnn_course.hand_in.CheckedSubmit'\n")
    target.chmod(0o644)


def course_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.hand_in", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    exchange = commands.add_parser("exchange", help="make the exchange folder and write the students' configuration")
    exchange.add_argument("--students-config", type=Path, default=Path(STUDENTS_CONFIG),
                          help=f"where the students' nbgrader reads it (default {STUDENTS_CONFIG})")
    exchange.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)

    config = course_config(args.course)
    root, course_id = config.Exchange.root, config.CourseDirectory.course_id
    # Everyone writes here (students their submissions); the sticky bit keeps anyone but its owner
    # from renaming the course's folder and putting another in its place.
    os.makedirs(root, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        sys.exit(f"{root} is not a folder of this user's: make it anew (it could belong to a student)")
    os.chmod(root, 0o1777)
    write_students_config(args.students_config, course_id, root, config.Execute.timeout)
    print(f"exchange {root} (mode 1777) for the course {course_id}; students' configuration: {args.students_config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
