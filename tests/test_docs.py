"""The docs (README.md and docs/*.md) say only what this checkout has: every relative link and image
resolves (an anchor to a heading, by GitHub's rules), and every `make` target, `python -m instructor`
command and option, other `python -m` module and repository path they quote exists. The README stays
a landing page. Fast: no network, no nbgrader run (only `python -m instructor <command> --help`)."""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MOST_LINES = 150
TOP_FOLDERS = ("source/", "release/", "solutions/", "grader_tests/", "instructor/", "rnn_course/", "research/",
               "tests/", "docs/")


# --- reading Markdown -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quote:
    """Code quoted in a page: an inline code span, or one line of a code block."""
    page: Path
    line: int
    text: str

    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def split_code_blocks(text: str) -> tuple[list[tuple[int, str]], str]:
    """The code blocks' lines as (line number, text), and the page with those lines blanked out.
    A code block is fenced (```) or indented by 4 spaces or more after a blank line (6 in a list)."""
    code, prose = [], []
    fenced = in_block = False
    previous_blank = True
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append("")
            continue
        indented = line.startswith("    ") and line.strip() and (previous_blank or in_block)
        in_block = fenced or bool(indented) or (in_block and not line.strip())
        if fenced or indented:
            code.append((number, line.strip()))
            prose.append("")
        else:
            prose.append(line)
        previous_blank = not line.strip()
    return code, "\n".join(prose)


SPAN = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)\1", re.S)  # inline code, within one paragraph


def quotes(page: Path, text: str) -> list[Quote]:
    """Every inline code span (joined onto one line) and every code-block line of a page."""
    code, prose = split_code_blocks(text)
    found = [Quote(page, number, line) for number, line in code]
    for match in SPAN.finditer(prose):
        line = prose.count("\n", 0, match.start()) + 1
        found.append(Quote(page, line, " ".join(match.group(2).split())))
    return found


def prose_without_code(text: str) -> str:
    """The page with code blocks and inline code blanked out (line numbers kept)."""
    _, prose = split_code_blocks(text)
    return SPAN.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), prose)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text in lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@functools.lru_cache(maxsize=None)
def anchors(page: Path) -> frozenset:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    _, prose = split_code_blocks(page.read_text())
    seen, found = {}, set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose, re.M):
        base = slug(heading)
        found.add(f"{base}-{seen[base]}" if base in seen else base)
        seen[base] = seen.get(base, 0) + 1
    return frozenset(found)


# --- what each check finds wrong in one page ----------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def link_problems(page: Path, text: str) -> list[str]:
    problems = []
    prose = prose_without_code(text)
    for match in LINK.finditer(prose):
        target = match.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not checked (no network)
            continue
        where = f"{page.relative_to(REPO)}:{prose.count(chr(10), 0, match.start()) + 1}"
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{where}: link {target!r}: no file {linked.relative_to(REPO) if linked.is_relative_to(REPO) else linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{where}: link {target!r}: no heading with anchor #{anchor} in {linked.relative_to(REPO)}")
    return problems


def make_targets() -> list[str]:
    """The Makefile's targets, pattern rules (system-%) included."""
    targets = []
    for line in (REPO / "Makefile").read_text().splitlines():
        match = re.match(r"^([^\s#:=][^:=]*?)\s*:(?!=)", line)
        if match and not match.group(1).startswith((".", "$")):
            targets += match.group(1).split()
    return targets


def make_problems(quoted: list[Quote]) -> list[str]:
    targets = make_targets()
    known = [re.compile(re.escape(t).replace("%", ".+") + "$") for t in targets]
    problems = []
    for quote in quoted:
        for target in re.findall(r"\bmake\s+([a-z][\w-]*)", quote.text):
            if not any(pattern.match(target) for pattern in known):
                problems.append(f"{quote.where()}: `make {target}`: no such target in the Makefile "
                                f"(it has: {', '.join(targets)})")
    return problems


MODULE_RUN = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")


def module_runs(text: str):
    """(module, the text after it up to the next `python -m`) for each `python -m MODULE` in `text`."""
    matches = list(MODULE_RUN.finditer(text))
    for match, following in zip(matches, matches[1:] + [None]):
        yield match.group(1).rstrip("."), text[match.end():following.start() if following else len(text)]


def instructor_commands() -> dict:
    from instructor.commands import COMMANDS

    return COMMANDS


@functools.lru_cache(maxsize=None)
def declared_options(command: str) -> frozenset:
    """The options `python -m instructor COMMAND --help` declares (its options section)."""
    done = subprocess.run([sys.executable, "-m", "instructor", command, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"python -m instructor {command} --help failed: {done.stderr[-2000:]}"
    return frozenset(re.findall(r"^[ \t]+(?:-\w[^,\n]*,[ \t]+)?(--[\w-]+)", done.stdout, re.M))


def instructor_problems(quoted: list[Quote]) -> list[str]:
    commands = instructor_commands()
    problems = []
    for quote in quoted:
        for module, rest in module_runs(quote.text):
            if module.startswith("instructor."):
                problems.append(f"{quote.where()}: `python -m {module}` is an old name: "
                                "write `python -m instructor <command>` (python -m instructor --help)")
                continue
            if module != "instructor":
                continue
            rest = re.split(r"\s#|&&|;", rest)[0].split()
            if not rest or rest[0].startswith(("-", "<")):  # `python -m instructor --help`, `... <command>`
                continue
            command = rest[0]
            if command not in commands:
                problems.append(f"{quote.where()}: `python -m instructor {command}`: no such command "
                                f"(instructor.commands.COMMANDS has: {', '.join(commands)})")
                continue
            # --Class.trait=value options are nbgrader's, passed through by the grade command
            options = [o for o in re.findall(r"(?<![\w-])(--[A-Za-z][\w.-]*)", " ".join(rest[1:])) if "." not in o]
            missing = [o for o in options if o not in declared_options(command)]
            if missing:
                problems.append(f"{quote.where()}: `python -m instructor {command}` has no option "
                                f"{', '.join(missing)} (see python -m instructor {command} --help)")
    return problems


def module_exists(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() or (path / "__main__.py").is_file():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def module_problems(quoted: list[Quote]) -> list[str]:
    problems = []
    for quote in quoted:
        for module, _ in module_runs(quote.text):
            if module != "instructor" and not module.startswith("instructor.") and not module_exists(module):
                problems.append(f"{quote.where()}: `python -m {module}`: no such module or file")
    return problems


def path_problems(quoted: list[Quote]) -> list[str]:
    problems = []
    for quote in quoted:
        for token in quote.text.split():
            token = token.strip("()[]{},;:'\"")
            if not token.startswith(TOP_FOLDERS) or re.search(r"[<>*]|\.\.\.|[{}$]", token):
                continue
            if not (REPO / token).exists():
                problems.append(f"{quote.where()}: `{token}`: no such file or folder in the repository")
    return problems


# --- the tests ----------------------------------------------------------------------------------------

def all_quotes() -> list[Quote]:
    return [quote for page in PAGES for quote in quotes(page, page.read_text())]


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s) in the docs:\n" + "\n".join(problems)


def test_the_pages_exist():
    assert len(PAGES) > 1 and all(page.is_file() for page in PAGES)


def test_every_relative_link_and_image_resolves():
    problems = [problem for page in PAGES for problem in link_problems(page, page.read_text())]
    assert not problems, report(problems)


def test_every_quoted_make_target_is_in_the_makefile():
    problems = make_problems(all_quotes())
    assert not problems, report(problems)


def test_every_quoted_instructor_command_and_option_exists():
    problems = instructor_problems(all_quotes())
    assert not problems, report(problems)


def test_every_other_quoted_python_module_exists():
    problems = module_problems(all_quotes())
    assert not problems, report(problems)


def test_every_quoted_repository_path_exists():
    problems = path_problems(all_quotes())
    assert not problems, report(problems)


def test_the_readme_is_a_landing_page():
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines <= README_MOST_LINES, (f"README.md has {lines} lines, at most {README_MOST_LINES}: move the "
                                        "details to the page under docs/ that owns them")


# --- the checks themselves fail on a planted mistake ----------------------------------------------------

PLANTED = REPO / "docs" / "planted.md"  # never written: the checks read the text given to them


def planted(text: str) -> list[Quote]:
    return quotes(PLANTED, text)


def test_slugs_follow_githubs_rules():
    assert slug("Hand-in: the exchange or the LMS") == "hand-in-the-exchange-or-the-lms"
    assert slug("A shared server (JupyterHub) and nbgrader's exchange") == "a-shared-server-jupyterhub-and-nbgraders-exchange"
    assert slug("Why teacher forcing drifts at HORIZON=24") == "why-teacher-forcing-drifts-at-horizon24"
    assert slug("The `grader` metadata") == "the-grader-metadata"


def test_the_checks_find_planted_mistakes():
    assert link_problems(PLANTED, "See [the page](no-such-page.md).")
    assert link_problems(PLANTED, "See ![a picture](screenshots/no-such-picture.png).")
    assert link_problems(PLANTED, "See [TAs](tas.md#no-such-heading).")
    assert not link_problems(PLANTED, "See [TAs](tas.md#grading-in-formgrader) and [nbgrader](https://nbgrader.readthedocs.io).")
    assert make_problems(planted("Run `make no-such-target`."))
    assert not make_problems(planted("Run `make system-grading`, then\n\n    make test\n"))
    assert instructor_problems(planted("Run `python -m instructor no-such-command`."))
    assert instructor_problems(planted("Run `python -m instructor.demo`."))
    assert instructor_problems(planted("Run\n\n    python -m instructor demo --no-such-option   # here\n"))
    assert not instructor_problems(planted("Run `python -m instructor demo --workers 2` or `python -m instructor --help`."))
    assert module_problems(planted("Run `python -m research.no_such_module`."))
    assert not module_problems(planted("Run `python -m research.search` and `python3 -m venv env`."))
    assert module_problems(planted("Run `python3 -m venv env && python -m no_such_module`."))
    assert path_problems(planted("See `grader_tests/no_such_file.py`."))
    assert not path_problems(planted("See `grader_tests/verdicts.py`, `source/<assignment>/` and `grader_tests/measure/*.py`."))


@pytest.mark.parametrize("text, expected", [
    ("a\n\n    code line\n\nb `span` c", ["code line", "span"]),
    ("- item\n\n      code in a list\n\n- next\n  continued `x`", ["code in a list", "x"]),
    ("```\nfenced\n```\n`a\nb`", ["fenced", "a b"]),
])
def test_quotes_are_read_from_code_blocks_and_spans(text, expected):
    assert [quote.text for quote in planted(text)] == expected
