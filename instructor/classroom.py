"""The instructor's nbgrader cycle, one step a function: release, submit, autograde, feedback, export.

Each step runs the real `nbgrader` command of this virtual environment in a course folder (the
repository, or a copy of it in the tests). A broken submission never stops the class: it is
reported with a reason and the other students are graded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader_tests.assignments import ASSIGNMENTS as CATALOGUE

from .gradebook import enrol

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

NOTEBOOKS = {a.id: a.notebook for a in CATALOGUE.values()}  # assignment id -> notebook file name
QUIZZES = [a.id for a in CATALOGUE.values() if a.kind == "quiz"]


@dataclass
class GradedSubmission:
    """One student's assignment as grading saw it: by `autograde` here, or by the grade command
    (instructor/grading.py), which writes one per line of reports/<assignment>/grading.jsonl."""

    student: str
    assignment: str
    seconds: float = 0.0
    score: float | None = None  # None: not graded, and `problem` says why
    max_score: float = 0.0
    problem: str | None = None
    tests: dict = field(default_factory=dict)  # grade_id -> (score, max_score), autograded tests only
    mape: float | None = None   # percent, as the grader measured it (read by the class report)
    worker: str | None = None   # the grade command's: the Dask worker that graded it,
    started: str = ""           # when the worker began (UTC),
    finished: str = ""          # when its result was recorded,
    submission: str = ""        # and the digest of what was graded (grading.submission_digest)
    started_ahead: int = 0      # its notebooks that ran in a kernel started while the worker graded another

    def passed(self, test: str) -> bool:
        """Whether an autograded test scored its full points."""
        score, most = self.tests.get(test, (None, None))
        return score is not None and score >= most


def run_nbgrader(root: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in the course folder `root`, with this environment's tools on PATH."""
    env = dict(os.environ, PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    return subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _must(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stdout}\n{done.stderr}")


def make_course_copy(dest: Path) -> Path:
    """A fresh course folder with this repository's config, sources and grading kit."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(REPO / "source", dest / "source", dirs_exist_ok=True)
    for package in ("grader_tests", "instructor"):  # the kit, and the hand-in plugins nbgrader_config.py names
        if not (dest / package).exists():
            (dest / package).symlink_to(REPO / package)
    return dest


def release(root: Path, assignments=tuple(NOTEBOOKS)) -> None:
    """Generate the student version (release/) and the solution (solutions/) of each assignment:
    nbgrader's generate_assignment and generate_solution, all in one process (`python -m instructor release`)."""
    env = dict(os.environ, PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "instructor", "release", *assignments], cwd=root, env=env,
                          capture_output=True, text=True)
    _must(done, f"releasing {', '.join(assignments)}")


def submit(root: Path, student: str, assignment: str, content: bytes | None) -> Path:
    """Place one student's notebook in submitted/ (None: the student submitted no notebook)."""
    folder = root / "submitted" / student / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00 UTC")
    path = folder / NOTEBOOKS[assignment]
    if content is not None:
        path.write_bytes(content)
    return path


def missing_notebooks(root: Path, assignment: str, student: str, notebooks=None, graded: bool = False) -> str | None:
    """Which of the assignment's notebooks (file stems; default: the catalogue's) the submission lacks,
    with what it holds instead; None when none is missing. `graded`: it was graded all the same, 0 points."""
    folder = root / "submitted" / student / assignment
    notebooks = [Path(NOTEBOOKS[assignment]).stem] if notebooks is None else notebooks
    missing = [f"{name}.ipynb" for name in notebooks if not (folder / f"{name}.ipynb").exists()]
    if not missing:
        return None
    found = sorted(p.name for p in folder.iterdir() if p.name != "timestamp.txt") if folder.is_dir() else []
    return (f"{'graded 0: ' if graded else ''}{', '.join(missing)} missing from the submission "
            f"(found: {', '.join(found) or 'nothing'})")


def submission_problem(root: Path, student: str, assignment: str) -> str | None:
    """Why a submission cannot be autograded at all, or None when nbgrader can run it."""
    missing = missing_notebooks(root, assignment, student)
    if missing:
        return missing
    path = root / "submitted" / student / assignment / NOTEBOOKS[assignment]
    try:
        nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{path.name} is not a valid notebook file ({first_line})"
    return None


def failure_reason(log: str) -> str:
    """Why `nbgrader autograde` failed, in a line, from its log."""
    if "DeadKernelError" in log or "Kernel died" in log:
        return ("the kernel died while running the notebook (the code ends its own process, or it reached the "
                "sandbox's memory or process limit)")
    if "UnresponsiveKernel" in log:
        return "the kernel stopped responding and could not be interrupted"
    errors = [line for line in log.splitlines() if "[AutogradeApp | ERROR]" in line]
    return errors[0].split("]", 1)[1].strip() if errors else "nbgrader autograde failed (see its log)"


def autograde(root: Path, student: str, assignment: str, *extra: str) -> GradedSubmission:
    """Autograde one student's assignment; a failure is reported in `problem`."""
    outcome = GradedSubmission(student, assignment)
    started = time.monotonic()
    outcome.problem = submission_problem(root, student, assignment)
    if outcome.problem is None:
        done = run_nbgrader(root, "autograde", assignment, "--student", student, "--force", *extra)
        if done.returncode != 0:
            outcome.problem = failure_reason(done.stdout + done.stderr)
    outcome.seconds = time.monotonic() - started
    if outcome.problem is None:
        read_grades(root, outcome)
    else:
        enrol(f"sqlite:///{root / 'gradebook.db'}", student, student)  # so that the exported grades list the student, with 0 for this assignment
    return outcome


def read_grades(root: Path, outcome: GradedSubmission) -> None:
    """Fill in the score and each autograded test's points from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(outcome.assignment, outcome.student)
        outcome.score, outcome.max_score = submission.score, submission.max_score
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell_type == "code":
                    outcome.tests[grade.name] = (grade.auto_score, grade.max_score)


def generate_feedback(root: Path, student: str, assignment: str) -> Path:
    _must(run_nbgrader(root, "generate_feedback", assignment, "--student", student, "--force"),
          f"generate_feedback {assignment} for {student}")
    return root / "feedback" / student / assignment / NOTEBOOKS[assignment].replace(".ipynb", ".html")


def export_grades(root: Path, csv_path: Path) -> Path:
    _must(run_nbgrader(root, "export", "--to", str(csv_path)), "nbgrader export")
    return csv_path
