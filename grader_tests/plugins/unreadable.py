"""A submitted file that is not a notebook is graded as the released notebook, with a first cell
that says why, so that Formgrader and the feedback show the reason (and 0 points) instead of a
submission that stays "needs autograding" while the reason is only in a console. A notebook that is
a symbolic link is not one the student wrote (it may point at another student's), and other files
linked from outside the submission are not copied for its kernel (`files_within`)."""

import html
import os

import nbformat
from nbconvert.exporters import NotebookExporter


def note(filename: str, error: Exception) -> str:
    # The error quotes the file, which the student wrote: escaped, it cannot become HTML in a TA's Formgrader.
    first_line = html.escape((str(error).strip().splitlines() or [type(error).__name__])[0][:300])
    first_line = first_line.replace("`", "&#96;").replace("*", "&#42;").replace("_", "&#95;").replace("[", "&#91;")
    return (f"**Not graded: the submitted `{os.path.basename(filename)}` is not a valid notebook** "
            f"(<code>{first_line}</code>).\n\nThe released notebook was graded in its place, so every test shows 0 points. "
            "The submitted file is kept as it was in `submitted/`. Ask the student to open it in JupyterLab, "
            "save it again, and hand it in once more.")


class ReadOrExplain(NotebookExporter):
    """nbgrader autograde's reader (`Autograde.exporter_class`)."""

    def from_filename(self, filename, resources=None, **kw):
        try:  # only a file nbformat cannot read at all; nbgrader grades one that breaks a rule of the format
            if os.path.islink(filename):
                raise ValueError(f"it is a symbolic link to {os.readlink(filename)}, not a file; links are not followed")
            nbformat.read(filename, as_version=4)
        except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as error:
            assignment = (resources or {}).get("nbgrader", {}).get("assignment")
            coursedir = self.parent.coursedir
            released = os.path.join(coursedir.format_path(coursedir.release_directory, ".", assignment),
                                    os.path.basename(filename))
            if not (assignment and os.path.isfile(released)):
                raise
            self.log.error("%s is not a valid notebook: graded as the released notebook, with the reason", filename)
            notebook = nbformat.read(released, as_version=4)
            # a fixed cell id: grading the file again gives the same notebook
            notebook.cells.insert(0, nbformat.v4.new_markdown_cell(note(filename, error), id="not-graded-reason"))
            return self.from_notebook_node(notebook, resources, **kw)
        return super().from_filename(filename, resources, **kw)


# Files a browser runs as a page: Formgrader serves a submission's files from its own origin
# (/formgrader/submissions/<id>/<file>), where a TA is logged in.
PAGES = (".html", ".htm", ".xhtml", ".shtml", ".svg", ".xml", ".js", ".mjs")


def files_within(find_all_files):
    """nbgrader's `find_all_files` without the symbolic links that lead out of the folder it walks (nbgrader
    copies each file a submission holds, following links, next to the notebook its kernel runs) and,
    in a submission, without the files a browser would run as pages (they stay in submitted/)."""

    def found(path, exclude=None):
        root = os.path.realpath(path)
        submission = os.sep + "submitted" + os.sep in root + os.sep
        kept = []
        for name in find_all_files(path, exclude):
            if os.path.islink(name) and not os.path.realpath(name).startswith(root + os.sep):
                continue
            if submission and name.lower().endswith(PAGES):
                continue
            kept.append(name)
        return kept

    return found
