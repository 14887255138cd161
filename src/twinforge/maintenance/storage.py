"""Work orders in the DuckDB store, in their own schema ``maintenance`` (the store's own
``telemetry`` tables are untouched; ``telemetry.text_records`` needs a valid time, and a work order
with an unreadable date must be kept):

``maintenance.work_orders``  one row per line read: ``id, twin, source, line, ts`` (NULL when the
                             date could not be read), ``date_text, asset, node, link_confidence,
                             link_how, text, cost, flags`` (comma-separated), ``part, problem,
                             action, fmc, fmc_how, mode`` (the recurring failure mode, or NULL)
``maintenance.vectors``      ``id, model, vector`` (float[]): the search embeddings
``maintenance.modes``        ``twin, mode, label, size, fmc, terms``

Re-ingesting a source replaces that source's rows for the twin (last import wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from twinforge.maintenance.records import MaintenanceError, WorkOrder

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS maintenance;
CREATE SEQUENCE IF NOT EXISTS maintenance.order_ids START 1;
CREATE TABLE IF NOT EXISTS maintenance.work_orders (
    id BIGINT PRIMARY KEY DEFAULT nextval('maintenance.order_ids'),
    twin VARCHAR NOT NULL, source VARCHAR, line INTEGER, ts TIMESTAMP, date_text VARCHAR,
    asset VARCHAR, node VARCHAR, link_confidence DOUBLE, link_how VARCHAR, text VARCHAR NOT NULL,
    cost DOUBLE, flags VARCHAR, part VARCHAR, problem VARCHAR, action VARCHAR, fmc VARCHAR,
    fmc_how VARCHAR, mode INTEGER);
CREATE TABLE IF NOT EXISTS maintenance.vectors (id BIGINT PRIMARY KEY, model VARCHAR, vector FLOAT[]);
CREATE TABLE IF NOT EXISTS maintenance.modes (
    twin VARCHAR NOT NULL, mode INTEGER NOT NULL, label VARCHAR, size INTEGER, fmc VARCHAR,
    terms VARCHAR, PRIMARY KEY (twin, mode));
"""

_COLUMNS = [
    "twin",
    "source",
    "line",
    "ts",
    "date_text",
    "asset",
    "node",
    "link_confidence",
    "link_how",
    "text",
    "cost",
    "flags",
    "part",
    "problem",
    "action",
    "fmc",
    "fmc_how",
]


def _run(store: Any, sql: str, params: Sequence[Any] | None = None, **frames: pd.DataFrame) -> Any:
    """Run SQL on the store's connection under its lock (registering ``frames`` by name)."""
    with store._lock:
        con = store._con
        for name, frame in frames.items():
            con.register(name, frame)
        try:
            cur = con.execute(sql, params) if params is not None else con.execute(sql)
            return cur.df() if cur.description else None
        finally:
            for name in frames:
                con.unregister(name)


def has_schema(store: Any) -> bool:
    found = _run(
        store,
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'maintenance' "
        "AND table_name = 'work_orders'",
    )
    return bool(found["n"].iloc[0])


def ensure_schema(store: Any) -> None:
    if store.read_only:
        if not has_schema(store):
            raise MaintenanceError(
                f"store {store.path} holds no work orders; run 'twinforge logs ingest FILE --store {store.path}'"
            )
        return
    _run(store, _SCHEMA)


def write_orders(store: Any, twin: str, orders: Sequence[WorkOrder]) -> list[int]:
    """Store ``orders`` (replacing earlier rows of the same sources for ``twin``); their new ids."""
    if store.read_only:
        raise MaintenanceError(f"store {store.path} is open read-only")
    ensure_schema(store)
    if not orders:
        return []
    frame = pd.DataFrame(
        {
            "twin": [twin] * len(orders),
            "source": [o.source for o in orders],
            "line": pd.array([o.line for o in orders], dtype="Int64"),
            "ts": pd.to_datetime([o.date for o in orders]),
            "date_text": [o.date_text for o in orders],
            "asset": [o.asset for o in orders],
            "node": [o.node for o in orders],
            "link_confidence": [float(o.link_confidence) for o in orders],
            "link_how": [o.link_how for o in orders],
            "text": [o.text for o in orders],
            "cost": pd.array([o.cost for o in orders], dtype="Float64"),
            "flags": [",".join(o.flags) for o in orders],
            "part": [o.part for o in orders],
            "problem": [o.problem for o in orders],
            "action": [o.action for o in orders],
            "fmc": [o.fmc for o in orders],
            "fmc_how": [o.fmc_how for o in orders],
        }
    )
    sources = sorted({o.source for o in orders})
    cols = ", ".join(_COLUMNS)
    with store._lock:
        _run(store, "BEGIN TRANSACTION")
        try:
            marks = ", ".join("?" for _ in sources)
            _run(
                store,
                "DELETE FROM maintenance.vectors WHERE id IN (SELECT id FROM maintenance.work_orders "
                f"WHERE twin = ? AND source IN ({marks}))",
                [twin, *sources],
            )
            _run(
                store,
                f"DELETE FROM maintenance.work_orders WHERE twin = ? AND source IN ({marks})",
                [twin, *sources],
            )
            ids = _run(
                store,
                f"INSERT INTO maintenance.work_orders ({cols}) SELECT {cols} FROM _tf_orders RETURNING id",
                _tf_orders=frame,
            )
            _run(store, "COMMIT")
        except BaseException:
            _run(store, "ROLLBACK")
            raise
    return sorted(int(i) for i in ids["id"])


def read_orders(
    store: Any,
    twin: str | None = None,
    *,
    asset: str | None = None,
    start: Any = None,
    end: Any = None,
    ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Stored work orders (all columns), oldest first; undated ones last. ``asset`` matches the
    asset text or the linked node; ``start``/``end`` (end exclusive) drop undated rows."""
    ensure_schema(store)
    where, params = ["true"], []
    if twin is not None:
        where.append("twin = ?")
        params.append(twin)
    if asset is not None:
        where.append("(lower(asset) = lower(?) OR lower(node) = lower(?))")
        params += [asset, asset]
    if start is not None:
        where.append("ts >= ?")
        params.append(pd.Timestamp(start).to_pydatetime())
    if end is not None:
        where.append("ts < ?")
        params.append(pd.Timestamp(end).to_pydatetime())
    if ids is not None:
        if not ids:
            return _run(store, "SELECT * FROM maintenance.work_orders WHERE false")
        where.append(f"id IN ({', '.join(str(int(i)) for i in ids)})")
    return _run(
        store,
        f"SELECT * FROM maintenance.work_orders WHERE {' AND '.join(where)} ORDER BY ts NULLS LAST, id",
        params,
    )


def write_vectors(store: Any, ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
    frame = pd.DataFrame({"id": list(ids), "model": model, "vector": [v.astype(np.float32) for v in vectors]})
    _run(store, "DELETE FROM maintenance.vectors WHERE id IN (SELECT id FROM _tf_vectors)", _tf_vectors=frame)
    _run(
        store, "INSERT INTO maintenance.vectors SELECT id, model, vector FROM _tf_vectors", _tf_vectors=frame
    )


def read_vectors(store: Any, ids: Sequence[int]) -> tuple[list[int], np.ndarray, set[str]]:
    """(ids found, their vectors, the models that made them)."""
    if not ids:
        return [], np.zeros((0, 0), np.float32), set()
    frame = _run(
        store,
        "SELECT id, model, vector FROM maintenance.vectors WHERE id IN (SELECT id FROM _tf_ids) ORDER BY id",
        _tf_ids=pd.DataFrame({"id": list(ids)}),
    )
    if frame.empty:
        return [], np.zeros((0, 0), np.float32), set()
    return (
        [int(i) for i in frame["id"]],
        np.stack([np.asarray(v, dtype=np.float32) for v in frame["vector"]]),
        set(frame["model"]),
    )


def write_modes(store: Any, twin: str, modes: pd.DataFrame, assignment: dict[int, int]) -> None:
    """Replace the twin's failure modes; ``assignment`` maps work-order id to mode."""
    _run(store, "DELETE FROM maintenance.modes WHERE twin = ?", [twin])
    _run(store, "UPDATE maintenance.work_orders SET mode = NULL WHERE twin = ?", [twin])
    if modes.empty:
        return
    frame = modes.assign(twin=twin)[["twin", "mode", "label", "size", "fmc", "terms"]]
    _run(store, "INSERT INTO maintenance.modes SELECT * FROM _tf_modes", _tf_modes=frame)
    pairs = pd.DataFrame({"id": list(assignment), "mode": list(assignment.values())})
    _run(
        store,
        "UPDATE maintenance.work_orders w SET mode = p.mode FROM _tf_pairs p WHERE w.id = p.id",
        _tf_pairs=pairs,
    )


def read_modes(store: Any, twin: str | None = None) -> pd.DataFrame:
    ensure_schema(store)
    cond, params = ("WHERE twin = ?", [twin]) if twin else ("", [])
    return _run(store, f"SELECT * FROM maintenance.modes {cond} ORDER BY twin, size DESC, mode", params)


def twins(store: Any) -> list[str]:
    ensure_schema(store)
    return list(_run(store, "SELECT DISTINCT twin FROM maintenance.work_orders ORDER BY twin")["twin"])


def trends(store: Any, asset: str, twin: str | None = None) -> tuple[pd.DataFrame, int]:
    """Failures per month per failure mode for one asset (asset text or linked node):
    a frame ``month, fmc, count`` and the number of that asset's undated work orders."""
    ensure_schema(store)
    where, params = "(lower(asset) = lower(?) OR lower(node) = lower(?))", [asset, asset]
    if twin:
        where += " AND twin = ?"
        params.append(twin)
    frame = _run(
        store,
        f"SELECT date_trunc('month', ts) AS month, fmc, count(*) AS count FROM maintenance.work_orders "
        f"WHERE {where} AND ts IS NOT NULL GROUP BY ALL ORDER BY month, fmc",
        params,
    )
    undated = _run(
        store, f"SELECT count(*) AS n FROM maintenance.work_orders WHERE {where} AND ts IS NULL", params
    )
    return frame, int(undated["n"].iloc[0])
