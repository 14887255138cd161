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

A user KPI's value is a finite number or NaN. Arithmetic that has no finite real result — division
by zero, an overflow (``10**400``, ``exp(1000)``), a complex result (``(-1)**0.5``), a function
outside its domain (``log(0)``, ``sqrt(-1)``) — gives NaN for that replication, and the reason is
kept (:func:`evaluate_kpis` returns it, the run's ``meta["kpi_notes"]`` counts it) so the CLI can
say why a KPI has no value; the other replications keep theirs. What is wrong with the expression
itself (a syntax error, an unknown name or function, a wrong number of arguments) is an error.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from twinforge.errors import did_you_mean
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

#: Arguments each function takes: (fewest, most); None is no upper limit.
ARITY: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "sqrt": (1, 1),
    "log": (1, 2),
    "exp": (1, 1),
    "round": (1, 2),
    "kpi": (1, 1),
    "series": (1, 1),
    "mean": (1, None),
    "min": (1, None),
    "max": (1, None),
    "last": (1, 1),
    "integral": (1, 1),
    "std": (1, 1),
    "quantile": (2, 2),
    "share_above": (2, 2),
    "share_below": (2, 2),
}

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}


class NoValue(ArithmeticError):
    """Arithmetic in a KPI expression with no finite real result; the KPI is NaN, ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _checked(what: str, fn: Callable[..., Any], *args: float) -> float:
    """``fn(*args)`` as a finite float, or :class:`NoValue` saying why there is none."""
    try:
        v = fn(*args)
    except ZeroDivisionError:
        raise NoValue(f"division by zero in {what}") from None
    except OverflowError:
        raise NoValue(f"{what} overflows (the result is too large for a float)") from None
    except ValueError:  # math domain errors; round(nan)
        raise NoValue(f"{what} is outside the function's domain") from None
    if isinstance(v, complex):
        raise NoValue(f"{what} is a complex number")
    v = float(v)
    if math.isinf(v) and all(math.isfinite(a) for a in args):
        raise NoValue(f"{what} overflows (the result is too large for a float)")
    return v


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
            low, high = ARITY[name]
            if len(node.args) < low or (high is not None and len(node.args) > high):
                count = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} or {high}"
                raise KpiExpressionError(
                    f"KPI expression {text!r}: {name}() takes {count} argument(s), found {len(node.args)}"
                )
            if (
                name == "quantile"
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, int | float)
                and not 0 <= node.args[1].value <= 1
            ):
                raise KpiExpressionError(
                    f"KPI expression {text!r}: quantile() takes a share between 0 and 1, "
                    f"found {node.args[1].value!r}"
                )
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

        hint = did_you_mean(name, self.scalars)
        raise self.fail(f"unknown KPI {name!r}{hint}")

    def value(self, node: ast.AST, want_series: bool = False) -> Any:
        match node:
            case ast.Expression():
                return self.value(node.body)
            case ast.Constant():
                if isinstance(node.value, str):
                    raise self.fail(f"a quoted name {node.value!r} is only allowed inside kpi() or series()")
                return _checked(f"the number {node.value!r}", float, node.value)
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
                left, right = self.number(node.left), self.number(node.right)
                return _checked(ast.unparse(node), _BINOPS[type(node.op)], left, right)
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
            return _checked(ast.unparse(node), NUMBER_FUNCS[fname], *[self.number(a) for a in args])
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
                    if not 0 <= extra[0] <= 1:
                        raise NoValue(f"{ast.unparse(node)}: the share is {extra[0]:g}, not between 0 and 1")
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
            return _checked(ast.unparse(node), lambda *x: math.fsum(x) / len(x), *numbers)
        if fname == "min":
            return min(numbers)
        if fname == "max":
            return max(numbers)
        if fname in ("last",) and len(numbers) == 1:
            return numbers[0]
        raise self.fail(f"{fname}() expects a recorded series (for example buf_fill.level)")


def evaluate_checked(
    text: str, scalars: Mapping[str, float], series: Callable[[str], Series | None] | None = None
) -> tuple[float, str | None]:
    """The value of an expression (finite or NaN) and, when it is NaN, why (None when it is not).

    Raises :class:`KpiExpressionError` for what is wrong with the expression itself."""
    tree = parse_expression(text)
    try:
        value = float(_Evaluator(text, scalars, series or (lambda name: None)).value(tree))
    except NoValue as exc:
        return math.nan, exc.reason
    if math.isnan(value):
        return value, "it uses a value that is NaN (a KPI with no value, or an empty series)"
    if math.isinf(value):
        return math.nan, "it uses an infinite value"
    return value, None


def evaluate(
    text: str, scalars: Mapping[str, float], series: Callable[[str], Series | None] | None = None
) -> float:
    """Evaluate an expression over KPI values and (optionally) recorded series: a finite number, or
    NaN when the arithmetic has no finite real result (see the module docstring)."""
    return evaluate_checked(text, scalars, series)[0]


def evaluate_kpis(expressions: Mapping[str, str], rows: list, model: Any) -> tuple[list, dict[str, str]]:
    """Evaluate user KPIs in order (later ones may use earlier ones); rows in the KPI row format,
    and for each KPI that is NaN, why."""
    scalars = {r[0]: r[3] for r in rows}
    out = []
    notes: dict[str, str] = {}

    def lookup(name: str) -> Series | None:
        try:
            return model.series(name)
        except Exception:
            return None

    for name, text in expressions.items():
        value, why = evaluate_checked(text, scalars, lookup)
        if why is not None:
            notes[name] = why
        scalars[name] = value
        out.append((name, "", name, value, ""))
    return out, notes


def check_kpi_names(expressions: Mapping[str, str], reserved: set[str]) -> None:
    for name, text in expressions.items():
        if not name or not name.replace("_", "a").replace(".", "a").isalnum() or name[0].isdigit():
            raise KpiExpressionError(f"KPI name {name!r} must be an identifier (letters, digits, _ and .)")
        if name in reserved:
            raise KpiExpressionError(f"KPI name {name!r} is already a built-in KPI; choose another name")
        parse_expression(text)
