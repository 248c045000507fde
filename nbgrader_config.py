"""nbgrader configuration of the course. Run every nbgrader command from this folder."""

import os
import sys

from nbgrader.preprocessors import (
    ClearHiddenTests, ClearMarkScheme, ClearOutput, IncludeHeaderFooter, LockCells,
)

c = get_config()  # noqa: F821  (provided by nbgrader)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "rnn-forecasting"
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.solution_directory = "solutions"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "README.md"]

# The hidden tests call the grading kit in grader_tests/. Kernels started by nbgrader inherit
# this environment, so they can import it; students' own kernels cannot.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [COURSE_ROOT, os.environ.get("PYTHONPATH")]))
# Kernels run with the same Python as nbgrader (the course's virtual environment).
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

# Training cells take up to about a minute on two cores; an endless cell is interrupted after
# this many seconds and the rest of the notebook is still run and graded.
c.Execute.timeout = 240
c.Execute.interrupt_on_timeout = True
# Nothing is left to save when a graded notebook ends: stop its kernel at once (saves ~1 s each).
c.Execute.shutdown_kernel = "immediate"

# A student who deletes a test cell gets it back; edited read-only and test cells are reset
# from the gradebook (nbgrader's OverwriteCells) before grading.
c.OverwriteCells.add_missing_cells = True

# Solutions are the source notebooks without hidden tests, not executed (so they are
# byte-for-byte reproducible from source/ and contain no machine-dependent output).
c.GenerateSolution.preprocessors = [
    IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme, ClearHiddenTests,
]
