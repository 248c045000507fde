"""What a TA and a student see, in a real browser: Debian's headless Chromium driven by Selenium.

A small class of the data exploration lab is autograded (the solution, a known mistake, and a hostile
student who put a script in every place a student controls) and given feedback; JupyterLab serves
the course on 127.0.0.1. The TA opens Formgrader, finds the assignment and the submissions, scores a
written answer and finds the score in the gradebook; the feedback page and the autograded notebook
show every failure whole and red, every pass green; none of the hostile student's scripts runs in
Formgrader or in the feedback, and their written answer still reads as formatted text.
With RNN_COURSE_SCREENSHOTS=1 (`make screenshots`) the pictures go to docs/screenshots/ for docs/tas.md.
"""

import base64
import contextlib
import http.server
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from instructor import classroom
from instructor.gradebook import enrol
from instructor.submissions import VARIANTS, build, solved_notebook

pytestmark = [pytest.mark.autograde, pytest.mark.xdist_group("browser")]

ASSIGNMENT = "data_exploration"
NOTEBOOK = classroom.NOTEBOOKS[ASSIGNMENT]
STUDENTS = {"solution": "solution", "daily_sum": "daily_sum"}  # student id -> variant
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = classroom.REPO / "docs" / "screenshots"
RED, GREEN = "rgb(183, 28, 28)", "rgb(27, 94, 32)"  # instructor/nbgrader_plugins/views.py
DEBIAN_MATHJAX = Path("/usr/share/javascript/mathjax")  # libjs-mathjax: Formgrader's MathJax (the Makefile)
CDN_HOST, CDN_MATHJAX = "cdnjs.cloudflare.com", "/ajax/libs/mathjax/2.7.7/"  # the feedback's (course_feedback)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- A hostile student -------------------------------------------------------------------------------
# Each script, run in a TA's Formgrader, would do what the attack on nbgrader's pages did: set every
# student's scores to 0 through Formgrader's API with the XSRF cookie, write a file into the course
# folder through Jupyter's contents API, and mark the page (its title, a global). Each place that holds
# one names it with a tag, so that a failure says which place let its script run.
def attack(tag: str) -> str:
    """The script, in one line with no double quote."""
    return ("(async function () { top.document.title = 'PWNED " + tag + "'; (top.PWNED = top.PWNED || []).push('" + tag + "');"
            " var o = top.location.origin; var xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]*)/) || ['', ''])[1]);"
            " var headers = {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'};"
            " await fetch(o + '/api/contents/pwned-" + tag + ".txt', {method: 'PUT', headers: headers,"
            " body: JSON.stringify({type: 'file', format: 'text', content: '" + tag + "'})});"
            " var subs = await (await fetch(o + '/formgrader/api/submitted_notebooks/" + ASSIGNMENT + "/" + NOTEBOOK[:-6] + "')).json();"
            " for (var sub of subs) { var grades = await (await fetch(o + '/formgrader/api/grades?submission_id=' + sub.id)).json();"
            " for (var grade of grades) { await fetch(o + '/formgrader/api/grade/' + grade.id, {method: 'PUT', headers: headers,"
            " body: JSON.stringify({manual_score: 0, extra_credit: 0})}); } } })()")


def packed(tag: str) -> str:
    """The script in a few words with no space, slash, comma or double quote: for a name (a folder's, at
    most 255 bytes), a tag, an unquoted attribute. It runs the whole script, which the student left as
    text on the page (STASH)."""
    return (f"top.document.title='PWNED-{tag}';eval(atob(document.body.innerText.split('@'+'@').at(1))"
            f".split('TAG').join('{tag}'))")


def img(tag: str) -> str:
    return f'<img src="x" onerror="{attack(tag)}">'


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


STASH = "@@" + b64(attack("TAG")) + "@@"


HOSTILE = f"eve\"'><img src=x onerror={packed('student-id')}>"  # a student id filed by hand
HOSTILE_NAME = f"Eve<svg onload={packed('first-name')}> \"Mallory<img src=x onerror={packed('last-name')}>"
HOSTILE_FILE = f"notes\"><img src=x onerror={packed('file-name')}>.txt"  # handed in next to the notebook
ANSWER_TEXT = "The load follows three cycles"
ANSWER = r"""## Three cycles in the load

The load follows *three* cycles: a **daily** one (low at night, a peak in the evening), a weekly one
(lower at weekends) and a yearly one, driven by temperature:

- winter heating and summer cooling both raise it, so load against temperature is a `U`;
- the peak hour is `hourly.idxmax()` ([the data](https://www.sciencedirect.com/science/article/pii/S0169207016000133)).

Its variance is $\sigma^2 = \frac{1}{n}\sum_i (x_i - \bar{x})^2$.
See $\href{http://127.0.0.1/formgrader/api/student_submissions/x}{\text{my figure}}$, and
$\style{color:green}{\text{Score: 10 / 10}}$.
"""
SVG_IMAGE = ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="' + attack("attachment-svg-onload") + '">'
             "<script>" + attack("attachment-svg-script") + '</script><rect width="40" height="40" fill="teal"/></svg>')
PNG = base64.b64encode(bytes.fromhex(  # one pixel
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f0005000201a1e5b1b70000000049454e44ae426082")).decode()
MARKDOWN_ATTACKS = "\n\n".join([
    "<script>" + attack("md-script") + "</script>",
    img("md-img-onerror") + ' <svg onload="' + attack("md-svg-onload") + '"></svg> <svg><script>'
    + attack("md-svg-script") + "</script></svg>",
    '<iframe srcdoc="&lt;script&gt;' + attack("md-iframe-srcdoc").replace("'", "&#39;") + '&lt;/script&gt;"></iframe>'
    + '<object data="data:text/html;base64,' + b64("<script>" + attack("md-object") + "</script>") + '"></object>'
    + '<embed src="data:image/svg+xml;base64,' + b64(SVG_IMAGE) + '">',
    "[a javascript link](javascript:" + packed("md-markdown-link") + ') <a href="javascript:' + attack("md-html-link")
    + '">another</a> <a href="evil.html">a page of mine</a> <a href="jav&#x09;ascript:' + packed("md-obfuscated-link")
    + '">obfuscated</a>',
    "<style>input.score, textarea.comment { display: none !important; } body { background: rgb(1, 2, 3) !important; }</style>"
    '<div style="position: fixed; top: 0; left: 0; width: 100%; height: 100%; z-index: 99999; background: white">covered</div>'
    '<base href="https://evil.example/"> <meta http-equiv="refresh" content="2; url=?pwned=meta-refresh">'
    '<form action="/api/contents/pwned-form.txt" method="post"><button id="seasonality">Save</button></form>',
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;img src=x onerror='
    + packed("md-mutation") + '&gt;"></mglyph></table></mtext></math>',
    r"$\href{javascript:" + packed("md-mathjax-href") + r"}{\text{a math link}}$",
    "![a figure](attachment:evil.svg) ![a page](attachment:evil.html) ![a broken type](attachment:evil.png)",
])
OUTPUT_ATTACKS = "\n".join([
    "from IPython.display import HTML, SVG, Javascript, Latex, Markdown, display",
    f"display(HTML({'<script>' + attack('out-html-script') + '</script>' + img('out-html-img') + '<style>body {{ background: rgb(1, 2, 3) !important; }}</style>'!r}))",
    f"display(HTML({img('out-html-isolated')!r}), metadata={{'text/html': {{'isolated': True}}}})",
    "display(SVG(" + repr('<svg xmlns="http://www.w3.org/2000/svg" onload="' + attack("out-svg-onload") + '"><script>'
                         + attack("out-svg-script") + "</script></svg>") + "))",
    f"display(Javascript({attack('out-javascript')!r}))",
    f"display(Markdown({img('out-markdown') + ' <script>' + attack('out-markdown-script') + '</script>'!r}))",
    "display(Latex(" + repr("$x$ </div>" + img("out-latex") + r" $\href{javascript:" + packed("out-latex-href") + "}{x}$") + "))",
    f"display({{'image/png': {PNG + chr(34) + ' onerror=' + chr(34) + attack('out-png-data')!r}}}, raw=True)",
    f"display({{'image/png': {PNG!r}}}, metadata={{'image/png': {{'width': {'1 onerror=' + packed('out-png-width')!r}, "
    f"'height': {'1 onload=' + packed('out-png-height')!r}, 'alt': {chr(34) + ' onerror=' + chr(34) + attack('out-png-alt')!r}}}}}, raw=True)",
    f"display({{'application/vnd.jupyter.widget-view+json': {{'model_id': {'</script><script>' + attack('out-widget') + '</script>'!r}, "
    "'version_major': 2, 'version_minor': 0}, 'text/plain': 'a widget'}, raw=True)",
    f"print({img('out-stream')!r})",
    "print(" + repr("\x1b]8;;javascript:" + packed("out-ansi-link") + "\x1b\\a terminal link\x1b]8;;\x1b\\") + ")",
    f"raise ValueError({img('out-error')!r})",
])


def hostile_notebook() -> bytes:
    """The released notebook, solved, with a script in every place a student controls: the written
    answer (markdown: raw HTML, SVG, frames, links, styles, math, attachments), cells' tags, cells of
    their own (markdown, raw HTML), their code's outputs of every type, and the notebook's metadata."""
    notebook = solved_notebook(ASSIGNMENT)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
    answer = cells["seasonality"]
    answer.source = ANSWER + "\n" + MARKDOWN_ATTACKS
    # metadata: autograde refuses nbgrader's metadata with keys or grade ids it does not know (the whole
    # submission fails), so tags, on cells of nbgrader's and of the student's own
    for cell in (answer, cells["test_daily_load"]):
        cell.metadata["tags"] = [f'x" autofocus onfocus="{packed("cell-tag-" + cell.metadata.nbgrader["grade_id"])}']
    answer.attachments = {
        "evil.svg": {"image/svg+xml": b64(SVG_IMAGE)},
        "evil.html": {"text/html": b64("<script>" + attack("attachment-html") + "</script>")},
        "evil.png": {'image/png" onerror="' + attack("attachment-mime"): PNG},
    }
    at = notebook.cells.index(answer) + 1
    notebook.cells[at:at] = [
        nbformat.v4.new_markdown_cell(
            "A cell of my own. " + img("own-cell-markdown") + "\n\n" + STASH,
            metadata={"tags": [f'x" autofocus onfocus="{packed("cell-tag")}']}),
        nbformat.v4.new_raw_cell("<script>" + attack("raw-cell") + "</script>" + img("raw-cell-img"),
                                 metadata={"raw_mimetype": "text/html"}),
    ]
    notebook.cells.append(nbformat.v4.new_code_cell(OUTPUT_ATTACKS))
    notebook.metadata["title"] = "</title><script>" + attack("notebook-title") + "</script>"
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0, "x": "</script><script>" + attack("notebook-widgets") + "</script>"}}
    return nbformat.writes(notebook).encode()


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
    # the hostile student: a script in every place a student controls, graded as any other
    handed_in = classroom.submit(course, HOSTILE, ASSIGNMENT, hostile_notebook())
    (handed_in.parent / HOSTILE_FILE).write_text("my notes\n")
    # filed by hand (the hand-in commands refuse such an id), so entered in the gradebook directly
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        first, _, last = HOSTILE_NAME.rpartition(" ")
        gradebook.update_or_create_student(HOSTILE, first_name=first, last_name=last)
    assert classroom.autograde(course, HOSTILE, ASSIGNMENT).problem is None
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


@contextlib.contextmanager
def mathjax_cdn(folder: Path):
    """The feedback page's MathJax CDN (cdnjs, over HTTPS), played on 127.0.0.1 by Debian's MathJax:
    its port, or None without Debian's MathJax or openssl."""
    if not (DEBIAN_MATHJAX / "MathJax.js").exists() or not shutil.which("openssl"):
        yield None
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={CDN_HOST}",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True, capture_output=True)

    class MathJaxFiles(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = path.split("?")[0]
            return str(DEBIAN_MATHJAX / path[len(CDN_MATHJAX):]) if path.startswith(CDN_MATHJAX) else "/nonexistent"

        def end_headers(self):
            self.send_header("Access-Control-Allow-Origin", "*")  # as cdnjs: fonts load from any page
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MathJaxFiles)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with mathjax_cdn(tmp_path_factory.mktemp("cdn")) as cdn_port:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        options.page_load_strategy = "eager"  # do not wait for a CDN's script (the feedback's MathJax) to time out
        # no host but this machine (what is tested is what works offline), and the CDN played here
        hosts = f"MAP {CDN_HOST} 127.0.0.1:{cdn_port}, " * bool(cdn_port) + "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1000,1000", f"--host-resolver-rules={hosts}", "--ignore-certificate-errors"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: what a page's policy refused
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(120)
        driver.cdn = cdn_port
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


# --- The hostile student's pages -----------------------------------------------------------------------
def scores(course: Path) -> dict:
    """(student, grade) -> (manual score, extra credit) of the whole class."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {(student.id, grade.name): (grade.manual_score, grade.extra_credit)
                for student in gradebook.students
                for grade in gradebook.find_submission(ASSIGNMENT, student.id).notebooks[0].grades}


def assert_nothing_ran(driver, course: Path, scores_before: dict, title: str | None = None) -> None:
    """No script of the hostile student ran on the page: no mark, no navigation, no file written in the
    course, no score changed. On the pages of our templates (a `title`), nothing of theirs that could
    run one either (a frame, an object, a form, an event handler, a javascript: link, a <base>), nor a
    style of theirs, and the policy refused fonts only (MathJax's blank test font, Bootstrap's glyphs
    that no feedback page ever had), never a script."""
    found = driver.execute_script("""
        const body = document.body, inside = [...body.querySelectorAll('*')];
        return {
            title: document.title, marks: window.PWNED || null, url: location.href, base: document.baseURI,
            elements: inside.filter(e => ['IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'FORM', 'BASE', 'META', 'LINK', 'STYLE', 'svg']
                                          .includes(e.tagName)).map(e => e.outerHTML.slice(0, 120)),
            scripts: [...body.querySelectorAll('script')].filter(e => !e.type.startsWith('math/')).map(e => e.outerHTML.slice(0, 120)),
            handlers: inside.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 120)),
            links: [...document.querySelectorAll('a[href], area[href]')].filter(a => a.protocol === 'javascript:').map(a => a.outerHTML.slice(0, 120)),
            background: getComputedStyle(body).backgroundColor,
            covered: inside.filter(e => e.children.length === 0 && e.textContent === 'covered').map(e => getComputedStyle(e).position),
        };""")
    refused = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert "PWNED" not in found["title"] and found["marks"] is None, found
    assert found["url"] == found["base"] and "pwned" not in found["url"], found
    assert not [str(p) for p in course.rglob("pwned*")], "a script wrote into the course folder"
    assert scores(course) == scores_before, "a script changed the scores"
    if title is None:  # nbgrader's own page
        return
    assert found["title"] == title, found
    for kind in ("elements", "scripts", "handlers", "links"):
        assert not found[kind], f"{kind} of the student on {found['url']}: {found[kind]}"
    assert found["background"] != "rgb(1, 2, 3)" and found["covered"] in ([], ["static"]), found
    assert all('directive: "font-src ' in message for message in refused), refused


def answer_reads_well(driver, cell: str, math: bool = True) -> None:
    """The written answer shows as formatted text: heading, emphasis, list, code, rendered math."""
    found = driver.execute_script("""
        const cell = arguments[0];
        return {text: cell.innerText, heading: [...cell.querySelectorAll('h2')].map(e => e.textContent),
                em: [...cell.querySelectorAll('em')].map(e => e.textContent), strong: [...cell.querySelectorAll('strong')].map(e => e.textContent),
                items: cell.querySelectorAll('li').length, code: [...cell.querySelectorAll('code')].map(e => e.textContent),
                links: [...cell.querySelectorAll('a')].map(a => [a.textContent, a.getAttribute('href')]),
                math: cell.querySelectorAll('.MathJax, .MathJax_CHTML, .mjx-chtml').length};""",
        driver.find_element("css selector", cell))
    assert ANSWER_TEXT in found["text"] and "<script>" in found["text"], found["text"][:500]  # the rest: as text
    assert found["heading"] == ["Three cycles in the load"] and "three" in found["em"] and "daily" in found["strong"], found
    assert found["items"] == 2 and "hourly.idxmax()" in found["code"] and (found["math"] >= 1 or not math), found
    # a link's text, not a link: a click could open a file the student handed in as a page of the server
    assert ["the data", None] in found["links"] and all(href is None or href.startswith("#") for _, href in found["links"]), found


def test_formgrader_runs_no_script_of_a_hostile_student(lab, browser, tmp_path):
    """A TA grades the hostile student's submission in Formgrader: none of the student's scripts runs
    (in the answer, the outputs, the metadata, the attachments, the names), the answer reads as
    formatted text, and Formgrader's own scripts all run: keyboard grading, a score, a comment."""
    from nbgrader.api import Gradebook
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    course, base, token = lab
    before = scores(course)
    # nbgrader's own lists show the student's id and name (its scripts write them as text)
    for page in (f"manage_submissions/{ASSIGNMENT}", "manage_students", f"gradebook/{ASSIGNMENT}/{NOTEBOOK[:-6]}"):
        browser.get(f"{base}/formgrader/{page}")
        page_text(browser, "Mallory" if page != f"gradebook/{ASSIGNMENT}/{NOTEBOOK[:-6]}" else "Submission #")
        time.sleep(1)
        assert_nothing_ran(browser, course, before)

    # pages that write their address into a script: the hostile id (a click on its row), and a link a
    # student sends the TA (a red team ran script as the TA through it)
    reflected = urllib.parse.quote('x";top.document.title="PWNED-reflected";window.PWNED=1;"', safe="")
    script = urllib.parse.quote("<script>top.document.title='PWNED-api';window.PWNED=1</script>", safe="")
    with urllib.request.urlopen(f"{base}/formgrader/api/student_submissions/{script}?token={token}") as answer:
        assert answer.headers["Content-Type"].startswith("text/plain"), dict(answer.headers)
        assert answer.headers["Content-Security-Policy"].startswith("sandbox"), dict(answer.headers)
    for page in (f"manage_students/{urllib.parse.quote(HOSTILE, safe='')}", f"manage_students/{reflected}",
                 f"manage_students/{reflected}/{reflected}", f"gradebook/{reflected}", f"gradebook/{ASSIGNMENT}/{reflected}",
                 f"api/student_submissions/{script}", f"api/submission/{ASSIGNMENT}/{script}"):
        browser.get(f"{base}/formgrader/{page}")
        time.sleep(1.5)
        assert_nothing_ran(browser, course, before)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, HOSTILE).id
    browser.get_log("browser")
    started = time.monotonic()
    browser.get(f"{base}/formgrader/submissions/{submission}/")
    # formgrade.js's own: MathJax's end of typesetting is what starts keyboard grading
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return !!(window.MathJax && MathJax.loaded)"))
    time.sleep(max(0.0, 3 - (time.monotonic() - started)))  # past the student's <meta> refresh (2 s) and requests
    assert_nothing_ran(browser, course, before, NOTEBOOK[:-6])
    answer = "div.nbgrader_cell:has(#seasonality)"
    answer_reads_well(browser, answer)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -60)",
                           browser.find_element(By.CSS_SELECTOR, answer))
    browser.save_screenshot(str(tmp_path / "formgrader-hostile-answer.png"))

    # the student's name, shown by the eye of the navigation bar (nbgrader's onclick, made a handler of ours)
    browser.find_element(By.CSS_SELECTOR, "span.glyphicon.name-hidden").click()
    name = browser.find_element(By.CSS_SELECTOR, "a.name-shown")
    WebDriverWait(browser, 10).until(lambda d: name.is_displayed())
    assert "Mallory<img" in name.text and "Eve<svg" in name.text, name.text
    browser.find_element(By.CSS_SELECTOR, "span.glyphicon.name-shown").click()
    WebDriverWait(browser, 10).until(lambda d: not name.is_displayed())

    # keyboard grading (formgrade.js): a score, Tab to the extra credit, Tab to the comment, Escape saves it
    score = browser.find_element(By.ID, "seasonality")
    assert score.is_displayed() and browser.find_element(By.ID, "seasonality-comment").is_displayed()
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", score)
    score.click()
    score.send_keys(Keys.CONTROL, "a")
    score.send_keys("2", Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "seasonality_extra_credit"
    browser.switch_to.active_element.send_keys(Keys.TAB)
    comment = browser.switch_to.active_element
    assert comment.get_attribute("id") == "seasonality-comment"
    comment.send_keys("Three cycles, *well* explained.", Keys.ESCAPE)
    for _ in range(60):
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            grade = gradebook.find_grade("seasonality", NOTEBOOK[:-6], ASSIGNMENT, HOSTILE).manual_score
            said = gradebook.find_comment("seasonality", NOTEBOOK[:-6], ASSIGNMENT, HOSTILE).comment
        if grade == 2 and said == "Three cycles, *well* explained.":
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"Formgrader did not save the score and the comment: {grade}, {said!r}")


def test_formgrader_serves_a_submissions_files_inert_and_no_other_file(lab, browser):
    """Formgrader serves a submission's files (a figure its notebook shows) as pages of the TA's server: a
    student's HTML file among them runs no script, and an encoded `..` reaches nothing outside the
    submission's autograded folder (a red team reached submitted/ and ran a terminal as the TA)."""
    from nbgrader.api import Gradebook

    course, base, token = lab
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, HOSTILE).id
    page = "<title>notes</title><p>my notes</p><script>document.title = 'PWNED'; window.PWNED = 1;</script>"
    for folder in ("autograded", "submitted"):
        (course / folder / HOSTILE / ASSIGNMENT / "notes.html").write_text(page)
    files = f"{base}/formgrader/submissions/{submission}"
    with urllib.request.urlopen(f"{files}/notes.html?token={token}", timeout=30) as served:
        assert served.read().decode() == page
        assert served.headers["Content-Security-Policy"].startswith("sandbox;"), dict(served.headers)
    browser.get(f"{files}/notes.html")
    page_text(browser, "my notes")
    time.sleep(1)
    assert browser.title == "notes", "the student's script ran on the TA's server"
    escape = urllib.parse.quote(f"../../../submitted/{HOSTILE}/{ASSIGNMENT}/notes.html", safe="")
    for outside in (escape, urllib.parse.quote("../../../gradebook.db", safe=""), "..%2F..%2F..%2Fnbgrader_config.py"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{files}/{outside}?token={token}", timeout=30)
        assert refused.value.code == 404, outside


def test_feedback_runs_no_script_of_a_hostile_student(lab, browser, tmp_path):
    """The hostile student's feedback, with a TA's comment, opened from the course folder (file://) and
    through the Jupyter server (/files/): none of the student's scripts runs, the answer and the comment
    read as formatted text, and MathJax (the page's own script) renders the math."""
    import urllib.parse

    from nbgrader.api import Gradebook
    from selenium.webdriver.support.ui import WebDriverWait

    course, base, token = lab
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        comment = gradebook.find_comment("seasonality", NOTEBOOK[:-6], ASSIGNMENT, HOSTILE)
        comment.manual_comment = "Three cycles, *well* explained."
        gradebook.db.commit()
    page = classroom.generate_feedback(course, HOSTILE, ASSIGNMENT)
    before = scores(course)
    relative = page.relative_to(course).as_posix()
    # the server's first (a page opened from file:// sends no referer Jupyter accepts)
    for url in (f"{base}/files/{urllib.parse.quote(relative)}?token={token}", page.as_uri()):
        browser.get_log("browser")
        browser.get(url)
        time.sleep(3)  # past the student's <meta> refresh (2 s) and requests
        if browser.cdn:
            WebDriverWait(browser, 30).until(lambda d: d.execute_script("return !!(window.MathJax && MathJax.isReady)"))
        assert_nothing_ran(browser, course, before, NOTEBOOK[:-6])
        cell = browser.execute_script("""
            const cell = [...document.querySelectorAll('div.nbgrader_cell')].find(c => c.innerText.includes(arguments[0]));
            cell.id = 'the-answer'; return cell.querySelector('.panel-footer em').textContent;""", ANSWER_TEXT)
        assert cell == "well", "the TA's comment does not show as markdown"
        answer_reads_well(browser, "#the-answer", math=bool(browser.cdn))  # no math without the CDN
    browser.execute_script("document.getElementById('the-answer').scrollIntoView()")
    browser.save_screenshot(str(tmp_path / "feedback-hostile-answer.png"))
