"""Generate release/ and solutions/ from source/ with nbgrader's own converters, in one process
(a `nbgrader generate_assignment` command costs about 5 s of start-up; here each assignment takes
a fraction of a second). Run from a course folder: ``python -m instructor release [ASSIGNMENT ...]``
(default: every assignment of the catalogue). ``make release`` runs it in this repository.

Run in a checkout of this repository (a folder with its pyproject.toml), it also builds what students
install: the student library's wheel and the pinned requirements of its environment, in
release/student-library/ (`build_student_library`; docs/student-library.md says how students install it).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from nbgrader.apps.nbgraderapp import NbGraderApp
from nbgrader.converters import GenerateAssignment, GenerateSolution
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader_tests.assignments import ASSIGNMENTS

STUDENT_LIBRARY = Path("release") / "student-library"  # in the course folder; handed out as it is
LIBRARY = "rnn_course"  # the one package of the wheel (pyproject.toml, [tool.setuptools])
# The zip dates of every file in the wheel: 1980-01-01, the earliest a zip can hold, so that building
# twice gives the same bytes whenever it is built (setuptools reads it from the environment).
SOURCE_DATE_EPOCH = "315532800"


def release(assignments) -> None:
    app = NbGraderApp()
    app.initialize([])  # reads nbgrader_config.py of the current folder, as the nbgrader command does
    for assignment in assignments:
        for converter in (GenerateAssignment, GenerateSolution):
            app.coursedir.assignment_id = assignment
            step = converter(coursedir=app.coursedir, parent=app)
            step.force = True
            step.start()


def build_student_library(checkout: Path, dest: Path) -> Path:
    """Build the wheel of the student library from `checkout` into `dest` (emptied first), beside the
    requirements.txt of a student's environment; return the wheel.

    Only pyproject.toml, its readme and the library's .py files are copied into the folder the wheel
    is built in, so nothing else of the checkout (source/, solutions/, the grading kit) can enter it.
    The build uses this environment's pinned setuptools (`build --no-isolation`)."""
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    with tempfile.TemporaryDirectory(prefix="student-library-") as scratch:
        tree, out = Path(scratch) / "tree", Path(scratch) / "dist"
        files = [Path("pyproject.toml"), Path(project["readme"])]
        files += [p.relative_to(checkout) for p in sorted((checkout / LIBRARY).rglob("*.py"))]
        for name in files:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes((checkout / name).read_bytes())
            (tree / name).chmod(0o644)  # the wheel records file modes: not the checkout's umask
        done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(tree)],
                              env=dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the student library's wheel failed:\n{done.stdout}\n{done.stderr}")
        (wheel,) = out.glob("*.whl")
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy(wheel, dest / wheel.name)
    (dest / "requirements.txt").write_text(student_requirements(checkout, project, wheel.name))
    return dest / wheel.name


def student_requirements(checkout: Path, project: dict, wheel: str) -> str:
    """requirements.txt of a student's environment: every package the library's dependencies pull in
    (following each one's own requirements and extras in this environment, for its platform), pinned at
    its version in requirements-lock.txt. The instructor and research extras and the test tools are not
    dependencies of the library, so none of theirs is there unless the library needs it too."""
    lock = {}
    for line in (checkout / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            lock[canonicalize_name(name)] = version.strip()
    needed: dict[str, set] = {}  # package -> the extras asked of it
    todo = [Requirement(line) for line in project["dependencies"]]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in needed and set(requirement.extras) <= needed[name]:
            continue
        extras = needed.setdefault(name, set())
        extras |= set(requirement.extras)
        for line in importlib.metadata.requires(name) or []:
            wanted = Requirement(line)
            if wanted.marker is None or any(wanted.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                todo.append(wanted)
    pins = []
    for name in sorted(needed):
        if name not in lock:
            raise RuntimeError(f"{name} (needed by the student library) is not pinned in requirements-lock.txt")
        if importlib.metadata.version(name) != lock[name]:
            raise RuntimeError(f"{name} {importlib.metadata.version(name)} is installed but requirements-lock.txt "
                               f"pins {lock[name]}: run `make setup` first")
        pins.append(f"{name}=={lock[name]}")
    python = ".".join(platform.python_version_tuple()[:2])
    return (f"# The environment of the student library {project['name']} {project['version']}: every package its\n"
            f"# dependencies pull in on Python {python}, {platform.system()} {platform.machine()}, pinned as the course\n"
            f"# is tested (requirements-lock.txt). Generated by `make release`; do not edit. In this folder:\n"
            f"#   python3 -m venv rnn-course && rnn-course/bin/pip install -r requirements.txt {wheel}\n"
            + "".join(pin + "\n" for pin in pins))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment of the catalogue")
    args = parser.parse_args(argv)
    release(args.assignments or list(ASSIGNMENTS))
    if Path("pyproject.toml").is_file():  # a checkout of this repository, not a course folder made from it
        build_student_library(Path.cwd(), Path.cwd() / STUDENT_LIBRARY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
