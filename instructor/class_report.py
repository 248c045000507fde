"""The class report of one assignment: one self-contained HTML file, and its figures as PNG beside it.

    python -m instructor report ASSIGNMENT [--root COURSE_FOLDER]

writes ``reports/<assignment>/report.html`` (with ``scores.png``, ``tests.png`` and ``mape.png``)
and prints its path. The page shows the score distribution, the pass rate of each test, the measured
MAPE of the class against the pass mark, the slowest submissions, the submissions not graded with
their reasons, and the integrity flags. The figures are also inside the page (data URIs) and its
style is inline: the HTML file alone opens offline. Every string a student controls (ids, the
reasons quoting their files, integrity details) is escaped.

It reads, in the course folder:
- the gradebook (scores, and each autograded test cell's score: a test passes with full points);
- ``reports/<assignment>/grading.jsonl``, written by the grade command, one line per graded
  submission (the last line of a student counts): the seconds each took, and why one was not graded;
- the autograded notebooks, for the MAPE the grader measured (kept as data in the ``test_mape`` cell's metadata);
- ``integrity.csv`` (grader_tests.plugins.integrity), the rows of this assignment.

Running it again gives the same files, apart from the time written in the page.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import html
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from grader_tests.plugins import integrity, outside

from .classroom import GradedSubmission
from grader_tests.assignments import ASSIGNMENTS as CATALOGUE

MAPE_TEST = "test_mape"
SLOWEST = 10
# What the kit's MAPE checks print (grader_tests/checks/models.py and arima.py), and their failure's "found" line
GREEN, RED, BLUE, GREY = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e"


@dataclass
class ClassData:
    assignment: str
    in_gradebook: bool = False
    students: list = field(default_factory=list)     # every student of the gradebook
    max_score: float = 0.0
    tests: list = field(default_factory=list)        # test labels in notebook order
    mape_notebooks: list = field(default_factory=list)  # notebooks (file names) with a test_mape cell
    graded: list = field(default_factory=list)       # GradedSubmission, by student
    runs: dict | None = None                         # student -> last grading.jsonl line; None: no file
    unreadable_lines: int = 0
    flags: list | None = None                        # integrity.csv rows of the assignment; None: no file
    pass_mark: float | None = None                   # percent

    @property
    def not_graded(self) -> list:
        return sorted((run for run in (self.runs or {}).values() if run.get("problem")), key=lambda r: r["student"])

    @property
    def submitted(self) -> set:
        return {s.student for s in self.graded} | {run["student"] for run in self.not_graded}


# --- reading ---------------------------------------------------------------------------------------------

def _runs(path: Path, assignment: str) -> tuple:
    """The last grading.jsonl line of each student ({} for an empty file, None without the file), and
    how many lines could not be read."""
    if not path.exists():
        return None, 0
    runs, unreadable = {}, 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            run = json.loads(line)
            run["seconds"] = float(run.get("seconds") or 0.0)
        except (ValueError, TypeError, AttributeError):
            run = None
        if not isinstance(run, dict) or not isinstance(run.get("student"), str):
            unreadable += 1
            continue
        if run.get("assignment", assignment) == assignment:
            runs[run["student"]] = run
    return runs, unreadable


def _flags(path: Path, assignment: str) -> list | None:
    if not path.exists():
        return None
    with path.open(newline="", errors="replace") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("assignment") == assignment]
    # a stable sort: the events of a notebook stay in their order
    return sorted(rows, key=lambda row: (row.get("student") or "", row.get("notebook") or ""))


def _cell_order(paths) -> list:
    """grade_ids in cell order of the first readable notebook among `paths`."""
    import nbformat

    for path in paths:
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:
            continue
        return [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
    return []


def _measured_mape(path: Path) -> float | None:
    """The MAPE (percent) the grader measured for the test_mape cell, kept as data in the cell's
    metadata (grader_tests.plugins.outside): never read from what the cell printed."""
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:
        return None
    cell = next((c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == MAPE_TEST), None)
    value = outside.measured(cell, "mape")
    return None if value is None else round(value * 100, 6)


def mape_passed(graded: GradedSubmission) -> bool:
    return any(graded.passed(label) for label in graded.tests if label.rpartition(" ")[2] == MAPE_TEST)


def _pass_mark(assignment: str) -> float | None:
    """The MAPE pass mark in percent, from the kit's spec (its one place)."""
    threshold = getattr(getattr(CATALOGUE.get(assignment), "spec", None), "mape_threshold", None)
    return None if threshold is None else round(threshold * 100, 6)


def read_class(root: Path, assignment: str, db_url: str | None = None) -> ClassData:
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root)
    data = ClassData(assignment)
    folder = root / "reports" / assignment
    data.runs, data.unreadable_lines = _runs(folder / "grading.jsonl", assignment)
    data.flags = _flags(root / integrity.FILE, assignment)
    problems = {run["student"] for run in data.not_graded}
    if db_url is None:
        if not (root / "gradebook.db").exists():
            raise FileNotFoundError(f"no gradebook in {root} (gradebook.db)")
        db_url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(db_url, course_id="") as gradebook:  # "": reads only; no course added to the gradebook
        data.students = sorted(student.id for student in gradebook.students)
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            found = None
        if found is not None:
            data.in_gradebook = True
            data.max_score = float(found.max_score or 0.0)
            notebooks = [nb.name for nb in found.notebooks]
            labels = {}  # (notebook, grade_id) -> label
            for nb in found.notebooks:
                file = f"{nb.name}.ipynb"
                order = _cell_order([root / "source" / assignment / file, root / "release" / assignment / file,
                                     *sorted((root / "autograded").glob(f"*/{assignment}/{file}"))])
                cells = sorted((c for c in nb.grade_cells if c.cell_type == "code"),
                               key=lambda c: (order.index(c.name) if c.name in order else len(order), c.name))
                for cell in cells:
                    label = cell.name if len(notebooks) == 1 else f"{nb.name}: {cell.name}"
                    labels[nb.name, cell.name] = label
                    data.tests.append(label)
                    if cell.name == MAPE_TEST:
                        data.mape_notebooks.append(file)
            for submission in sorted(found.submissions, key=lambda s: s.student.id):
                student = submission.student.id
                if student in problems:  # its last grading failed: a score in the gradebook is not of it
                    continue
                graded = GradedSubmission(student, assignment, score=float(submission.score or 0.0),
                                          max_score=float(submission.max_score or 0.0))
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        if (nb.name, grade.name) in labels:
                            graded.tests[labels[nb.name, grade.name]] = (grade.auto_score, grade.max_score)
                            if grade.name == MAPE_TEST:
                                graded.mape = _measured_mape(root / "autograded" / student / assignment / f"{nb.name}.ipynb")
                data.graded.append(graded)
    if not data.in_gradebook and MAPE_TEST in getattr(CATALOGUE.get(assignment), "tests", ()):
        data.mape_notebooks = [CATALOGUE[assignment].notebook]
    if data.mape_notebooks:
        graded = sorted((root / "autograded").glob(f"*/{assignment}/{data.mape_notebooks[0]}"))
        data.pass_mark = _pass_mark(assignment)
    return data


# --- figures ---------------------------------------------------------------------------------------------

def _figure(height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, height), dpi=100)
    return figure, figure.subplots()


def _png(figure) -> bytes:
    """The figure as PNG, drawn on matplotlib's Agg canvas (no pyplot: no backend is switched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.tight_layout()
    png = io.BytesIO()
    FigureCanvasAgg(figure).print_png(png)
    return png.getvalue()


def _nothing(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, fontsize=12, color="#616161")
    axes.set_xticks([])
    axes.set_yticks([])


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def scores_figure(data: ClassData) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure, axes = _figure(3.4)
    scores = [s.score for s in data.graded]
    most = max([data.max_score, *[s.max_score for s in data.graded], *scores, 1.0])
    axes.set_title(f"Score distribution of the {len(scores)} graded submission(s)", fontsize=12)
    if not scores:
        _nothing(axes, "no graded submission")
        return _png(figure)
    if most <= 30 and all(float(s).is_integer() for s in scores):
        step, start = 1.0, -0.5  # a bar per point
    elif most <= 15 and all(float(2 * s).is_integer() for s in scores):
        step, start = 0.5, -0.25  # a bar per half point
    else:
        step, start = most / 20, 0.0
    edges = [start + i * step for i in range(math.ceil((most - start) / step - 1e-6) + 1)]
    counts, _, _ = axes.hist(scores, bins=edges, color=BLUE, edgecolor="white")
    median = statistics.median(scores)
    axes.axvline(median, color="#424242", linestyle="--", linewidth=1.2, label=f"median: {_num(median)} points")
    axes.set_xlim(edges[0] - step / 2, edges[-1] + step / 2)
    axes.set_ylim(0, max(counts) * 1.3 + 0.3)  # room for the legend above the bars
    axes.set_xlabel(f"points (out of {_num(most)})")
    axes.set_ylabel("students")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper left", fontsize=9)
    return _png(figure)


def tests_figure(data: ClassData) -> bytes:
    figure, axes = _figure(1.2 + 0.45 * max(len(data.tests), 2))
    axes.set_title("Pass rate of each autograded test", fontsize=12)
    if not data.tests or not data.graded:
        _nothing(axes, "no autograded test" if not data.tests else "no graded submission")
        return _png(figure)
    rows = range(len(data.tests))
    passed = [sum(s.passed(test) for s in data.graded) for test in data.tests]
    rates = [100 * p / len(data.graded) for p in passed]
    axes.barh(rows, [100] * len(rows), color="#eeeeee", height=0.6)
    axes.barh(rows, rates, color=[GREEN if r >= 50 else RED for r in rates], height=0.6)
    for row, (count, rate) in enumerate(zip(passed, rates)):
        axes.text(101, row, f"{count} of {len(data.graded)} ({rate:.0f} %)", va="center", fontsize=9)
    axes.set_yticks(list(rows), data.tests)
    axes.invert_yaxis()  # the notebook's first test at the top
    axes.set_xlim(0, 125)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("students who passed the test (%)")
    return _png(figure)


def mape_figure(data: ClassData) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure, axes = _figure(3.4)
    values = sorted(s.mape for s in data.graded if s.mape is not None)
    axes.set_title(f"Test-period MAPE the grader measured ({len(values)} submission(s))", fontsize=12)
    if not values:
        _nothing(axes, "no measured MAPE")
        return _png(figure)
    mark = data.pass_mark
    width = mark / 10 if mark else max(values) / 20 or 0.1
    top = max(values[-1], 2 * mark if mark else 0.0)
    if mark:
        top = min(top, 4 * mark)  # a far-off MAPE is shown in the last bar
    bins = [i * width for i in range(max(1, math.ceil(top / width - 1e-6)) + 1)]
    shown = [min(v, bins[-1] - width / 2) for v in values]
    below = [v for v, real in zip(shown, values) if mark is None or real < mark]
    above = [v for v, real in zip(shown, values) if mark is not None and real >= mark]
    counts, _, _ = axes.hist([below, above], bins=bins, color=[GREEN, RED], edgecolor="white", stacked=True,
                             label=["passed (below the pass mark)", "failed (at or above it)"])
    if mark:
        axes.axvline(mark, color="#212121", linestyle="--", linewidth=1.5, label=f"pass mark: below {_num(mark)} %")
        axes.legend(loc="upper right", fontsize=9, ncols=3)
    axes.set_ylim(0, max(counts[-1]) * 1.3 + 0.3)  # room for the legend above the bars
    axes.set_xlim(0, bins[-1])
    axes.set_xlabel("MAPE on the test period (%)" + (f"; above {_num(bins[-1])} % counted in the last bar"
                                                      if values[-1] > bins[-1] else ""))
    axes.set_ylabel("students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(figure)


# --- the page --------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #212121;
       max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #e0e0e0; padding-bottom: 0.2rem; margin-top: 2rem; }
.written { color: #616161; margin-top: 0; }
dl.counts { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; background: #f5f5f5;
            padding: 0.8rem 1rem; border-radius: 6px; }
dl.counts dt { font-weight: 600; }
dl.counts dd { margin: 0; }
img { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.95rem; }
th, td { border: 1px solid #e0e0e0; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.text { white-space: pre-wrap; overflow-wrap: break-word; max-width: 36rem; }
.none { color: #616161; font-style: italic; }
.failed { color: #b71c1c; }
.passed { color: #1b5e20; }
details { margin: 0.5rem 0; }
summary { cursor: pointer; color: #1565c0; }
nav a { margin-right: 0.8rem; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(head: list, rows: list, numeric=()) -> str:
    """An HTML table; `rows` hold strings (escaped here) or ("raw", html) pairs for markup of ours."""
    def cell(tag, index, value):
        kind = "number" if index in numeric else "text" if tag == "td" else None
        text = value[1] if isinstance(value, tuple) else _e(value)
        return f'<{tag} class="{kind}">{text}</{tag}>' if kind else f"<{tag}>{text}</{tag}>"

    lines = ["<table>", "<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr></thead>",
             "<tbody>"]
    lines += ["<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows]
    return "\n".join(lines + ["</tbody>", "</table>"])


def _none(text: str) -> str:
    return f'<p class="none">{_e(text)}</p>'


def _image(png: bytes, name: str, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}" title="{_e(name)}">'


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _result(run: dict) -> str:
    if run.get("problem"):
        return "not graded"
    score, most = run.get("score"), run.get("max_score")
    if not isinstance(score, (int, float)):
        return "-"
    return f"{_num(score)} / {_num(most)}" if isinstance(most, (int, float)) else _num(score)


def render(data: ClassData, figures: dict, written: str) -> str:
    a = data.assignment
    scores = [s.score for s in data.graded]
    not_graded = data.not_graded
    without = [s for s in data.students if s not in data.submitted]
    counts = [
        ("Submissions", str(len(data.submitted))),
        ("Graded", str(len(data.graded))),
        ("Not graded", str(len(not_graded))),
        ("No submission", f"{len(without)} of the {len(data.students)} students in the gradebook"),
        ("Mean score", f"{_num(statistics.mean(scores))} / {_num(data.max_score)}" if scores else "-"),
        ("Median score", f"{_num(statistics.median(scores))} / {_num(data.max_score)}" if scores else "-"),
    ]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>Class report: {_e(a)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>Class report: {_e(a)}</h1>", f'<p class="written">Written {_e(written)}</p>']
    if not data.in_gradebook:
        out.append(_none(f"The gradebook has no assignment {a}: nothing of it was graded."))
    out.append('<dl class="counts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in counts) + "</dl>")
    sections = [("scores", "Score distribution"), ("tests", "Pass rate of each test"), ("mape", "Measured MAPE"),
                ("slowest", "Slowest submissions"), ("not-graded", "Submissions not graded"),
                ("integrity", "Integrity flags")]
    out.append("<nav>" + "".join(f'<a href="#{i}">{_e(t)}</a>' for i, t in sections) + "</nav>")
    titles = dict(sections)

    def heading(section):
        out.append(f'<section id="{section}">')
        out.append(f"<h2>{_e(titles[section])}</h2>")

    heading("scores")
    out.append(_image(figures["scores"], "scores.png", "histogram of the students' scores"))
    if data.graded:
        rows = [(s.student, f"{_num(s.score)} / {_num(s.max_score)}",
                 f"{sum(map(s.passed, s.tests))} of {len(s.tests)}",
                 "-" if s.mape is None else f"{s.mape:.2f} %") for s in data.graded]
        out.append(f"<details><summary>Every graded submission ({len(rows)})</summary>"
                   + _table(["student", "score", "tests passed", "measured MAPE"], rows, numeric=(1, 2, 3))
                   + "</details>")
    if without:
        out.append(f"<details><summary>Students without a submission ({len(without)})</summary>"
                   + _table(["student"], [(s,) for s in without]) + "</details>")
    out.append("</section>")

    heading("tests")
    out.append(_image(figures["tests"], "tests.png", "pass rate of each autograded test"))
    out.append("<p>A test passes when the grader gave it all its points.</p>")
    out.append("</section>")

    heading("mape")
    if "mape" in figures:
        measured = [s for s in data.graded if s.mape is not None]
        mark = f"below {_num(data.pass_mark)} %" if data.pass_mark is not None else "unknown"
        out.append(_image(figures["mape"], "mape.png", "the class's measured MAPE against the pass mark"))
        facts = [f"Pass mark: {mark}.", f"{len(measured)} of {len(data.graded)} graded submission(s) measured."]
        if measured:
            values = [s.mape for s in measured]
            facts.append(f"Median {statistics.median(values):.2f} %, lowest {min(values):.2f} %, highest "
                         f"{max(values):.2f} %; {sum(1 for s in measured if mape_passed(s))} passed the MAPE test.")
        unmeasured = [s.student for s in data.graded if s.mape is None]
        if unmeasured:
            facts.append(f"No MAPE was measured for {', '.join(unmeasured)} (the notebook did not reach the "
                         "measurement).")
        out.append("<p>" + _e(" ".join(facts)) + "</p>")
    else:
        out.append(_none("no MAPE test in this assignment"))
    out.append("</section>")

    heading("slowest")
    if data.runs is None:
        out.append(_none(f"No grading record (reports/{a}/grading.jsonl is missing): the seconds are unknown."))
    elif not data.runs:
        out.append(_none("The grading record is empty."))
    else:
        slowest = sorted(data.runs.values(), key=lambda r: (-r["seconds"], r["student"]))[:SLOWEST]
        rows = [(str(n), r["student"], f"{r['seconds']:.1f}", _clock(r["seconds"]), _result(r), r.get("worker") or "-",
                 r.get("finished") or "-") for n, r in enumerate(slowest, start=1)]
        out.append(f"<p>The {len(slowest)} slowest of the {len(data.runs)} submission(s) in the grading record "
                   "(the last grading of each student).</p>")
        out.append(_table(["#", "student", "seconds", "m:ss", "result", "worker", "finished"], rows,
                          numeric=(0, 2, 3, 4)))
    if data.unreadable_lines:
        out.append(_none(f"{data.unreadable_lines} line(s) of grading.jsonl could not be read and are left out."))
    out.append("</section>")

    heading("not-graded")
    if data.runs is None:
        out.append(_none(f"No grading record (reports/{a}/grading.jsonl is missing): the submissions not graded "
                         "are unknown."))
    elif not not_graded:
        out.append(_none("Every submission was graded."))
    else:
        out.append(_table(["student", "reason", "finished"],
                          [(r["student"], r["problem"], r.get("finished") or "-") for r in not_graded]))
    out.append("</section>")

    heading("integrity")
    if data.flags is None:
        out.append(_none(f"No integrity flags: {integrity.FILE} does not exist in the course folder."))
    elif not data.flags:
        out.append(_none("No integrity flags for this assignment."))
    else:
        out.append("<p>What the sandbox refused, the limits reached, and the test results the grader overruled "
                   f"({_e(integrity.FILE)}).</p>")
        out.append(_table(["student", "notebook", "event", "detail"],
                          [(r.get("student"), r.get("notebook"), r.get("event"), r.get("detail")) for r in data.flags]))
    out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def write_report(root: Path, assignment: str, db_url: str | None = None) -> Path:
    """Write the class report of `assignment` to root/reports/<assignment>/report.html, with its
    figures beside it (scores.png, tests.png, mape.png; no mape.png without a MAPE test), and
    return the page's path. `db_url`: the gradebook (default: root/gradebook.db)."""
    root = Path(root)
    data = read_class(root, assignment, db_url)
    folder = root / "reports" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"scores": scores_figure(data), "tests": tests_figure(data)}
    if data.mape_notebooks:
        figures["mape"] = mape_figure(data)
    else:
        (folder / "mape.png").unlink(missing_ok=True)  # of an earlier version of the assignment
    for name, png in figures.items():
        (folder / f"{name}.png").write_bytes(png)
    written = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = folder / "report.html"
    page.write_text(render(data, figures, written), encoding="utf-8")
    return page
