"""A machine without what grading needs: the README's commands install it or say how, once, and
the grade command and the demo stop before anything else with the reason and a non-zero status."""

import os
import subprocess
import sys

import pytest

from instructor import classroom
from instructor.classroom import GradedSubmission
from instructor.commands import demo, system_packages
from instructor.submissions import VARIANTS, build

ASSIGNMENT = "data_exploration"
NO_BWRAP = {"PATH": str(classroom.VENV_BIN)}  # this environment's tools, and no bwrap (nor anything of /usr/bin)


def without_bwrap(*command, cwd):
    env = dict(os.environ, **NO_BWRAP,
               PYTHONPATH=os.pathsep.join(filter(None, [str(classroom.REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_grade_command_says_why_once_and_queues_no_one_where_bwrap_cannot_be_found(tmp_path):
    course = classroom.make_course_copy(tmp_path / "course")
    classroom.release(course, [ASSIGNMENT])
    for name in ("solution", "daily_sum"):
        variant = next(v for v in VARIANTS if v.assignment == ASSIGNMENT and v.name == name)
        classroom.submit(course, name, ASSIGNMENT, build(variant))
    done = without_bwrap("-m", "instructor", "grade", ASSIGNMENT, "--workers", "2", cwd=course)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert said.count("`bwrap` is not installed") == 1, said
    assert "Grading cannot start" in done.stderr and "Nothing was graded" in done.stderr
    assert "NOT GRADED" not in said and "[1/" not in said
    assert not (course / "autograded").exists()
    assert not (course / "reports" / ASSIGNMENT / "grading.jsonl").exists()


def test_the_demo_says_why_and_stops_before_anything_where_bwrap_cannot_be_found(tmp_path):
    done = without_bwrap("-m", "instructor", "demo", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("`bwrap` is not installed") == 1 and "Grading cannot start" in done.stderr, done.stderr
    assert "Generating release/" not in done.stdout  # stopped before the first step


def test_the_demo_names_each_student_whose_grade_is_not_the_designed_one():
    chosen = [v for v in VARIANTS if v.in_demo and v.assignment == "one_step_rnn_multivariate"]
    tests = ("test_hyperparameters", "test_shapes", "test_layers", "test_mape")

    def graded(variant, lost=None, problem=None):  # as designed, unless told otherwise
        lost = variant.lost if lost is None else lost
        problem = variant.problem if problem is None else problem
        outcome = GradedSubmission(demo.PREFIX + variant.name, variant.assignment, problem=problem)
        outcome.tests = {test: (0 if test in lost else 2, 2) for test in tests}
        return outcome
    lstm = next(v for v in chosen if v.name == "lstm_not_gru")
    solution = next(v for v in chosen if v.name == "solution")
    assert demo.differences(chosen, [graded(v) for v in chosen]) == []
    truncated = next(v for v in chosen if v.name == "truncated_file")  # graded as the released notebook: 0
    assert demo.differences(chosen, [graded(truncated, lost=tests, problem="")]) == []
    found = demo.differences(chosen, [graded(lstm, lost=("test_layers", "test_mape")),
                                      graded(solution, problem="the kernel died")])
    assert found == ["demo_lstm_not_gru / one_step_rnn_multivariate: lost test_layers, test_mape; designed to lose test_layers",
                     "demo_solution / one_step_rnn_multivariate: not graded (the kernel died); designed to be graded"]


@pytest.fixture
def machine(monkeypatch):
    """A machine where bubblewrap is missing and apt-get would install it (nothing is run)."""
    ran = []
    monkeypatch.setitem(system_packages.NEEDS, "grading",
                        [("the sandbox", lambda: False, "bubblewrap"), ("the limits", lambda: True, "util-linux")])
    monkeypatch.setattr(system_packages, "user_namespace_problem", lambda: None)
    monkeypatch.setattr(system_packages.shutil, "which", lambda tool: f"/usr/bin/{tool}" if tool == "apt-get" else None)
    monkeypatch.setattr(system_packages.subprocess, "run", lambda command, **kw: ran.append(command))
    return ran


def test_as_root_on_debian_what_is_missing_is_installed(machine, monkeypatch, capsys):
    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 0)
    assert system_packages.main(["grading"]) == 0
    assert machine == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "bubblewrap"]]
    assert "Missing: bubblewrap (the sandbox)" in capsys.readouterr().err


def test_elsewhere_it_stops_with_the_one_command_to_run(machine, monkeypatch, capsys):
    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 1000)
    assert system_packages.main(["grading"]) == 1
    assert machine == []
    assert "sudo apt-get update && apt-get install -y bubblewrap" in capsys.readouterr().err


def test_this_machine_has_what_the_tests_need():
    """What `make test` checked (.ci/run's machine): nothing is missing, and this account can sandbox."""
    missing = [package for _, present, package in system_packages.TESTS if not present()]
    assert missing == [] and system_packages.user_namespace_problem() is None


def test_make_demo_and_make_test_check_the_machine_before_anything_else():
    """The README's two commands run the system-packages check first (a pattern rule for a .PHONY
    target never runs: make skipped it, and a bare machine got no Debian package)."""
    for target, needs in (("demo", "grading"), ("test", "tests")):
        # --no-print-directory: under `make test` (CI) the inner make would print "Entering directory".
        planned = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=classroom.REPO,
                                 capture_output=True, text=True, timeout=60).stdout.splitlines()
        assert planned and planned[0].endswith(f"-m instructor system-packages {needs}"), planned[:3]
