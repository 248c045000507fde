"""The layout's rules: imports flow one way between the top-level packages, and no module of the
project imports itself back through others (imports inside functions count too)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("rnn_course", "grader_tests", "instructor", "research", "tests")
# What each package may import from the others: the student library needs nothing of the course's
# tooling, the grading kit only the library, and the tools build on both.
ALLOWED = {
    "rnn_course": set(),
    "grader_tests": {"rnn_course"},
    "research": {"rnn_course", "grader_tests"},
    "instructor": {"rnn_course", "grader_tests"},
    "tests": {"rnn_course", "grader_tests", "instructor", "research"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules) -> set:
    """Project modules that `path` imports, anywhere in the file (`from package import module`
    counts as importing the module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(modules)
            found |= submodules if len(submodules) == len(node.names) else submodules | {base}
    return {module for module in found if module.split(".")[0] in PACKAGES}


def project_modules() -> dict:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def graph() -> dict:
    modules = project_modules()
    # Importing a module runs its packages' __init__ first; that is not a cycle of the design.
    return {name: {m for m in imports_of(path, modules) if m in modules and not (name + ".").startswith(m + ".")}
            for name, path in modules.items()}


def test_imports_flow_one_way_between_packages():
    wrong = [f"{name} imports {target}" for name, targets in graph().items() for target in targets
             if target.split(".")[0] != name.split(".")[0] and target.split(".")[0] not in ALLOWED[name.split(".")[0]]]
    assert not wrong, wrong


def test_no_module_imports_itself_back():
    edges, cycles = graph(), []

    def visit(node, path, on_path, done):
        for target in sorted(edges.get(node, ())):
            if target in on_path:
                cycles.append(path[path.index(target):] + [target])
            elif target not in done:
                on_path.add(target)
                visit(target, path + [target], on_path, done)
                on_path.discard(target)
        done.add(node)

    done = set()
    for start in sorted(edges):
        if start not in done:
            visit(start, [start], {start}, done)
    assert not cycles, [" -> ".join(cycle) for cycle in cycles]


def test_the_student_library_needs_no_research_dependency():
    text = (REPO / "pyproject.toml").read_text()
    dependencies = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "dask" not in dependencies and "distributed" not in dependencies
    for path in (REPO / "rnn_course").rglob("*.py"):
        assert "dask" not in path.read_text(), f"{path} uses Dask, which students do not install"


def test_the_kernel_package_imports_only_itself_and_the_student_library():
    """grader_tests/kernel/ is mounted alone in the sandbox: nothing else of the kit is there to import."""
    outside = [f"{name} imports {target}" for name, targets in graph().items() if name.startswith("grader_tests.kernel")
               for target in targets if not (target.startswith("grader_tests.kernel") or target.startswith("rnn_course"))]
    assert not outside, outside


def private_calls(path: Path, modules) -> list:
    """`module._name` or `from module import _name` of another project module in `path`."""
    tree, found = ast.parse(path.read_text()), []
    imported = {}  # local name -> project module
    own = module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    imported[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif base in modules and base != own and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{own} imports {base}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules and alias.asname:
                    imported[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported
                and node.attr.startswith("_") and not node.attr.startswith("__") and imported[node.value.id] != own):
            found.append(f"{own} calls {imported[node.value.id]}.{node.attr}")
    return found


def test_no_module_of_the_project_uses_another_ones_private_names():
    modules = project_modules()
    found = [call for name, path in modules.items() if not name.startswith("tests")
             for call in private_calls(path, modules)]
    assert not found, found


def test_private_calls_are_seen():
    modules = project_modules()
    sample = REPO / "instructor" / "_layout_sample.py"
    sample.write_text("from . import classroom\nfrom .grading import _collect\nclassroom._hidden()\n")
    try:
        assert sorted(private_calls(sample, modules)) == ["instructor._layout_sample calls instructor.classroom._hidden",
                                                          "instructor._layout_sample imports instructor.grading._collect"]
    finally:
        sample.unlink()


def test_every_instructor_command_is_behind_the_one_entry_point():
    from instructor.commands import COMMANDS

    files = {p.stem for p in (REPO / "instructor" / "commands").glob("*.py") if p.name != "__init__.py"}
    assert {module.rsplit(".", 1)[1] for module, _ in COMMANDS.values()} == files
    for module, _ in COMMANDS.values():
        assert "def main(argv=None)" in (REPO / Path(*module.split("."))).with_suffix(".py").read_text(), module
    # the commands build on the rest of instructor/, never the other way round
    users = [f"{name} imports {target}" for name, targets in graph().items() for target in targets
             if target.startswith("instructor.commands.") and name.split(".")[0] != "tests"
             and not name.startswith("instructor.commands") and name != "instructor.__main__"]
    assert not users, users


def test_the_development_environment_installs_every_extra_of_pyproject():
    import re
    import tomllib

    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    (installed,) = re.findall(r"--editable '\.\[([\w,]+)\]'", (REPO / "Makefile").read_text())
    assert set(installed.split(",")) == extras
    environments = (REPO / "docs" / "contributing.md").read_text().split("## Environments", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{extra}`" in environments for extra in extras), "docs/contributing.md lists every extra"
