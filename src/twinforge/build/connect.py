"""Connections between the elements of a description.

Rules, in order:
1. relation words between two mentions in one sentence: forward ("feeds", "ships to", "then", "->",
   "into", "from A to B") or backward ("fed by", "draws from", "after", "supplied by"); mentions
   joined by "and" / "," form a group, and a relation between groups joins every pair;
   "X between A and B" puts X between them;
2. a sensor observes the nearest other element of its sentence ("a level sensor on the tower");
3. CSV: a ``to``/``feeds`` cell (names separated by ``;``, ``,`` or "and"), or ``from``/``to`` rows;
4. what is still unconnected: a line or a liquid system is chained in the order written; a supply
   network joins each unconnected site to every site of the next layer
   (supplier → plant → warehouse → customer). Every connection made by rule 4 is reported.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from twinforge.build.kinds import FAMILY, Mention

_BACKWARD = re.compile(
    r"\b(fed by|fed from|supplied by|served by|sourced from|preceded by|downstream of|draws? from|"
    r"drawing from|takes? from|receives?( \w+)? from|gets?( \w+)? from|comes? from|after|behind|follows)\b"
)
_FORWARD = re.compile(
    r"(->|\u2192|=>)|\b(feeds?|feeding|fed into|supplies|supply|supplying|ships?|shipping|shipped|sends?|"
    r"sending|delivers?|delivering|serves?|serving|pumps?|pumping|goes|go|passes|pass|moves?|leads?|"
    r"flows?|flowing|discharges?|into|to|then|followed by|before|next|towards?|onto|fills?|"
    r"transfers?|conveys?|carries|carry|on to)\b"
)
_BETWEEN = re.compile(r"\b(between|links|linking|connects|connecting|joins|joining)\b")
_JOIN = re.compile(r"^\s*(,|and|&|or|as well as|plus|, and|;)?\s*(the|a|an)?\s*$")
_SENSOR_REL = re.compile(r"\b(on|at|of|in|watch\w*|measur\w*|monitor\w*|observ\w*|read\w*|track\w*)\b")

LAYERS = ("supplier", "plant", "warehouse", "customer")


@dataclass(frozen=True)
class Link:
    source: str  # node key
    target: str
    how: str  # "text" | "csv" | "order" | "layer"
    item: int | None = None  # index of the item that said it


def links_in_sentence(text: str, mentions: list[tuple[Mention, str]], item: int) -> list[Link]:
    """Links a sentence states; ``mentions`` pairs each mention with its node key, in text order."""
    out: list[Link] = []
    if len(mentions) < 2:
        return out
    low = text.lower()
    sensors = [(m, k) for m, k in mentions if k is not None and m.kinds[0] == "sensor"]
    others = [(m, k) for m, k in mentions if m.kinds[0] != "sensor"]
    for m, k in sensors:
        after = [o for o in others if o[0].start >= m.end]
        before = [o for o in others if o[0].end <= m.start]
        target = after[0] if after else (before[-1] if before else None)
        if target is not None and target[1] != k:
            out.append(Link(k, target[1], "sensor", item))
    groups: list[list[tuple[Mention, str]]] = []
    for m, k in others:
        if groups and _JOIN.match(low[groups[-1][-1][0].end : m.start]):
            groups[-1].append((m, k))
        else:
            groups.append([(m, k)])
    skip: set[int] = set()
    for gi in range(len(groups) - 1):
        a, b = groups[gi], groups[gi + 1]
        gap = low[a[-1][0].end : b[0][0].start]
        numbers = list(re.finditer(r"\d", gap))
        if numbers and re.search(r"\b(and|but|while|whereas)\b|;", gap[numbers[-1].end() :]):
            continue  # "A can supply 300 items a day and B ...": a new clause, not a link
        if _BETWEEN.search(gap) and len(b) >= 2 and len(a) == 1:
            mid = a[0][1]
            out.append(Link(b[0][1], mid, "between", item))
            out.append(Link(mid, b[1][1], "between", item))
            continue
        if (
            gi + 2 < len(groups)
            and len(a) == 1
            and re.search(r"\bfrom\b", gap)
            and re.search(r"\b(to|into|towards?)\b", low[b[-1][0].end : groups[gi + 2][0][0].start])
        ):
            # "X, from A into B": A feeds X, X feeds B
            c = groups[gi + 2]
            out += [Link(y[1], a[0][1], "text", item) for y in b if y[1] != a[0][1]]
            out += [Link(a[0][1], z[1], "text", item) for z in c if z[1] != a[0][1]]
            skip.add(gi + 1)
            continue
        if gi in skip:
            continue
        if _BACKWARD.search(gap):
            pairs = [(y, x) for x in a for y in b]
        elif _FORWARD.search(gap):
            pairs = [(x, y) for x in a for y in b]
        else:
            continue
        for (_, s), (_, t) in pairs:
            if s != t:
                out.append(Link(s, t, "text", item))
    return out


def split_names(cell: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,|/]|\band\b|->|\u2192", cell) if p.strip()]


def fill_by_order(order: list[str], kinds: dict[str, str], links: list[Link]) -> list[Link]:
    """Chain a line or liquid system in the order written where the text left a gap."""
    out: list[Link] = []
    material = [k for k in order if FAMILY.get(kinds[k]) in ("line", "liquid")]
    # sources start a line and sinks end it, wherever the text names them
    material = (
        [k for k in material if kinds[k] == "source"]
        + [k for k in material if kinds[k] not in ("source", "sink")]
        + [k for k in material if kinds[k] == "sink"]
    )
    has_out = {link.source for link in links if kinds.get(link.source) != "sensor"}
    has_in = {link.target for link in links if kinds.get(link.source) != "sensor"}
    for a, b in itertools.pairwise(material):
        if kinds[a] in ("sink",) or kinds[b] in ("source",):
            continue
        if a not in has_out and b not in has_in:
            out.append(Link(a, b, "order"))
            has_out.add(a)
            has_in.add(b)
    return out


def drop_bridged(links: list[Link]) -> list[Link]:
    """ "X between A and B": A no longer feeds B directly."""
    between = [lk for lk in links if lk.how == "between"]
    bridged = {(a.source, b.target) for a in between for b in between if a.target == b.source}
    return [lk for lk in links if (lk.source, lk.target) not in bridged or lk.how == "between"]


def fill_ends(order: list[str], kinds: dict[str, str], links: list[Link]) -> list[Link]:
    """In a line with one source and one sink, what has no input takes it from the source and what
    has no output gives it to the sink."""
    sources = [k for k in order if kinds[k] == "source"]
    sinks = [k for k in order if kinds[k] == "sink"]
    line = [k for k in order if FAMILY.get(kinds[k]) == "line" and kinds[k] not in ("source", "sink")]
    if len(sources) != 1 or len(sinks) != 1 or not line:
        return []
    has_out = {lk.source for lk in links}
    has_in = {lk.target for lk in links}
    out = [Link(sources[0], k, "order") for k in line if k not in has_in and sources[0] not in has_out]
    out += [Link(k, sinks[0], "order") for k in line if k not in has_out]
    return out


def fill_by_layer(order: list[str], kinds: dict[str, str], links: list[Link]) -> list[Link]:
    """Join unconnected supply-network sites to every site of the neighbouring layer."""
    out: list[Link] = []
    layer = {k: LAYERS.index(kinds[k]) for k in order if kinds[k] in LAYERS}
    has_out = {link.source for link in links}
    has_in = {link.target for link in links}
    present = sorted(set(layer.values()))

    def nearest(level: int, step: int) -> list[str]:
        ups = [p for p in present if (p < level if step < 0 else p > level)]
        if not ups:
            return []
        target = max(ups) if step < 0 else min(ups)
        return [k for k in order if layer.get(k) == target]

    seen = {(link.source, link.target) for link in links}
    for k in order:
        if k not in layer:
            continue
        if k not in has_in and layer[k] > 0:
            for u in nearest(layer[k], -1):
                if (u, k) not in seen:
                    out.append(Link(u, k, "layer"))
                    seen.add((u, k))
        if k not in has_out and layer[k] < len(LAYERS) - 1:
            for d in nearest(layer[k], +1):
                if (k, d) not in seen:
                    out.append(Link(k, d, "layer"))
                    seen.add((k, d))
    return out
