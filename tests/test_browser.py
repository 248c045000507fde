"""What a TA and a student see, in a real browser: Debian's headless Chromium driven by Selenium.

A small class of the data exploration lab is autograded (the solution, and a known mistake) and
given feedback; JupyterLab serves the course on 127.0.0.1. The TA opens Formgrader, finds the
assignment and the submissions, scores a written answer and finds the score in the gradebook; the
feedback page and the autograded notebook show every failure whole and red, every pass green.
With RNN_COURSE_SCREENSHOTS=1 (`make screenshots`) the pictures go to docs/screenshots/ for the README.
"""

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from instructor import classroom
from instructor.hand_in import enrol
from instructor.submissions import VARIANTS, build

pytestmark = [pytest.mark.autograde, pytest.mark.xdist_group("browser")]

ASSIGNMENT = "data_exploration"
NOTEBOOK = classroom.NOTEBOOKS[ASSIGNMENT]
STUDENTS = {"solution": "solution", "daily_sum": "daily_sum"}  # student id -> variant
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = classroom.REPO / "docs" / "screenshots"
RED, GREEN = "rgb(183, 28, 28)", "rgb(27, 94, 32)"  # instructor/views.py


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, data_dir):
    """A graded class with feedback, served by JupyterLab: (course folder, base URL, token)."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    course = classroom.make_course_copy(tmp_path_factory.mktemp("course"))
    classroom.release(course, [ASSIGNMENT])
    for student, name in STUDENTS.items():
        variant = next(v for v in VARIANTS if v.assignment == ASSIGNMENT and v.name == name)
        classroom.submit(course, student, ASSIGNMENT, build(variant))
        enrol(f"sqlite:///{course / 'gradebook.db'}", student, f"Ada {student.title()}")
        assert classroom.autograde(course, student, ASSIGNMENT).problem is None
        classroom.generate_feedback(course, student, ASSIGNMENT)
    # a file cut short: plain `nbgrader autograde` grades the released notebook in its place, with the reason
    released = (course / "release" / ASSIGNMENT / NOTEBOOK).read_bytes()
    classroom.submit(course, "broken", ASSIGNMENT, released[:len(released) // 2])
    enrol(f"sqlite:///{course / 'gradebook.db'}", "broken", "Bea Broken")
    done = classroom.run_nbgrader(course, "autograde", ASSIGNMENT, "--student", "broken")
    assert done.returncode == 0, done.stdout + done.stderr
    port, token = free_port(), secrets.token_hex(16)
    log = (course / "jupyterlab.log").open("w")  # kept with the course folder when a test fails
    env = dict(os.environ, PATH=os.pathsep.join([str(classroom.VENV_BIN), os.environ.get("PATH", "")]))
    server = subprocess.Popen(
        [str(classroom.VENV_BIN / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}"],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start")
        yield course, base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.page_load_strategy = "eager"  # do not wait for a CDN's script (the feedback's MathJax) to time out
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1000,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)  # no host but this machine: what is tested is what works offline
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    _, base, token = lab
    driver.get(f"{base}/lab?token={token}")  # logs in: a cookie for the pages below
    yield driver
    driver.quit()


def page_text(driver, *expected: str) -> str:
    """The page's text once it shows every one of `expected` (formgrader loads its tables after the page)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def text(d):
        return d.find_element(By.TAG_NAME, "body").text

    with contextlib.suppress(TimeoutException):  # the assertion below says what is missing
        WebDriverWait(driver, 30).until(lambda d: all(e in text(d) for e in expected))
    found = text(driver)
    missing = [e for e in expected if e not in found]
    assert not missing, f"{driver.current_url} does not show {missing}: {found[:2000]}"
    return found


def shot(driver, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{name}: an empty screenshot"
    if os.environ.get("RNN_COURSE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)


def verdict_lines(driver) -> list:
    """Each verdict's lines on the page: (text, colour, overflows its box)."""
    return driver.execute_script("""
        return [...document.querySelectorAll('[class*="ansi-red"], [class*="ansi-green"]')].map(span => {
            const box = span.closest('pre');
            return [span.textContent, getComputedStyle(span).color, box.scrollWidth > box.clientWidth + 1];
        });""")


def test_formgrader_lists_the_class_and_saves_a_manual_score(lab, browser, tmp_path):
    from nbgrader.api import Gradebook
    from selenium.webdriver.common.by import By

    course, base, _ = lab
    browser.get(f"{base}/formgrader")
    page_text(browser, ASSIGNMENT)
    shot(browser, "formgrader-assignments", tmp_path)
    browser.get(f"{base}/formgrader/manage_submissions/{ASSIGNMENT}")
    listed = page_text(browser, *STUDENTS, "Daily_Sum, Ada", "broken")
    assert "None" not in listed and "null" not in listed, listed
    assert "needs autograding" not in listed, "a submission that could not be read shows no reason"

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, "daily_sum").id
        broken = gradebook.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, "broken").id
    browser.get(f"{base}/formgrader/submissions/{broken}/")
    page_text(browser, "Not graded: the submitted data_exploration.ipynb is not a valid notebook")
    browser.get(f"{base}/formgrader/submissions/{submission}/")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return !!(window.MathJax && MathJax.isReady)"))
    from selenium.webdriver.common.keys import Keys

    score = browser.find_element(By.ID, "seasonality")
    score.send_keys(Keys.CONTROL, "a")
    score.send_keys("2", Keys.TAB)  # the score is saved when its field loses focus
    lines = verdict_lines(browser)
    assert any(text.startswith("✗ Daily mean load failed") and colour == RED for text, colour, _ in lines), lines
    assert any(colour == GREEN and text.endswith(": passed") for text, colour, _ in lines), lines
    assert not [text for text, _, overflows in lines if overflows], "a verdict is wider than its box"
    browser.execute_script("document.querySelector('.output_error').scrollIntoView({block: 'end'})")
    shot(browser, "formgrader-failed-check", tmp_path)
    for _ in range(120):
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            if gradebook.find_grade("seasonality", NOTEBOOK[:-6], ASSIGNMENT, "daily_sum").manual_score == 2:
                break
        time.sleep(0.5)
    else:
        pytest.fail("the manual score entered in Formgrader did not reach the gradebook")


def test_feedback_shows_every_failure_whole_and_red(lab, browser, tmp_path):
    from selenium.webdriver.common.by import By

    course, _, _ = lab
    page = course / "feedback" / "daily_sum" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
    browser.get(page.as_uri())
    summary = browser.find_element(By.ID, "toc").text
    assert "Test test_daily_load ✗" in summary and "Test test_hourly_profile ✓" in summary, summary
    lines = verdict_lines(browser)
    failed = [text for text, colour, _ in lines if "failed" in text]
    assert failed == ["✗ Daily mean load failed"], lines
    assert all(colour == RED for text, colour, _ in lines if text in failed)
    assert [colour for text, colour, _ in lines if text.endswith("passed")] == [GREEN, GREEN]
    assert not [text for text, _, overflows in lines if overflows], "a verdict is wider than its box"
    boxes = browser.execute_script("return [...document.querySelectorAll('.output_error pre')].map(p => p.innerText)")
    assert boxes and all(len(line) <= 88 for box in boxes for line in box.splitlines()), boxes  # wrapped, not cut
    assert "BEGIN HIDDEN TESTS" not in browser.page_source and "import check" not in browser.page_source
    shot(browser, "feedback-summary", tmp_path)
    browser.execute_script("document.querySelector('.output_error').scrollIntoView({block: 'center'})")
    shot(browser, "feedback-failed-check", tmp_path)


def test_jupyterlab_opens_the_released_notebook_unmodified_and_colours_verdicts(lab, browser):
    """A student's notebook is not marked modified by merely opening it (its language_info is the
    course kernel's), and a TA sees the autograded verdicts red and green in JupyterLab too."""
    import json
    import sys

    from selenium.webdriver.support.ui import WebDriverWait

    course, base, token = lab
    release = course / "release" / ASSIGNMENT / NOTEBOOK
    if json.loads(release.read_text())["metadata"]["language_info"]["version"] != sys.version.split()[0]:
        pytest.skip("this Python is not the one the notebooks' language_info names (source/ metadata)")
    browser.get(f"{base}/lab/tree/release/{ASSIGNMENT}/{NOTEBOOK}?token={token}&reset")
    WebDriverWait(browser, 90).until(lambda d: d.execute_script(
        "return !!document.querySelector('.lm-TabBar-tab.jp-mod-current') && "
        "!!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')"))
    time.sleep(5)  # the kernel's info has arrived; a notebook it would change is marked now
    dirty = browser.execute_script("return document.querySelector('.lm-TabBar-tab.jp-mod-current')"
                                   ".classList.contains('jp-mod-dirty')")
    assert not dirty, "opening the released notebook marked it modified"

    browser.get(f"{base}/lab/tree/autograded/daily_sum/{ASSIGNMENT}/{NOTEBOOK}?token={token}&reset")
    # Outputs render one cell at a time: wait for a failed verdict (red) and a passed one (green).
    WebDriverWait(browser, 90).until(lambda d: d.execute_script(
        "return document.querySelectorAll('.jp-OutputArea-output [class*=\"ansi-red\"]').length > 0"
        " && document.querySelectorAll('.jp-OutputArea-output [class*=\"ansi-green\"]').length > 0"))
    colours = browser.execute_script("""
        return [...document.querySelectorAll('.jp-OutputArea-output [class*="ansi-red"], .jp-OutputArea-output [class*="ansi-green"]')]
            .map(span => [span.textContent, getComputedStyle(span).color]);""")

    def rgb(text):
        return [int(n) for n in text[text.index("(") + 1:text.index(")")].split(",")[:3]]

    assert any(t.startswith("✗") and rgb(c)[0] > rgb(c)[1] + 60 for t, c in colours), colours  # red
    assert any(t.startswith("✓") and rgb(c)[1] > rgb(c)[0] + 30 for t, c in colours), colours  # green
