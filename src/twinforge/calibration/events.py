"""Event logs of stations: what a line's controller records, and what calibration reads.

The format (a CSV file, a pandas frame, or rows of the store's ``telemetry.events`` table) has one
row per event:

``node``
    the station's id in the twin;
``event``
    ``start`` (a job begins processing), ``finish`` (a job is done), ``down`` (the station stops),
    ``up`` (it runs again);
``t``
    seconds from any origin (a number), or a timestamp (ISO text in a CSV file);
``reason`` (optional)
    for ``down``/``up``: ``failure`` (a breakdown, repaired at ``up``) or ``outage`` (a planned
    stop). A ``down`` without a reason is a failure.

Rules, checked by :func:`check_event_log` (a broken log is an error naming the row, never a guess):
times are finite and never go backwards within a node; a node is a node of the twin; events are
one of the four words. A job that a ``down`` interrupts resumes at ``up`` and ends with its
``finish``: its process time is its time between ``start`` and ``finish`` minus the time the
station was down in between (one server; see :mod:`twinforge.calibration.fit`).

:func:`simulate_event_log` derives such a log from the simulator's own run (an observer on every
station), so tests and benchmarks calibrate against a twin whose parameters are known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinforge.errors import TwinforgeError, did_you_mean
from twinforge.spec.models import TwinSpec

EVENTS = ("start", "finish", "down", "up")
REASONS = ("failure", "outage")
COLUMNS = ["node", "event", "t", "reason"]


class CalibrationError(TwinforgeError):
    """Calibration input or result that cannot be used; the message says what and where."""


def _times(values: pd.Series, source: str) -> np.ndarray:
    """Seconds from numbers, or from timestamps (seconds since the epoch)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
    elif (numeric := pd.to_numeric(values, errors="coerce")).notna().all():
        return numeric.to_numpy(dtype=float)
    else:
        stamps = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    bad = stamps.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CalibrationError(
            f"{source}: row {i + 1}: t {values.iloc[i]!r} is neither a number of seconds nor a timestamp"
        )
    return (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def check_event_log(
    frame: pd.DataFrame, twin: TwinSpec | None = None, source: str = "event log"
) -> pd.DataFrame:
    """The log with ``t`` in seconds and ``reason`` filled in, or a :class:`CalibrationError` naming
    the first problem (missing column, empty log, unknown node or event, time going backwards)."""
    if not isinstance(frame, pd.DataFrame):
        raise CalibrationError(f"{source}: expected a table of events, found {type(frame).__name__}")
    missing = [c for c in ("node", "event", "t") if c not in frame.columns]
    if missing:
        raise CalibrationError(
            f"{source}: missing column(s) {', '.join(missing)}; an event log has columns "
            f"node, event, t and optionally reason (found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    if frame.empty:
        raise CalibrationError(f"{source}: the event log is empty (no rows)")
    out = frame.reset_index(drop=True).copy()
    out["node"] = out["node"].astype(str)
    out["event"] = out["event"].astype(str).str.strip().str.lower()
    bad = ~out["event"].isin(EVENTS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CalibrationError(
            f"{source}: row {i + 1}: unknown event {out['event'][i]!r}; expected one of {', '.join(EVENTS)}"
        )
    out["t"] = _times(out["t"], source)
    finite = np.isfinite(out["t"].to_numpy())
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise CalibrationError(f"{source}: row {i + 1}: t must be a finite time, found {out['t'][i]}")
    if "reason" not in out.columns:
        out["reason"] = None
    reasons = out["reason"].where(out["reason"].notna(), None)
    reasons = [
        (None if r is None or (isinstance(r, float) and math.isnan(r)) else str(r).strip().lower())
        for r in reasons
    ]
    for i, (ev, r) in enumerate(zip(out["event"], reasons, strict=True)):
        if ev in ("down", "up"):
            if r in (None, ""):
                reasons[i] = "failure"
            elif r not in REASONS:
                raise CalibrationError(
                    f"{source}: row {i + 1}: unknown reason {r!r} for {ev!r}; expected failure or outage"
                )
        else:
            reasons[i] = None
    out["reason"] = reasons
    if twin is not None:
        ids = twin.node_ids()
        for node in pd.unique(out["node"]):
            if node not in ids:
                i = int(np.flatnonzero((out["node"] == node).to_numpy())[0])
                raise CalibrationError(
                    f"{source}: row {i + 1}: node {node!r} is not in twin {twin.name!r}{did_you_mean(node, ids)}"
                )
    for node, group in out.groupby("node", sort=False):
        t = group["t"].to_numpy()
        back = np.flatnonzero(np.diff(t) < 0)
        if len(back):
            i = int(group.index[back[0] + 1])
            raise CalibrationError(
                f"{source}: row {i + 1}: time goes backwards for node {node!r} "
                f"({t[back[0] + 1]:g} s after {t[back[0]]:g} s); events of a node must be in time order"
            )
    return out[COLUMNS]


def read_event_log(path: str | Path, twin: TwinSpec | None = None) -> pd.DataFrame:
    """An event log from a CSV file (columns node, event, t[, reason]); rows are numbered as in the
    file's data (row 1 is the line after the header)."""
    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"{p}: no such event log file")
    try:
        frame = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise CalibrationError(f"{p}: the event log file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise CalibrationError(f"{p}: not a readable CSV event log ({exc})") from None
    return check_event_log(frame, twin, str(p))


def write_event_log(log: pd.DataFrame, path: str | Path) -> None:
    log[COLUMNS].to_csv(path, index=False)


def event_log_to_store(store: Any, twin: str, log: pd.DataFrame, origin: Any = "2026-01-01") -> int:
    """Store a log as rows of ``telemetry.events`` (kind = the event, payload ``{"reason": ...}``);
    times are seconds after ``origin``."""
    t0 = pd.Timestamp(origin, tz="UTC") if pd.Timestamp(origin).tzinfo is None else pd.Timestamp(origin)
    rows = pd.DataFrame(
        {
            "node": log["node"],
            "kind": log["event"],
            "timestamp": t0 + pd.to_timedelta(log["t"].to_numpy(dtype=float), unit="s"),
            "payload": [{"reason": r} if r else None for r in log["reason"]],
        }
    )
    return int(store.write_events(twin, rows))


def event_log_from_store(store: Any, twin: TwinSpec, node: str | None = None) -> pd.DataFrame:
    """The event log of ``twin`` from the store's events table (kinds start/finish/down/up)."""
    frame = store.events(twin.name, node=node)
    frame = frame[frame["kind"].isin(EVENTS)] if not frame.empty else frame
    source = f"store events of twin {twin.name!r}" + (f", node {node!r}" if node else "")
    if frame.empty:
        raise CalibrationError(f"{source}: no start/finish/down/up events stored")
    log = pd.DataFrame(
        {
            "node": frame["node"].to_numpy(),
            "event": frame["kind"].to_numpy(),
            "t": frame["timestamp"],
            "reason": [p.get("reason") if isinstance(p, dict) else None for p in frame["payload"]],
        }
    )
    return check_event_log(log, twin, source)


# -- the simulator's own trace ------------------------------------------------------------------------


@dataclass
class _StationTrace:
    """Observer of one station: turns its state changes into log rows."""

    node: str
    rows: list[tuple[str, str, float, str | None]]
    busy: int = 0
    open: int = 0  # jobs started and not finished (in process or suspended)
    processed: int = 0
    failures: int = 0
    down: bool = False

    def update(self, comp: Any) -> None:
        now = comp.kernel.now
        done = comp.processed - self.processed
        for _ in range(done):
            self.rows.append((self.node, "finish", now, None))
        self.processed = comp.processed
        self.open = max(self.open - done, 0)
        if comp.down and not self.down:
            cause = "failure" if comp.failures > self.failures else "outage"
            self.rows.append((self.node, "down", now, cause))
            self._cause = cause
        elif self.down and not comp.down:
            self.rows.append((self.node, "up", now, getattr(self, "_cause", "failure")))
        self.failures = comp.failures
        self.down = comp.down
        if not comp.down:
            new = comp.n_busy - self.open
            for _ in range(max(new, 0)):
                self.rows.append((self.node, "start", now, None))
            self.open += max(new, 0)
        self.busy = comp.n_busy


def simulate_event_log(
    twin: TwinSpec,
    horizon: float | str = "1 week",
    seed: int = 0,
    replication: int = 0,
    scenario: Any = None,
    nodes: list[str] | None = None,
) -> pd.DataFrame:
    """The event log of every station (or of ``nodes``) in one simulated run of ``twin``."""
    from twinforge.sim.components.station import Station
    from twinforge.sim.model import Model, RunOptions
    from twinforge.sim.plan import compile_twin, parse_duration

    plan = compile_twin(twin, scenario)
    model = Model(plan, seed, replication, RunOptions(horizon=parse_duration(horizon, "horizon")))
    rows: list[tuple[str, str, float, str | None]] = []
    for nid, comp in model.components.items():
        if isinstance(comp, Station) and (nodes is None or nid in nodes):
            comp.observers.append(_StationTrace(nid, rows))
    model.run()
    log = pd.DataFrame(rows, columns=COLUMNS)
    order = np.argsort(log["t"].to_numpy(), kind="stable")
    return log.iloc[order].reset_index(drop=True)


__all__ = [
    "EVENTS",
    "CalibrationError",
    "check_event_log",
    "event_log_from_store",
    "event_log_to_store",
    "read_event_log",
    "simulate_event_log",
    "write_event_log",
]
