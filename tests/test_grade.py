"""The class graded in parallel (`python -m instructor grade`, instructor/grading.py) against plain
`nbgrader autograde`: the same class of the data exploration lab (answers right and wrong, a broken
file, a missing notebook) graded both ways, then compared cell by cell; resuming, a locked gradebook,
a worker that dies. One grading run each way serves every assertion of this module."""

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

import nbformat
import pytest

from instructor import classroom, grading
from instructor.submissions import VARIANTS, build

pytestmark = [pytest.mark.autograde, pytest.mark.xdist_group("parallel_grading")]

ASSIGNMENT = "data_exploration"
# own_kernel: the solution, another kernelspec; displays_ok: an attack on nbgrader's scoring (a daily sum, and a
# hook that displays a result in every cell), graded before an honest mistake; plants_the_hand_over: an answer cell
# hands over every check's evidence, then ends its kernel before any test cell runs
STUDENTS = ["solution", "other_style", "displays_ok", "daily_sum", "plants_the_hand_over", "blank", "own_kernel"]
BROKEN = {"broken_file": b'{"cells": [', "no_notebook": None}


def run_grade(root, *args, check=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(classroom.REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "instructor", "grade", ASSIGNMENT, *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)
    if check and done.returncode not in (0, 1):
        raise AssertionError(f"grade failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def both(tmp_path_factory, data_dir):
    """The class graded by plain `nbgrader autograde` (serial) and by the grade command (2 workers)."""
    plain = classroom.make_course_copy(tmp_path_factory.mktemp("plain") / "course")
    classroom.release(plain, [ASSIGNMENT])
    for name in STUDENTS:
        variant = next(v for v in VARIANTS if v.assignment == ASSIGNMENT and v.name == name.replace("own_kernel", "solution"))
        content = build(variant)
        if name == "own_kernel":  # nbgrader runs the course's kernel whatever the notebook names
            notebook = nbformat.reads(content.decode(), as_version=4)
            notebook.metadata.kernelspec = {"name": "my-env", "display_name": "My env", "language": "python"}
            content = nbformat.writes(notebook).encode()
        classroom.submit(plain, name, ASSIGNMENT, content)
    for name, content in BROKEN.items():
        classroom.submit(plain, name, ASSIGNMENT, content)
    parallel = tmp_path_factory.mktemp("parallel") / "course"
    shutil.copytree(plain, parallel, symlinks=True)
    started = time.monotonic()
    done = classroom.run_nbgrader(plain, "autograde", ASSIGNMENT)
    plain_seconds = time.monotonic() - started
    started = time.monotonic()
    graded = run_grade(parallel, "--workers", "2")
    parallel_seconds = time.monotonic() - started
    print(f"plain nbgrader autograde {plain_seconds:.0f} s, grade --workers 2 {parallel_seconds:.0f} s")
    return {"plain": plain, "parallel": parallel, "plain_log": done.stdout + done.stderr, "run": graded}


def gradebook_rows(root) -> dict:
    from nbgrader.api import Gradebook

    rows = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        for student in book.students:
            rows[student.id] = None
            for submission in student.submissions:
                rows[student.id] = {
                    "timestamp": submission.timestamp, "score": submission.score,
                    "notebooks": {nb.name: ({g.name: (g.auto_score, g.manual_score, g.max_score, g.needs_manual_grade)
                                             for g in nb.grades},
                                            {c.name: c.auto_comment for c in nb.comments}, nb.late_submission_penalty)
                                  for nb in submission.notebooks}}
    return rows


def cells(path) -> list:
    """A notebook's cells as compared: everything but the execution timings nbclient records."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    return [dict(cell) for cell in notebook.cells]


def test_the_gradebook_is_the_same_as_plain_nbgrader_autograde(both):
    plain, parallel = gradebook_rows(both["plain"]), gradebook_rows(both["parallel"])
    # plain nbgrader does not see a folder without the notebook; the grade command reports it and lists
    # the student (with 0 in the exported grades)
    assert set(plain) | {"no_notebook"} == set(parallel) == set(STUDENTS) | set(BROKEN)
    assert parallel["no_notebook"] is None
    for student in plain:
        assert parallel[student] == plain[student], student
    assert plain["solution"]["score"] == 7 and plain["daily_sum"]["score"] == 4  # the written answers wait for a TA
    assert parallel["own_kernel"]["score"] == 7


def test_a_result_the_kernel_displays_scores_nothing_both_ways(both):
    """nbgrader scores a test cell by its first execute_result; a hook that displays one in every cell
    still loses exactly the points of its mistake, graded either way, and the next student is unchanged.
    A hand-over planted by an answer cell for test cells that never run gets no points either way."""
    for way in ("plain", "parallel"):
        scores = gradebook_rows(both[way])
        tests = scores["displays_ok"]["notebooks"]["data_exploration"][0]
        lost = {name for name, (auto, _, most, _) in tests.items() if name.startswith("test_") and auto != most}
        assert lost == {"test_daily_load"}, (way, tests)
        honest = scores["daily_sum"]["notebooks"]["data_exploration"][0]
        assert {name for name, (auto, _, most, _) in honest.items() if name.startswith("test_") and auto != most} == {"test_daily_load"}
        planted = scores["plants_the_hand_over"]["notebooks"]["data_exploration"][0]
        assert all(auto == 0 for name, (auto, _, _, _) in planted.items() if name.startswith("test_")), (way, planted)


def test_autograded_notebooks_are_the_same_cell_by_cell(both):
    for student in list(STUDENTS) + ["broken_file"]:
        plain_nb = both["plain"] / "autograded" / student / ASSIGNMENT / classroom.NOTEBOOKS[ASSIGNMENT]
        parallel_nb = both["parallel"] / "autograded" / student / ASSIGNMENT / classroom.NOTEBOOKS[ASSIGNMENT]
        plain_cells, parallel_cells = cells(plain_nb), cells(parallel_nb)
        assert len(plain_cells) == len(parallel_cells), student
        for number, (expected, found) in enumerate(zip(plain_cells, parallel_cells), start=1):
            assert found == expected, f"{student}, cell {number}"
    assert not (both["parallel"] / "autograded" / "no_notebook" / ASSIGNMENT).exists()


def test_feedback_and_integrity_report_are_the_same(both):
    for root in (both["plain"], both["parallel"]):
        done = classroom.run_nbgrader(root, "generate_feedback", ASSIGNMENT)
        assert done.returncode == 0, done.stderr
    for student in STUDENTS:
        name = classroom.NOTEBOOKS[ASSIGNMENT].replace(".ipynb", ".html")
        plain = (both["plain"] / "feedback" / student / ASSIGNMENT / name).read_text()
        assert (both["parallel"] / "feedback" / student / ASSIGNMENT / name).read_text() == plain, student

    def rows(root):
        path = root / "integrity.csv"
        return sorted(map(tuple, csv.reader(path.open()))) if path.exists() else []
    assert rows(both["parallel"]) == rows(both["plain"])


def test_progress_lines_and_summary(both):
    out = both["run"].stdout
    total = len(STUDENTS) + len(BROKEN)
    finished = [line for line in out.splitlines() if line.startswith("[")]
    assert sorted(int(line[1:].split("/")[0]) for line in finished) == list(range(1, total + 1))
    assert any("solution" in line and "7/10" in line for line in finished), out
    assert any("no_notebook" in line and "NOT GRADED" in line and "data_exploration.ipynb missing" in line
               for line in finished), out
    assert f"{ASSIGNMENT}: {total - 1} graded, 1 not graded, 0 skipped" in out, out
    assert both["run"].returncode == 1  # one submission could not be graded: scripts see it
    records = [line for line in (both["parallel"] / "reports" / ASSIGNMENT / "grading.jsonl").read_text().splitlines()]
    assert len(records) == total


def test_a_second_run_skips_the_graded_and_force_grades_again(both):
    root = both["parallel"]
    before = gradebook_rows(root)
    again = run_grade(root, "--workers", "1", "--quiet", "--no-report")
    assert again.stdout == "" and "no_notebook" in again.stderr  # quiet: only what could not be graded
    assert again.returncode == 1
    assert gradebook_rows(root) == before
    forced = run_grade(root, "--workers", "1", "--force", "--student", "daily_sum", "--no-report")
    assert "[1/1] daily_sum" in forced.stdout and "1 graded, 0 not graded, 0 skipped" in forced.stdout, forced.stdout
    assert gradebook_rows(root) == before
    # a new submission (a later time on disk) is graded again without --force
    (root / "submitted" / "blank" / ASSIGNMENT / "timestamp.txt").write_text("2026-11-21 09:00:00 UTC")
    resubmitted = run_grade(root, "--workers", "1", "--student", "blank", "--student", "solution", "--no-report")
    assert "1 skipped" in resubmitted.stdout and "[1/1] blank" in resubmitted.stdout, resubmitted.stdout


def test_a_gradebook_held_by_another_writer_is_waited_for(both, tmp_path):
    """Formgrader saving a TA's score holds SQLite's write lock: the grade waits, nothing is lost."""
    root = tmp_path / "course"
    shutil.copytree(both["parallel"], root, symlinks=True)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as book:
        submission = book.find_submission(ASSIGNMENT, "daily_sum")
        written = {"timestamp": submission.timestamp,
                   "notebooks": {nb.name: {"late_submission_penalty": None, "missing": False,
                                           "grades": {g.name: {"auto_score": g.max_score, "needs_manual_grade": False}
                                                      for g in nb.grades},
                                           "comments": {c.name: None for c in nb.comments}}
                                 for nb in submission.notebooks}}
    held = threading.Event()

    def hold_the_lock():
        connection = sqlite3.connect(root / "gradebook.db", isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(7)  # longer than SQLite's own 5 s wait
        connection.execute("COMMIT")

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait()
    started = time.monotonic()
    score, most = grading.store_scores(db_url, "rnn-forecasting", ASSIGNMENT, "daily_sum", written)
    holder.join()
    assert time.monotonic() - started > 5
    assert score == most == 10


def test_a_dead_worker_is_reported_and_the_class_goes_on(both, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    root = tmp_path / "course"
    shutil.copytree(both["parallel"], root, symlinks=True)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        future = client.submit(os._exit, 1, pure=False)
        result = grading._collect(root, future, "crasher", ASSIGNMENT, ["data_exploration"],
                                f"sqlite:///{root / 'gradebook.db'}", "rnn-forecasting")
    assert result.score is None and "worker grading it died" in result.problem
    assert "crasher" in gradebook_rows(root)  # listed with 0 in exported grades


@pytest.fixture
def postgres():
    """A Postgres server of its own (Debian's postgresql), on a Unix socket: the gradebook's db_url."""
    import glob
    import tempfile
    from pathlib import Path

    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert binaries, "Postgres is not installed (.ci/run installs Debian's postgresql)"
    folder = Path(tempfile.mkdtemp(prefix="rnn-course-postgres-"))  # outside pytest's 0700 folder: user postgres
    shutil.chown(folder, "postgres")
    data, socket_dir = folder / "data", folder / "socket"
    socket_dir.mkdir()
    shutil.chown(socket_dir, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, f"{binaries[-1]}/initdb", "-D", str(data), "--auth=trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, f"{binaries[-1]}/pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    f"-c listen_addresses='' -k {socket_dir}", "start"], check=True, capture_output=True)
    subprocess.run([*as_postgres, f"{binaries[-1]}/createdb", "-h", str(socket_dir), "gradebook"], check=True)
    yield f"postgresql+psycopg://postgres@/gradebook?host={socket_dir}"
    subprocess.run([*as_postgres, f"{binaries[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                   capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_cluster_without_the_course_folder_a_killed_worker_and_postgres(both, tmp_path, postgres):
    """Workers in their own mount namespace where the course folder is an empty tmpfs (no shared disk),
    a Postgres gradebook, and the worker grading the first student killed: every student is graded,
    with the scores plain nbgrader gave."""
    from distributed import Client, LocalCluster
    from nbgrader.api import Gradebook

    root = tmp_path / "course"
    shutil.copytree(both["plain"], root, symlinks=True,
                    ignore=shutil.ignore_patterns("autograded", "feedback", "gradebook.db", "integrity.csv"))
    chosen = ["solution", "daily_sum", "blank"]
    for student in set(STUDENTS) | set(BROKEN):
        if student not in chosen:
            shutil.rmtree(root / "submitted" / student)
    done = classroom.run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force",
                                  f"--CourseDirectory.db_url={postgres}")
    assert done.returncode == 0, done.stderr
    workers = []
    with LocalCluster(n_workers=0, dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        for _ in range(2):
            hide = f"mount -t tmpfs none {tmp_path} && cd / && exec {sys.executable} -m distributed.cli.dask_worker " \
                   f"{cluster.scheduler_address} --nthreads 1 --nworkers 1 --no-dashboard"
            workers.append(subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", hide],
                                            env=dict(os.environ, PYTHONPATH=str(classroom.REPO)),
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client.wait_for_workers(2, timeout=60)
        assert client.run(os.path.exists, str(root / "submitted")) == {w: False for w in client.scheduler_info()["workers"]}
        command = subprocess.Popen([sys.executable, "-m", "instructor", "grade", ASSIGNMENT, "--scheduler",
                                    cluster.scheduler_address, "--db-url", postgres], cwd=root, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=dict(os.environ, PYTHONPATH=str(classroom.REPO)))
        deadline = time.monotonic() + 120
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # well into nbgrader's run
        busy = next(address for address, tasks in client.processing().items() if tasks)
        os.kill(client.run(os.getpid, workers=[busy])[busy], 9)
        out, err = command.communicate(timeout=600)
        for worker in workers:
            worker.terminate()
    assert command.returncode == 0, out + err
    assert "3 graded, 0 not graded" in out, out
    plain = gradebook_rows(both["plain"])
    with Gradebook(postgres) as book:
        for student in chosen:
            assert book.find_submission(ASSIGNMENT, student).score == plain[student]["score"], student
    assert (root / "reports" / ASSIGNMENT / "report.html").exists()
