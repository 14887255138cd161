"""User-defined KPIs: arithmetic over KPIs and recorded series, evaluated safely.

An expression is parsed with :mod:`ast` and only a small whitelist is evaluated — numbers, names,
``+ - * / // % **``, unary minus, comparisons (true is 1) and calls of the functions below. There
is no ``eval``, no attribute access on objects, no subscripts, no lambdas, no imports.

Names are KPIs (``throughput``, ``filler.busy``, ``buf_fill.mean_level``) or, inside a series
function, recorded series (``buf_fill.level``, ``filler.temperature``, ``wip``). Node ids with a
hyphen can be written ``kpi("line-2.busy")`` / ``series("buf-1.level")``.

Series functions (time-weighted): ``mean``, ``min``, ``max``, ``last``, ``integral``, ``std``,
``quantile(s, q)``, ``share_above(s, x)``, ``share_below(s, x)``. ``mean``, ``min`` and ``max``
also take several numbers. Number functions: ``abs``, ``sqrt``, ``log``, ``exp``, ``round``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from twinforge.sim.errors import KpiExpressionError
from twinforge.sim.series import Series

SERIES_FUNCS = {"mean", "min", "max", "last", "integral", "std", "quantile", "share_above", "share_below"}
NUMBER_FUNCS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "round": round,
}
FUNCTIONS = SERIES_FUNCS | set(NUMBER_FUNCS) | {"kpi", "series"}

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b if b != 0 else math.nan,
    ast.FloorDiv: lambda a, b: a // b if b != 0 else math.nan,
    ast.Mod: lambda a, b: a % b if b != 0 else math.nan,
    ast.Pow: lambda a, b: a**b,
}
_CMPOPS: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


@lru_cache(maxsize=256)
def parse_expression(text: str) -> ast.Expression:
    """Parse and check an expression; raise :class:`KpiExpressionError` on anything not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise KpiExpressionError("a KPI expression must be a non-empty string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise KpiExpressionError(
            f"cannot parse KPI expression {text!r}: {exc.msg} (column {exc.offset})"
        ) from None
    for node in ast.walk(tree):
        ok = isinstance(
            node,
            ast.Expression
            | ast.BinOp
            | ast.UnaryOp
            | ast.Compare
            | ast.Call
            | ast.Name
            | ast.Attribute
            | ast.Constant
            | ast.Load
            | ast.operator
            | ast.unaryop
            | ast.cmpop,
        )
        if not ok:
            raise KpiExpressionError(
                f"KPI expression {text!r}: {type(node).__name__} is not allowed "
                "(only numbers, KPI names, arithmetic, comparisons and the listed functions)"
            )
        if isinstance(node, ast.BinOp) and type(node.op) not in _BINOPS:
            raise KpiExpressionError(
                f"KPI expression {text!r}: operator {type(node.op).__name__} is not allowed"
            )
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.USub | ast.UAdd):
            raise KpiExpressionError(
                f"KPI expression {text!r}: operator {type(node.op).__name__} is not allowed"
            )
        if isinstance(node, ast.Constant) and not (
            isinstance(node.value, int | float | str) and not isinstance(node.value, bool)
        ):
            raise KpiExpressionError(f"KPI expression {text!r}: constant {node.value!r} is not allowed")
        if isinstance(node, ast.Name | ast.Attribute) and "__" in (_dotted(node) or "__"):
            raise KpiExpressionError(f"KPI expression {text!r}: names with '__' are not allowed")
        if isinstance(node, ast.Attribute) and _dotted(node) is None:
            raise KpiExpressionError(f"KPI expression {text!r}: only dotted names such as filler.busy")
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS:
                raise KpiExpressionError(
                    f"KPI expression {text!r}: unknown function {ast.unparse(node.func)!r}; "
                    f"available: {', '.join(sorted(FUNCTIONS))}"
                )
            if node.keywords:
                raise KpiExpressionError(f"KPI expression {text!r}: keyword arguments are not allowed")
            if name in ("kpi", "series") and not (
                len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                raise KpiExpressionError(f"KPI expression {text!r}: {name}() takes one quoted name")
    return tree


def series_names(text: str) -> set[str]:
    """Names used where a series is expected (they must be recorded for the expression)."""
    tree = parse_expression(text)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fname = node.func.id
            if fname == "series":
                out.add(node.args[0].value)  # type: ignore[attr-defined]
            elif fname in SERIES_FUNCS and node.args:
                first = node.args[0]
                name = _dotted(first)
                if name is not None and (
                    len(node.args) == 1 or fname in ("quantile", "share_above", "share_below")
                ):
                    out.add(name)
    return out


class _Evaluator:
    def __init__(
        self, text: str, scalars: Mapping[str, float], series: Callable[[str], Series | None]
    ) -> None:
        self.text = text
        self.scalars = scalars
        self.series = series

    def fail(self, message: str) -> KpiExpressionError:
        return KpiExpressionError(f"KPI expression {self.text!r}: {message}")

    def scalar(self, name: str) -> float:
        if name in self.scalars:
            return float(self.scalars[name])
        import difflib

        close = difflib.get_close_matches(name, list(self.scalars), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise self.fail(f"unknown KPI {name!r}{hint}")

    def value(self, node: ast.AST, want_series: bool = False) -> Any:
        match node:
            case ast.Expression():
                return self.value(node.body)
            case ast.Constant():
                if isinstance(node.value, str):
                    raise self.fail(f"a quoted name {node.value!r} is only allowed inside kpi() or series()")
                return float(node.value)
            case ast.Name() | ast.Attribute():
                name = _dotted(node)
                assert name is not None
                if want_series:
                    s = self.series(name)
                    if s is not None:
                        return s
                return self.scalar(name)
            case ast.UnaryOp():
                v = self.number(node.operand)
                return -v if isinstance(node.op, ast.USub) else v
            case ast.BinOp():
                return _BINOPS[type(node.op)](self.number(node.left), self.number(node.right))
            case ast.Compare():
                left = self.number(node.left)
                for op, right_node in zip(node.ops, node.comparators, strict=True):
                    right = self.number(right_node)
                    if not _CMPOPS[type(op)](left, right):
                        return 0.0
                    left = right
                return 1.0
            case ast.Call():
                return self.call(node)
        raise self.fail(f"cannot evaluate {ast.unparse(node)!r}")

    def number(self, node: ast.AST) -> float:
        v = self.value(node)
        if isinstance(v, Series):
            raise self.fail(f"{v.name!r} is a series; wrap it in a function such as mean({v.name})")
        return float(v)

    def call(self, node: ast.Call) -> float:
        fname = node.func.id  # type: ignore[attr-defined]
        args = node.args
        if fname == "kpi":
            return self.scalar(args[0].value)  # type: ignore[attr-defined]
        if fname == "series":
            raise self.fail("series(...) must be passed to a series function, e.g. mean(series('x.level'))")
        if fname in NUMBER_FUNCS:
            try:
                return float(NUMBER_FUNCS[fname](*[self.number(a) for a in args]))
            except (TypeError, ValueError) as exc:
                raise self.fail(f"{fname}(): {exc}") from None
        if not args:
            raise self.fail(f"{fname}() needs an argument")
        first = args[0]
        if isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == "series":
            name = first.args[0].value  # type: ignore[attr-defined]
            s = self.series(name)
            if s is None:
                raise self.fail(f"series {name!r} was not recorded")
            target: Any = s
        else:
            target = self.value(
                first, want_series=len(args) == 1 or fname in ("quantile", "share_above", "share_below")
            )
        if isinstance(target, Series):
            if len(target) == 0:
                return math.nan
            extra = [self.number(a) for a in args[1:]]
            match fname, len(extra):
                case (("mean" | "min" | "max" | "last" | "integral" | "std"), 0):
                    return float(getattr(target, fname)())
                case "quantile", 1:
                    return target.quantile(extra[0])
                case "share_above", 1:
                    return target.share_above(extra[0])
                case "share_below", 1:
                    return 1.0 - target.share_above(extra[0]) if not math.isnan(extra[0]) else math.nan
            raise self.fail(
                f"{fname}() of a series takes {'two' if fname in ('quantile', 'share_above', 'share_below') else 'one'} argument(s)"
            )
        numbers = [float(target)] + [self.number(a) for a in args[1:]]
        if fname == "mean":
            return sum(numbers) / len(numbers)
        if fname == "min":
            return min(numbers)
        if fname == "max":
            return max(numbers)
        if fname in ("last",) and len(numbers) == 1:
            return numbers[0]
        raise self.fail(f"{fname}() expects a recorded series (for example buf_fill.level)")


def evaluate(
    text: str, scalars: Mapping[str, float], series: Callable[[str], Series | None] | None = None
) -> float:
    """Evaluate an expression over KPI values and (optionally) recorded series."""
    tree = parse_expression(text)
    return float(_Evaluator(text, scalars, series or (lambda name: None)).value(tree))


def evaluate_kpis(expressions: Mapping[str, str], rows: list, model: Any) -> list:
    """Evaluate user KPIs in order (later ones may use earlier ones); rows in the KPI row format."""
    scalars = {r[0]: r[3] for r in rows}
    out = []

    def lookup(name: str) -> Series | None:
        try:
            return model.series(name)
        except Exception:
            return None

    for name, text in expressions.items():
        value = evaluate(text, scalars, lookup)
        scalars[name] = value
        out.append((name, "", name, value, ""))
    return out


def check_kpi_names(expressions: Mapping[str, str], reserved: set[str]) -> None:
    for name, text in expressions.items():
        if not name or not name.replace("_", "a").replace(".", "a").isalnum() or name[0].isdigit():
            raise KpiExpressionError(f"KPI name {name!r} must be an identifier (letters, digits, _ and .)")
        if name in reserved:
            raise KpiExpressionError(f"KPI name {name!r} is already a built-in KPI; choose another name")
        parse_expression(text)
