"""State sync: the latest telemetry mapped onto the twin's state, with staleness.

:func:`sync_state` reads the newest usable sample (quality good or uncertain) of every signal,
converts it to the unit of the state variable the signal observes, and returns a
:class:`TwinState` — a plain data object (per node: state variable → value, unit, time, age,
status) that a simulation or an early warning can start from.

Staleness: a reading is **fresh** when its age is at most ``stale_after_periods`` (default 3)
sampling periods of its signal, **stale** when older, and **missing** when the signal has no
usable sample. When several signals observe the same state (redundant sensors), the newest
reading wins. States no signal observes are not in the :class:`TwinState`; the simulator takes
them from the spec's initial values. Samples time-stamped after ``at`` (clock skew) count as
fresh with a negative age.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from twinforge.data.model import Quality, UnitConverter, from_us, now_us, to_us
from twinforge.data.signals import SignalIndex, SignalInfo
from twinforge.data.store import TimeSeriesStore
from twinforge.spec import TwinSpec

Status = Literal["fresh", "stale", "missing"]


@dataclass(frozen=True)
class SignalStatus:
    """The latest reading of one signal, in the signal's unit."""

    node: str
    signal: str
    observes: str
    value: float | None
    unit: str
    timestamp: pd.Timestamp | None
    age_s: float | None
    period_s: float
    status: Status
    quality: Quality | None
    latest_bad: bool = False  # a newer sample exists but its quality is bad / out of range


@dataclass(frozen=True)
class StateReading:
    """One state variable of the twin as telemetry last saw it, in the state's unit."""

    node: str
    state: str
    value: float | None
    unit: str
    timestamp: pd.Timestamp | None
    age_s: float | None
    status: Status
    source: str  # "sensor_node.signal" that gave the value
    period_s: float


@dataclass
class TwinState:
    """The twin's observed state at ``at``: ``readings[node][state] -> StateReading``."""

    twin: str
    at: pd.Timestamp
    readings: dict[str, dict[str, StateReading]] = field(default_factory=dict)
    signals: list[SignalStatus] = field(default_factory=list)

    def __iter__(self) -> Iterator[StateReading]:
        for states in self.readings.values():
            yield from states.values()

    def get(self, node: str, state: str) -> StateReading:
        try:
            return self.readings[node][state]
        except KeyError:
            observed = ", ".join(f"{r.node}.{r.state}" for r in self) or "none"
            raise KeyError(f"no signal observes {node}.{state}; observed states: {observed}") from None

    def value(self, node: str, state: str) -> float | None:
        return self.get(node, state).value

    def values(self, include_stale: bool = True) -> dict[str, dict[str, float]]:
        """``{node: {state: value}}`` in state units — what a simulation starts from."""
        out: dict[str, dict[str, float]] = {}
        for r in self:
            if r.value is None or (r.status == "stale" and not include_stale):
                continue
            out.setdefault(r.node, {})[r.state] = r.value
        return out

    def to_mapping(self) -> dict[str, dict[str, float]]:
        """``{node: {state: value}}`` of every reading (fresh or stale) — the form the simulator's
        starting state and early warning accept (see ``twinforge.sim.starting_state``)."""
        return self.values(include_stale=True)

    def counts(self) -> dict[str, int]:
        out = {"fresh": 0, "stale": 0, "missing": 0}
        for r in self:
            out[r.status] += 1
        return out

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "node": r.node,
                "state": r.state,
                "value": r.value,
                "unit": r.unit,
                "timestamp": r.timestamp,
                "age_s": r.age_s,
                "status": r.status,
                "source": r.source,
            }
            for r in self
        ]
        return pd.DataFrame(
            rows, columns=["node", "state", "value", "unit", "timestamp", "age_s", "status", "source"]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "twin": self.twin,
            "at": self.at.isoformat(),
            "states": {
                node: {
                    s: {
                        "value": r.value,
                        "unit": r.unit,
                        "timestamp": r.timestamp.isoformat() if r.timestamp is not None else None,
                        "age_s": r.age_s,
                        "status": r.status,
                        "source": r.source,
                    }
                    for s, r in states.items()
                }
                for node, states in self.readings.items()
            },
        }


def signal_statuses(
    spec: TwinSpec, store: TimeSeriesStore, *, at: Any = None, stale_after_periods: float = 3.0
) -> list[SignalStatus]:
    """Latest usable reading of every signal of the twin, with age and status."""
    at_us = now_us() if at is None else to_us(at)
    usable = store.latest_all(spec.name, usable_only=True)
    anyq = store.latest_all(spec.name)
    good = {(r.node, r.signal): r for r in usable.itertuples(index=False)}
    newest = {(r.node, r.signal): r for r in anyq.itertuples(index=False)}
    out = []
    for info in SignalIndex(spec):
        row = good.get(info.key)
        latest = newest.get(info.key)
        latest_bad = latest is not None and (row is None or latest.timestamp > row.timestamp)
        if row is None:
            out.append(
                SignalStatus(
                    info.node,
                    info.signal,
                    info.observes,
                    None,
                    info.unit,
                    None,
                    None,
                    info.period_s,
                    "missing",
                    None,
                    latest_bad,
                )
            )
            continue
        ts = pd.Timestamp(row.timestamp)
        age = (at_us - to_us(ts)) / 1e6
        status: Status = "fresh" if age <= stale_after_periods * info.period_s else "stale"
        out.append(
            SignalStatus(
                info.node,
                info.signal,
                info.observes,
                float(row.value),
                info.unit,
                ts,
                age,
                info.period_s,
                status,
                Quality(int(row.quality)),
                latest_bad,
            )
        )
    return out


def sync_state(
    spec: TwinSpec, store: TimeSeriesStore, *, at: Any = None, stale_after_periods: float = 3.0
) -> TwinState:
    """The twin's state from the newest telemetry in ``store`` (see the module doc)."""
    at_us = now_us() if at is None else to_us(at)
    statuses = signal_statuses(spec, store, at=at_us / 1e6, stale_after_periods=stale_after_periods)
    infos: dict[tuple[str, str], SignalInfo] = {i.key: i for i in SignalIndex(spec)}
    state = TwinState(twin=spec.name, at=from_us(at_us), signals=statuses)
    rank = {"fresh": 2, "stale": 1, "missing": 0}
    for st in statuses:
        info = infos[(st.node, st.signal)]
        value = None
        if st.value is not None:
            value = (
                UnitConverter(info.unit, info.state_unit)(st.value)
                if info.unit != info.state_unit
                else st.value
            )
        reading = StateReading(
            node=info.target_node,
            state=info.target_state,
            value=value,
            unit=info.state_unit,
            timestamp=st.timestamp,
            age_s=st.age_s,
            status=st.status,
            source=f"{st.node}.{st.signal}",
            period_s=st.period_s,
        )
        current = state.readings.get(info.target_node, {}).get(info.target_state)
        better = current is None or (
            rank[reading.status],
            reading.timestamp or pd.Timestamp.min.tz_localize("UTC"),
        ) > (rank[current.status], current.timestamp or pd.Timestamp.min.tz_localize("UTC"))
        if better:
            state.readings.setdefault(info.target_node, {})[info.target_state] = reading
    return state
