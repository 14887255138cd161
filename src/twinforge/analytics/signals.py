"""Map data columns to the twin's (node, signal) pairs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from twinforge.errors import UnknownEntityError, did_you_mean
from twinforge.spec import TwinSpec


@dataclass(frozen=True)
class SignalRef:
    """One telemetry channel of the twin: the node that carries it and the signal's name."""

    node: str
    signal: str
    unit: str | None = None

    def __str__(self) -> str:
        return f"{self.node}.{self.signal}"


class UnknownSignalError(UnknownEntityError):
    """Data columns that are not signals of the twin."""


class SignalMap:
    """Column name → :class:`SignalRef` for a twin.

    A column may be named like the signal (``Accelerometer1RMS``) when only one node has a signal of
    that name, or qualified as ``node.signal`` (``accelerometer1.Accelerometer1RMS``).
    """

    def __init__(self, twin: TwinSpec) -> None:
        self.twin = twin
        self._qualified: dict[str, SignalRef] = {}
        self._by_name: dict[str, list[SignalRef]] = {}
        for node in twin.nodes:
            for sig in node.signals:
                ref = SignalRef(node.id, sig.name, sig.unit)
                self._qualified[f"{node.id}.{sig.name}"] = ref
                self._by_name.setdefault(sig.name, []).append(ref)

    @property
    def signal_names(self) -> list[str]:
        return list(self._by_name)

    def lookup(self, column: str) -> SignalRef | None:
        column = str(column)
        if column in self._qualified:
            return self._qualified[column]
        refs = self._by_name.get(column, [])
        if len(refs) == 1:
            return refs[0]
        if len(refs) > 1:
            options = ", ".join(f"'{r}'" for r in refs)
            raise UnknownSignalError(
                f"column {column!r} is ambiguous in twin {self.twin.name!r}: several nodes have a signal of "
                f"that name; name the column as node.signal ({options})"
            )
        return None

    def resolve(self, columns: Iterable[str]) -> dict[str, SignalRef]:
        """Every column's (node, signal); an error listing each column the twin does not know."""
        out: dict[str, SignalRef] = {}
        unknown: list[str] = []
        for col in columns:
            ref = self.lookup(col)
            if ref is None:
                unknown.append(str(col))
            else:
                out[str(col)] = ref
        if unknown:
            choices = self.signal_names + list(self._qualified)
            hints = []
            for col in unknown:
                hint = did_you_mean(col, choices)  # "; did you mean 'x'?"
                hints.append(f"{col!r}" + (f" ({hint[2:]})" if hint else ""))
            raise UnknownSignalError(
                f"{len(unknown)} column(s) are not signals of twin {self.twin.name!r}: {', '.join(hints)}; "
                f"its signals are {self.signal_names}"
            )
        return out

    def __call__(self, column: str) -> SignalRef:
        return self.resolve([column])[str(column)]
