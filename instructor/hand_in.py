"""How submissions reach the course folder: nbgrader's exchange on a shared server, or an LMS's zip.

- `TrustedCollect` is `nbgrader collect` (set in nbgrader_config.py) trusting only what the file
  system says: a submission is collected for the Unix user who owns it, whatever name it claims;
  links and special files in it are left out; its time is when its files were last written
  (which no student can set back), not the time written in its name or in `timestamp.txt`.
- `LmsFileNames` is `nbgrader zip_collect`'s file-name plugin for the LMS patterns of
  nbgrader_config.py; every file it cannot collect is reported with the reason.
- `python -m instructor.hand_in exchange` makes the exchange folder and writes the students'
  nbgrader configuration, both from nbgrader_config.py (README, "Hand-in").
"""

from __future__ import annotations

import argparse
import datetime
import os
import pwd
import re
import shutil
import stat
import sys
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.utils import ignore_patterns, parse_utc
from traitlets import Dict, Float

REPO = Path(__file__).resolve().parent.parent
STUDENTS_CONFIG = "/etc/jupyter/nbgrader_config.py"  # read by every user's nbgrader and Jupyter server


class TrustedCollect(ExchangeCollect):
    """nbgrader's collect, judging each submission by its owner and its files' change times."""

    time_tolerance = Float(
        120.0, help="Seconds a submission's files may be written after the time in its name (an honest "
                    "`nbgrader submit` copies them within seconds); later, their own time is recorded."
    ).tag(config=True)

    def init_src(self):
        super().init_src()
        # nbgrader picked the newest claimed record of each name; judge every record instead.
        pattern = "{}+{}+".format(self.coursedir.student_id or "*", self.coursedir.assignment_id)
        records = [self._path_to_record(path) for path in Path(self.inbound_path).glob(pattern + "*")]
        newest = {}
        for record in records:
            path = os.path.join(self.inbound_path, record["filename"])
            if self.check_owner and _owner(path) != record["username"]:
                self.log.error("Not collected: %s claims to be %s's submission but was handed in by %s.",
                               record["filename"], record["username"], _owner(path))
                continue
            written = _last_change(path)
            if not 0 <= (written - record["timestamp"]).total_seconds() <= self.time_tolerance:
                self.log.error("%s: its files were written at %s, not at the %s it claims; %s is recorded.",
                               record["filename"], written, record["timestamp"], written)
                record["timestamp"] = written
            on_time = self.duedate is None or record["timestamp"] <= self.duedate
            key = (self.before_duedate and on_time, record["timestamp"])
            if record["username"] not in newest or key > newest[record["username"]][0]:
                newest[record["username"]] = (key, record)
        self.src_records = [record for _, record in newest.values()]
        self._trusted_times = {record["filename"]: record["timestamp"] for record in self.src_records}

    def do_copy(self, src, dest, log=None):
        """Regular files and folders of the submitter only: a link could point at the course's own
        solutions, which the collecting user can read and the student cannot."""
        owner = os.lstat(src).st_uid
        size, most = self.get_size(src), 1000 * self.coursedir.max_dir_size
        if size > most:
            self.log.error("Not collected: %s holds %d bytes, over the %d of CourseDirectory.max_dir_size.",
                           os.path.basename(src), size, most)
            return

        def left_out(folder, names):
            skipped = []
            for name in names:
                mode = os.lstat(os.path.join(folder, name))
                if not (stat.S_ISREG(mode.st_mode) or stat.S_ISDIR(mode.st_mode)) or mode.st_uid != owner:
                    kind = "a link" if stat.S_ISLNK(mode.st_mode) else (
                        "someone else's file" if mode.st_uid != owner else "not a regular file")
                    self.log.error("Not collected: %s is %s.", os.path.relpath(os.path.join(folder, name), src), kind)
                    skipped.append(name)
            return skipped

        shutil.copytree(src, dest, symlinks=True, ignore=_both(left_out, self._nbgrader_ignore()))
        if not any(Path(dest).rglob("*.ipynb")):
            self.log.error("%s holds no notebook once collected: there is nothing of it to grade.", os.path.basename(src))
        trusted = self._trusted_times.get(os.path.basename(src))
        if trusted is not None:
            Path(dest, "timestamp.txt").write_text(trusted.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))

    def _nbgrader_ignore(self):
        return ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                               max_file_size=self.coursedir.max_file_size, log=self.log)


def _both(first, second):
    def ignore(folder, names):
        skipped = set(first(folder, names))
        return skipped | set(second(folder, [n for n in names if n not in skipped]))
    return ignore


def _owner(path: str) -> str:
    uid = os.lstat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _last_change(path: str) -> datetime.datetime:
    """The latest status change (ctime) in the tree: a write or chmod moves it on, and only root can
    move it back."""
    latest = os.lstat(path).st_ctime
    for folder, names, files in os.walk(path):
        for name in names + files:
            latest = max(latest, os.lstat(os.path.join(folder, name)).st_ctime)
    return parse_utc(datetime.datetime.fromtimestamp(latest, datetime.UTC))


class LmsFileNames(FileNameCollectorPlugin):
    """Each file of an LMS download is collected by the first pattern that matches the end of its path
    (its name, or its folder and name); the student id is the name the LMS wrote, in lower case
    without spaces or punctuation."""

    patterns = Dict(help="LMS name -> regular expression with the groups student_id and file_id, "
                         "matched against the end of each extracted file's path").tag(config=True)

    def collect(self, submitted_file: str):
        if not hasattr(self, "_seen"):
            self._seen = {}
        for lms, pattern in self.patterns.items():
            match = re.search(r"(?:^|/)(?:" + pattern + r")$", submitted_file)
            if match:
                found = match.groupdict()
                student_id = re.sub(r"[^a-z0-9]", "", found["student_id"].lower())
                lms_id = found.get("lms_id")
                if self._seen.setdefault(student_id, lms_id) != lms_id:
                    self.log.error("Not collected: %s: two students of the LMS are both %s (ids %s and %s); "
                                   "move it to submitted/<student id>/ by hand.",
                                   submitted_file, student_id, self._seen[student_id], lms_id)
                    return None
                self.log.info("%s: %s's %s (%s)", os.path.basename(submitted_file), student_id, found["file_id"], lms)
                return {"student_id": student_id, "file_id": found["file_id"]}
        self.log.error("Not collected: %s matches no LMS file-name pattern (%s in nbgrader_config.py); it stays in "
                       "the extracted folder: rename it, or add its LMS's pattern.",
                       submitted_file.split("/extracted/", 1)[-1], ", ".join(self.patterns))
        return None


def write_students_config(target: Path, course_id: str, exchange_root: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"# The students' nbgrader configuration of the course {course_id}: written by\n"
        "# `python -m instructor.hand_in exchange` from the course's nbgrader_config.py; edit that one.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.Exchange.root = {exchange_root!r}\n"
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
    os.chmod(root, 0o1777)
    write_students_config(args.students_config, course_id, root)
    print(f"exchange {root} (mode 1777) for the course {course_id}; students' configuration: {args.students_config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
