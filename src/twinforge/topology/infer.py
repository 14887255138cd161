"""Learn a twin's topology from its sensor series: scored, directed edges between nodes, and the
patch that writes the accepted ones into a twin.

How a proposal is made (the statistics are in :mod:`twinforge.topology.score`):

1. every pair of signals gets its lagged cross-correlation profile (differenced, standardised
   series; pairwise-complete rows, so gaps are tolerated), its peak and best lag;
2. a conditional test (smallest partial correlation over sets of common neighbours) prunes links
   that another signal explains (``A -> B -> C`` does not propose ``A -> C``);
3. a calibrated logistic model turns peak, partial correlation, name similarity (MiniLM
   embeddings) and unit compatibility into ``P(link)``;
4. the direction comes from the lead/lag asymmetry of the profile; with a twin, the kinds of the
   nodes add what they know (material leaves a ``source``/``supplier`` and enters a
   ``sink``/``customer``: links on the learned skeleton are oriented away from sources and towards
   sinks), combined in log-odds;
5. node pairs take their best signal pair; a directed edge's confidence is ``P(link) * P(dir)``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.errors import TwinforgeError
from twinforge.spec import Edge, Node, Signal, SpecDiff, StateVar, TwinSpec, diff_specs
from twinforge.spec.validate import validate_spec_or_raise
from twinforge.topology.score import (
    DEFAULT_CALIBRATION,
    Z_CAP,
    Calibration,
    conditional_strength,
    fisher_z,
    lagged_correlations,
    lead_score,
    name_similarity,
    pair_profile,
    prepare,
    unit_compatibility,
)
from twinforge.topology.signals import SignalData, TopologyInputError

ORIGIN_KINDS = {"source", "supplier"}
END_KINDS = {"sink", "customer"}
ITEM_KINDS = {"source", "station", "buffer", "conveyor", "sink"}
LIQUID_KINDS = {"tank", "pump", "valve", "junction"}
ANCHOR_LOGIT = 2.2  # P = 0.9 from the kinds alone
LEAD_GAIN = 3.0
MIN_Z_TO_CONDITION = 3.0  # pairs weaker than this skip the conditional test


@dataclass(frozen=True)
class ProposedEdge:
    """A directed edge ``source -> target`` between nodes, with its evidence."""

    source: str
    target: str
    confidence: float
    link_probability: float
    direction_probability: float
    lag_samples: int
    lag_s: float | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.source}->{self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "confidence": round(self.confidence, 4),
            "link_probability": round(self.link_probability, 4),
            "direction_probability": round(self.direction_probability, 4),
            "lag_samples": self.lag_samples,
            "lag_s": self.lag_s,
            "evidence": self.evidence,
        }


@dataclass
class TopologyProposal:
    """Every directed node pair scored (best first); :meth:`proposed` keeps the confident ones."""

    scored: list[ProposedEdge]
    nodes: list[str]
    features: dict[tuple[str, str], np.ndarray]

    def proposed(self, min_confidence: float = 0.5) -> list[ProposedEdge]:
        """Edges at or above ``min_confidence``; of two opposite edges only the likelier is kept."""
        out, seen = [], set()
        for e in self.scored:
            pair = frozenset((e.source, e.target))
            if e.confidence < min_confidence or pair in seen:
                continue
            seen.add(pair)
            out.append(e)
        return out

    def confidence(self, source: str, target: str) -> float:
        for e in self.scored:
            if e.source == source and e.target == target:
                return e.confidence
        return 0.0


def infer_topology(
    data: SignalData,
    *,
    twin: TwinSpec | None = None,
    max_lag: int = 12,
    max_condition: int = 3,
    calibration: Calibration | None = None,
    use_names: bool = True,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> TopologyProposal:
    """Score every directed pair of nodes of ``data``; see the module docstring."""
    if max_lag < 1:
        raise TopologyInputError(f"max_lag must be at least 1, found {max_lag}")
    cal = calibration or DEFAULT_CALIBRATION
    z = prepare(data.values)
    usable = [j for j in range(z.shape[1]) if np.isfinite(z[:, j]).sum() >= 10]
    if len(usable) < 2:
        constant = [data.infos[j].column for j in range(z.shape[1]) if j not in usable]
        raise TopologyInputError(
            f"{data.source}: fewer than two signals vary over time (constant or nearly empty: "
            f"{', '.join(repr(c) for c in constant)})"
        )
    lags = max(1, min(max_lag, z.shape[0] // 4))
    r, cnt = lagged_correlations(z, lags)
    n_sig = z.shape[1]
    names = (
        name_similarity([i.text for i in data.infos], embed) if use_names else np.full((n_sig, n_sig), 0.0)
    )
    # signal-pair features and statistics (unordered pairs i < j)
    pair_stats: dict[tuple[int, int], dict[str, Any]] = {}
    for ai, i in enumerate(usable):
        for j in usable[ai + 1 :]:
            if data.infos[i].node == data.infos[j].node:
                continue
            prof = pair_profile(r, i, j)
            k = int(np.argmax(np.abs(prof))) - lags
            peak = float(prof[k + lags])
            rows = float(cnt[abs(k), i, j] if k >= 0 else cnt[-k, j, i])
            if fisher_z(peak, rows) >= MIN_Z_TO_CONDITION:
                partial, prow, sep = conditional_strength(z, r, i, j, k, max_condition)
            else:  # too weak to matter: conditioning can only lower it
                partial, prow, sep = abs(peak), int(rows), []
            feats = np.array(
                [
                    math.atanh(min(abs(peak), 0.999)),
                    math.atanh(min(abs(partial), 0.999)),
                    min(fisher_z(partial, prow), Z_CAP) / Z_CAP,
                    float(names[i, j]),
                    unit_compatibility(data.infos[i].unit, data.infos[j].unit),
                ]
            )
            pair_stats[(i, j)] = {
                "features": feats,
                "peak": peak,
                "lag": k,
                "partial": partial,
                "separating": [data.infos[m].column for m in sep],
                "lead": lead_score(prof),
                "rows": int(rows),
            }
    if not pair_stats:
        raise TopologyInputError(f"{data.source}: every signal belongs to the same node; nothing to connect")
    keys = list(pair_stats)
    probs = cal.probability(np.array([pair_stats[k]["features"] for k in keys]))
    for key, p in zip(keys, probs, strict=True):
        pair_stats[key]["p_link"] = float(p)
    # node pairs: the best signal pair
    best: dict[frozenset[str], tuple[int, int]] = {}
    for (i, j), st in pair_stats.items():
        pair = frozenset((data.infos[i].node, data.infos[j].node))
        if pair not in best or st["p_link"] > pair_stats[best[pair]]["p_link"]:
            best[pair] = (i, j)
    skeleton = {p for p, ij in best.items() if pair_stats[ij]["p_link"] >= 0.5}
    anchors = _kind_anchors(twin, data.nodes, skeleton) if twin is not None else {}
    scored: list[ProposedEdge] = []
    features: dict[tuple[str, str], np.ndarray] = {}
    for i, j in best.values():
        st = pair_stats[(i, j)]
        u, v = data.infos[i].node, data.infos[j].node
        logit = LEAD_GAIN * st["lead"] + anchors.get((u, v), 0.0)
        p_uv = 1.0 / (1.0 + math.exp(-logit))
        for s, t, p_dir, lag in ((u, v, p_uv, st["lag"]), (v, u, 1.0 - p_uv, -st["lag"])):
            si, ti = (i, j) if s == u else (j, i)
            evidence = {
                "signals": [data.infos[si].column, data.infos[ti].column],
                "peak_correlation": round(st["peak"], 4),
                "partial_correlation": round(st["partial"], 4),
                "separating_set": st["separating"],
                "lead_score": round(st["lead"] if s == u else -st["lead"], 4),
                "kind_prior": round(anchors.get((s, t), 0.0), 2),
                "name_similarity": round(float(st["features"][3]), 4),
                "unit_compatibility": float(st["features"][4]),
                "rows": st["rows"],
            }
            scored.append(
                ProposedEdge(
                    source=s,
                    target=t,
                    confidence=st["p_link"] * p_dir,
                    link_probability=st["p_link"],
                    direction_probability=p_dir,
                    lag_samples=lag,
                    lag_s=None if data.period_s is None else lag * data.period_s,
                    evidence=evidence,
                )
            )
            features[(s, t)] = st["features"]
    scored.sort(key=lambda e: (-e.confidence, e.source, e.target))
    return TopologyProposal(scored=scored, nodes=data.nodes, features=features)


def _kind_anchors(
    twin: TwinSpec, nodes: Sequence[str], skeleton: set[frozenset[str]]
) -> dict[tuple[str, str], float]:
    """Log-odds for ``u -> v`` from node kinds: away from origins, towards ends, on the skeleton."""
    kinds = {n: twin.node(n).kind for n in nodes if twin.has_node(n)}
    adj: dict[str, set[str]] = {n: set() for n in nodes}
    for pair in skeleton:
        a, b = tuple(pair)
        adj[a].add(b)
        adj[b].add(a)

    def distances(starts: list[str]) -> dict[str, int]:
        dist = {s: 0 for s in starts}
        queue = deque(starts)
        while queue:
            x = queue.popleft()
            for y in adj[x]:
                if y not in dist:
                    dist[y] = dist[x] + 1
                    queue.append(y)
        return dist

    from_origin = distances([n for n in nodes if kinds.get(n) in ORIGIN_KINDS])
    to_end = distances([n for n in nodes if kinds.get(n) in END_KINDS])
    out: dict[tuple[str, str], float] = {}
    for u in nodes:
        for v in nodes:
            if u == v:
                continue
            score = 0.0
            if kinds.get(u) in ORIGIN_KINDS or kinds.get(v) in END_KINDS:
                score += 1.0
            if kinds.get(v) in ORIGIN_KINDS or kinds.get(u) in END_KINDS:
                score -= 1.0
            if u in from_origin and v in from_origin and from_origin[u] != from_origin[v]:
                score += 1.0 if from_origin[u] < from_origin[v] else -1.0
            if u in to_end and v in to_end and to_end[u] != to_end[v]:
                score += 1.0 if to_end[u] > to_end[v] else -1.0
            if score:
                out[(u, v)] = ANCHOR_LOGIT * max(-1.0, min(1.0, score))
    return out


# -- accepting edges into a twin ---------------------------------------------------------------
class TopologyAcceptError(TwinforgeError):
    """Accepted edges could not be written into the twin."""


def edge_kind_for(twin: TwinSpec, source: str, target: str) -> str:
    """``material`` between item-flow nodes, ``physical`` between liquid nodes, else ``dependency``."""
    ks = {twin.node(source).kind, twin.node(target).kind}
    if ks <= ITEM_KINDS:
        return "material"
    if ks <= LIQUID_KINDS:
        return "physical"
    return "dependency"


def twin_from_signals(data: SignalData, name: str = "learned-topology") -> TwinSpec:
    """A twin with one ``custom`` node per node of ``data`` carrying its signals (no edges)."""
    nodes: list[Node] = []
    for node_id in data.nodes:
        sigs = [
            Signal(name=_safe_signal(i.name), unit=i.unit, period=data.period_s or 1.0)
            for i in data.infos
            if i.node == node_id
        ]
        states = {s.name: StateVar(unit=s.unit) for s in sigs}
        nodes.append(Node(id=_safe_id(node_id), kind="custom", name=node_id, state=states, signals=sigs))
    return TwinSpec(name=name, nodes=nodes)


def accept_edges(
    twin: TwinSpec, edges: Sequence[ProposedEdge], *, replace_existing: bool = False
) -> tuple[TwinSpec, SpecDiff]:
    """A copy of ``twin`` with ``edges`` added (validated by the spec), and the diff it makes.

    Each new edge carries ``metadata.topology`` (confidence, lag, evidence signals). An edge that the
    twin already has between the same nodes in the same direction is left as it is."""
    new = twin.copy_deep()
    ids = {n.id: n.id for n in new.nodes}
    ids.update({(n.name or n.id): n.id for n in new.nodes if n.kind == "custom"})
    for e in edges:
        src, dst = ids.get(e.source), ids.get(e.target)
        if src is None or dst is None:
            missing = e.source if src is None else e.target
            raise TopologyAcceptError(f"edge {e.key}: twin {twin.name!r} has no node {missing!r}")
        if new.edges_between(src, dst) and not replace_existing:
            continue
        new.edges = [x for x in new.edges if not (x.source == src and x.target == dst)]
        new.edges.append(
            Edge(
                source=src,
                target=dst,
                kind=edge_kind_for(new, src, dst),
                metadata={
                    "topology": {
                        "confidence": round(e.confidence, 4),
                        "lag_s": e.lag_s,
                        "signals": e.evidence.get("signals", []),
                    }
                },
            )
        )
    validate_spec_or_raise(new)
    return new, diff_specs(twin, new)


def _safe_id(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in text)
    return out if out and (out[0].isalpha() or out[0] == "_") else f"s_{out}"


def _safe_signal(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "_-. " else "_" for ch in text)
    return out if out and (out[0].isalpha() or out[0] == "_") else f"s_{out}"
