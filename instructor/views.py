"""What TAs and students see of a graded notebook in formgrader and in the feedback page.

nbgrader renders both with nbconvert's HTML exporter, whose pages do not style the colours of a
verdict and do not wrap its lines. `nbgrader_config.py` adds `CourseStyle` to both, and the feedback
page uses the template in `instructor/templates/course_feedback/` (the summary at its top names
each test and marks it passed or failed).
"""

from pathlib import Path

import nbgrader
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from traitlets import Bool

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMGRADER = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
NBGRADER_TEMPLATES = str(FORMGRADER / "templates")  # nbgrader's own, which ours extend
BOOTSTRAP_CSS = str(FORMGRADER / "static" / "node_modules" / "bootstrap" / "dist" / "css")  # inlined by the feedback page

CSS = """
/* the verdicts of the tests: a red failure, a green pass, lines wrapped */
.ansi-red-fg, .ansi-red-intense-fg { color: #b71c1c; }
.ansi-green-fg, .ansi-green-intense-fg { color: #1b5e20; }
.ansi-bold { font-weight: bold; }
div.output_area pre { white-space: pre-wrap; overflow-wrap: anywhere; }
div.output_error pre { background: #fdecea; border-left: 4px solid #b71c1c; padding: 0.4em 0.6em; }
#toc li.lost, #toc li.lost a { color: #b71c1c; }
#toc li.passed, #toc li.passed a { color: #1b5e20; }
#toc li.waiting, #toc li.waiting a { color: #6d4c00; }
"""


class CourseStyle(CSSHTMLHeaderPreprocessor):
    """nbconvert's page CSS (which it puts in resources["inlining"]["css"], inlined by the templates),
    then the course's. It replaces CSSHTMLHeaderPreprocessor, which nbconvert runs last and which
    would drop anything added before it."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        resources["inlining"]["css"].append(CSS)
        return nb, resources
