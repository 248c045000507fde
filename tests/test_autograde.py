"""Tests of the tests: a whole class per assignment through real `nbgrader autograde` runs.

Each assignment's class (instructor/submissions.py: the solution in several styles, the blank
notebook, known mistakes, broken files) is autograded once per session, by the xdist worker that
runs that assignment's group; the assertions below read those results. This is the slow part of
the suite (it trains a model per submission).
"""

import contextlib
import csv
import hashlib
import os
import shutil
import socket
import subprocess
import threading

import nbformat
import pytest

from grader_tests.plugins.integrity import KERNEL_REPORT
from instructor import classroom
from instructor.classroom import NOTEBOOKS
from instructor.submissions import ATTACK_PORT, TESTS, VARIANTS, build, variants

from attacks import REFUSED, REPORTED
from autograded import failure_messages

pytestmark = pytest.mark.autograde

TIMEOUT = 240  # the course's cell timeout (nbgrader_config.py), which students pass to `nbgrader validate`
# The endless cell is stopped after this long instead of the course's 240 s, to keep the suite short.
SHORT_TIMEOUT = ("--Execute.timeout=60",)


def in_group(assignment):
    """Run in the xdist group of `assignment`, on the worker that grades its class."""
    return pytest.mark.xdist_group(assignment)


def fingerprint(folder) -> str:
    """One hash of every file under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def before_grading(data_dir):
    """The kit and the data as they were before any student's code ran."""
    return {"kit": fingerprint(classroom.REPO / "grader_tests"), "data": fingerprint(data_dir)}


class LoopbackListener:
    """A server on the grading machine's loopback while a class is graded, which the `phones_home`
    attack tries to reach; `connections` counts who got through."""

    def __enter__(self):
        self.server = socket.create_server(("127.0.0.1", ATTACK_PORT))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def __exit__(self, *exc):
        self.server.close()


@pytest.fixture(scope="session")
def graded(course, data_dir, before_grading):
    """assignment -> {student: GradedSubmission}, autograding each class the first time it is asked for.
    While the GRU quiz's class (with its attacks) is graded, a server listens on the loopback;
    `grade.loopback_connections` counts the connections it got."""
    results = {}

    def grade(assignment):
        if assignment not in results:
            for variant in variants(assignment):
                classroom.submit(course, variant.name, assignment, build(variant))
            attacked = any(v.name == "phones_home" for v in variants(assignment))
            with LoopbackListener() if attacked else contextlib.nullcontext() as listener:
                results[assignment] = {variant.name: grade_one(variant, assignment) for variant in variants(assignment)}
            if attacked:
                grade.loopback_connections = listener.connections
        return results[assignment]

    def grade_one(variant, assignment):
        extra = SHORT_TIMEOUT if variant.name == "endless_cell" else ()
        outcome = classroom.autograde(course, variant.name, assignment, *extra)
        print(f"{assignment} {variant.name}: {outcome.score}/{outcome.max_score} {outcome.problem or ''} "
              f"({outcome.seconds:.0f} s)")
        return outcome

    grade.loopback_connections = None
    return grade


def params(select):
    return [pytest.param(v, id=f"{v.assignment}-{v.name}", marks=in_group(v.assignment)) for v in VARIANTS if select(v)]


@pytest.mark.parametrize("variant", params(lambda v: v.correct))
def test_correct_answers_in_any_style_get_full_marks(graded, variant):
    outcome = graded(variant.assignment)[variant.name]
    assert outcome.problem is None
    lost = {test: score for test, score in outcome.tests.items() if score[0] != score[1]}
    assert not lost, f"{variant.description}: lost points on {lost}"
    assert set(outcome.tests) == set(TESTS[variant.assignment])


@pytest.mark.parametrize("variant", params(lambda v: v.blank))
def test_the_released_notebook_scores_zero(graded, variant):
    outcome = graded(variant.assignment)[variant.name]
    assert outcome.problem is None and outcome.score == 0


@pytest.mark.parametrize("variant", params(lambda v: bool(v.lost) and not v.blank))
def test_a_mistake_loses_exactly_its_tests_with_a_message(graded, course, variant):
    outcome = graded(variant.assignment)[variant.name]
    assert outcome.problem is None
    failed = {test for test, (score, _) in outcome.tests.items() if score == 0}
    passed = {test for test, (score, most) in outcome.tests.items() if score == most}
    assert failed == set(variant.lost), f"{variant.description}: failed {sorted(failed)}, expected {sorted(variant.lost)}"
    assert passed | failed == set(TESTS[variant.assignment])
    messages = failure_messages(course, variant.name, variant.assignment)
    for test in variant.lost:
        assert " failed " in messages.get(test, "") or "AssertionError" in messages.get(test, ""), (
            f"{test} of {variant.name} failed without a message: {messages.get(test)!r}")
    for words in variant.says:
        assert any(words in text for text in messages.values()), f"no feedback of {variant.name} says {words!r}: {messages}"


@pytest.mark.parametrize("variant", params(lambda v: v.problem is not None))
def test_a_broken_submission_is_reported_and_the_class_still_graded(graded, variant):
    outcomes = graded(variant.assignment)
    assert variant.problem in (outcomes[variant.name].problem or ""), outcomes[variant.name]
    graded_students = [o for o in outcomes.values() if o.problem is None]
    assert len(graded_students) == len(outcomes) - sum(1 for v in variants(variant.assignment) if v.problem)


@in_group("one_step_rnn_multivariate")
def test_an_endless_cell_is_stopped_and_the_rest_graded(graded, course):
    assignment = "one_step_rnn_multivariate"
    outcome = graded(assignment)["endless_cell"]
    assert outcome.problem is None
    assert all(score == most for score, most in outcome.tests.values()), outcome.tests  # the rest still ran
    notebook = (course / "autograded" / "endless_cell" / assignment / NOTEBOOKS[assignment]).read_text()
    assert "CellTimeoutError" in notebook or "KeyboardInterrupt" in notebook


@in_group("one_step_rnn_multivariate")
def test_attacks_on_the_grading_machine_are_stopped_by_the_sandbox(graded, course, data_dir, before_grading):
    assignment = "one_step_rnn_multivariate"
    outcomes = graded(assignment)
    for attack, refused in REFUSED.items():
        notebook = (course / "autograded" / attack / assignment / NOTEBOOKS[assignment]).read_text()
        assert refused in notebook, f"{attack}: the sandbox did not stop it"
    kit_seen = (course / "autograded" / "reads_the_kit" / assignment / NOTEBOOKS[assignment]).read_text()
    assert "ATTACK kit shows: ['__init__.py', 'hand_over.py', 'watch.py']" in kit_seen, "the kernel sees more of the kit than runs in it"
    assert outcomes["fork_loop"].problem is None and outcomes["fork_loop"].score == 0  # its kernel died: graded, 0
    assert graded.loopback_connections == 0, "a kernel reached the grading machine's loopback"
    assert fingerprint(classroom.REPO / "grader_tests") == before_grading["kit"], "student code changed the kit"
    assert fingerprint(data_dir) == before_grading["data"], "student code changed the data"


@in_group("one_step_rnn_multivariate")
def test_the_integrity_report_lists_each_attempt_and_nothing_else(graded, course):
    """Denied writes and connections, limits reached and forged test results (the points of forged
    cells are checked with the other mistakes) are listed in integrity.csv, per student; honest
    students have no row."""
    graded("one_step_rnn_multivariate")
    with (course / "integrity.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["assignment"] == "one_step_rnn_multivariate"]
    for student, expected in REPORTED.items():
        found = [(row["event"], row["detail"]) for row in rows if row["student"] == student]
        for event, detail in expected:
            assert any(e == event and detail in d for e, d in found), f"{student}: {event} {detail} not in {found}"
    assert {row["student"] for row in rows} == set(REPORTED), rows
    # every row is the grader's: nothing the kernel wrote into its report is listed as it wrote it
    assert not [row for row in rows if "forged" in row["detail"] or "HYPERLINK" in row["event"]], rows
    assert not [value for row in rows for value in row.values() if value[:1] in "=+-@"], "a cell a spreadsheet runs"
    assert all(row["source"] in ("grader", KERNEL_REPORT) for row in rows)


@in_group("one_step_rnn_multivariate")
def test_grading_twice_gives_the_same_result(graded, course):
    assignment = "one_step_rnn_multivariate"
    first = graded(assignment)
    for student in ("solution", "frozen_model", "kernel_killer", "truncated_file"):
        again = classroom.autograde(course, student, assignment)
        assert (again.score, again.tests, again.problem) == (first[student].score, first[student].tests, first[student].problem)


@in_group("encoder_decoder")
def test_feedback_explains_without_showing_grading_code(graded, course):
    assignment = "encoder_decoder"
    graded(assignment)
    html = classroom.generate_feedback(course, "gru_not_lstm", assignment).read_text()
    assert "Model layers failed" in html and "layer 1 should be a LSTM layer" in html
    for secret in ("def check_", "mape_threshold", "CALIBRATION", "_render_traceback_", "subprocess"):
        assert secret not in html


def by_assignment():
    return [pytest.param(a, marks=in_group(a)) for a in NOTEBOOKS]


@pytest.mark.parametrize("assignment", by_assignment())
def test_grades_export_lists_every_student(graded, course, tmp_path, assignment):
    outcomes = graded(assignment)
    rows = [row for row in csv.DictReader(classroom.export_grades(course, tmp_path / "grades.csv").open())
            if row["assignment"] == assignment]
    assert {row["student_id"] for row in rows} >= set(outcomes), "every student, graded or not, is in the export"
    by_student = {row["student_id"]: float(row["score"]) for row in rows}
    # the solution gets every autograded point (written answers wait for a TA); ungradable files get 0
    assert by_student["solution"] == sum(most for _, most in outcomes["solution"].tests.values())
    for student, outcome in outcomes.items():
        if outcome.problem:
            assert by_student[student] == 0.0, student


@pytest.mark.parametrize("assignment", by_assignment())
def test_students_validate_with_the_visible_tests_alone(course, assignment, tmp_path):
    """In a student's folder (no grading kit, no course config), `nbgrader validate` with the course's
    cell timeout (docs/students.md) passes the solved notebook and names the failures of the blank one."""
    release = course / "release" / assignment
    solved, blank = tmp_path / "solved.ipynb", tmp_path / "blank.ipynb"
    solution = next(v for v in VARIANTS if v.assignment == assignment and v.name == "solution")
    solved.write_bytes(build(solution, course))
    shutil.copy(release / NOTEBOOKS[assignment], blank)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(classroom.VENV_BIN), env.get("PATH", "")])

    def validate(path):
        done = subprocess.run([str(classroom.VENV_BIN / "nbgrader"), "validate", f"--Execute.timeout={TIMEOUT}", path.name], cwd=tmp_path,
                              env=env, capture_output=True, text=True)
        return done.stdout + done.stderr

    assert "Success! Your notebook passes all the tests." in validate(solved)
    report = validate(blank)
    graded_cells = sum(1 for c in nbformat.read(blank, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert f"VALIDATION FAILED ON {graded_cells} CELL(S)" in report, report


@in_group("one_step_rnn_multivariate")
def test_links_out_of_a_submission_are_not_followed(graded, course):
    """A notebook that is a symbolic link (to another student's) is graded as the released notebook with the
    reason; a file linked from outside the submission (the gradebook) is not copied for the kernel, nor a
    page that Formgrader would serve to a TA from its own origin."""
    assignment = "one_step_rnn_multivariate"
    graded(assignment)
    folder = course / "submitted" / "links" / assignment
    folder.mkdir(parents=True)
    (folder / NOTEBOOKS[assignment]).symlink_to(course / "submitted" / "solution" / assignment / NOTEBOOKS[assignment])
    (folder / "stolen.db").symlink_to(course / "gradebook.db")
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (folder / "notes.html").write_text("<script>fetch('/formgrader/api/...')</script>")  # Formgrader would serve it
    outcome = classroom.autograde(course, "links", assignment)
    assert outcome.problem is None and outcome.score == 0, outcome
    notebook = (course / "autograded" / "links" / assignment / NOTEBOOKS[assignment]).read_text()
    assert "symbolic link" in notebook
    assert not (course / "autograded" / "links" / assignment / "stolen.db").exists()
    assert not (course / "autograded" / "links" / assignment / "notes.html").exists()
    assert (course / "submitted" / "links" / assignment / "notes.html").exists()  # kept as handed in
