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
