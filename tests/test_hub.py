"""The course on JupyterHub (`python -m instructor hub`), clicked through in headless Chromium as its
people would: two students fetch, run, validate and submit (one after the due date); a grader opens
Formgrader through the hub, collects, autogrades, scores the written answer, generates and releases
feedback; each student fetches and reads their own. And what must not work: a wrong password, one
student as another, a student at the graders' service, in the course folder or in another's home, a
page a student's server serves reading a grader's hub token or Formgrader (each server, and
Formgrader, on a subdomain of its own).
The hub is then stopped, started again with one more student, and has kept everything."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader_tests.plugins import limits
from grader_tests.plugins.limits import uid_processes
from instructor.hub import Layout, Member, grading_account, served_at, write_config
from instructor.submissions import solved_notebook

pytestmark = [pytest.mark.autograde, pytest.mark.xdist_group("hub")]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
COURSE = "rnn-forecasting"
ASSIGNMENT = NOTEBOOK = "data_exploration"
STUDENTS = {"rnnt-hub-ada": "Ada-pw-1x", "rnnt-hub-bo": "Bo-pw-2y"}
GRADER = ("rnnt-hub-tara", "Tara-pw-3z")
LATE_STUDENT = "rnnt-hub-cy"  # added to the roster mid-course
WRITTEN_SCORE = 2  # of 3, given in Formgrader to the written answer
SERVER_MEMORY = "2G"  # each user's server and its kernels (instructor/hub_plugins.py)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_roster(path: Path, late_student: bool = False, dropped=()) -> None:
    lines = ["username,role,name,password", *(f"{user},student,{user.split('-')[-1].title()} Student,{password}"
                                               for user, password in STUDENTS.items() if user not in dropped),
             f"{GRADER[0]},grader,Tara Grader,{GRADER[1]}"]
    if late_student:
        lines.append(f"{LATE_STUDENT},student,Cy Student,")  # no password: one is made up for the new account
    path.write_text("\n".join(lines) + "\n")


def remove_accounts() -> None:
    for user in [*STUDENTS, GRADER[0], LATE_STUDENT, grading_account(COURSE)]:
        subprocess.run(["pkill", "--signal", "KILL", "--uid", user], capture_output=True)
        subprocess.run(["userdel", "--remove", user], capture_output=True)


class Hub:
    def __init__(self, home: Path, roster: Path, port: int, data: Path):
        self.home, self.roster, self.port, self.data = home, roster, port, data
        self.base = f"http://localhost:{port}"  # the hub; each server on a subdomain (Chromium resolves *.localhost)
        self.env = dict(os.environ, RNN_COURSE_EXCHANGE=str(home / "exchange"))
        self.process = None

    def server(self, user: str) -> str:
        return served_at(self.base, user, "user").rstrip("/")

    def service(self) -> str:
        return served_at(self.base, COURSE, "service").rstrip("/")

    def start(self) -> None:
        self.output = self.home.parent / f"hub-{time.monotonic_ns()}.out"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "instructor", "hub", "--roster", str(self.roster), "--home", str(self.home),
                 "--port", str(self.port), "--data", str(self.data), "--server-memory", SERVER_MEMORY],
                env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900  # the first start builds the course environment
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the hub command ended: {self.output.read_text()}"
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{self.base}/hub/login", timeout=5).status == 200:
                    return
            time.sleep(2)
        pytest.fail(f"the hub did not start: {self.output.read_text()}")

    def stop(self) -> float:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=120) == 0, self.output.read_text()
        return time.monotonic() - started


@pytest.fixture(scope="module")
def hub(data_dir):
    remove_accounts()
    # a folder every account may cross (the course environment and the data are inside), unlike pytest's
    folder = Path(tempfile.mkdtemp(prefix="rnn-course-hub-", dir="/tmp"))
    folder.chmod(0o755)
    roster = folder / "roster.csv"
    write_roster(roster)
    started = Hub(folder / "home", roster, free_port(), data_dir)
    started.start()
    try:
        yield started
    finally:
        if started.process and started.process.poll() is None:
            started.stop()
        remove_accounts()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    def new():
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000",
                         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE *.localhost"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(120)
        opened.append(driver)
        return driver

    opened = []
    yield new
    for driver in opened:
        with contextlib.suppress(Exception):
            driver.quit()


# --- what people click ------------------------------------------------------------------------------------

def body(driver) -> str:
    """The page's text; a page replaced while it is read (a login form posting) is read again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            return driver.find_element(By.TAG_NAME, "body").text
        except (StaleElementReferenceException, NoSuchElementException):
            time.sleep(0.25)
    return driver.find_element(By.TAG_NAME, "body").text


def shows(driver, *expected: str, timeout: float = 60) -> str:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, timeout).until(lambda d: all(e in body(d) for e in expected))
    found = body(driver)
    missing = [e for e in expected if e not in found]
    assert not missing, f"{driver.current_url} does not show {missing}: {found[:1500]}"
    return found


def log_in(driver, hub: Hub, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{hub.base}/hub/logout")  # whoever was logged in in this browser is not any more
    driver.get(f"{hub.base}/hub/login")
    driver.find_element(By.ID, "username_input").send_keys(user)
    driver.find_element(By.ID, "password_input").send_keys(password)
    driver.find_element(By.ID, "login_submit").click()


def log_in_as_grader(driver, hub: Hub) -> None:
    """The grader logs in; the hub starts her own server too (and sends her there) before Formgrader is opened."""
    from selenium.webdriver.support.ui import WebDriverWait

    log_in(driver, hub, *GRADER)
    WebDriverWait(driver, 180).until(lambda d: f"/user/{GRADER[0]}/" in d.current_url)


def open_lab(driver, hub: Hub, user: str, password: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    log_in(driver, hub, user, password)
    WebDriverWait(driver, 180).until(lambda d: f"/user/{user}/lab" in d.current_url and "Nbgrader" in body(d))


def menu(driver, top: str, item: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def labelled(selector, text):
        return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.text == text]

    from selenium.common.exceptions import ElementClickInterceptedException
    from selenium.webdriver.common.keys import Keys

    WebDriverWait(driver, 60).until(lambda d: labelled(".lm-MenuBar-itemLabel", top))
    for attempt in range(5):  # a dialog JupyterLab opens by itself (a restarted server, say) is dismissed first
        try:
            labelled(".lm-MenuBar-itemLabel", top)[0].click()
            break
        except ElementClickInterceptedException:
            if attempt == 4:
                raise
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            time.sleep(1)
    WebDriverWait(driver, 10).until(lambda d: labelled(".lm-Menu-itemLabel", item))
    labelled(".lm-Menu-itemLabel", item)[0].click()


def assignment_button(driver, section: str, label: str):
    """A button of the Assignment List: section is released, fetched or submitted."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path = f"//*[@id='{section}_assignments_list']//button[normalize-space()='{label}']"
    WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.XPATH, path))
    return driver.find_element(By.XPATH, path)


def in_page(driver, script: str, *arguments):
    """Run `script` (async, ending with done(value)) in the page, with the page's cookies and XSRF token."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];\n"
        "const xsrf = (document.cookie.split('; ').find(c => c.startsWith('_xsrf=')) || '=').split('=')[1];\n"
        + script, *arguments)


def save_answers(driver, hub: Hub, user: str) -> None:
    """The student's answers, typed and saved (through Jupyter's contents API, as the editor saves)."""
    content = {"type": "notebook", "format": "json", "content": solved_notebook(ASSIGNMENT)}
    status = in_page(driver, """
        fetch(arguments[0], {method: 'PUT', headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
                             body: arguments[1]}).then(r => done(r.status), e => done(String(e)));""",
                     f"{hub.server(user)}/api/contents/{ASSIGNMENT}/{NOTEBOOK}.ipynb", json.dumps(content))
    assert status == 200, status


def run_all_and_save(driver, hub: Hub, user: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{hub.server(user)}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}.ipynb")
    WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
                                     and "Idle" in body(d))
    menu(driver, "Run", "Run All Cells")
    WebDriverWait(driver, 30).until(lambda d: [p for p in d.find_elements(By.CSS_SELECTOR, ".jp-InputPrompt") if "*" in p.text])
    WebDriverWait(driver, 600).until(lambda d: not [p for p in d.find_elements(By.CSS_SELECTOR, ".jp-InputPrompt")
                                                    if "*" in p.text])
    errors = driver.find_elements(By.CSS_SELECTOR, "[data-mime-type='application/vnd.jupyter.error']")
    assert not errors, [e.text[:300] for e in errors]
    menu(driver, "File", "Save Notebook")
    WebDriverWait(driver, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".jp-mod-dirty"))


def fetch_run_validate_submit(driver, hub: Hub, user: str, password: str) -> str:
    """A student's whole round; returns what Validate said."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_lab(driver, hub, user, password)
    menu(driver, "Nbgrader", "Assignment List")
    assignment_button(driver, "released", "Fetch").click()
    assignment_button(driver, "fetched", "Submit")  # fetched: it is in the student's home
    save_answers(driver, hub, user)
    run_all_and_save(driver, hub, user)
    menu(driver, "Nbgrader", "Assignment List")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fetched_assignments_list a.assignment-notebooks-link"))
    driver.find_element(By.CSS_SELECTOR, "#fetched_assignments_list a.assignment-notebooks-link").click()
    assignment_button(driver, "fetched", "Validate").click()
    WebDriverWait(driver, 600).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Dialog"))
    said = driver.find_element(By.CSS_SELECTOR, ".jp-Dialog").text
    driver.find_element(By.CSS_SELECTOR, ".jp-Dialog button.jp-mod-accept").click()
    assignment_button(driver, "fetched", "Submit").click()
    assignment_button(driver, "submitted", "Fetch Feedback")
    return said


def formgrader(driver, hub: Hub, page: str = "manage_assignments") -> None:
    driver.get(f"{hub.service()}/formgrader/{page}")


def table_row(driver, column: str, value: str):
    """The row of a Formgrader table whose cell of class `column` is `value` (the tables load after the page)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path = f"//tr[td[contains(@class,'{column}')][normalize-space()='{value}']]"
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.XPATH, path))
    rows = driver.find_elements(By.XPATH, path)
    assert rows, f"{driver.current_url} has no row whose {column} is {value}: {body(driver)[:1500]}"
    return rows[0]


def assignment_row(driver, assignment: str):
    return table_row(driver, "name", assignment)


def click_and_confirm(driver, row, cell: str, success: str) -> None:
    """Click a Formgrader button of a row, wait for the message it ends with, close it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    button = row.find_element(By.CSS_SELECTOR, f"td.{cell} a")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", button)
    button.click()
    def shown(d):
        return [m for m in d.find_elements(By.CSS_SELECTOR, ".modal.in") if m.is_displayed()]

    WebDriverWait(driver, 600).until(shown)
    modal = shown(driver)[-1]
    said = " ".join(modal.get_attribute("textContent").split())
    assert success in said, said
    driver.execute_script("$(arguments[0]).modal('hide')", modal)  # as its close button does
    WebDriverWait(driver, 10).until(lambda d: not shown(d))


def set_due_date(driver, hub: Hub, due: datetime) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    formgrader(driver, hub)
    assignment_row(driver, ASSIGNMENT).find_element(By.CSS_SELECTOR, "td.edit a").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".modal.in input.modal-duedate"))
    driver.execute_script("$('.modal.in input.modal-duedate').val(arguments[0]);"
                          "$('.modal.in input.modal-timezone').val('UTC');", due.strftime("%Y-%m-%dT%H:%M:%S"))
    [button for button in driver.find_elements(By.CSS_SELECTOR, ".modal.in button") if button.text == "Save"][0].click()
    WebDriverWait(driver, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal.in"))


def gradebook(hub: Hub):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{hub.home / 'grading' / 'course' / 'gradebook.db'}")


def as_user(user: str, *command: str) -> subprocess.CompletedProcess:
    """A command run as the account, as its terminal would run it."""
    entry = pwd.getpwnam(user)
    return subprocess.run(["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--",
                           *command], capture_output=True, text=True, cwd="/")


def terminal(driver, hub: Hub, user: str, line: str) -> str:
    """What the student's own JupyterLab terminal prints for `line`."""
    return in_page(driver, """
        const [server, line] = arguments;
        fetch(`${server}/api/terminals`, {method: 'POST', headers: {'X-XSRFToken': xsrf}})
          .then(r => r.json()).then(t => {
            const socket = new WebSocket(`${server.replace('http', 'ws')}/terminals/websocket/${t.name}`);
            let out = '';
            socket.onmessage = m => { const [kind, text] = JSON.parse(m.data); if (kind === 'stdout') out += text;
                                      if (out.includes('END-OF-CHECK')) { socket.close(); done(out); } };
            socket.onopen = () => socket.send(JSON.stringify(['stdin', line + '; echo END-OF""-CHECK\\r']));
            setTimeout(() => done(out), 20000);
          }, e => done(String(e)));""", hub.server(user), line)


# --- the tests ------------------------------------------------------------------------------------------

def test_the_hub_refuses_what_it_cannot_do(tmp_path):
    """Run first: the ports it checks are the module's hub's once that runs."""
    from accounts import Account

    roster = tmp_path / "roster.csv"
    roster.write_text("username,role,name,password\nrnnt-x,student,X,\nBad Name,student,Y,\nrnnt-z,teacher,Z,\n")
    port = free_port()

    def hub(*extra, runner=None):
        command = [sys.executable, "-m", "instructor", "hub", "--roster", str(roster), "--home", str(tmp_path / "home"),
                   "--port", str(port), *extra]
        done = (runner or (lambda c: subprocess.run(c, capture_output=True, text=True)))(command)
        return done.returncode, (done.stdout + done.stderr) if isinstance(done.stdout, str) else done.output

    status, said = hub()
    assert status == 2 and "line 3: 'Bad Name' is not a Unix account name" in said and "line 4: role 'teacher'" in said, said
    assert not (tmp_path / "home").exists(), "nothing is made for a roster the hub cannot use"
    taken_over = tmp_path / "taken-over-roster.csv"  # accounts the hub did not make: never taken over
    taken_over.write_text(f"username,role,name,password\nroot,student,R,pw\n{grading_account(COURSE)},grader,G,\n"
                          "daemon,grader,D,\n")
    status, said = hub("--roster", str(taken_over))
    assert status == 2 and "root is a system account" in said and "daemon is a system account" in said \
        and f"{grading_account(COURSE)} is the course's grading account" in said, said
    assert not (tmp_path / "home").exists()
    good = tmp_path / "good-roster.csv"
    good.write_text("username,role,name,password\nrnnt-x,grader,X,\n")
    closed = tmp_path / "closed"  # a Python no other account can reach, as one under /root
    closed.mkdir(mode=0o700)
    (closed / "python3").write_text('#!/bin/sh\nexec /usr/bin/python3 "$@"\n')
    (closed / "python3").chmod(0o755)
    status, said = hub("--roster", str(good), "--url", "http://10.1.2.3:8000")  # servers need subdomains of a name
    assert status == 2 and "a host name, not an IP address" in said, said
    status, said = hub("--roster", str(good), "--url", "http://hub.example.org")  # passwords and cookies in clear
    assert status == 2 and "over plain HTTP" in said, said
    status, said = hub("--roster", str(good), "--proxy", str(tmp_path / "no-proxy"))
    assert status == 2 and "no-proxy is not a program" in said, said
    status, said = hub("--roster", str(good), "--python", str(closed / "python3"))  # (the last --roster counts)
    assert status == 2 and "which other accounts cannot enter" in said, said
    assert not (tmp_path / "home").exists()
    with socket.socket() as taken:
        taken.bind(("", port))
        taken.listen()
        status, said = hub("--roster", str(good))
    assert status == 2 and f"port {port}" in said and "is taken" in said, said
    account = Account("rnnt-hubuser", "not root", reach=[Path(__file__).resolve().parents[1]])
    try:
        status, said = hub(runner=lambda c: account.run(*c, cwd=Path(__file__).resolve().parents[1]))
    finally:
        account.remove()
    assert status == 2 and "must run as root" in said, said


def test_over_https_the_hubs_login_cookie_cannot_be_set_by_a_servers_subdomain(tmp_path):
    """JupyterHub's __Host- login cookie (a subdomain cannot set one in its place, which a red team did on a
    real domain to log a grader in as a student), over HTTPS; and the Services menu's link keeps the port."""
    layout = Layout(tmp_path)
    layout.hub.mkdir()
    (layout.hub / "proxy_token").write_text("t")
    members = [Member("ada", "student", "Ada", ""), Member("tara", "grader", "Tara", "")]
    for url, prefixed in (("https://hub.example.org", True), ("http://localhost:8000", False)):
        config = write_config(layout, members, COURSE, grading_account(COURSE), 8000, "/srv/x", Path("/usr/bin/true"), url)
        settings = {}
        exec(config.read_text(), {"get_config": lambda: settings.setdefault("c", __import__("traitlets.config").config.Config())})
        c = settings["c"]
        assert c.JupyterHub.subdomain_host == url and c.JupyterHub.cookie_host_prefix_enabled is prefixed
        assert c.JupyterHub.spawner_class == "instructor.hub_plugins.LimitedSpawner" and c.Spawner.mem_limit == "4G"
        assert c.JupyterHub.authenticator_class == "instructor.hub_plugins.RosterAuthenticator"
    from jupyterhub.services.service import Service

    service = Service(name=COURSE, base_url="/", domain=f"{COURSE}--service.localhost", host=f"http://{COURSE}--service.localhost:8000")
    assert service.href == f"http://{COURSE}--service.localhost:8000/services/{COURSE}/"


def test_a_class_on_the_hub_from_release_to_feedback(hub, chromium, tmp_path):
    from selenium.webdriver.common.by import By

    tara = chromium()
    log_in_as_grader(tara, hub)
    tara.get(f"{hub.base}/hub/home")  # the hub's Services menu leads to Formgrader's JupyterLab ...
    link = tara.find_element(By.XPATH, f"//a[contains(@class, 'dropdown-item')][normalize-space()='{COURSE}']")
    assert link.get_attribute("href") == f"{hub.service()}/", link.get_attribute("href")
    tara.get(link.get_attribute("href"))
    menu(tara, "Nbgrader", "Formgrader")  # ... whose Formgrader panel frames the service's own pages
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(tara, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"))
    tara.switch_to.frame(tara.find_elements(By.CSS_SELECTOR, "iframe")[-1])
    shows(tara, "Manage Assignments", ASSIGNMENT)
    tara.switch_to.default_content()
    formgrader(tara, hub)  # generate (the student version, and the assignment in the gradebook), then release
    click_and_confirm(tara, assignment_row(tara, ASSIGNMENT), "assign", f"Successfully created the student version of '{ASSIGNMENT}'")
    click_and_confirm(tara, assignment_row(tara, ASSIGNMENT), "release", f"Successfully released '{ASSIGNMENT}'")

    ada, bo = chromium(), chromium()
    (ada_user, ada_password), (bo_user, bo_password) = STUDENTS.items()
    said = fetch_run_validate_submit(ada, hub, ada_user, ada_password)
    assert "Success! Your notebook passes all the tests." in said, said
    time.sleep(1)
    set_due_date(tara, hub, datetime.now(UTC).replace(microsecond=0))  # after Ada's submission, before Bo's
    time.sleep(1.5)
    fetch_run_validate_submit(bo, hub, bo_user, bo_password)

    formgrader(tara, hub)
    click_and_confirm(tara, assignment_row(tara, ASSIGNMENT), "collect", f"Successfully collected submissions of '{ASSIGNMENT}'")
    formgrader(tara, hub, f"manage_submissions/{ASSIGNMENT}")
    for student in STUDENTS:
        row = table_row(tara, "student-id", student)
        click_and_confirm(tara, row, "autograde", f"Successfully autograded '{ASSIGNMENT}' for student '{student}'")
    with gradebook(hub) as book:
        submissions = {s.student.id: (s.id, s.total_seconds_late, s.code_score, s.max_code_score)
                       for s in book.find_assignment(ASSIGNMENT).submissions}
        notebooks = {student: book.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).id for student in STUDENTS}
    assert set(submissions) == set(STUDENTS)
    assert submissions[ada_user][1] == 0 and submissions[bo_user][1] > 0, submissions  # Bo handed in after the due date
    assert all(code == most > 0 for _, _, code, most in submissions.values()), submissions  # the solution, in full

    # the written answer, scored in Formgrader's grading page (the score is saved when the field loses focus)
    from selenium.webdriver.common.keys import Keys

    for student in STUDENTS:
        formgrader(tara, hub, f"submissions/{notebooks[student]}/")
        shows(tara, "Daily mean load")
        score = tara.find_element(By.ID, "seasonality")
        score.send_keys(Keys.CONTROL, "a")
        score.send_keys(str(WRITTEN_SCORE), Keys.TAB)
        deadline = time.monotonic() + 30
        while True:
            with gradebook(hub) as book:
                if book.find_grade("seasonality", NOTEBOOK, ASSIGNMENT, student).manual_score == WRITTEN_SCORE:
                    break
            assert time.monotonic() < deadline, f"the written answer's score of {student} did not reach the gradebook"
            time.sleep(0.5)
    formgrader(tara, hub)
    click_and_confirm(tara, assignment_row(tara, ASSIGNMENT), "generate-feedback", f"Successfully generated feedback of '{ASSIGNMENT}'")
    click_and_confirm(tara, assignment_row(tara, ASSIGNMENT), "release-feedback", f"Successfully released feedback of '{ASSIGNMENT}'")
    with gradebook(hub) as book:
        expected = {student: book.find_submission(ASSIGNMENT, student).score for student in STUDENTS}

    for driver, (student, password) in ((ada, (ada_user, ada_password)), (bo, (bo_user, bo_password))):
        open_lab(driver, hub, student, password)
        menu(driver, "Nbgrader", "Assignment List")
        assignment_button(driver, "submitted", "Fetch Feedback").click()
        deadline = time.monotonic() + 60
        while True:  # the feedback lands in the student's folder a moment after the click
            listing = in_page(driver, """fetch(arguments[0], {headers: {'X-XSRFToken': xsrf}}).then(r => r.json())
                .then(j => done((j.content || []).map(c => c.name)), e => done(String(e)));""",
                              f"{hub.server(student)}/api/contents/{ASSIGNMENT}/feedback")
            if isinstance(listing, list) and listing:
                break
            assert time.monotonic() < deadline, f"{student} got no feedback folder: {listing}"
            time.sleep(2)
        driver.get(f"{hub.server(student)}/files/{ASSIGNMENT}/feedback/{listing[-1]}/{NOTEBOOK}.html")
        page = shows(driver, f"(Score: {round(float(expected[student]), 2)} / ")
        assert not (STUDENTS.keys() - {student}) & set(page.split()), "a student's feedback names another student"
    driver.save_screenshot(str(tmp_path / "hub-feedback.png"))


def test_what_a_student_cannot_do_on_the_hub(hub, chromium):
    from selenium.webdriver.support.ui import WebDriverWait

    (ada_user, ada_password), (bo_user, bo_password) = STUDENTS.items()
    driver = chromium()
    for user, password in ((ada_user, "wrong"), (bo_user, ada_password), (GRADER[0], ada_password)):
        log_in(driver, hub, user, password)
        shows(driver, "Invalid username or password")
        assert "/hub/login" in driver.current_url
    request = urllib.request.Request(f"{hub.base}/hub/login", data=f"username={ada_user}&password=wrong".encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403

    # her processes on the hub's ports at other addresses than the hub's (::1, 127.0.0.2): the hub goes on
    entry = pwd.getpwnam(ada_user)
    squatter = subprocess.Popen(
        ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--", "/usr/bin/python3", "-c",
         "import socket, time\nheld = []\nfor port in (8081, 8001, 9999):\n"
         "    for family, address in ((socket.AF_INET6, '::1'), (socket.AF_INET, '127.0.0.2')):\n"
         "        s = socket.socket(family)\n        s.bind((address, port))\n        s.listen()\n        held.append(s)\n"
         "print('listening', flush=True)\ntime.sleep(30)"], stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert squatter.stdout.readline().strip() == "listening"
        time.sleep(6)  # the command looks every 2 s
        assert hub.process.poll() is None, hub.output.read_text()
    finally:
        squatter.kill()
        squatter.wait()

    open_lab(driver, hub, ada_user, ada_password)
    driver.get(f"{hub.service()}/formgrader/manage_assignments")
    WebDriverWait(driver, 60).until(lambda d: "403" in body(d) or "Forbidden" in body(d))
    assert "Manage Assignments" not in body(driver)

    driver.get(f"{hub.server(ada_user)}/lab")  # her own server's page: its cookies let her terminal in
    WebDriverWait(driver, 60).until(lambda d: "Nbgrader" in body(d))
    course = hub.home / "grading" / "course"
    for path in (course / "source", course / "gradebook.db", Path(pwd.getpwnam(bo_user).pw_dir)):
        said = terminal(driver, hub, ada_user, f"ls {path}; cat {path}")
        assert "Permission denied" in said and "END-OF-CHECK" in said, said
        listing = in_page(driver, "fetch(arguments[0], {headers: {'X-XSRFToken': xsrf}})"
                                  ".then(r => done(r.status), e => done(String(e)));",
                          f"{hub.server(ada_user)}/api/contents/{os.path.relpath(path, pwd.getpwnam(ada_user).pw_dir)}")
        assert listing in (403, 404), (path, listing)
        assert as_user(ada_user, "cat", str(path)).returncode != 0

    # her server's limits (instructor/hub_plugins.py): processes of her account, memory of her server
    said = terminal(driver, hub, ada_user, "echo processes $(ulimit -u); grep -q rnn-course-hub- /proc/self/cgroup && echo in-its-cgroup")
    assert "processes 1024" in said, said
    probe = limits.MemoryCgroup.make(f"rnn-course-probe-{os.getpid()}", 2**30)
    if probe is not None:  # where the hub can make a memory cgroup, 3 GiB in her terminal is stopped at 2
        probe.remove()
        assert "in-its-cgroup" in said, said
        said = terminal(driver, hub, ada_user, "python3 -c \"x = b'x' * (3 * 2**30); print('all' + 'ocated')\"; echo status $?")
        assert "status 137" in said and "allocated" not in said, said
        said = terminal(driver, hub, ada_user, "echo still here")
        assert "still here" in said, said


READ_IN_POP_UP = """
const done = arguments[arguments.length - 1];
const opened = window.open(arguments[0]);
let looks = 0;
const look = () => {
  try {
    const text = opened.document.body ? opened.document.body.innerText : '';
    if (text.includes(arguments[1])) { opened.close(); done('read'); return; }
  } catch (error) { opened.close(); done('refused: ' + error.name); return; }
  if (++looks > 150) { opened.close(); done('nothing read'); } else setTimeout(look, 200);
};
setTimeout(look, 200);
"""
READ_BY_FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'include'}).then(r => r.text()).then(t => done('read: ' + t.slice(0, 200)),
                                                                       e => done('refused: ' + e));
"""


def test_a_page_a_student_serves_cannot_act_for_a_grader(hub, chromium):
    """A student's server serves what she likes (she runs it): a grader logged in to the hub who opens a page
    of it must not have her hub token or Formgrader used by its script, as on one shared address it could
    (a red team read /hub/token in a pop-up and made a token). Each server has an origin of its own."""
    from selenium.webdriver.support.ui import WebDriverWait

    ada = next(iter(STUDENTS))
    tara = chromium()
    log_in_as_grader(tara, hub)
    tara.get(f"{hub.base}/hub/home")  # the hub's own page can read its token page: what the check below looks for
    assert tara.execute_async_script(READ_IN_POP_UP, f"{hub.base}/hub/token", "API token") == "read"
    tara.get(f"{hub.server(ada)}/a-page-she-serves")  # her server answers it (404) without asking who is there
    WebDriverWait(tara, 60).until(lambda d: "Not Found" in body(d))
    assert tara.current_url.startswith(hub.server(ada))
    assert tara.execute_async_script(READ_IN_POP_UP, f"{hub.base}/hub/token", "API token") == "refused: SecurityError"
    for target in (f"{hub.base}/hub/api/user", f"{hub.base}/hub/token",
                   f"{hub.service()}/formgrader/api/assignments", f"{hub.service()}/api/contents"):
        said = tara.execute_async_script(READ_BY_FETCH, target)
        assert said.startswith("refused: TypeError"), (target, said)


HOPPER = """
import ctypes, os, time
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: the hops are reaped here, not left as zombies
if os.fork() == 0:
    os.setsid()
    while True:  # a new process every 2 ms, the old one gone (a red team's, in C, outran a kill by pid)
        if os.fork():
            os._exit(0)
        time.sleep(0.002)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.01)
"""


def test_the_hub_stops_and_starts_again_with_everything_kept(hub, chromium):
    """Stopped with Bo dropped from the roster, and started again with one more student: nothing a student
    left running outlives the stop (a process that hops from pid to pid included), Bo's account is locked
    and his hub token dead, the rest is kept."""
    (ada_user, ada_password), (bo_user, bo_password) = STUDENTS.items()
    detached = [subprocess.Popen(["runuser", "-u", ada_user, "--", "setsid", "sleep", "600"], start_new_session=True),
                subprocess.Popen(["runuser", "-u", bo_user, "--", "/usr/bin/python3", "-c", HOPPER], start_new_session=True)]
    made = subprocess.run([sys.executable, "-m", "jupyterhub", "token", "-f", "jupyterhub_config.py", bo_user],
                          cwd=hub.home / "hub", capture_output=True, text=True)  # as if Bo made one on the token page
    token = made.stdout.strip().splitlines()[-1]
    with urllib.request.urlopen(urllib.request.Request(f"{hub.base}/hub/api/user",
                                                       headers={"Authorization": f"token {token}"}), timeout=30) as who:
        assert json.load(who)["name"] == bo_user
    time.sleep(1)
    assert uid_processes(pwd.getpwnam(ada_user).pw_uid) and uid_processes(pwd.getpwnam(bo_user).pw_uid)
    write_roster(hub.roster, late_student=True, dropped=[bo_user])
    waited = hub.stop()
    assert waited < 30, f"stopping the hub took {waited:.0f} s"
    for student in (ada_user, bo_user):
        assert not uid_processes(pwd.getpwnam(student).pw_uid), f"a process {student} left running outlives the hub"
    for process in detached:
        process.wait(timeout=10)
    assert not (hub.home / "hub" / "proxy.pid").exists() or not _alive(hub.home / "hub" / "proxy.pid")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (the browser's closed connections linger)
        probe.bind(("", hub.port))  # the port is free again
    hub.start()
    driver = chromium()
    log_in(driver, hub, bo_user, bo_password)  # dropped: locked out, home kept
    shows(driver, "Invalid username or password")
    assert subprocess.run(["passwd", "--status", bo_user], capture_output=True, text=True).stdout.split()[1] == "L"
    with pytest.raises(urllib.error.HTTPError) as refused:  # he is no longer in the hub's database, nor his tokens
        urllib.request.urlopen(urllib.request.Request(f"{hub.base}/hub/api/user",
                                                      headers={"Authorization": f"token {token}"}), timeout=30)
    assert refused.value.code == 403
    assert Path(pwd.getpwnam(bo_user).pw_dir, ASSIGNMENT).is_dir()
    open_lab(driver, hub, ada_user, ada_password)
    menu(driver, "Nbgrader", "Assignment List")
    assignment_button(driver, "submitted", "Fetch Feedback")  # her submission is still listed
    with gradebook(hub) as book:
        assert book.find_submission(ASSIGNMENT, ada_user).score > 0
    made_up = (hub.home / "hub" / "new-passwords.csv").read_text().splitlines()
    (line,) = [line for line in made_up if line.startswith(f"{LATE_STUDENT},")]
    open_lab(driver, hub, LATE_STUDENT, line.split(",", 1)[1])
    assert (hub.home / "hub" / "new-passwords.csv").stat().st_mode & 0o077 == 0


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (OSError, ValueError):
        return False
