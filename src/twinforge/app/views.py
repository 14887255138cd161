"""JSON views of twins and results, shared by every face (API, web app, CLI ``--json``).

Everything returned here is plain JSON: numbers that are not finite become ``None``, times become
ISO-8601 strings in UTC.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from twinforge.spec import TwinSpec
from twinforge.spec.catalog import CATALOG


def clean(value: Any) -> Any:
    """``value`` as JSON: NaN/inf → None, numpy scalars → Python, timestamps → ISO strings."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [clean(v) for v in value]
    if value is pd.NaT:
        return None
    if hasattr(value, "item"):  # other numpy scalars
        return clean(value.item())
    return str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A data frame as a list of JSON rows."""
    if frame is None or frame.empty:
        return []
    return [clean(row) for row in frame.to_dict(orient="records")]


def twin_summary(spec: TwinSpec, version: int | None = None) -> dict[str, Any]:
    from twinforge.plan.schema import engine_of

    kinds: dict[str, int] = {}
    for n in spec.nodes:
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    return {
        "name": spec.name,
        "description": spec.description,
        "engine": engine_of(spec),
        "nodes": len(spec.nodes),
        "edges": len(spec.edges),
        "kinds": kinds,
        "products": list(spec.products),
        "currency": spec.currency,
        "signals": sum(len(n.signals) for n in spec.nodes),
        "version": version,
    }


def _param(name: str, p: Any, kind: str) -> dict[str, Any]:
    pdef = CATALOG[kind].params.get(name) if kind in CATALOG else None
    return {
        "name": name,
        "value": clean(p.value),
        "unit": p.unit or (pdef.unit if pdef else None),
        "by_product": clean(p.by_product) if p.by_product else None,
        "distribution": p.distribution.model_dump(mode="json") if p.distribution is not None else None,
        "description": (pdef.description if pdef else None) or p.description,
        "setpoint": bool(pdef.setpoint) if pdef else False,
    }


def node_detail(spec: TwinSpec, node_id: str) -> dict[str, Any]:
    """A node with its parameters (value, unit, meaning), states and signals."""
    node = spec.node(node_id)
    return {
        "id": node.id,
        "name": node.name,
        "kind": node.kind,
        "description": node.description,
        "parameters": [_param(k, p, node.kind) for k, p in node.parameters.items()],
        "state": {k: clean(v.model_dump(mode="json")) for k, v in node.state.items()},
        "signals": signals_of(spec, node_id),
        "observes": node.observes,
        "location": node.location.model_dump(mode="json") if node.location else None,
    }


def signals_of(spec: TwinSpec, node_id: str | None = None) -> list[dict[str, Any]]:
    """The twin's signals (of ``node_id``'s own sensors or observing it, when given): node, signal,
    unit, sampling period and the state it observes."""
    from twinforge.data.signals import SignalIndex

    return [
        {
            "node": i.node,
            "signal": i.signal,
            "unit": i.unit,
            "period_s": i.period_s,
            "observes": i.observes,
            "range": list(i.range) if i.range else None,
        }
        for i in SignalIndex(spec)
        if node_id is None or i.node == node_id or i.target_node == node_id
    ]


def _positions(spec: TwinSpec) -> dict[str, tuple[float, float]]:
    """Where to draw each node: its coordinates when the twin gives them, else a layered layout
    along the material flow (sources left, sinks right), sensors next to what they observe."""
    nodes = [n for n in spec.nodes if n.kind != "sensor"]
    located = [n for n in nodes if n.location and n.location.lon is not None and n.location.lat is not None]
    pos: dict[str, tuple[float, float]] = {}
    if nodes and len(located) == len(nodes):
        pos = {n.id: (float(n.location.lon), float(n.location.lat)) for n in located}  # type: ignore[union-attr]
    else:
        g = nx.DiGraph()
        g.add_nodes_from(n.id for n in nodes)
        g.add_edges_from((e.source, e.target) for e in spec.edges if e.source in g and e.target in g)
        layer: dict[str, int] = {}
        try:
            for depth, generation in enumerate(nx.topological_generations(g)):
                for n in generation:
                    layer[n] = depth
        except nx.NetworkXUnfeasible:  # cycles: breadth-first from the nodes nothing feeds
            roots = [n for n in g if g.in_degree(n) == 0] or list(g)[:1]
            for root in roots:
                for n, d in nx.single_source_shortest_path_length(g, root).items():
                    layer[n] = min(layer.get(n, d), d)
            for n in g:
                layer.setdefault(n, 0)
        by_layer: dict[int, list[str]] = {}
        for n in [x.id for x in nodes]:
            by_layer.setdefault(layer.get(n, 0), []).append(n)
        for depth, members in by_layer.items():
            for i, n in enumerate(members):
                pos[n] = (float(depth), -(i - (len(members) - 1) / 2.0))
    # sensors: stacked above the node they observe, in the gap before the next layer
    offsets: dict[str, int] = {}
    xs = sorted({p[0] for p in pos.values()})
    step = min((b - a for a, b in itertools.pairwise(xs) if b > a), default=1.0)
    for n in spec.nodes:
        if n.kind != "sensor":
            continue
        target = (n.observes or "").split(".")[0]
        base = pos.get(target, (0.0, 0.0))
        k = offsets.get(target, 0)
        offsets[target] = k + 1
        pos[n.id] = (base[0] + 0.2 * step, base[1] + 0.45 + 0.3 * k)
    return pos


def graph(spec: TwinSpec) -> dict[str, Any]:
    """The twin as a drawable graph: nodes (id, name, kind, x, y) and edges (source, target, kind)."""
    pos = _positions(spec)
    return {
        "name": spec.name,
        "geographic": all(
            n.location is not None and n.location.lat is not None for n in spec.nodes if n.kind != "sensor"
        ),
        "nodes": [
            {
                "id": n.id,
                "name": n.name or n.id,
                "kind": n.kind,
                "x": pos.get(n.id, (0.0, 0.0))[0],
                "y": pos.get(n.id, (0.0, 0.0))[1],
                "signals": [s.name for s in n.signals],
                "observes": n.observes,
            }
            for n in spec.nodes
        ],
        "edges": [{"key": e.key, "source": e.source, "target": e.target, "kind": e.kind} for e in spec.edges],
    }


__all__ = ["clean", "graph", "node_detail", "records", "signals_of", "twin_summary"]
