"""Grading as an ordinary Unix account, as on a JupyterHub where Formgrader runs as a hub service
under an account of its own (nbgrader's `demo_one_class_multiple_graders`): no root anywhere on the
grading path. Each kernel is then sandboxed in a user namespace of its own instead of under a uid of
its own (grader_tests/plugins/sandbox.py).

The account `rnnt-grader` owns a course folder in its home and runs, as itself: the sandbox's own
tests; the grade command over the GRU quiz's attack class (each attack must score exactly what it
scores graded as root, in test_autograde.py: what its mistake loses); plain `nbgrader autograde` and
`nbgrader validate`; and JupyterLab, whose Formgrader's Autograde button a TA clicks in Chromium."""

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from accounts import Account
from grader_tests.plugins.integrity import FILE as INTEGRITY
from instructor import classroom
from instructor.submissions import TESTS, VARIANTS, build

from attacks import REFUSED, REPORTED

pytestmark = [pytest.mark.autograde, pytest.mark.xdist_group("ordinary_account"),
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("bwrap"),
                                 reason="needs root, useradd and bwrap to make the account (CI has them)")]

QUIZ, LAB = "one_step_rnn_multivariate", "data_exploration"
# the attacks of the GRU quiz's class (instructor/submissions.py), between the solution and an honest mistake
ATTACKS = ["rewrites_the_kit", "reads_the_kit", "rewrites_the_data", "reads_the_course", "phones_home", "memory_hog",
           "fork_loop", "replaces_the_kit_module", "forges_passed", "displays_ok", "forges_the_report"]
STUDENTS = ["solution", *ATTACKS, "honest_after_attacks"]


def variant(assignment, name):
    return next(v for v in VARIANTS if v.assignment == assignment and v.name == name)


def fingerprint(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def grader(data_dir):
    """The account and its course folder: the quiz's attack class and the lab's two students submitted."""
    account = Account("rnnt-grader", "Course Grader", env={"RNN_COURSE_DATA": str(data_dir)},
                      reach=[classroom.REPO, data_dir])
    try:
        course = classroom.make_course_copy(account.home / "course")
        classroom.release(course, [QUIZ, LAB])
        for name in STUDENTS:
            classroom.submit(course, name, QUIZ, build(variant(QUIZ, name)))
        for name in ("solution", "daily_sum"):
            classroom.submit(course, name, LAB, build(variant(LAB, name)))
        account.give(course)
        account.course = course
        yield account
    finally:
        account.remove()


@pytest.fixture(scope="module")
def graded(grader, data_dir):
    """The quiz's class graded by the grade command on 2 workers, run by the account; the kit and the data
    as they were before."""
    before = {"kit": fingerprint(classroom.REPO / "grader_tests"), "data": fingerprint(data_dir)}
    started = time.monotonic()
    done = grader.run(sys.executable, "-m", "instructor", "grade", QUIZ, "--workers", "2",
                      *(f"--student={name}" for name in STUDENTS), cwd=grader.course, timeout=1800)
    print(f"grade command as {grader.name}: {time.monotonic() - started:.0f} s for {len(STUDENTS)} submissions")
    assert done.returncode == 0, done.output
    return {"output": done.output, "before": before}


def test_the_sandbox_tests_pass_as_an_ordinary_account(grader):
    """test_sandbox.py and the quick tests of test_limits.py, run by the account: the kernel's view of the
    machine, its limits, a killed grader's kernel. Three cases are root's alone: a tmpfs for the kernel's disk
    (the account's kernels are watched instead), a memory cgroup this machine lets only root write, and
    kernel uids claimed across graders (the account's kernels all run as its own uid)."""
    done = grader.run(sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "not autograde",
                      "--basetemp", str(grader.home / "pytest"), "tests/test_sandbox.py", "tests/test_limits.py",
                      cwd=classroom.REPO, timeout=900)
    assert done.returncode == 0, done.output
    skipped = [line for line in done.output.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) <= 3 and all("tmpfs" in line or "cgroup" in line or "its own uid" in line
                                     for line in skipped), skipped


def test_each_attack_scores_what_it_scores_graded_as_root(grader, graded):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{grader.course / 'gradebook.db'}") as book:
        for name in STUDENTS:
            submission = book.find_submission(QUIZ, name)
            lost = {g.name for nb in submission.notebooks for g in nb.grades
                    if g.cell_type == "code" and g.auto_score != g.max_score}
            assert lost == set(variant(QUIZ, name).lost), f"{name}: lost {sorted(lost)}"
            assert {g.name for nb in submission.notebooks for g in nb.grades if g.cell_type == "code"} == set(TESTS[QUIZ])


def test_the_sandbox_stops_each_attack_and_the_report_lists_it(grader, graded, data_dir):
    import csv

    for attack, refused in REFUSED.items():
        notebook = (grader.course / "autograded" / attack / QUIZ / classroom.NOTEBOOKS[QUIZ]).read_text()
        assert refused in notebook, f"{attack}: the sandbox did not stop it"
    kit_seen = (grader.course / "autograded" / "reads_the_kit" / QUIZ / classroom.NOTEBOOKS[QUIZ]).read_text()
    assert "ATTACK kit shows: ['__init__.py', 'hand_over.py', 'watch.py']" in kit_seen
    assert fingerprint(classroom.REPO / "grader_tests") == graded["before"]["kit"], "student code changed the kit"
    assert fingerprint(data_dir) == graded["before"]["data"], "student code changed the data"
    with (grader.course / INTEGRITY).open() as handle:
        rows = list(csv.DictReader(handle))
    for student in set(REPORTED) & set(STUDENTS):
        found = [(row["event"], row["detail"]) for row in rows if row["student"] == student]
        for event, detail in REPORTED[student]:
            assert any(e == event and detail in d for e, d in found), f"{student}: {event} {detail} not in {found}"
    assert {row["student"] for row in rows} == set(REPORTED) & set(STUDENTS), rows


def test_plain_autograde_and_an_instructors_validate_as_the_account(grader):
    grader.must(str(classroom.VENV_BIN / "nbgrader"), "autograde", LAB, "--student", "solution", cwd=grader.course,
                timeout=900)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{grader.course / 'gradebook.db'}") as book:
        assert book.find_submission(LAB, "solution").score == 7  # the written answers wait for a TA
    nbgrader = str(classroom.VENV_BIN / "nbgrader")
    solved = grader.course / "submitted" / "solution" / LAB / classroom.NOTEBOOKS[LAB]
    assert "Success! Your notebook passes all the tests." in grader.must(nbgrader, "validate", str(solved),
                                                                         cwd=grader.course, timeout=900)
    blank = grader.run(nbgrader, "validate", str(grader.course / "release" / LAB / classroom.NOTEBOOKS[LAB]),
                       cwd=grader.course, timeout=900)
    assert "VALIDATION FAILED" in blank.output and "name 'daily_load' is not defined" in blank.output, blank.output


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_formgraders_autograde_button_grades_as_the_account(grader):
    """A TA clicks Autograde (the flash icon) for one student in Formgrader, served by JupyterLab that the
    account runs: the submission is graded in the sandbox, as the account, and its score is stored."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from nbgrader.api import Gradebook
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(grader.command(str(classroom.VENV_BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
                                             f"--port={port}", f"--IdentityProvider.token={token}",
                                             f"--ServerApp.root_dir={grader.course}", cwd=grader.course),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(argument)
    driver = None
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start as the account")
        driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        driver.get(f"{base}/lab?token={token}")
        driver.get(f"{base}/formgrader/manage_submissions/{LAB}")
        WebDriverWait(driver, 60).until(lambda d: "daily_sum" in d.find_element(By.TAG_NAME, "body").text)
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#main-table tr") if "daily_sum" in r.text)
        row.find_element(By.CSS_SELECTOR, "td.autograde a").click()
        def modal(d):  # the modal Formgrader opens when autograde answers, once its text shows (it fades in)
            found = d.find_elements(By.CSS_SELECTOR, "#success-modal, #error-modal")
            return found and "autograd" in found[0].text and found[0]
        said = WebDriverWait(driver, 600).until(modal)
        assert said.get_attribute("id") == "success-modal", said.text
        said = said.text
        assert "Successfully autograded 'data_exploration' for student 'daily_sum'" in said
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(server.pid, signal.SIGTERM)  # JupyterLab inside bwrap, and what it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    with Gradebook(f"sqlite:///{grader.course / 'gradebook.db'}") as book:
        assert book.find_submission(LAB, "daily_sum").score == 4  # its daily sum loses the 3 points of test_daily_load
    notebook = nbformat.read(grader.course / "autograded" / "daily_sum" / LAB / classroom.NOTEBOOKS[LAB], as_version=4)
    owners = {os.stat(grader.course / "autograded" / "daily_sum" / LAB).st_uid}
    assert owners == {grader.entry.pw_uid}, "graded by another account than the one that runs Formgrader"
    assert any("test_daily_load" == c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells)
