"""Shared fixtures. The data location is passed in with RNN_COURSE_DATA (CI: ../shared/data).

`make test` runs the suite on two pytest-xdist workers; every test of one assignment's class is in
that assignment's xdist group, so a class is autograded once, by one worker."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RNN_COURSE_DATA", REPO.parent / "shared" / "data")).resolve()
os.environ["RNN_COURSE_DATA"] = str(DATA_DIR)  # notebooks and grader processes started by the tests


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "energy.csv").exists():
        pytest.fail(f"GEFCom2014 data not found in {DATA_DIR}; set RNN_COURSE_DATA to the folder holding energy.csv")
    return DATA_DIR


@pytest.fixture(scope="session")
def energy(data_dir):
    from rnn_course import load_data

    return load_data(data_dir)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A course folder (config, source/, the kit) with release/ and solutions/ generated from
    source/: one per worker, shared by the release tests and the autograde runs."""
    from instructor import classroom

    root = classroom.make_course_copy(tmp_path_factory.mktemp("course"))
    classroom.release(root)
    return root


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup` a worker must see each grouped test's group in its id; if not (a
    pytest and pytest-xdist that do not fit together), every worker would grade every class."""
    if getattr(config.option, "loadgroup", False):
        lost = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
        if lost:
            raise pytest.UsageError(f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}); "
                                    "install the versions pinned in pyproject.toml")
