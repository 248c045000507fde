"""The class report of one assignment (instructor/class_report.py), on a small course folder made here
without grading: a gradebook written with nbgrader's API, autograded notebooks whose test_mape cell
shows what the kit's MAPE check prints (run on a made-up measurement), a grading record and an
integrity report. The page is opened in Debian's headless Chromium, offline."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from grader_tests import engine
from grader_tests.plugins import integrity, outside
from grader_tests.assignments import ASSIGNMENTS
from instructor import class_report as report
from instructor.classroom import NOTEBOOKS, VENV_BIN

ASSIGNMENT = "one_step_rnn_univariate"
NOTEBOOK = NOTEBOOKS[ASSIGNMENT]
TESTS = {"test_shapes": 2, "test_layers": 4, "test_mape": 4}  # the lab's autograded tests, in notebook order
PROBLEM = "<b>x</b> is not a valid notebook file (Notebook JSON is invalid)"
DETAIL = "cell 7: a connection to <script>alert(1)</script>:443 was refused"
# student -> (points of each test, the MAPE the grader measures); cy's notebook never reached the measurement
CLASS = {"ada": ((2, 4, 4), 1.62), "bob": ((2, 4, 0), 5.23), "cy": ((2, 0, 4), 2.91), "dee": ((2, 0, 0), None)}
RUNS = [("ada", 50.0, None), ("bob", 120.5, None), ("cy", 80.4, None), ("dee", 95.0, None),
        ("ada", 30.0, None), ("dan", 3.5, PROBLEM)]  # ada graded twice: the last line counts
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.filterwarnings("ignore:Object of type:sqlalchemy.exc.SAWarning")  # nbgrader's add_submission


def mape_cell(mape: float | None, monkeypatch):
    """The test_mape cell as the grader leaves it (outputs, and the verdict as data in its metadata): the
    kit's real MAPE check run on a made-up measurement, its verdict applied by grader_tests.plugins.outside."""
    from grader_tests.checks import models

    assignment = ASSIGNMENTS[ASSIGNMENT]
    monkeypatch.setattr(models, "trained_model", lambda namespace: object())
    monkeypatch.setattr(models.model_mape, "measure_in_subprocess", lambda assignment_id, model: {"mape": mape / 100})
    check = assignment.checks["mape"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        message, _, measured = engine.outcome_of(assignment, check, {})
    cell = new_code_cell(f'check("{ASSIGNMENT}", "mape", globals())',
                         metadata={"nbgrader": {"grade_id": "test_mape", "grade": True}})
    # what the student's kernel showed comes first; a made-up pass there must not count
    fake = "MAPE on the test period: 0.01% (pass mark: below 3.5%)\n"
    cell.outputs = [new_output("stream", name="stdout", text=fake)]
    outside.apply(new_notebook(cells=[cell]), {"mape": {"passed": message is None, "message": message, "measured": measured,
                                                        "title": check.title, "printed": printed.getvalue()}})
    return cell


def make_course(root, monkeypatch) -> None:
    """A graded class of the lab, as the grade command leaves it (no real grading)."""
    from nbgrader.api import Gradebook

    root.mkdir(parents=True, exist_ok=True)
    name = NOTEBOOK.removesuffix(".ipynb")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment(ASSIGNMENT)
        gradebook.add_notebook(name, ASSIGNMENT)
        for test in reversed(TESTS):  # the gradebook's order is not the notebook's
            gradebook.add_grade_cell(test, name, ASSIGNMENT, max_score=TESTS[test], cell_type="code")
        gradebook.add_grade_cell("model_explained", name, ASSIGNMENT, max_score=1, cell_type="markdown")
        for student in [*CLASS, "dan", "zoe"]:  # dan's notebook could not be read; zoe handed nothing in
            gradebook.add_student(student)
        for student, (points, _) in CLASS.items():
            gradebook.add_submission(ASSIGNMENT, student)
            for test, score in zip(TESTS, points):
                gradebook.find_grade(test, name, ASSIGNMENT, student).auto_score = score
            gradebook.find_grade("model_explained", name, ASSIGNMENT, student).manual_score = 1
        gradebook.db.commit()
    for student, (points, mape) in CLASS.items():
        cells = [new_code_cell("# released notebook", metadata={"nbgrader": {"grade_id": "setup"}})]
        for test, most in TESTS.items():
            cells.append(new_code_cell(f'check("{ASSIGNMENT}", "{test[5:]}", globals())',
                                       metadata={"nbgrader": {"grade_id": test, "grade": True, "points": most}}))
        if mape is not None:
            graded = mape_cell(mape, monkeypatch)
            cells[-1].outputs, cells[-1].metadata["grader"] = graded.outputs, graded.metadata["grader"]
        else:
            cells[-1].outputs = [new_output("error", ename="CheckFailed", evalue="the notebook did not reach the "
                                            "grader's check in this cell", traceback=[])]
        folder = root / "autograded" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(new_notebook(cells=cells), folder / NOTEBOOK)
    records = root / "reports" / ASSIGNMENT
    records.mkdir(parents=True)
    with (records / "grading.jsonl").open("w") as handle:
        for number, (student, seconds, problem) in enumerate(RUNS):
            points = None if problem else float(sum(CLASS[student][0]) + 1)
            handle.write(json.dumps({"student": student, "assignment": ASSIGNMENT, "seconds": seconds, "score": points,
                                     "max_score": 11.0, "problem": problem, "worker": f"w{number % 2}",
                                     "finished": f"2026-11-21T10:{number:02d}:00+00:00"}) + "\n")
    with (root / integrity.FILE).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(integrity.COLUMNS)
        writer.writerow(["bob", ASSIGNMENT, NOTEBOOK, "connection refused", DETAIL])
        writer.writerow(["ada", "arima", "time_series_arima.ipynb", "memory limit", "another assignment"])


@pytest.fixture
def course(tmp_path, monkeypatch):
    # nbgrader runs `alembic` when it creates a gradebook: this environment's, as `make test` has it on PATH
    monkeypatch.setenv("PATH", os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    make_course(tmp_path / "course", monkeypatch)
    return tmp_path / "course"


def test_reads_the_class(course):
    data = report.read_class(course, ASSIGNMENT)
    assert data.tests == list(TESTS)  # notebook order, code cells only
    assert [s.student for s in data.graded] == list(CLASS)
    assert {s.student: s.mape for s in data.graded} == {student: mape for student, (_, mape) in CLASS.items()}
    assert {s.student: report.mape_passed(s) for s in data.graded} == {"ada": True, "bob": False, "cy": True, "dee": False}
    assert data.pass_mark == 3.5 == pytest.approx(ASSIGNMENTS[ASSIGNMENT].spec.mape_threshold * 100)
    assert [r["student"] for r in data.not_graded] == ["dan"]
    assert data.runs["ada"]["seconds"] == 30.0
    assert [row["student"] for row in data.flags] == ["bob"]


def test_writes_the_same_files_twice(course):
    gradebook = (course / "gradebook.db").read_bytes()
    page = report.write_report(course, ASSIGNMENT)
    assert (course / "gradebook.db").read_bytes() == gradebook, "the report wrote to the gradebook"
    assert page == course / "reports" / ASSIGNMENT / "report.html"
    first = {name: (page.parent / name).read_bytes() for name in ("report.html", "scores.png", "tests.png", "mape.png")}
    for name, content in first.items():
        assert name.endswith(".html") or content.startswith(b"\x89PNG\r\n\x1a\n"), name
    assert report.write_report(course, ASSIGNMENT) == page
    again = {name: (page.parent / name).read_bytes() for name in first}
    written = re.compile(rb"Written [^<]*")
    assert written.sub(b"", again.pop("report.html")) == written.sub(b"", first.pop("report.html"))
    assert again == first
    text = page.read_text()
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text and "<script>alert" not in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text), "the page loads something from elsewhere"


def test_without_a_record_a_mape_test_or_a_gradebook(course):
    (course / "reports" / ASSIGNMENT / "grading.jsonl").unlink()
    (course / "reports" / ASSIGNMENT / "mape.png").write_bytes(b"an old figure")
    text = report.write_report(course, ASSIGNMENT).read_text()
    assert text.count("grading.jsonl is missing") == 2
    page = report.write_report(course, "data_exploration")  # no test_mape; not in this gradebook
    text = page.read_text()
    assert "no MAPE test in this assignment" in text and "The gradebook has no assignment data_exploration" in text
    assert not (page.parent / "mape.png").exists() and (page.parent / "scores.png").exists()
    with pytest.raises(FileNotFoundError):
        report.write_report(course / "nowhere", ASSIGNMENT)


def test_command_line(course, capsys):
    from instructor.commands import report as command

    assert command.main([ASSIGNMENT, "--root", str(course)]) == 0
    assert capsys.readouterr().out.strip() == str(course / "reports" / ASSIGNMENT / "report.html")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.page_load_strategy = "eager"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1000,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)  # no host but this machine: the page must need none
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def screenshot(driver, path) -> None:
    """The whole page: the window made as tall as the page."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1000, height)
    driver.set_window_size(1000, 2 * height - driver.execute_script("return window.innerHeight"))
    driver.save_screenshot(str(path))


def test_the_page_in_a_browser(course, tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = report.write_report(course, ASSIGNMENT)
    driver = browser()
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
        sections = {id: driver.find_element(By.ID, id) for id in ("scores", "tests", "mape", "slowest", "not-graded",
                                                                  "integrity")}
        assert [s.find_element(By.TAG_NAME, "h2").text for s in sections.values()] == [
            "Score distribution", "Pass rate of each test", "Measured MAPE", "Slowest submissions",
            "Submissions not graded", "Integrity flags"]
        images = driver.execute_script("return [...document.images].map(i => [i.title, i.complete, i.naturalWidth])")
        assert [(title, complete) for title, complete, _ in images] == [
            ("scores.png", True), ("tests.png", True), ("mape.png", True)], images
        assert all(width > 0 for _, _, width in images), images
        counts = driver.find_element(By.CSS_SELECTOR, "dl.counts").text
        assert "Submissions\n5" in counts and "Not graded\n1" in counts and "No submission\n1 of the 6" in counts

        reason = sections["not-graded"].find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [row.text for row in reason] == [f"dan {PROBLEM} 2026-11-21T10:05:00+00:00"]
        assert not sections["not-graded"].find_elements(By.TAG_NAME, "b"), "a student's text became HTML"

        flags = [[td.text for td in row.find_elements(By.TAG_NAME, "td")]
                 for row in sections["integrity"].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert flags == [["bob", NOTEBOOK, "connection refused", DETAIL]]
        assert not driver.find_elements(By.CSS_SELECTOR, "body script")

        slowest = [[td.text for td in row.find_elements(By.TAG_NAME, "td")]
                   for row in sections["slowest"].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [(row[1], float(row[2])) for row in slowest] == [
            ("bob", 120.5), ("dee", 95.0), ("cy", 80.4), ("ada", 30.0), ("dan", 3.5)], slowest
        assert slowest[-1][4] == "not graded"
        mape = sections["mape"].text
        assert "Pass mark: below 3.5 %" in mape and "No MAPE was measured for dee" in mape, mape
        screenshot(driver, tmp_path / "report.png")
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_the_summary_counts_each_assignments_own_time():
    """With every assignment queued at once, one graded last still took only its own time: from its first
    submission starting on a worker to its last one recorded (two 12-second submissions on 2 workers)."""
    from instructor.grading import own_wall_time
    from instructor.classroom import GradedSubmission as Result

    def ran(start, seconds):
        at = lambda s: f"2026-12-06T10:{s // 60:02d}:{s % 60:02d}.000+00:00"  # noqa: E731
        return Result("s", "a", seconds=seconds, started=at(start), finished=at(start + seconds))
    assert own_wall_time([ran(375, 12), ran(376, 12)]) == 13
    assert own_wall_time([ran(0, 30), ran(30, 30), ran(0, 60)]) == 60
    assert own_wall_time([Result("s", "a", problem="died")]) == 0


def test_a_measured_mape_that_is_not_a_finite_number_is_no_measurement():
    """A forecast with a NaN in it measures a NaN MAPE: the report counts it as not measured (a NaN among
    the class's values would stop its figure being drawn for everyone)."""
    from grader_tests.plugins import outside

    def cell(value):
        return {"metadata": {"grader": {"measured": {"mape": value}}}}

    assert outside.measured(cell(0.0312), "mape") == 0.0312
    for value in (float("nan"), float("inf"), True, "0.03", None):
        assert outside.measured(cell(value), "mape") is None, value
    assert outside.measured(None, "mape") is None
