"""Sensor time series for topology learning: a wide table (one row per time, one column per signal),
each signal with its name, unit and the twin node it belongs to.

Rules:

- a column named ``time``, ``timestamp``, ``t`` or ``datetime`` (any case) is the time axis; rows
  are sorted by it and the sampling period is its median step (seconds). Without one, rows are
  taken as equally spaced samples;
- a header ``name [unit]`` or ``name (unit)`` carries the unit;
- with a twin, a column maps to a node by ``node.signal`` / ``node/signal``, by a signal name that
  is unique in the twin, or by a node id; a sensor maps to the node it observes. Without a twin,
  every column is its own node;
- cells that are empty or not numbers are missing; a column with no number at all, a table with
  fewer than two usable signals or fewer than 30 rows is an error naming the column or the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twinforge.errors import TwinforgeError
from twinforge.spec import Node, Signal, TwinSpec

TIME_COLUMNS = ("time", "timestamp", "t", "datetime", "date")
MIN_ROWS = 30
_UNIT_RE = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


class TopologyInputError(TwinforgeError):
    """The sensor data (or its mapping onto a twin) cannot be used to learn a topology."""


@dataclass(frozen=True)
class SignalInfo:
    """One column: its header, signal name, unit and node (the column itself without a twin)."""

    column: str
    name: str
    unit: str | None
    node: str

    @property
    def text(self) -> str:
        """What the name embedding reads: node and signal name in words."""
        words = f"{self.node} {self.name}" if self.node != self.name else self.name
        return re.sub(r"[_.\-/]+", " ", words).strip()


@dataclass
class SignalData:
    """Numeric values ``(rows, signals)`` with one :class:`SignalInfo` per column."""

    values: np.ndarray
    infos: list[SignalInfo]
    period_s: float | None
    source: str = "<data>"

    @property
    def nodes(self) -> list[str]:
        return list(dict.fromkeys(i.node for i in self.infos))


def read_signals(path: str | Path, twin: TwinSpec | None = None) -> SignalData:
    """Read a CSV (or Parquet) file of sensor series; see the module rules."""
    p = Path(path)
    if not p.is_file():
        raise TopologyInputError(f"{p}: no such file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise TopologyInputError(f"{p}: cannot read as a table ({exc})") from None
    return signals_from_frame(frame, twin, source=str(p))


def signals_from_frame(
    frame: pd.DataFrame, twin: TwinSpec | None = None, source: str = "<data>"
) -> SignalData:
    """Check and convert a wide table; see the module rules."""
    if frame.shape[1] == 0:
        raise TopologyInputError(f"{source}: the table has no columns")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise TopologyInputError(f"{source}: column {dup!r} appears twice")
    time_col = next((c for c in columns if c.strip().lower() in TIME_COLUMNS), None)
    period = None
    if time_col is not None:
        times = _seconds(frame[time_col], source, time_col)
        order = np.argsort(times, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        steps = np.diff(times[order])
        steps = steps[np.isfinite(steps) & (steps > 0)]
        period = float(np.median(steps)) if len(steps) else None
    data_cols = [c for c in columns if c != time_col]
    if len(frame) < MIN_ROWS:
        raise TopologyInputError(
            f"{source}: {len(frame)} row(s); topology learning needs at least {MIN_ROWS} samples"
        )
    values, infos = [], []
    for col in data_cols:
        raw = frame[col]
        num = pd.to_numeric(raw.replace("", np.nan), errors="coerce").to_numpy(dtype=np.float64, copy=True)
        num[~np.isfinite(num)] = np.nan
        if not np.isfinite(num).any():
            present = raw.replace("", np.nan).dropna()
            if len(present):
                raise TopologyInputError(
                    f"{source}: column {col!r} holds no numbers (e.g. {str(present.iloc[0])[:40]!r} "
                    f"in row {int(present.index[0]) + 2})"
                )
            raise TopologyInputError(f"{source}: column {col!r} is empty (every value is missing)")
        name, unit = _name_unit(col)
        values.append(num)
        infos.append(SignalInfo(column=col, name=name, unit=unit, node=name))
    if len(infos) < 2:
        raise TopologyInputError(
            f"{source}: {len(infos)} signal column(s)"
            + (f" besides the time column {time_col!r}" if time_col else "")
            + "; topology learning needs at least two"
        )
    if twin is not None:
        infos = [_map_to_twin(i, twin, source) for i in infos]
    return SignalData(np.column_stack(values), infos, period, source)


def _seconds(col: pd.Series, source: str, name: str) -> np.ndarray:
    is_date = pd.api.types.is_datetime64_any_dtype(col)
    num = pd.to_numeric(col.replace("", np.nan) if col.dtype == object else col, errors="coerce")
    if not is_date and num.notna().mean() > 0.9:
        return num.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(col, errors="coerce", utc=True)
    if parsed.notna().mean() < 0.9:
        bad = col[parsed.isna()].iloc[0] if parsed.isna().any() else ""
        raise TopologyInputError(
            f"{source}: time column {name!r} holds values that are neither numbers nor dates "
            f"(e.g. {str(bad)[:40]!r})"
        )
    seconds = ((parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
        dtype=np.float64, copy=True
    )
    seconds[parsed.isna().to_numpy()] = np.nan
    return seconds


def _name_unit(header: str) -> tuple[str, str | None]:
    m = _UNIT_RE.match(header)
    if m and m.group("name").strip():
        return m.group("name").strip(), m.group("unit").strip()
    return header.strip(), None


def _map_to_twin(info: SignalInfo, twin: TwinSpec, source: str) -> SignalInfo:
    """The node (and unit) of a column according to the twin."""
    name = info.name
    candidates: list[tuple[str, str | None, str]] = []  # (node, unit, signal)
    for sep in (".", "/"):
        if sep in name:
            node_id, sig = name.split(sep, 1)
            if twin.has_node(node_id):
                node = twin.node(node_id)
                hits = [s for s in node.signals if s.name == sig] or [None]  # type: ignore[list-item]
                candidates = [(node_id, hits[0].unit if hits[0] else None, sig)]
                break
    if not candidates:
        candidates = [(n.id, s.unit, s.name) for n in twin.nodes for s in n.signals if s.name == name]
        if len(candidates) > 1:
            where = ", ".join(c[0] for c in candidates)
            raise TopologyInputError(
                f"{source}: column {info.column!r} matches signal {name!r} of several nodes ({where}); "
                "name it 'node.signal'"
            )
    if not candidates and twin.has_node(name):
        candidates = [(name, None, name)]
    if not candidates:
        raise TopologyInputError(
            f"{source}: column {info.column!r} matches no node or signal of twin {twin.name!r} "
            "(expected 'node.signal', a unique signal name or a node id)"
        )
    node_id, unit, sig = candidates[0]
    node = twin.node(node_id)
    if node.kind == "sensor" and node.observes:
        node_id = node.observes.split(".", 1)[0]
    return SignalInfo(column=info.column, name=sig, unit=info.unit or unit, node=node_id)


#: what the sensor on an item-flow node reports, for a plant whose graph is to be learned
ITEM_STATES = {"source": "released", "buffer": "level", "conveyor": "occupancy", "sink": "count"}


def with_item_sensors(spec: TwinSpec, period_s: float = 5.0) -> tuple[TwinSpec, set[str]]:
    """A copy of a line twin with only its material edges, its own sensors and signals removed, and
    one sensor per item-flow node (:data:`ITEM_STATES`); and the nodes so observed. Simulating it
    gives the telemetry of a plant whose graph is known (tests and ``benchmarks/topology.py``)."""
    out = spec.model_copy(deep=True)
    out.nodes = [n.model_copy(update={"signals": []}) for n in out.nodes if n.kind != "sensor"]
    out.edges = [e for e in out.edges if e.kind == "material"]
    observed = {n.id for n in out.nodes if n.kind in ITEM_STATES}
    out.nodes += [
        Node(
            id=f"{nid}_{ITEM_STATES[kind]}",
            kind="sensor",
            observes=f"{nid}.{ITEM_STATES[kind]}",
            signals=[Signal(name=ITEM_STATES[kind], period=period_s)],
        )
        for nid, kind in ((n.id, n.kind) for n in out.nodes if n.id in observed)
    ]
    return out, observed
