"""Maintenance-log operations: ingest, search, failure modes, trends — what every face calls.

>>> from twinforge.data import open_store
>>> from twinforge.maintenance import ingest, search, failure_modes, trends
>>> with open_store("plant.duckdb") as store:
...     report = ingest("work_orders.csv", store, spec=twin)       # read, link, extract, classify, embed, cluster
...     result = search(store, "bucket cylinder leaking last winter")
...     modes = failure_modes(store)
...     monthly, undated = trends(store, "C")

Embeddings come from :func:`twinforge.ai.get_embedder` (local all-MiniLM-L6-v2, audited) unless an
embedder is passed; the language model (:func:`twinforge.ai.get_llm`) is used only when
``llm_fill=True`` and only for fields the rules left empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinforge.maintenance import storage
from twinforge.maintenance.classify import classify
from twinforge.maintenance.extract import Extraction, extract, fill_with_llm
from twinforge.maintenance.link import link_orders
from twinforge.maintenance.modes import cluster_failures
from twinforge.maintenance.records import MaintenanceError, WorkOrder, read_work_orders
from twinforge.maintenance.search import SearchHit, When, rank, search_text, split_when

#: twin name used when work orders are ingested without a twin
DEFAULT_TWIN = "logs"


def analyse(orders: list[WorkOrder], *, llm_fill: bool = False, llm: Any = None) -> int:
    """Extract (part, problem, action) and classify every order in place; the LLM count used."""
    used = 0
    for order in orders:
        found = extract(order.text)
        if llm_fill and order.text.strip():
            filled, info = fill_with_llm(order.text, found, llm)
            used += bool(info)
            found = filled
        order.part, order.problem, order.action = found.part, found.problem, found.action
        order.fmc, order.fmc_how = classify(order.text, Extraction(found.part, found.problem, found.action))
    return used


@dataclass
class IngestReport:
    source: str
    twin: str
    read: int
    stored: int
    flagged: dict[str, int] = field(default_factory=dict)
    linked: int | None = None
    embedded: int = 0
    modes: int = 0
    llm_calls: int = 0
    classes: dict[str, int] = field(default_factory=dict)


def _embedder(embedder: Any) -> Any:
    if embedder is not None:
        return embedder
    from twinforge.ai import get_embedder

    return get_embedder()


def ingest(
    path: str | Path,
    store: Any,
    *,
    spec: Any = None,
    twin: str | None = None,
    embed: bool = True,
    embedder: Any = None,
    llm_fill: bool = False,
    llm: Any = None,
) -> IngestReport:
    """Read a work-order file into the store: link to ``spec``'s nodes (when given), extract,
    classify, embed for search and re-cluster the twin's failure modes."""
    orders = read_work_orders(path)
    twin_name = twin or (spec.name if spec is not None else DEFAULT_TWIN)
    return ingest_orders(
        orders, store, spec=spec, twin=twin_name, source=str(path), embed=embed, embedder=embedder,
        llm_fill=llm_fill, llm=llm,
    )  # fmt: skip


def ingest_orders(
    orders: list[WorkOrder],
    store: Any,
    *,
    spec: Any = None,
    twin: str = DEFAULT_TWIN,
    source: str = "",
    embed: bool = True,
    embedder: Any = None,
    llm_fill: bool = False,
    llm: Any = None,
) -> IngestReport:
    """:func:`ingest` for orders already read."""
    linked = link_orders(orders, spec) if spec is not None else None
    used = analyse(orders, llm_fill=llm_fill, llm=llm)
    ids = storage.write_orders(store, twin, orders)
    flagged: dict[str, int] = {}
    for o in orders:
        for f in o.flags:
            flagged[f] = flagged.get(f, 0) + 1
    classes: dict[str, int] = {}
    for o in orders:
        classes[o.fmc] = classes.get(o.fmc, 0) + 1
    report = IngestReport(
        source, twin, len(orders), len(ids), flagged, linked, llm_calls=used, classes=classes
    )
    if embed and ids:
        report.embedded = embed_orders(store, ids, embedder)
        report.modes = len(refresh_modes(store, twin))
    return report


def embed_orders(store: Any, ids: list[int], embedder: Any = None) -> int:
    emb = _embedder(embedder)
    frame = storage.read_orders(store, ids=ids)
    if frame.empty:
        return 0
    vectors = emb.embed([search_text(t) for t in frame["text"]])
    storage.write_vectors(store, [int(i) for i in frame["id"]], vectors, emb.model)
    return len(frame)


def refresh_modes(store: Any, twin: str) -> pd.DataFrame:
    """Re-cluster the twin's failure modes from the stored embeddings; the modes."""
    orders = storage.read_orders(store, twin)
    found, vectors, _models = storage.read_vectors(store, [int(i) for i in orders["id"]])
    orders = orders[orders["id"].isin(found)].sort_values("id").reset_index(drop=True)
    if orders.empty:
        storage.write_modes(store, twin, pd.DataFrame(), {})
        return pd.DataFrame()
    modes, assignment = cluster_failures(orders.fillna({"problem": "", "fmc": "", "part": ""}), vectors)
    storage.write_modes(store, twin, modes, assignment)
    return modes


@dataclass
class SearchResult:
    query: str
    text_query: str
    when: When | None
    today: datetime | None
    hits: list[SearchHit]
    searched: int


def search(
    store: Any,
    query: str,
    *,
    twin: str | None = None,
    asset: str | None = None,
    k: int = 10,
    today: datetime | None = None,
    hemisphere: str = "north",
    embedder: Any = None,
) -> SearchResult:
    """The ``k`` work orders closest in meaning to ``query``; a date phrase in it filters by time."""
    if not query.strip():
        raise MaintenanceError("search: the query is empty")
    storage.ensure_schema(store)
    if today is None:
        latest = storage._run(
            store,
            "SELECT max(ts) AS t FROM maintenance.work_orders" + (" WHERE twin = ?" if twin else ""),
            [twin] if twin else None,
        )["t"].iloc[0]
        today = None if pd.isna(latest) else pd.Timestamp(latest).to_pydatetime()
    text_query, when = split_when(query, today or datetime.now(), hemisphere=hemisphere)
    orders = storage.read_orders(
        store, twin, asset=asset, start=when.start if when else None, end=when.end if when else None
    )
    if orders.empty:
        return SearchResult(query, text_query, when, today, [], 0)
    found, vectors, models = storage.read_vectors(store, [int(i) for i in orders["id"]])
    if not found:
        raise MaintenanceError(
            "search: the work orders have no embeddings; ingest them again with embedding on"
        )
    emb = _embedder(embedder)
    if models - {emb.model}:
        raise MaintenanceError(
            f"search: work orders were embedded with {sorted(models)}, the configured embedder is "
            f"{emb.model!r}; ingest them again"
        )
    by_id = orders.set_index("id")
    if not text_query.strip():  # only a date phrase: newest first
        ids = list(orders["id"])[::-1][:k]
        scores = [1.0] * len(ids)
    else:
        s = rank(vectors, emb.embed([search_text(text_query)])[0])
        order = np.argsort(-s, kind="stable")[:k]
        ids = [found[i] for i in order]
        scores = [float(s[i]) for i in order]
    hits = []
    for i, score in zip(ids, scores, strict=True):
        row = by_id.loc[i]
        date = None if pd.isna(row["ts"]) else pd.Timestamp(row["ts"]).to_pydatetime()
        hits.append(SearchHit(int(i), score, str(row["text"]), date, row["asset"]))
    return SearchResult(query, text_query, when, today, hits, len(found))


def _txt(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def node_orders(
    store: Any,
    twin: str,
    nodes: list[str],
    *,
    text: str | None = None,
    k: int = 3,
    embedder: Any = None,
) -> tuple[list[dict[str, Any]], str]:
    """The ``k`` stored work orders of ``twin`` about any of ``nodes`` (linked node or asset name):
    the closest in meaning to ``text`` when it is given and they have embeddings, else the newest
    (undated last); and how they were ranked. No maintenance tables in the store: none."""
    if not nodes or not storage.has_schema(store):
        return [], "no work orders stored"
    frames = [storage.read_orders(store, twin, asset=n) for n in dict.fromkeys(nodes)]
    orders = pd.concat([f for f in frames if not f.empty] or frames[:1]).drop_duplicates("id")
    if orders.empty:
        return [], "no work orders of " + ", ".join(dict.fromkeys(nodes))
    scores: dict[int, float] = {}
    how = "newest first"
    if text and text.strip():
        found, vectors, models = storage.read_vectors(store, [int(i) for i in orders["id"]])
        if found:
            emb = _embedder(embedder)
            if not models - {emb.model}:
                s = rank(vectors, emb.embed([search_text(text)])[0])
                scores = {i: float(v) for i, v in zip(found, s, strict=True)}
                how = f"closest in meaning to {text!r}"
    orders = orders.assign(
        _score=[scores.get(int(i), -np.inf) for i in orders["id"]],
        _t=pd.to_datetime(orders["ts"]).fillna(pd.Timestamp.min),
    ).sort_values(["_score", "_t", "id"], ascending=False, kind="stable")
    out = []
    for row in orders.head(k).itertuples(index=False):
        date = None if pd.isna(row.ts) else pd.Timestamp(row.ts).date().isoformat()
        out.append(
            {
                "id": int(row.id),
                "date": date or _txt(row.date_text),
                "node": _txt(row.node),
                "asset": _txt(row.asset),
                "text": str(row.text),
                "fmc": _txt(row.fmc),
                "similarity": None if int(row.id) not in scores else round(scores[int(row.id)], 4),
            }
        )
    return out, how


def failure_modes(store: Any, twin: str | None = None) -> pd.DataFrame:
    """The stored recurring failure modes (``twin, mode, label, size, fmc, terms``), largest first."""
    return storage.read_modes(store, twin)


def trends(store: Any, asset: str, twin: str | None = None) -> tuple[pd.DataFrame, int]:
    """Work orders per month per failure mode for ``asset`` (a month x class table) and the
    number of its undated work orders."""
    frame, undated = storage.trends(store, asset, twin)
    if frame.empty and not undated:
        known = storage._run(
            store, "SELECT DISTINCT asset FROM maintenance.work_orders WHERE asset IS NOT NULL"
        )
        names = ", ".join(sorted(str(a) for a in known["asset"])[:20]) or "none"
        raise MaintenanceError(f"no work orders for asset {asset!r}; assets in the store: {names}")
    if frame.empty:
        return pd.DataFrame(), undated
    table = frame.pivot_table(index="month", columns="fmc", values="count", aggfunc="sum", fill_value=0)
    table.index = pd.to_datetime(table.index).strftime("%Y-%m")
    return table.astype(int), undated
