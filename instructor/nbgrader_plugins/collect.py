"""`nbgrader collect` from the exchange of a shared server (set in nbgrader_config.py), trusting only
what the file system says: a submission is collected for the Unix user who owns it, whatever name it
claims; links and special files in it are left out; its time is when its files were last written
(which no student can set back), not the time written in its name or in `timestamp.txt`.
See docs/instructors.md, "Hand-in".
"""

from __future__ import annotations

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
from nbgrader.utils import parse_utc
from traitlets import Float, Integer

from ..gradebook import SAFE_ID, enrol



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
        """Copy `source` as `uid` into `target`: (latest ctime, [(path, why it was left out)]). An ordinary
        grading account (the hub's) cannot take another uid: it copies as itself what nbgrader's submit
        made readable to all, and leaves out links and special files all the same."""
        limits = {"max_entries": self.max_entries, "max_depth": self.max_depth, "ignore": list(self.coursedir.ignore),
                  "max_file": 1000 * self.coursedir.max_file_size, "max_bytes": 1000 * self.coursedir.max_dir_size}
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the submitter's uid, no groups, nothing more (when collecting as root)
            status = 1
            try:
                os.close(read_end)
                if os.geteuid() == 0:
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
            elif hasattr(tarfile, "data_filter"):
                tar.extract(member, target, filter="data")
            else:  # Python before 3.11.4 (Debian 12's 3.11.2, which a hub's course environment may run): the same rules
                parts = Path(member.name).parts
                if not (member.isreg() or member.isdir()) or Path(member.name).is_absolute() or ".." in parts:
                    raise ValueError(f"{member.name!r} is not a plain file or folder inside the submission")
                tar.extract(member, target, set_attrs=False)
    latest = parse_utc(datetime.datetime.fromtimestamp(meta["latest"], datetime.UTC))
    return latest, [tuple(item) for item in meta["skipped"]]


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
