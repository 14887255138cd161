"""Typed errors shared by every layer.

Library code raises these; the CLI prints them without a traceback and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


class TwinforgeError(Exception):
    """Base class of every error twinforge raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem found in an input: where it is, what was expected and what was found."""

    message: str
    path: tuple[str | int, ...] = ()
    file: str | None = None
    line: int | None = None
    code: str = "invalid"
    expected: str | None = None
    found: str | None = None
    severity: str = "error"  # "error" or "warning"

    @property
    def location(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        return where

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def render(self) -> str:
        parts = [f"{self.location}: {self.severity}"]
        if self.path:
            parts[0] += f" at {self.dotted_path}"
        text = f"{parts[0]}: {self.message}"
        details = []
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if self.found is not None:
            details.append(f"found {self.found}")
        if details:
            text += f" ({'; '.join(details)})"
        return text

    def __str__(self) -> str:
        return self.render()


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class IssueCollector:
    """Accumulates issues so that a whole input is checked in one pass."""

    file: str | None = None
    issues: list[Issue] = field(default_factory=list)
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def add(
        self,
        path: tuple[str | int, ...],
        message: str,
        *,
        code: str = "invalid",
        expected: str | None = None,
        found: object = None,
        severity: str = "error",
    ) -> None:
        self.issues.append(
            Issue(
                message=message,
                path=tuple(path),
                file=self.file,
                line=self.line_of(path),
                code=code,
                expected=expected,
                found=None if found is None else _show(found),
                severity=severity,
            )
        )

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class SpecError(TwinforgeError):
    """A twin spec (or a part of one) is invalid. Carries every issue found, not just the first."""

    def __init__(self, issues: list[Issue], summary: str | None = None) -> None:
        self.issues = list(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        head = summary or f"{len(errors)} error(s) in twin spec"
        super().__init__(head + "\n" + "\n".join("  " + i.render() for i in self.issues))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


class UnitError(TwinforgeError):
    """A unit is unknown or not compatible with the one expected."""


class UnknownEntityError(TwinforgeError, KeyError):
    """A node, edge, parameter or signal id that the twin does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to a misspelt ``name``, or ``""``:
    the one place every "unknown ..." message gets its suggestion from."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""
