"""What TAs and students see of a graded notebook in formgrader and in the feedback page.

nbgrader renders both with nbconvert's HTML exporter, whose pages do not style the colours of a
verdict and do not wrap its lines. `nbgrader_config.py` adds `CourseStyle` to both, and the feedback
page uses the template in `instructor/nbgrader_plugins/templates/course_feedback/` (the summary at its top names
each test and marks it passed or failed).

Everything on those pages that a student wrote (markdown, outputs of their code, cell metadata,
attachments, their name) is shown to a TA logged in to the course's Jupyter server: `clean_html`
(nbgrader_config.py makes it the templates' `clean_html` filter) keeps the HTML that formatted text
needs and escapes the rest, so that no student content can run a script; the templates escape every
other string and give each page a Content-Security-Policy that refuses any script but the page's own
(named by a nonce or a hash that `CourseStyle` hands them).
"""

import base64
import functools
import hashlib
import os
import re
import secrets
from pathlib import Path

import bleach
import nbgrader
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from pygments.token import STANDARD_TYPES
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
/* a student's long words (a URL, a line of code) wrap instead of widening the page; their links, which
   clean_html leaves without an address, do not look like links */
div.text_cell_render, div.output_html, div.output_markdown { overflow-wrap: anywhere; }
.rendered_html a:not([href]) { color: inherit; text-decoration: none; }
"""


# MathJax 2's configuration, a script of the pages' own: nbconvert's `text/x-mathjax-config` block would
# be run by MathJax with eval, which the pages' Content-Security-Policy refuses.
MATHJAX_CONFIG = ('window.MathJax = {TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}}, '
                  'tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], '
                  'processEscapes: true, processEnvironments: true}, displayAlign: "center", messageStyle: "none", '
                  'CommonHTML: {linebreaks: {automatic: true}}, '
                  # no link (\\href, a click away from a page of the TA's server) nor style (a green "Score: 10 / 10")
                  'Safe: {allow: {URLs: "none", styles: "none"}}};')


class CourseStyle(CSSHTMLHeaderPreprocessor):
    """nbconvert's page CSS (which it puts in resources["inlining"]["css"], inlined by the templates),
    then the course's. It replaces CSSHTMLHeaderPreprocessor, which nbconvert runs last and which
    would drop anything added before it.

    It also gives the templates what their Content-Security-Policy names: the MathJax configuration
    and its hash (the feedback page, a file, names its scripts by hash: the same notebook gives the
    same page), and a nonce (resources["csp_nonce"]), a new one for each page rendered, which only the
    `<script>` elements of Formgrader's page carry (the page holds values of the submission)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        resources["inlining"]["css"].append(CSS)
        resources["mathjax_config"] = MATHJAX_CONFIG
        resources["mathjax_config_hash"] = "sha256-" + base64.b64encode(hashlib.sha256(MATHJAX_CONFIG.encode()).digest()).decode()
        resources["csp_nonce"] = secrets.token_urlsafe(18)
        return nb, resources


# --- Student content -------------------------------------------------------------------------------
# The HTML a written answer, a markdown or HTML output (a pandas table) needs, and nothing that runs,
# loads, styles or positions anything: no script, style, iframe, object, svg, form, base or meta
# element, no event handler, style or id attribute (an id could stand in for a score box of
# Formgrader, which finds them by id), no image but one inlined in the notebook (an attachment, a
# figure). Anything else is escaped: it shows as the text the student wrote. nbconvert's own
# `clean_html` is stricter than needed (it escapes headings, paragraphs, tables' heads and images),
# so a written answer would not read well.
# No link either, but within the page: the link's text stays, the TA does not follow it by a click.
# A link is a click away from a page of the TA's server: a file the student handed in, which
# Formgrader serves as a page of the server (/formgrader/submissions/<id>/<file>), or one of
# Formgrader's pages that write what their address says unescaped (/formgrader/manage_students/<...>).
# The lesson's own text (the instructor's cells, which autograde restores) keeps its web links.
TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
# pygments' token classes (a highlighted code block), pandas' tables
CLASSES = frozenset(STANDARD_TYPES.values()) - {""} | {"highlight", "dataframe"}
IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z", re.IGNORECASE)
WEB_LINK = re.compile(r"(https?://|mailto:)", re.IGNORECASE)
NUMBER = re.compile(r"\d{1,4}\Z")


def _attribute(tag: str, name: str, value: str, web_links: bool = False) -> bool:
    """Whether an element keeps this attribute."""
    if name == "class":
        return all(c in CLASSES or c.startswith("hl-") and c[3:].isalnum() for c in value.split())
    if name in ("title", "alt") and tag in ("a", "abbr", "img"):
        return True
    if tag == "a" and name == "href":
        return value.startswith("#") or web_links and bool(WEB_LINK.match(value))
    if tag == "img" and name == "src":
        return bool(IMAGE.match(value))  # SVG included: an image's scripts never run
    if (tag == "img" and name in ("width", "height") or tag in ("td", "th") and name in ("colspan", "rowspan")
            or tag == "ol" and name == "start" or tag == "table" and name == "border"):
        return bool(NUMBER.match(value))
    return tag in ("td", "th") and name == "align" and value in ("left", "center", "right")


_CLEANERS = {web_links: bleach.Cleaner(tags=TAGS, attributes=functools.partial(_attribute, web_links=web_links),
                                       protocols={"http", "https", "mailto", "data"}, strip=False, strip_comments=True)
             for web_links in (False, True)}
# A style element goes whole, its rules with it: pandas puts one before each table it shows.
STYLE = re.compile(r"<style\b.*?</style\s*>", re.IGNORECASE | re.DOTALL)


def clean_html(html, web_links: bool = False) -> str:
    """HTML made safe to show (the templates' `clean_html` filter, nbgrader_config.py); `web_links`: the
    lesson's text, whose links to the web work."""
    html = STYLE.sub("", html.decode() if isinstance(html, bytes) else str(html))
    return _CLEANERS[bool(web_links)].clean(html)


# --- Formgrader's own pages ---------------------------------------------------------------------------
# nbgrader renders them with a Jinja environment without autoescape, and several write what their
# address says into a script (`var student_id = "{{ student_id }}";` on manage_students/<id>,
# gradebook/<id>): a link a student sends a TA, or a student id filed with a quote in it, ran script as
# the TA (a red team wrote into the course folder that way). Escaped, a quote or `<` in an id is text.


API_POLICY = "sandbox; default-src 'none'"


def escape_formgrader_pages() -> None:
    """Make Formgrader's pages escape every value they are given, and its API's answers text that no
    browser runs (nbgrader_config.py calls it). nbgrader's API handlers write JSON text, which the
    server sends as text/html, and some repeat their address in it (api/student_submissions/<id>): a
    link to one, in a student's answer (a MathJax \\href) or sent to a TA, ran script as the TA."""
    from nbgrader.server_extensions.formgrader import base

    if getattr(base.BaseHandler.render, "escaped", False):
        return

    def set_default_headers(self):
        super(base.BaseApiHandler, self).set_default_headers()
        self.set_header("Content-Type", "text/plain; charset=UTF-8")  # Formgrader's scripts parse it themselves
        self.set_header("Content-Security-Policy", API_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")

    base.BaseApiHandler.set_default_headers = set_default_headers

    def render(self, name, **values):
        environment = self.settings["nbgrader_jinja2_env"]
        if not environment.autoescape:
            environment.autoescape = True
            if environment.cache is not None:
                environment.cache.clear()  # templates compiled before: compiled again, escaping
        return environment.get_template(name).render(**values)

    render.escaped = True
    base.BaseHandler.render = render


# --- Files of a submission ---------------------------------------------------------------------------
# Formgrader serves the files of a submission (/formgrader/submissions/<id>/<file>: a figure the notebook
# shows) as pages of the TA's server, from anywhere in the course folder (an encoded `..` reaches
# submitted/). A student's HTML file would run its script as the TA. So: only the submission's own
# autograded folder, and each file inert (a sandbox: no script, an origin of its own).
FILE_POLICY = "sandbox; default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'"


def guard_submission_files() -> None:
    """Make Formgrader's SubmissionFilesHandler serve what is above (nbgrader_config.py calls it)."""
    from nbgrader.api import MissingEntry
    from nbgrader.server_extensions.formgrader import handlers
    from tornado import web

    files = handlers.SubmissionFilesHandler
    if getattr(files, "guarded", False):
        return

    def parse_url_path(self, url_path):
        submission_id, path = re.match(r"([^/]+)/(.*)", url_path.lstrip("/")).groups()
        try:
            submission = self.gradebook.find_submission_notebook_by_id(submission_id)
        except MissingEntry:
            raise web.HTTPError(404, f"Invalid submission: {submission_id}") from None
        folder = os.path.realpath(self.coursedir.format_path(
            self.coursedir.autograded_directory, submission.student.id, submission.assignment.assignment.name))
        full_path = os.path.realpath(os.path.join(folder, path))
        if not full_path.startswith(folder + os.sep):
            raise web.HTTPError(404, "Not a file of this submission")
        return web.StaticFileHandler.parse_url_path(self, full_path)

    def set_extra_headers(self, path):
        self.set_header("Content-Security-Policy", FILE_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")

    files.parse_url_path, files.set_extra_headers, files.guarded = parse_url_path, set_extra_headers, True
