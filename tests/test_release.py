"""release/ and solutions/ are what nbgrader generates from source/, and the notebooks keep the
course's contract (ids, names, answer cells, read-only cells, hidden tests)."""

import json

import nbformat
import pytest

from grader_tests.assignments import ASSIGNMENTS
from instructor.classroom import NOTEBOOKS, REPO
from rnn_course import sarima
from rnn_course.splits import TEST_START, VALID_START


@pytest.mark.parametrize("folder", ["release", "solutions"])
@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_committed_files_equal_what_nbgrader_generates(course, folder, assignment):
    committed, fresh = REPO / folder / assignment, course / folder / assignment
    names = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())  # noqa: E731
    assert names(committed) == names(fresh), f"{committed} has other files than nbgrader generates; run `make release`"
    for name in names(fresh):
        same = ((json.loads((committed / name).read_text()) == json.loads((fresh / name).read_text()))
                if name.endswith(".ipynb") else (committed / name).read_bytes() == (fresh / name).read_bytes())
        assert same, f"{committed / name} differs from what nbgrader generates from source/; run `make release` and commit"


def cells_of(folder, assignment):
    notebook = nbformat.read(REPO / folder / assignment / NOTEBOOKS[assignment], as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_source_keeps_the_contract(assignment):
    cells = cells_of("source", assignment)
    answers = {g for g, c in cells.items() if c.metadata["nbgrader"].get("solution")}
    assert answers == set(ASSIGNMENTS[assignment].answer_cells)
    tests = {g for g, c in cells.items() if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"}
    assert tests == set(ASSIGNMENTS[assignment].tests)
    for grade_id in tests:
        source = cells[grade_id].source
        hidden = source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS")[0].strip()
        assert hidden == f'from grader_tests import check; check("{assignment}", "{grade_id[len("test_"):]}", globals())', (
            f"{grade_id}: a hidden test must be one thin call into the kit, so feedback shows no grading code")
    for grade_id, cell in cells.items():
        if grade_id not in answers:
            assert cell.metadata["nbgrader"]["locked"] or cell.metadata["nbgrader"].get("grade"), grade_id
    assert "notebook.start(seed=42)" in cells["setup"].source and cells["setup"].metadata["nbgrader"]["locked"]


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_release_has_no_solutions_or_hidden_tests(assignment):
    text = (REPO / "release" / assignment / NOTEBOOKS[assignment]).read_text()
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grader_tests"):
        assert secret not in text
    released = cells_of("release", assignment)
    for grade_id in ASSIGNMENTS[assignment].answer_cells:
        cell = released[grade_id]
        blank = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
        assert blank in cell.source, f"answer cell {grade_id} should be blank in the release"


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_solutions_run_without_the_grading_kit(assignment):
    text = (REPO / "solutions" / assignment / NOTEBOOKS[assignment]).read_text()
    assert "grader_tests" not in text and "HIDDEN TESTS" not in text
    assert "### BEGIN SOLUTION" in text, "the solution marks where the answer goes"


def test_the_demo_class_hands_in_every_assignment():
    from instructor.submissions import VARIANTS

    handed_in = {v.assignment for v in VARIANTS if v.in_demo}
    assert handed_in == set(ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        assert any(v.in_demo and v.lost for v in VARIANTS if v.assignment == assignment) or assignment == "arima", (
            f"the demo class should show a mistake in {assignment}")


def _given_code(assignment) -> str:
    notebook = nbformat.read(REPO / "source" / assignment / NOTEBOOKS[assignment], as_version=4)
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "code")


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a not in ("data_exploration", "arima")])
def test_the_notebooks_split_dates_are_the_librarys(assignment):
    code = _given_code(assignment)
    assert f"valid_start_dt = '{VALID_START}'" in code and f"test_start_dt = '{TEST_START}'" in code


def test_the_arima_notebook_uses_the_courses_model_and_spec():
    code, spec = _given_code("arima"), ASSIGNMENTS["arima"].spec
    for line in (f"HORIZON = {spec.horizon} ", f"WINDOW = {sarima.WINDOW} ", f"ORDER = {sarima.ORDER} ",
                 f"SEASONAL_ORDER = {sarima.SEASONAL_ORDER} ", f"train_start_dt = '{spec.train_start}'",
                 f"test_start_dt = '{spec.test_start}'"):
        assert line in code, f"the ARIMA notebook should say {line.strip()!r}"
