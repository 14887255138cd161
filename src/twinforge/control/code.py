"""The controller language: a small subset of Python, checked statically before anything runs.

:func:`static_problems` parses the code and walks its syntax tree against allow-lists: the
statements and expressions of plain arithmetic and control flow, the builtins in
:data:`BUILTINS`, ``math`` as the only import, a short list of attributes (``math.*`` and the
methods of dicts and lists), no name or attribute that starts with ``_``, and ``try`` only around
named ordinary exceptions (so a time limit can never be caught). :func:`load_controller` compiles
checked code into a function whose globals hold only those builtins and ``math``.

The static check is the first wall, not the only one: the code then runs in a separate process
with CPU, memory, file and time limits (:mod:`twinforge.control.sandbox`).
"""

from __future__ import annotations

import ast
import builtins
import math
from collections.abc import Callable
from typing import Any

#: builtins a controller may call
BUILTINS = (
    "abs",
    "min",
    "max",
    "round",
    "sum",
    "len",
    "range",
    "enumerate",
    "zip",
    "sorted",
    "reversed",
    "any",
    "all",
    "float",
    "int",
    "bool",
    "str",
    "dict",
    "list",
    "tuple",
    "isinstance",
    "ValueError",
    "None",
    "True",
    "False",
)
#: exceptions a ``try`` may name (never BaseException, never a bare ``except``)
CATCHABLE = ("ValueError", "TypeError", "KeyError", "IndexError", "ZeroDivisionError", "ArithmeticError")
#: attributes a controller may use besides ``math.<name>``
METHODS = frozenset(
    {
        "get",
        "items",
        "keys",
        "values",
        "setdefault",
        "update",
        "copy",
        "pop",
        "append",
        "extend",
        "insert",
        "index",
        "count",
        "sort",
        "clear",
        "lower",
        "upper",
        "strip",
        "startswith",
        "endswith",
        "split",
    }
)
_MATH = frozenset(n for n in dir(math) if not n.startswith("_"))
_NODES = (
    ast.Module,
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.Return,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.If,
    ast.For,
    ast.While,
    ast.Break,
    ast.Continue,
    ast.Pass,
    ast.Expr,
    ast.Try,
    ast.ExceptHandler,
    ast.Raise,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Name,
    ast.Constant,
    ast.Dict,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Load,
    ast.Store,
    ast.Del,
    ast.boolop,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.expr_context,
)


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.defined: set[str] = set()

    def bad(self, node: ast.AST, what: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, _NODES):
            self.bad(node, f"{type(node).__name__} is not allowed in a controller")
            return
        super().generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name != "math" or (a.asname or "").startswith("_"):
                self.bad(node, f"import {a.name}: only 'math' may be imported")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module != "math" or node.level:
            self.bad(node, f"from {node.module or '.'} import ...: only 'math' may be imported")
            return
        for a in node.names:
            if a.name not in _MATH:
                self.bad(node, f"math has no {a.name!r}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self.bad(node, f"name {node.id!r}: names starting with '_' are not allowed")
        elif isinstance(node.ctx, ast.Load) and hasattr(builtins, node.id) and node.id not in BUILTINS:
            self.bad(node, f"{node.id!r} is not allowed in a controller")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.bad(node, f"attribute {node.attr!r}: attributes starting with '_' are not allowed")
        elif isinstance(node.value, ast.Name) and node.value.id == "math":
            if node.attr not in _MATH:
                self.bad(node, f"math has no {node.attr!r}")
        elif node.attr not in METHODS:
            self.bad(
                node, f"attribute {node.attr!r} is not allowed (only math.* and {', '.join(sorted(METHODS))})"
            )
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        for h in node.handlers:
            names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            if h.type is None or not all(isinstance(n, ast.Name) and n.id in CATCHABLE for n in names):
                self.bad(h, f"except may only name {', '.join(CATCHABLE)}")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.decorator_list:
            self.bad(node, "decorators are not allowed")
        self.defined.add(node.name)
        self.generic_visit(node)


def static_problems(code: str, entry: str = "control") -> list[str]:
    """What is wrong with ``code`` as a controller (empty: it may run in the sandbox)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: the code does not parse: {exc.msg}"]
    except ValueError as exc:  # NUL bytes
        return [f"the code does not parse: {exc}"]
    checker = _Checker()
    checker.visit(tree)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry]
    if not functions:
        checker.problems.append(f"the code defines no function {entry}(obs, memory)")
    elif len(functions[0].args.args) != 2 or functions[0].args.vararg or functions[0].args.kwarg:
        checker.problems.append(f"{entry} must take exactly two arguments: (obs, memory)")
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.Import | ast.ImportFrom | ast.Assign | ast.Expr) or (
            isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant)
        ):
            checker.bad(node, "at the top level only functions, imports and constants are allowed")
    return checker.problems


def load_controller(code: str, entry: str = "control") -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """The controller function of checked ``code``, with only the allowed builtins in reach."""
    problems = static_problems(code, entry)
    if problems:
        raise ValueError("; ".join(problems))
    safe = {name: getattr(builtins, name) for name in BUILTINS if hasattr(builtins, name)}
    safe.update({name: getattr(builtins, name) for name in CATCHABLE})
    safe["__import__"] = _import_math
    namespace: dict[str, Any] = {"__builtins__": safe, "math": math}
    exec(compile(code, "<controller>", "exec"), namespace)
    return namespace[entry]


def _import_math(name: str, *args: Any, **kwargs: Any) -> Any:
    if name != "math":
        raise ImportError(f"only math may be imported, not {name!r}")
    return math


__all__ = ["BUILTINS", "CATCHABLE", "METHODS", "load_controller", "static_problems"]
