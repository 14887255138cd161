"""What a twin can be told by telemetry: its signals, their units, ranges, periods and targets."""

from __future__ import annotations

from dataclasses import dataclass

from twinforge.data.errors import MappingError
from twinforge.errors import did_you_mean
from twinforge.spec import TwinSpec
from twinforge.spec.catalog import CATALOG
from twinforge.spec.validate import signal_target


@dataclass(frozen=True)
class SignalInfo:
    """One telemetry channel of a twin, resolved against the spec.

    ``unit`` is the unit values are stored in: the signal's own unit, else the unit of the state it
    observes. ``target_node``/``target_state`` is the state variable the signal observes
    (see :func:`twinforge.spec.validate.signal_target`), ``state_unit`` that state's unit.
    """

    node: str
    signal: str
    unit: str
    range: tuple[float, float] | None
    period_s: float
    noise_std: float
    target_node: str
    target_state: str
    state_unit: str
    state_initial: float | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.signal)

    @property
    def label(self) -> str:
        return f"{self.node}.{self.signal}"

    @property
    def observes(self) -> str:
        return f"{self.target_node}.{self.target_state}"


class SignalIndex:
    """Every signal of a twin, looked up by ``(node, signal)`` with helpful errors."""

    def __init__(self, spec: TwinSpec) -> None:
        self.spec = spec
        self.twin = spec.name
        self._by_key: dict[tuple[str, str], SignalInfo] = {}
        for node in spec.nodes:
            for sig in node.signals:
                tnode_id, tstate = signal_target(spec, node, sig)
                tnode = spec.node(tnode_id)
                state_unit = tnode.state_unit(tstate) or ""
                initial = None
                if tstate in tnode.state and tnode.state[tstate].initial is not None:
                    initial = tnode.state[tstate].initial
                else:
                    kd = CATALOG.get(tnode.kind)
                    sdef = kd.states.get(tstate) if kd else None
                    initial = sdef.initial if sdef is not None else None
                unit = sig.unit if sig.unit is not None else state_unit
                self._by_key[(node.id, sig.name)] = SignalInfo(
                    node=node.id,
                    signal=sig.name,
                    unit=unit or "",
                    range=tuple(sig.range) if sig.range is not None else None,  # type: ignore[arg-type]
                    period_s=sig.period_s,
                    noise_std=sig.noise_std,
                    target_node=tnode_id,
                    target_state=tstate,
                    state_unit=state_unit,
                    state_initial=initial,
                )

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, node: str, signal: str) -> SignalInfo | None:
        return self._by_key.get((node, signal))

    def lookup(self, node: str, signal: str, where: str = "") -> SignalInfo:
        """The signal ``signal`` of node ``node``; a :class:`MappingError` naming what is wrong."""
        info = self._by_key.get((node, signal))
        if info is not None:
            return info
        prefix = f"{where}: " if where else ""
        if not self.spec.has_node(node):
            with_signals = sorted({k[0] for k in self._by_key})
            raise MappingError(
                f"{prefix}twin {self.twin!r} has no node {node!r}{did_you_mean(node, self.spec.node_ids(), cutoff=0.5)}; "
                f"nodes with signals: {', '.join(with_signals) or 'none'}"
            )
        names = [k[1] for k in self._by_key if k[0] == node]
        if not names:
            carriers = sorted({k[0] for k in self._by_key})
            raise MappingError(
                f"{prefix}node {node!r} of twin {self.twin!r} has no signals; "
                f"nodes with signals: {', '.join(carriers) or 'none'}"
            )
        raise MappingError(
            f"{prefix}node {node!r} has no signal {signal!r}{did_you_mean(signal, names, cutoff=0.5)}; "
            f"its signals: {', '.join(names)}"
        )

    def by_signal_name(self, name: str) -> SignalInfo | None:
        """The only signal called ``name`` in the twin, or None (absent or ambiguous)."""
        found = [i for i in self._by_key.values() if i.signal == name]
        return found[0] if len(found) == 1 else None
