"""What the notebook's cells set, read from their source by the grader (no code of the student's
runs here): the values the kernel hands over must agree with it."""

from __future__ import annotations

import ast
import operator

NOT_SET = object()   # no cell assigns the name
DYNAMIC = object()   # a cell assigns it in a way the grader cannot evaluate without running code (a loop, a call)

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _value(node, known: dict):
    """The value of a constant expression (numbers, strings, names already set, + - * / // %), else DYNAMIC."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        value = known.get(node.id, NOT_SET)
        return DYNAMIC if value is NOT_SET else value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _value(node.operand, known)
        return DYNAMIC if operand is DYNAMIC else _apply(_UNARY[type(node.op)], operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left, known), _value(node.right, known)
        return DYNAMIC if DYNAMIC in (left, right) else _apply(_BINARY[type(node.op)], left, right)
    return DYNAMIC


def _apply(function, *operands):
    try:
        return function(*operands)
    except Exception:  # e.g. a division by zero: the kernel would have failed there too
        return DYNAMIC


def _python(source: str) -> str:
    """The cell as plain Python (IPython's magics and shell escapes turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def statically_set(sources) -> dict:
    """{name: value or DYNAMIC} for each name the cells `sources` (in order) bind at their top level.
    A plain assignment of a constant expression gives its value; any other binding (a loop, `with ...
    as`, an import, a call's result, an augmented assignment of an unknown value) gives DYNAMIC. A
    cell that is not valid Python is skipped: the kernel could not have run it either."""
    known: dict = {}
    for source in sources:
        try:
            tree = ast.parse(_python(source))
        except (SyntaxError, ValueError):
            continue
        for statement in tree.body:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                for node in ast.walk(statement.value):  # `T = (EPOCHS := 1) + 5` binds EPOCHS too
                    if isinstance(node, ast.NamedExpr):
                        known[node.target.id] = DYNAMIC
                for target in targets:
                    _bind(target, statement.value, known)
            elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
                before = known.get(statement.target.id, NOT_SET)
                right = _value(statement.value, known)
                known[statement.target.id] = DYNAMIC if DYNAMIC in (before, right) or before is NOT_SET \
                    else _apply(_BINARY.get(type(statement.op), _fail), before, right)
            else:
                for node in ast.walk(statement):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                        known[node.id] = DYNAMIC
                    elif isinstance(node, (ast.Import, ast.ImportFrom)):
                        for alias in node.names:
                            known[(alias.asname or alias.name).split(".")[0]] = DYNAMIC
                    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        known[node.name] = DYNAMIC
                    elif isinstance(node, ast.Global):
                        known.update(dict.fromkeys(node.names, DYNAMIC))
    return known


def _fail(*operands):
    raise ValueError


def _bind(target, value, known: dict) -> None:
    if isinstance(target, ast.Name):
        known[target.id] = _value(value, known)
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
        for position, element in enumerate(target.elts):
            if values is not None:
                _bind(element, values[position], known)
            else:
                for node in ast.walk(element):
                    if isinstance(node, ast.Name):
                        known[node.id] = DYNAMIC
    # an attribute or an item (`globals()["EPOCHS"] = 1`): no name the grader can read; a value handed
    # over that no cell sets plainly is reported as such
