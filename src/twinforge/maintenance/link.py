"""Linking a work order to the twin node it is about, with a confidence.

In order, the first rule that finds exactly one node wins:

====================  ==========  ==============================================================
rule                  confidence  when
====================  ==========  ==============================================================
``id``                1.0         the asset is a node id (case-insensitive)
``name``              0.95        the asset is a node's name
``tag``               0.9         the asset is one of a node's tags
``normalized``        0.85        equal after dropping case, spaces and punctuation
``fuzzy``             0.6-0.8     one node id/name/tag is within 0.85 similarity (difflib)
``text``              0.7         no asset: the text names exactly one node id or name
``kind``              0.5         the asset or, with no asset, the text names a kind word (the
                                  node's kind or a word of its name) that exactly one node has
====================  ==========  ==============================================================

No link is confidence 0. A record whose asset matches no node is flagged ``unknown_asset``;
the asset text is kept.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from twinforge.maintenance.records import WorkOrder


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{3,}", text.lower())}


@dataclass(frozen=True)
class Link:
    node: str | None
    confidence: float
    how: str


class NodeLinker:
    """Links asset names (and texts) to the nodes of a twin spec."""

    def __init__(self, spec: Any):
        self.spec = spec
        self.nodes = list(spec.nodes)
        self._cache: dict[tuple[str, str], Link] = {}

    def _unique(self, matches: list[Any]) -> Any | None:
        ids = {n.id for n in matches}
        return matches[0] if len(ids) == 1 else None

    def link(self, asset: str | None, text: str = "") -> Link:
        key = (asset or "", "" if asset else text)
        if key not in self._cache:
            self._cache[key] = self._link(asset, text)
        return self._cache[key]

    def _link(self, asset: str | None, text: str) -> Link:
        nodes = self.nodes
        if asset:
            a = asset.strip()
            rules: list[tuple[str, float, Any]] = [
                ("id", 1.0, lambda n: n.id.lower() == a.lower()),
                ("name", 0.95, lambda n: (n.name or "").strip().lower() == a.lower()),
                ("tag", 0.9, lambda n: a.lower() in {t.lower() for t in n.tags}),
                ("normalized", 0.85, lambda n: _flat(a) in {_flat(n.id), _flat(n.name or "")} - {""}),
            ]
            for how, conf, test in rules:
                node = self._unique([n for n in nodes if test(n)])
                if node is not None:
                    return Link(node.id, conf, how)
            best, best_score = None, 0.0
            for n in nodes:
                for label in (n.id, n.name or "", *n.tags):
                    if len(label) < 3:
                        continue
                    score = difflib.SequenceMatcher(None, _flat(a), _flat(label)).ratio()
                    if score > best_score:
                        best, best_score = n, score
            if best is not None and best_score >= 0.85:
                return Link(best.id, round(0.8 * best_score, 3), "fuzzy")
            return self._by_kind(_words(a))
        if text:
            flat = f" {re.sub(r'[^a-z0-9]+', ' ', text.lower())} "
            named = [
                n
                for n in nodes
                if any(
                    f" {re.sub(r'[^a-z0-9]+', ' ', label.lower()).strip()} " in flat
                    for label in (n.id, n.name or "")
                    if len(label) >= 3
                )
            ]
            node = self._unique(named)
            if node is not None:
                return Link(node.id, 0.7, "text")
            return self._by_kind(_words(text))
        return Link(None, 0.0, "")

    def _by_kind(self, words: set[str]) -> Link:
        if not words:
            return Link(None, 0.0, "")
        matches = [n for n in self.nodes if words & ({n.kind.lower()} | _words(n.name or "")) - {"custom"}]
        node = self._unique(matches)
        return Link(node.id, 0.5, "kind") if node is not None else Link(None, 0.0, "")


def link_orders(orders: list[WorkOrder], spec: Any) -> int:
    """Link every order to a node of ``spec``; flag ``unknown_asset`` where an asset found none.
    Returns how many were linked."""
    linker = NodeLinker(spec)
    linked = 0
    for order in orders:
        found = linker.link(order.asset, order.text)
        order.node, order.link_confidence, order.link_how = found.node, found.confidence, found.how
        if found.node is not None:
            linked += 1
        elif order.asset:
            order.flag("unknown_asset")
    return linked
