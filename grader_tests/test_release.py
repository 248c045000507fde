"""release/ and solutions/ are what nbgrader generates from source/, and the notebooks keep the
course's contract (ids, names, answer cells, read-only cells, hidden tests)."""

import json
import re

import nbformat
import pytest

from grader_tests import classroom
from grader_tests.classroom import ASSIGNMENTS, LABS, REPO
from grader_tests.submissions import TESTS

ANSWER_CELLS = {
    "weight_initialization": {"init_choice", "zeros_explanation"},
    "one_step_rnn_multivariate": {"hyperparameters", "model"},
    "encoder_decoder": {"dimensions", "model"},
    "data_exploration": {"daily_load", "profiles", "seasonality"},
    "arima": {"walk_forward"},
    "reference_teacher_forcing": {"model", "inference"},
    **{lab: {"model"} for lab in LABS if lab not in ("data_exploration", "arima", "reference_teacher_forcing")},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = classroom.make_course_copy(tmp_path_factory.mktemp("course"))
    classroom.release(root)
    return root


@pytest.mark.parametrize("folder", ["release", "solutions"])
@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_committed_files_equal_what_nbgrader_generates(generated, folder, assignment):
    committed, fresh = REPO / folder / assignment, generated / folder / assignment
    names = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())  # noqa: E731
    assert names(committed) == names(fresh), f"{committed} has other files than nbgrader generates; run `make release`"
    for name in names(fresh):
        same = ((json.loads((committed / name).read_text()) == json.loads((fresh / name).read_text()))
                if name.endswith(".ipynb") else (committed / name).read_bytes() == (fresh / name).read_bytes())
        assert same, f"{committed / name} differs from what nbgrader generates from source/; run `make release` and commit"


def cells_of(folder, assignment):
    notebook = nbformat.read(REPO / folder / assignment / ASSIGNMENTS[assignment], as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_source_keeps_the_contract(assignment):
    cells = cells_of("source", assignment)
    answers = {g for g, c in cells.items() if c.metadata["nbgrader"].get("solution")}
    assert answers == ANSWER_CELLS[assignment]
    tests = {g for g, c in cells.items() if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"}
    assert tests == set(TESTS[assignment])
    for grade_id in tests:
        source = cells[grade_id].source
        hidden = source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS")[0].strip()
        assert re.fullmatch(r'from grader_tests\.kit import check; check\("\w+", "\w+", globals\(\)\)', hidden), (
            f"{grade_id}: a hidden test must be one thin call into the kit, so feedback shows no grading code")
    for grade_id, cell in cells.items():
        if grade_id not in answers:
            assert cell.metadata["nbgrader"]["locked"] or cell.metadata["nbgrader"].get("grade"), grade_id
    assert "notebook.start(seed=42)" in cells["setup"].source and cells["setup"].metadata["nbgrader"]["locked"]


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_release_has_no_solutions_or_hidden_tests(assignment):
    text = (REPO / "release" / assignment / ASSIGNMENTS[assignment]).read_text()
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grader_tests"):
        assert secret not in text
    released = cells_of("release", assignment)
    for grade_id in ANSWER_CELLS[assignment]:
        cell = released[grade_id]
        blank = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
        assert blank in cell.source, f"answer cell {grade_id} should be blank in the release"


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_solutions_run_without_the_grading_kit(assignment):
    text = (REPO / "solutions" / assignment / ASSIGNMENTS[assignment]).read_text()
    assert "grader_tests" not in text and "HIDDEN TESTS" not in text
    assert "### BEGIN SOLUTION" in text, "the solution marks where the answer goes"


def test_the_demo_class_hands_in_every_assignment():
    from grader_tests.demo import DEMO_CLASS
    from grader_tests.submissions import variants

    assert set(DEMO_CLASS) == set(ASSIGNMENTS)
    for assignment, names in DEMO_CLASS.items():
        known = {v.name for v in variants(assignment)}
        assert "solution" in names and set(names) <= known, f"{assignment}: {set(names) - known} are not known submissions"
