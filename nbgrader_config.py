"""nbgrader configuration of the course. Run every nbgrader command from this folder."""

import importlib.util
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
# (Once, however often this file is read: nbgrader reads it twice, a grade worker's process once more.)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [COURSE_ROOT, *(path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path and path != COURSE_ROOT)])
# Kernels run with the same Python as nbgrader (the course's virtual environment).
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

# Training cells take up to about a minute on two cores; an endless cell is interrupted after
# this many seconds and the rest of the notebook is still run and graded.
c.Execute.timeout = 240
c.Execute.interrupt_on_timeout = True
# Nothing is left to save when a graded notebook ends: stop its kernel at once (saves ~1 s each).
c.Execute.shutdown_kernel = "immediate"

# Every kernel that runs a student's notebook (autograde, and an instructor's validate) runs in the
# sandbox of grader_tests/plugins/sandbox.py: its own unprivileged user, no network, read-only kit, library
# and data, nothing else of the course visible, limits on memory, processes and time.
sys.path.insert(0, COURSE_ROOT)
from grader_tests.plugins import sandbox  # noqa: E402
from rnn_course.data import ENV_VAR as DATA_VARIABLE  # noqa: E402

KIT = os.path.join(COURSE_ROOT, "grader_tests")
LIBRARY = importlib.util.find_spec("rnn_course").submodule_search_locations[0]
DATA = [os.path.abspath(os.environ[DATA_VARIABLE])] if os.environ.get(DATA_VARIABLE) else []
sandbox.install(
    c,
    # the kernel sees of the kit only what runs in it (grader_tests/kernel/, as grader_tests)
    read_only=[(os.path.join(KIT, "kernel"), KIT), (LIBRARY, LIBRARY), *((folder, folder) for folder in DATA + [os.path.join(COURSE_ROOT, "data")])],
    notebook_timeout=900,             # seconds for a whole notebook; the kernel is killed 2 minutes later
    memory_limit=6 * 1024**3,         # bytes of address space of each process (TensorFlow reserves about 2 GiB at import)
    process_limit=256,                # processes and threads
    # Limits of the notebook as a whole (grader_tests/plugins/limits.py). Measured on the solutions of the 12
    # assignments in the sandbox (2026-12-06): the GRU quiz (one_step_rnn_multivariate) peaks at 581 MiB
    # in its memory cgroup and 990 MiB of resident memory summed over its processes; the most, the
    # encoder-decoder quiz, 688 MiB and 1.1 GiB. They write at most 6.8 MiB (evidence, XLA's cache); a
    # cell shows at most 13 KiB of text and 203 KiB of images (PNG figures), a notebook 578 KiB.
    notebook_memory_limit=6 * 1024**3,  # bytes for all the notebook's processes together (a cgroup), its tmpfs included
    disk_limit=1024**3,               # bytes the notebook may write: its folder's copy and /tmp are a tmpfs this big
    text_per_cell=1024**2,            # bytes of text output a cell keeps (more is cut, and reported)
    images_per_cell=4 * 1024**2,      # bytes of images (base64) a cell keeps
    output_per_notebook=20 * 1024**2,  # bytes of output a notebook keeps
    max_message_size=8 * 1024**2,     # a bigger message from the kernel is dropped by ZeroMQ, unread
    interrupt_grace=10,               # seconds a cell interrupted at its timeout has to end, or its kernel is stopped
)

# A submitted file that is not a valid notebook is graded as the released notebook (0 points), with a
# first cell saying why, so that Formgrader and the feedback show the reason.
c.Autograde.exporter_class = "grader_tests.plugins.unreadable.ReadOrExplain"

# A student who deletes a test cell gets it back; edited read-only and test cells are reset
# from the gradebook (nbgrader's OverwriteCells) before grading.
c.OverwriteCells.add_missing_cells = True

# --- Hand-in (docs/instructors.md) -----------------------------------------------------------------
# nbgrader's exchange on a shared server (JupyterHub): the instructor releases and collects there,
# students fetch and submit. `python -m instructor exchange` makes this folder (mode 1777)
# and writes the students' configuration (course id, this folder) from these lines.
c.Exchange.root = os.environ.get("RNN_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
# Collect what each student's own Unix user handed in, copied as that user, at the time its files
# were written: no submission in another's name, of files only the grader can read, or antedated.
c.ExchangeFactory.collect = "instructor.nbgrader_plugins.collect.TrustedCollect"

# The LMS way: `nbgrader zip_collect <assignment>` files the LMS's download (downloaded/<assignment>/
# archive/*.zip) into submitted/<student>/<assignment>/. One pattern per LMS, matched against each
# file's whole path inside its archive's folder; add another LMS as one more line. A file no pattern
# matches, or whose name gives two students one id, is reported and left where it is.
c.ZipCollectApp.collector_plugin = "instructor.nbgrader_plugins.lms.LmsFileNames"
c.ZipCollectApp.strict = True  # a notebook renamed by its student is reported, not filed under a wrong name
c.LmsFileNames.patterns = {
    # doejohn_12345_67890_data_exploration.ipynb; doejohn_late_...; a resubmission ends in -1, -2, ...
    "canvas": r"(?P<student_id>[a-z0-9]+)(?P<late>_late)?_(?P<lms_id>\d+)_\d+_(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb",
    # John Doe_123456_assignsubmission_file_/data_exploration.ipynb (a folder per student, or flat)
    "moodle": r"(?P<student_id>[^/_]+)_(?P<lms_id>\d+)_assignsubmission_file_/?(?P<file_id>[^/]+)\.ipynb",
}

# --- What TAs and students see (instructor/nbgrader_plugins/views.py) ---------------------------------------------------
# Formgrader and the feedback pages colour and wrap the grader's verdicts; the feedback names each
# test in its summary and shows the hidden tests' results without their code.
from instructor.nbgrader_plugins import views  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

views.guard_submission_files()  # a submission's files in Formgrader: its own folder's only, no script runs
views.escape_formgrader_pages()  # what Formgrader's pages write from their address or the gradebook: escaped
c.HTMLExporter.preprocessors = [views.CourseStyle]
c.CSSHTMLHeaderPreprocessor.enabled = False  # CourseStyle does its work, then adds the course's CSS
c.CourseStyle.enabled = True
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, views.CourseStyle]
# Formgrader's pages load MathJax from the Jupyter server (Debian's libjs-mathjax, see the Makefile),
# not from a CDN; feedback pages, opened anywhere, keep nbconvert's CDN.
c.HTMLExporter.template_name = "course_formgrade"  # extends nbgrader's "formgrade"
# What a student wrote (markdown, HTML, SVG and JavaScript outputs, metadata, names) must not run in a
# TA's Formgrader nor in the feedback: the course's templates clean markdown and outputs with the
# course's `clean_html` (instructor/nbgrader_plugins/views.py; nbconvert's escapes headings and paragraphs), escape the
# rest, and give each page a Content-Security-Policy that refuses any other script.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"clean_html": "instructor.nbgrader_plugins.views.clean_html"}
c.HTMLExporter.exclude_anchor_links = True  # clean_html drops the headings' ids: their ¶ links would lead nowhere
c.HTMLExporter.extra_template_basedirs = [str(views.TEMPLATES), views.NBGRADER_TEMPLATES]
c.HTMLExporter.extra_template_paths = [views.NBGRADER_TEMPLATES, str(views.TEMPLATES)]
c.GenerateFeedback.HTMLExporter.template_name = "course_feedback"  # extends nbgrader's "feedback"
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [str(views.TEMPLATES), views.NBGRADER_TEMPLATES]
c.GenerateFeedback.HTMLExporter.extra_template_paths = [views.NBGRADER_TEMPLATES, views.BOOTSTRAP_CSS, str(views.TEMPLATES)]

# Solutions are the source notebooks without hidden tests, not executed (so they are
# byte-for-byte reproducible from source/ and contain no machine-dependent output).
c.GenerateSolution.preprocessors = [
    IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme, ClearHiddenTests,
]
