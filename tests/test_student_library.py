"""What students install: release/student-library/ (the wheel of the student library and the pinned
requirements of its environment) is what `make release` builds, holds `rnn_course` alone, and a
student's environment made from it exactly as docs/student-library.md says, in a folder that holds
nothing of this repository, imports the library, not the grading kit, and validates a notebook."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from email.parser import BytesParser
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from instructor.classroom import NOTEBOOKS, REPO
from instructor.commands.release import STUDENT_LIBRARY, build_student_library
from instructor.submissions import solved_notebook

COMMITTED = REPO / STUDENT_LIBRARY
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
GUIDE = REPO / "docs" / "student-library.md"
# Never in a student's hands: the course's other top-level folders, its solutions and hidden tests.
NOT_FOR_STUDENTS = ("grader_tests", "instructor", "research", "source", "solutions", "tests", "measured.jsonl")
SECRETS = ("BEGIN HIDDEN TESTS", "### BEGIN SOLUTION", "grader_tests")
# Packages of the instructor, research and test extras that students must not get.
TOOLS = ("dask", "distributed", "optuna", "optuna-integration", "tqdm", "psycopg", "pytest", "pytest-xdist", "selenium",
         "build")
ASSIGNMENT = "data_exploration"  # the quickest to validate (no training): about 10 s a run
TIMEOUT = 240  # the cell timeout students pass to `nbgrader validate` (docs/student-library.md)


def wheel_of(folder: Path) -> Path:
    wheels = sorted(folder.glob("*.whl"))
    assert len(wheels) == 1, f"{folder} should hold one wheel, found {[w.name for w in wheels]}"
    return wheels[0]


def members(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def metadata(wheel: Path):
    (name,) = [n for n in members(wheel) if n.endswith(".dist-info/METADATA")]
    return BytesParser().parsebytes(members(wheel)[name])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """release/student-library/ as `make release` builds it now, in a scratch folder."""
    folder = tmp_path_factory.mktemp("build") / "student-library"
    build_student_library(REPO, folder)
    return folder


def test_the_committed_student_library_is_what_make_release_builds(built):
    committed = sorted(p.name for p in COMMITTED.iterdir()) if COMMITTED.is_dir() else []
    fresh = sorted(p.name for p in built.iterdir())
    assert committed == fresh, f"{COMMITTED} holds {committed}, the build gives {fresh}: run `make release` and commit"
    old, new = members(wheel_of(COMMITTED)), members(wheel_of(built))
    assert sorted(old) == sorted(new), (
        f"the committed wheel holds {sorted(old)}, the build gives {sorted(new)}: run `make release` and commit")
    changed = [name for name in new if old[name] != new[name]]
    assert not changed, f"{changed} of the committed wheel differ from what the build gives: run `make release` and commit"
    assert (COMMITTED / "requirements.txt").read_text() == (built / "requirements.txt").read_text(), (
        f"{COMMITTED / 'requirements.txt'} differs from what the build gives: run `make release` and commit")


def test_the_wheel_is_built_byte_for_byte_the_same_twice(built, tmp_path):
    again = tmp_path / "student-library"
    build_student_library(REPO, again)
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(wheel_of(again)) == digest(wheel_of(built))
    assert (again / "requirements.txt").read_bytes() == (built / "requirements.txt").read_bytes()


def test_the_wheel_holds_the_student_library_alone():
    wheel = wheel_of(COMMITTED)
    assert wheel.name == f"rnn_course-{PROJECT['version']}-py3-none-any.whl"
    files = members(wheel)
    dist_info = f"rnn_course-{PROJECT['version']}.dist-info"
    assert {name.split("/")[0] for name in files} == {"rnn_course", dist_info}
    modules = {name for name in files if name.startswith("rnn_course/")}
    assert modules == {p.relative_to(REPO).as_posix() for p in (REPO / "rnn_course").rglob("*.py")}
    for name, content in files.items():
        assert not any(part in name for part in NOT_FOR_STUDENTS), name
        for secret in ("BEGIN HIDDEN TESTS", "### BEGIN SOLUTION"):
            assert secret.encode() not in content, f"{name} contains {secret!r}"


def test_the_wheel_describes_the_student_library_not_the_course():
    meta = metadata(wheel_of(COMMITTED))
    assert meta["Name"] == "rnn-course" and meta["Summary"] == PROJECT["description"]
    assert meta["Summary"].startswith("Student library of the course")
    description = meta.get_payload()
    assert description.strip() == GUIDE.read_text().strip(), "the long description is docs/student-library.md"
    course_docs = "\n".join(p.read_text() for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")] if p != GUIDE)
    for instructors_only in ("## Grading a class in parallel", "grader_tests", "make release", "autograde",
                             "## What the kernel sees"):
        assert instructors_only in course_docs and instructors_only not in description, instructors_only
    # students' dependencies are the library's own, pinned; the extras are the checkout's, never installed by students
    plain = {Requirement(r) for r in meta.get_all("Requires-Dist") if "extra ==" not in r}
    assert {str(r) for r in plain} == set(PROJECT["dependencies"])
    assert {canonicalize_name(r.name) for r in plain} >= {"nbgrader", "jupyterlab", "tensorflow-cpu"}


def pins(folder: Path) -> dict:
    found = {}
    for line in (folder / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def test_requirements_pin_the_students_packages_as_the_lock_does():
    pinned = pins(COMMITTED)
    lock = {canonicalize_name(line.split("==")[0]): line.split("==")[1]
            for line in (REPO / "requirements-lock.txt").read_text().splitlines() if "==" in line}
    assert all(lock.get(name) == version for name, version in pinned.items()), \
        {name: (version, lock.get(name)) for name, version in pinned.items() if lock.get(name) != version}
    for requirement in map(Requirement, PROJECT["dependencies"]):
        assert f"=={pinned[canonicalize_name(requirement.name)]}" == str(requirement.specifier), requirement
    assert not set(pinned) & set(TOOLS), sorted(set(pinned) & set(TOOLS))
    # what TensorFlow and Jupyter pull in is there too (the whole closure, not just the direct dependencies)
    assert {"keras", "protobuf", "ipykernel", "jupyter-server", "nbconvert", "sqlalchemy"} <= set(pinned)


def documented_install() -> str:
    """The one install command of docs/student-library.md, which the students' and the deployment's
    pages repeat."""
    (command,) = [line.strip() for line in GUIDE.read_text().splitlines() if "python3 -m venv" in line]
    for page in ("students.md", "deployment.md"):
        assert (REPO / "docs" / page).read_text().count(command) == 1, f"docs/{page} gives the guide's command"
    assert "pip install ." not in (REPO / "docs" / "students.md").read_text()
    return command


def test_the_documented_install_is_the_one_for_this_wheel():
    command = documented_install()
    assert command == (f"python3 -m venv rnn-course && rnn-course/bin/pip install -r requirements.txt "
                       f"{wheel_of(COMMITTED).name}")
    assert f"nbgrader validate --Execute.timeout={TIMEOUT} <notebook>.ipynb" in GUIDE.read_text()


def failed_cells(report: str, notebook) -> dict:
    """grade_id -> the error nbgrader validate printed for each cell it says failed."""
    failed = {}
    for block in report.split("The following cell failed:")[1:]:
        source, error = block.split("The error was:", 1)
        owners = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.source.splitlines()[0].strip() in source]
        assert len(owners) == 1, block
        failed[owners[0]] = error
    return failed


@pytest.fixture
def handed_out(tmp_path):
    """What the student has: a copy of the folder handed out, nothing of the repository."""
    folder = tmp_path / "student-library"
    shutil.copytree(COMMITTED, folder)
    yield folder
    shutil.rmtree(folder / "rnn-course", ignore_errors=True)  # the environment: 2.3 GB


@pytest.mark.autograde  # installs TensorFlow and the rest: 2-3 minutes
@pytest.mark.xdist_group("student_env")
def test_a_student_environment_made_as_documented_validates_a_notebook(data_dir, handed_out, tmp_path):
    folder = handed_out
    base = Path(sys._base_executable).parent  # the Python this environment was made from, as `python3`
    assert (base / "python3").exists(), base
    path = os.pathsep.join([str(base), "/usr/bin", "/bin"])
    outside = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    began = time.monotonic()
    done = subprocess.run(["bash", "-c", documented_install()], cwd=folder, env=dict(outside, PATH=path),
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"student environment installed in {time.monotonic() - began:.0f} s")
    venv = folder / "rnn-course"
    # A student's shell after `source rnn-course/bin/activate`, in a home of their own.
    home = tmp_path / "home"
    home.mkdir()
    student = {"PATH": os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]), "VIRTUAL_ENV": str(venv),
               "HOME": str(home), "LANG": "C.UTF-8", "RNN_COURSE_DATA": str(data_dir)}
    work = tmp_path / "work"
    work.mkdir()

    def run(*command, cwd=work):
        return subprocess.run(command, cwd=cwd, env=student, capture_output=True, text=True, timeout=900)

    # Every installed package is pinned in requirements.txt at that version: nothing was left to the resolver.
    installed = {canonicalize_name(p["name"]): p["version"]
                 for p in json.loads(run("pip", "list", "--format=json").stdout)}
    unpinned = {n: v for n, v in installed.items() if n not in ("pip", "rnn-course") and pins(folder).get(n) != v}
    assert not unpinned, unpinned
    assert installed["rnn-course"] == PROJECT["version"]

    probe = ("import importlib.util, json, rnn_course\n"
             "from rnn_course import load_data, mape, notebook, splits, sarima, hand_in\n"
             "print(json.dumps({'library': rnn_course.__file__, 'found': "
             "[m for m in ('grader_tests', 'instructor', 'research') if importlib.util.find_spec(m)]}))")
    done = run("python", "-c", probe)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert Path(seen["library"]).is_relative_to(venv / "lib"), seen
    assert seen["found"] == [], f"the student's environment can import {seen['found']}"

    assert not list(venv.rglob("measured.jsonl"))
    # nbgrader itself holds its delimiters (it is what strips them); nothing else may hold one, nor the kit's name.
    done = subprocess.run(["grep", "-rlF", *(arg for s in SECRETS for arg in ("-e", s)), str(venv)], capture_output=True, text=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (record,) = site.glob("nbgrader-*.dist-info/RECORD")
    nbgrader_files = {(site / line.split(",")[0]).resolve() for line in record.read_text().splitlines()}
    found = done.stdout.splitlines()
    assert any(Path(p).name == "clearhiddentests.py" for p in found), "grep should have seen nbgrader's own delimiters"
    holders = [p for p in found if Path(p).resolve() not in nbgrader_files and "__pycache__" not in p]
    assert not holders, holders

    kernels = json.loads(run("jupyter", "kernelspec", "list", "--json").stdout)["kernelspecs"]
    assert Path(kernels["python3"]["resource_dir"]).is_relative_to(venv), kernels

    # A student's check, in folders with the notebook alone (no nbgrader_config.py of the course).
    notebook = NOTEBOOKS[ASSIGNMENT]
    (work / "solved").mkdir()
    nbformat.write(solved_notebook(ASSIGNMENT, REPO), work / "solved" / notebook)
    (work / "blank").mkdir()
    shutil.copy(REPO / "release" / ASSIGNMENT / notebook, work / "blank" / notebook)
    validate = ("nbgrader", "validate", f"--Execute.timeout={TIMEOUT}", notebook)

    began = time.monotonic()
    done = run(*validate, cwd=work / "solved")
    print(f"solved notebook validated in {time.monotonic() - began:.0f} s")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout + done.stderr

    began = time.monotonic()
    done = run(*validate, cwd=work / "blank")
    print(f"blank notebook validated in {time.monotonic() - began:.0f} s")
    blank = nbformat.read(work / "blank" / notebook, as_version=4)
    assert "VALIDATION FAILED ON 4 CELL(S)!" in done.stdout, done.stdout + done.stderr
    failed = failed_cells(done.stdout, blank)
    assert set(failed) == {"test_daily_load", "test_hourly_profile", "test_weekday_profile", "seasonality"}, failed
    for grade_id, variable in (("test_daily_load", "daily_load"), ("test_hourly_profile", "hourly_profile"),
                               ("test_weekday_profile", "weekday_profile")):
        assert f"NameError: name '{variable}' is not defined" in failed[grade_id], failed[grade_id]
    assert "You did not provide a response." in failed["seasonality"]
