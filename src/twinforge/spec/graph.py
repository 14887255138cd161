"""Graph queries over a twin: neighbours, upstream/downstream closure, paths, filters, subgraphs.

Backed by a :class:`networkx.MultiDiGraph` whose nodes are node ids and whose edges are keyed by
the twin's edge keys, so every networkx algorithm is available through :attr:`TwinGraph.nx`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Literal

import networkx as nx

from twinforge.errors import UnknownEntityError
from twinforge.spec.models import Edge, Node, TwinSpec

EdgeKinds = str | Iterable[str] | None
Direction = Literal["out", "in", "both"]


def _kinds(edge_kinds: EdgeKinds) -> set[str] | None:
    if edge_kinds is None:
        return None
    return {edge_kinds} if isinstance(edge_kinds, str) else set(edge_kinds)


class TwinGraph:
    """Read-only graph view of a twin at the moment it was built."""

    def __init__(self, spec: TwinSpec) -> None:
        self.spec = spec
        g = nx.MultiDiGraph()
        for n in spec.nodes:
            g.add_node(n.id, kind=n.kind, node=n)
        for e in spec.edges:
            g.add_edge(e.source, e.target, key=e.key, kind=e.kind, edge=e)
        self.nx = g

    # -- helpers ------------------------------------------------------------------------------
    def _require(self, node_id: str) -> None:
        if node_id not in self.nx:
            self.spec.node(node_id)  # raises with a suggestion

    def _view(self, edge_kinds: EdgeKinds) -> nx.MultiDiGraph:
        kinds = _kinds(edge_kinds)
        if kinds is None:
            return self.nx
        return nx.subgraph_view(self.nx, filter_edge=lambda u, v, k: self.nx.edges[u, v, k]["kind"] in kinds)

    # -- queries ------------------------------------------------------------------------------
    def neighbours(
        self, node_id: str, direction: Direction = "both", edge_kinds: EdgeKinds = None
    ) -> list[str]:
        """Nodes one edge away, in file order."""
        self._require(node_id)
        g = self._view(edge_kinds)
        found: set[str] = set()
        if direction in ("out", "both"):
            found.update(g.successors(node_id))
        if direction in ("in", "both"):
            found.update(g.predecessors(node_id))
        return [n for n in self.spec.node_ids() if n in found]

    def successors(self, node_id: str, edge_kinds: EdgeKinds = None) -> list[str]:
        return self.neighbours(node_id, "out", edge_kinds)

    def predecessors(self, node_id: str, edge_kinds: EdgeKinds = None) -> list[str]:
        return self.neighbours(node_id, "in", edge_kinds)

    def upstream(self, node_id: str, edge_kinds: EdgeKinds = "material") -> list[str]:
        """Every node from which ``node_id`` can be reached (transitive), in file order."""
        self._require(node_id)
        found = nx.ancestors(self._view(edge_kinds), node_id)
        return [n for n in self.spec.node_ids() if n in found]

    def downstream(self, node_id: str, edge_kinds: EdgeKinds = "material") -> list[str]:
        """Every node reachable from ``node_id`` (transitive), in file order."""
        self._require(node_id)
        found = nx.descendants(self._view(edge_kinds), node_id)
        return [n for n in self.spec.node_ids() if n in found]

    def paths(
        self, source: str, target: str, edge_kinds: EdgeKinds = None, limit: int = 1000
    ) -> list[list[str]]:
        """Simple directed paths from ``source`` to ``target``, shortest first (at most ``limit``)."""
        self._require(source)
        self._require(target)
        g = nx.DiGraph(self._view(edge_kinds))
        try:
            gen = nx.shortest_simple_paths(g, source, target)
            return [list(p) for p in itertools.islice(gen, limit)]
        except nx.NetworkXNoPath:
            return []

    def shortest_path(
        self, source: str, target: str, weight: str | None = None, edge_kinds: EdgeKinds = None
    ) -> list[str] | None:
        """Shortest path by hop count, or by an edge parameter (e.g. ``distance``, ``cost_per_unit``)."""
        self._require(source)
        self._require(target)
        g = nx.DiGraph()
        for e in self.edges(edge_kinds=edge_kinds):
            w = self.spec.get(e.key, weight) if weight else 1.0
            if not g.has_edge(e.source, e.target) or g[e.source][e.target]["w"] > w:
                g.add_edge(e.source, e.target, w=w)
        try:
            return nx.shortest_path(g, source, target, weight="w")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None

    def edges(
        self, source: str | None = None, target: str | None = None, edge_kinds: EdgeKinds = None
    ) -> list[Edge]:
        kinds = _kinds(edge_kinds)
        return [
            e
            for e in self.spec.edges
            if (source is None or e.source == source)
            and (target is None or e.target == target)
            and (kinds is None or e.kind in kinds)
        ]

    def filter(
        self,
        kind: str | Iterable[str] | None = None,
        tag: str | Iterable[str] | None = None,
        where: Callable[[Node], bool] | None = None,
        param: str | None = None,
        predicate: Callable[[float], bool] | None = None,
    ) -> list[Node]:
        """Nodes matching every given criterion.

        ``kind``: one kind or several; ``tag``: the node carries every given tag; ``param`` with
        ``predicate``: the parameter (in catalogue units, defaults applied) satisfies it — e.g.
        ``filter(kind="station", param="process_time", predicate=lambda s: s > 30)``.
        """
        from twinforge.spec.catalog import canonical_kind

        kinds = (
            None
            if kind is None
            else {canonical_kind(k).value for k in ([kind] if isinstance(kind, str) else kind)}
        )
        tags = None if tag is None else ({tag} if isinstance(tag, str) else set(tag))
        out = []
        for n in self.spec.nodes:
            if kinds is not None and n.kind not in kinds:
                continue
            if tags is not None and not tags <= set(n.tags):
                continue
            if where is not None and not where(n):
                continue
            if param is not None:
                try:
                    value = self.spec.get(n.id, param)
                except UnknownEntityError:
                    continue
                if predicate is not None and not predicate(value):
                    continue
            out.append(n)
        return out

    def subgraph(self, node_ids: Iterable[str], with_sensors: bool = True) -> TwinSpec:
        """A new twin holding the given nodes and the edges among them (sensors observing them too)."""
        keep = set(node_ids)
        for nid in keep:
            self._require(nid)
        if with_sensors:
            for n in self.spec.nodes:
                if n.kind == "sensor" and n.observes and n.observes.split(".", 1)[0] in keep:
                    keep.add(n.id)
        nodes = [n.model_copy(deep=True) for n in self.spec.nodes if n.id in keep]
        edges = [e.model_copy(deep=True) for e in self.spec.edges if e.source in keep and e.target in keep]
        return self.spec.model_copy(update={"nodes": nodes, "edges": edges}, deep=True)

    def material_order(self) -> list[str]:
        """Nodes in topological order of material flow (ties in file order); cycles are allowed
        and broken where they close."""
        g = nx.DiGraph(self._view("material"))
        order = {n: i for i, n in enumerate(self.spec.node_ids())}
        if nx.is_directed_acyclic_graph(g):
            return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
        cond = nx.condensation(g)
        out: list[str] = []
        for c in nx.lexicographical_topological_sort(
            cond, key=lambda c: min(order[m] for m in cond.nodes[c]["members"])
        ):
            out.extend(sorted(cond.nodes[c]["members"], key=order.__getitem__))
        return out

    def connected_components(self) -> list[list[str]]:
        order = {n: i for i, n in enumerate(self.spec.node_ids())}
        comps = [sorted(c, key=order.__getitem__) for c in nx.weakly_connected_components(self.nx)]
        return sorted(comps, key=lambda c: order[c[0]])
