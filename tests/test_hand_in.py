"""Hand-in and returned feedback, both ways a course uses.

- The exchange, with real Unix users: the instructor (root) releases the data exploration lab; three
  students fetch it, answer it (one correct, one with a known mistake, one after the due date) and
  submit as themselves; a fourth tries to submit in another's name, to hand in a link to the course's
  solution and to antedate a late submission. The instructor collects, autogrades, grades the
  written answer, releases feedback, and each student fetches their own. One cycle serves every
  test of the exchange below.
- The LMS way: `nbgrader zip_collect` on downloads laid out as Canvas and Moodle name them.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from instructor import classroom
from instructor.submissions import VARIANTS, build

from accounts import Account

ASSIGNMENT = "data_exploration"
NOTEBOOK = classroom.NOTEBOOKS[ASSIGNMENT]
ANSWERS = {"rnnt-alice": "solution", "rnnt-bob": "daily_sum", "rnnt-carol": "solution"}  # carol hands in late
MALLORY = "rnnt-mallory"
STUDENTS = [*ANSWERS, MALLORY]
WRITTEN_SCORES = {"rnnt-alice": 3.0, "rnnt-bob": 2.0, "rnnt-carol": 3.0}  # the TA's marks


def variant(name):
    return next(v for v in VARIANTS if v.assignment == ASSIGNMENT and v.name == name)


class Student(Account):
    """A student of the exchange: a real Unix account, with the students' nbgrader configuration."""

    def __init__(self, name: str, config_dir: Path):
        super().__init__(name, f"{name.split('-')[1].title()} Tester", env={"JUPYTER_CONFIG_PATH": str(config_dir)})


def instructor(course: Path, *args: str) -> str:
    done = classroom.run_nbgrader(course, *args)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory, data_dir):
    """The whole cycle, once; returns what the tests look at."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("bwrap"):
        pytest.skip("needs root, useradd and bwrap to create the students' Unix users (CI has them)")
    course = classroom.make_course_copy(tmp_path_factory.mktemp("course"))
    classroom.release(course, [ASSIGNMENT])
    shared = Path(tempfile.mkdtemp(prefix="rnn-exchange-", dir="/tmp"))  # a place every user can reach
    shared.chmod(0o755)
    exchange = shared / "exchange"
    students = {}
    seen = {"course": course, "exchange": exchange, "outputs": {}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNN_COURSE_EXCHANGE", str(exchange))
        try:
            seen["setup"] = subprocess.run(
                [sys.executable, "-m", "instructor", "exchange", "--course", str(course),
                 "--students-config", str(shared / "jupyter" / "nbgrader_config.py")],
                capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(classroom.REPO))).stdout
            students = {name: Student(name, shared / "jupyter") for name in STUDENTS}
            instructor(course, "release_assignment", ASSIGNMENT)

            for name, answer in ANSWERS.items():
                student = students[name]
                student.must("nbgrader", "fetch_assignment", ASSIGNMENT)
                seen.setdefault("fetched", {})[name] = (student.home / ASSIGNMENT / NOTEBOOK).read_bytes()
                notebook = build(variant(answer))
                student.python(f"import sys; open({str(student.home / ASSIGNMENT / NOTEBOOK)!r}, 'wb')"
                               ".write(sys.stdin.buffer.read())", stdin=notebook)
                seen.setdefault("answered", {})[name] = notebook
            for name in ("rnnt-alice", "rnnt-bob"):
                seen["outputs"][name] = students[name].must("nbgrader", "submit", ASSIGNMENT)
            # mallory hands in the unanswered notebook in alice's name, after alice
            mallory = students[MALLORY]
            mallory.must("nbgrader", "fetch_assignment", ASSIGNMENT)
            seen["outputs"][MALLORY] = mallory.must("nbgrader", "submit", ASSIGNMENT, "--student", "rnnt-alice")

            due = utc_now()
            instructor(course, "db", "assignment", "add", ASSIGNMENT, f"--duedate={due.isoformat()} UTC")
            time.sleep(1.5)
            seen["outputs"]["rnnt-carol"] = students["rnnt-carol"].must("nbgrader", "submit", ASSIGNMENT)
            # mallory, late too, writes a submission by hand: antedated, and her notebook a link to the solution
            solution = course / "source" / ASSIGNMENT / NOTEBOOK
            early = (due - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            # and a folder whose name is no time, a file where a folder belongs, a pipe that never ends
            mallory.python(f"""
import os
inbound = {str(exchange / "rnn-forecasting" / "inbound")!r}
folder = os.path.join(inbound, "{MALLORY}+{ASSIGNMENT}+{early}+x")
os.mkdir(folder)
os.symlink({str(solution)!r}, os.path.join(folder, {NOTEBOOK!r}))
open(os.path.join(folder, "timestamp.txt"), "w").write({early!r})
os.mkfifo(os.path.join(folder, "answers.ipynb"))
os.mkdir(os.path.join(inbound, "{MALLORY}+{ASSIGNMENT}+no-time-at-all+y"))
open(os.path.join(inbound, "{MALLORY}+{ASSIGNMENT}+{early}+z"), "w").write("not a folder")
""")
            seen["inbound"] = sorted(p.name for p in (exchange / "rnn-forecasting" / "inbound").iterdir())
            seen["due"] = due
            seen["collect"] = instructor(course, "collect", ASSIGNMENT)
            seen["autograde"] = classroom.run_nbgrader(course, "autograde", ASSIGNMENT)
            from nbgrader.api import Gradebook

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # the TA grades the written answer
                for name, score in WRITTEN_SCORES.items():
                    grade = gradebook.find_grade("seasonality", NOTEBOOK[:-6], ASSIGNMENT, name)
                    grade.manual_score = score
                gradebook.db.commit()
            instructor(course, "generate_feedback", ASSIGNMENT)
            instructor(course, "release_feedback", ASSIGNMENT)
            for name, student in students.items():
                seen["outputs"][name + " feedback"] = student.run("nbgrader", "fetch_feedback", ASSIGNMENT).output
                seen.setdefault("feedback", {})[name] = sorted(
                    (p.relative_to(student.home).as_posix(), p.read_bytes())
                    for p in (student.home / ASSIGNMENT / "feedback").rglob("*.html"))
            # what a student can reach of the others' work
            seen["bob reaches"] = json.loads(students["rnnt-bob"].python(f"""
import json, os
course = {str(exchange / "rnn-forecasting")!r}
def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as error:
        return type(error).__name__
print(json.dumps({{
    "list inbound": attempt(lambda: os.listdir(course + "/inbound")),
    "list feedback": attempt(lambda: os.listdir(course + "/feedback")),
    "rename the course": attempt(lambda: os.rename(course, course + "-moved")),
    "list alice's home": attempt(lambda: os.listdir({str(students["rnnt-alice"].home)!r})),
    "write outbound": attempt(lambda: open(course + "/outbound/{ASSIGNMENT}/extra.ipynb", "w")),
}}))
""").strip().splitlines()[-1])
            yield seen
        finally:
            for student in students.values():
                student.remove()
            shutil.rmtree(shared, ignore_errors=True)


pytestmark = [pytest.mark.xdist_group("hand_in")]
exchange_cycle = pytest.mark.autograde


@exchange_cycle
def test_the_instructor_command_makes_the_exchange_and_the_students_configuration(cycle):
    config = (cycle["exchange"].parent / "jupyter" / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'rnn-forecasting'" in config
    assert f"c.Exchange.root = {str(cycle['exchange'])!r}" in config
    assert "c.Execute.timeout = 240" in config
    assert oct(cycle["exchange"].stat().st_mode & 0o7777) == "0o1777"


@exchange_cycle
def test_students_fetch_the_released_notebook(cycle):
    released = (cycle["course"] / "release" / ASSIGNMENT / NOTEBOOK).read_bytes()
    assert all(fetched == released for fetched in cycle["fetched"].values())


@exchange_cycle
def test_submit_tells_the_student_what_is_left_and_how_to_check(cycle):
    for name in ("rnnt-alice", MALLORY):
        assert f"nbgrader validate {ASSIGNMENT}/{NOTEBOOK}" in cycle["outputs"][name]
        assert "saved without being run" in cycle["outputs"][name]  # the built notebooks were never run
    assert "the answer cell `daily_load` is not answered yet" in cycle["outputs"][MALLORY]
    assert "not answered" not in cycle["outputs"]["rnnt-alice"]


@exchange_cycle
def test_the_instructor_collects_each_students_own_files_and_nothing_forged(cycle):
    submitted = cycle["course"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
    handed_out = {p.name for p in (cycle["course"] / "release" / ASSIGNMENT).iterdir()}
    for name in ANSWERS:
        folder = submitted / name / ASSIGNMENT
        assert {p.name for p in folder.iterdir()} == handed_out | {"submission_secret.txt", "timestamp.txt"}
        assert (folder / NOTEBOOK).read_bytes() == cycle["answered"][name], f"{name}'s notebook is not what they handed in"
    forged = submitted / MALLORY / ASSIGNMENT
    assert sorted(p.name for p in forged.iterdir()) == ["submission_secret.txt", "timestamp.txt"], \
        "the link to the solution or the pipe was collected"
    for path in [submitted / name / ASSIGNMENT for name in STUDENTS] + list(submitted.rglob("*")):
        assert not path.stat().st_mode & 0o022, f"{path} is writable by others"
    log = cycle["collect"]
    assert "claims to be rnnt-alice's submission but was handed in by rnnt-mallory" in log
    assert f"Not collected: {NOTEBOOK} of {MALLORY}+{ASSIGNMENT}+" in log and " is a link." in log
    assert "answers.ipynb of" in log and "is not a regular file" in log
    assert "no-time-at-all+y: " in log, "a folder name with no time stopped nothing and is reported"
    assert "is not a folder of the exchange" in log
    assert "submission_secret.txt is missing or not nbgrader's" in log
    assert len([line for line in log.splitlines() if "not at the" in line and "it claims" in line]) == 1
    for name in ANSWERS:  # honest submissions keep the time they were handed in
        claimed = next(entry for entry in cycle["inbound"] if entry.startswith(f"{name}+")).split("+")[2]
        assert (submitted / name / ASSIGNMENT / "timestamp.txt").read_text()[:19] == claimed[:19], name
    assert "holds no notebook once collected" in log
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{cycle['course'] / 'gradebook.db'}") as gradebook:  # Formgrader shows their names
        assert gradebook.find_student("rnnt-alice").first_name == "Alice"
        assert gradebook.find_student("rnnt-alice").last_name == "Tester"


@exchange_cycle
def test_grades_and_late_flags_are_right(cycle):
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import parse_utc

    with Gradebook(f"sqlite:///{cycle['course'] / 'gradebook.db'}") as gradebook:
        found = {}
        for name in ANSWERS:
            submission = gradebook.find_submission(ASSIGNMENT, name)
            lost = sorted(g.name for n in submission.notebooks for g in n.grades
                          if g.cell_type == "code" and g.max_score and g.score < g.max_score)
            found[name] = (submission.score, submission.total_seconds_late > 0, lost)
        with pytest.raises(MissingEntry):  # her collected submission holds no notebook: nothing to grade
            gradebook.find_submission(ASSIGNMENT, MALLORY)
    full = 10.0  # 7 autograded + the written answer's 3
    assert found["rnnt-alice"] == (full, False, [])
    assert found["rnnt-bob"] == (full - 3.0 - 1.0, False, ["test_daily_load"])  # its mistake (3), the TA's mark (2 of 3)
    assert found["rnnt-carol"] == (full, True, [])
    recorded = parse_utc((cycle["course"] / "submitted" / MALLORY / ASSIGNMENT / "timestamp.txt").read_text())
    assert recorded > cycle["due"], "the antedated submission kept the time it claimed"


@exchange_cycle
def test_each_student_fetches_their_own_feedback_only(cycle):
    for name in ANSWERS:
        fetched = cycle["feedback"][name]
        assert len(fetched) == 1, f"{name} fetched {[path for path, _ in fetched]}"
        made = cycle["course"] / "feedback" / name / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert fetched[0][1] == made.read_bytes(), f"{name} fetched feedback that is not theirs"
    assert cycle["feedback"][MALLORY] == [], "mallory fetched feedback (she has none of her own)"


@exchange_cycle
def test_a_student_can_neither_read_nor_replace_another_students_work(cycle):
    assert cycle["bob reaches"] == {"list inbound": "PermissionError", "list feedback": "PermissionError",
                                    "rename the course": "PermissionError", "list alice's home": "PermissionError",
                                    "write outbound": "PermissionError"}


# --- the LMS way ------------------------------------------------------------------------------------
def test_zip_collect_files_canvas_and_moodle_downloads_and_reports_the_rest(tmp_path):
    course = classroom.make_course_copy(tmp_path / "course")
    classroom.release(course, [ASSIGNMENT])
    notebooks = {name: build(variant(name)) for name in ("solution", "daily_sum", "blank")}
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "canvas.zip", "w") as canvas:
        canvas.writestr(f"doejohn_12345_67890_{NOTEBOOK}", notebooks["solution"])
        canvas.writestr(f"smithjane_late_23456_78901_{NOTEBOOK[:-6]}-1.ipynb", notebooks["daily_sum"])  # resubmitted
        canvas.writestr("my_notebook.ipynb", notebooks["blank"])  # renamed by hand: no pattern fits
    with zipfile.ZipFile(archive / "moodle.zip", "w") as moodle:
        moodle.writestr(f"Bo Chen_1002_assignsubmission_file_/{NOTEBOOK}", notebooks["daily_sum"])  # folder per student
        moodle.writestr(f"Cy Diaz_1003_assignsubmission_file_{NOTEBOOK}", notebooks["solution"])  # flat
        moodle.writestr("Cy Diaz_1003_assignsubmission_onlinetext_/onlinetext.html", b"<p>see notebook</p>")
        # a file name chosen to pass for another student's
        moodle.writestr(f"Bo Chen_1002_assignsubmission_file_/doejohn_12345_67890_{NOTEBOOK}", notebooks["blank"])
        # two students of one name
        moodle.writestr(f"Ann Lee_1001_assignsubmission_file_/{NOTEBOOK}", notebooks["solution"])
        moodle.writestr(f"Ann Lee_1009_assignsubmission_file_/{NOTEBOOK}", notebooks["daily_sum"])

    done = classroom.run_nbgrader(course, "zip_collect", ASSIGNMENT)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    expected = {"doejohn": "solution", "smithjane": "daily_sum", "bochen": "daily_sum", "cydiaz": "solution"}
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(expected)
    for student, answer in expected.items():
        assert [p.name for p in (submitted / student / ASSIGNMENT).iterdir()] == [NOTEBOOK], student
        assert (submitted / student / ASSIGNMENT / NOTEBOOK).read_bytes() == notebooks[answer], student
    for stray in ("canvas/my_notebook.ipynb", "moodle/Cy Diaz_1003_assignsubmission_onlinetext_/onlinetext.html"):
        assert f"Not collected: {stray} matches no LMS file-name pattern (canvas, moodle" in log
        assert (course / "downloaded" / ASSIGNMENT / "extracted" / stray).exists(), f"{stray} was dropped"
    assert log.count("two students of the LMS are both annlee (ids 1001, 1009)") == 2
    assert "Skipped notebook with invalid name 'doejohn_12345_67890_data_exploration.ipynb'" in log
    assert "canvas marks smithjane's submission late" in log
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # Formgrader shows their names
        assert (gradebook.find_student("bochen").first_name, gradebook.find_student("bochen").last_name) == ("Bo", "Chen")
        assert gradebook.find_student("doejohn").last_name == "doejohn"


def test_a_student_id_formgrader_would_run_as_markup_is_refused(tmp_path):
    """nbgrader's own Formgrader pages write student ids into HTML unescaped: the hand-in refuses them."""
    from instructor.gradebook import SAFE_ID, enrol

    with pytest.raises(ValueError, match="not a student id Formgrader can show safely"):
        enrol(f"sqlite:///{tmp_path / 'gradebook.db'}", "eve\"'><img src=x onerror=alert(1)>", "Eve")
    assert all(SAFE_ID.fullmatch(name) for name in ("doejohn", "jdoe42", "ada.lovelace", "grader-course101"))
