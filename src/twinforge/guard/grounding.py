"""Grounding: which parts of the twin a question names, however it names them.

:func:`find_mentions` returns the question's *mentions* — spans of the question that refer to
nodes, groups of nodes, lanes and products — using the twin's :class:`~twinforge.guard.lexicon.Lexicon`:

- **ids** in any form ("buf_fill", "buf fill", "valve 1", "S3", "c_berlin");
- **names** by any subset of their words that identifies the node ("Plant North", "the north
  plant", "the Hanover plant", "the Bulle cheese dairy"), in British or American spelling, in
  the plural, with typos;
- **kind words** ("the pump" when there is one pump; "the DC" when there are two is ambiguous and
  keeps both candidates); "both valves", "all plants", "every customer" name a group;
- **descriptions**, to tell apart the candidates of a kind word ("the suction-side valve", "the
  inlet valve") or, for a word only one node's description has, on their own;
- **relations** ("the table behind the filler", "the buffer before the capper", "the tank the
  pump fills", "the conveyor between the packer and the dock") by walking the twin's graph;
- **pronouns** ("... and add 10 places to the buffer right after it");
- **lanes** ("from S1 to P2", "the Hamburg → Hanover lane", "Bern -> Aclens", "between A and B").

An ambiguous mention keeps its candidates: what the question says around it (a lane that exists,
a parameter only one candidate has) may still decide; if nothing does, the question is declined
as ambiguous, naming the candidates. Words that look like ids but are not in the twin ("M7",
"valve3") are reported as unknown.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field, replace

import networkx as nx

from twinforge.guard.lexicon import FUNCTION_WORDS, ROLE_WORDS, Lexicon
from twinforge.guard.text import WORD_NUMBERS, Token, edit_distance, is_english, normalise, stem, tokenize
from twinforge.spec.models import TwinSpec


@dataclass(frozen=True)
class Mention:
    """A span of the question that refers to part of the twin."""

    ids: tuple[str, ...]  # candidate node ids (one when resolved), or the edge key of a lane
    start: int  # character span in the normalised question
    end: int
    text: str
    how: str  # id | name | kind | description | relation | pronoun | lane
    group: bool = False  # "both valves": every id, not one of them
    lane: tuple[str, str] | None = None  # (source, target) of a lane mention
    anchors: tuple[str, ...] = ()  # for a relation: the nodes it is said relative to ("behind the filler")

    @property
    def resolved(self) -> bool:
        return len(self.ids) == 1 or self.group

    @property
    def id(self) -> str | None:
        return self.ids[0] if len(self.ids) == 1 else None


@dataclass
class Mentions:
    """Everything a question names."""

    entities: list[Mention] = field(default_factory=list)  # nodes and groups, in question order
    lanes: list[Mention] = field(default_factory=list)
    products: list[tuple[str, int, int]] = field(default_factory=list)  # (product, start, end)
    unknown: list[str] = field(default_factory=list)  # id-like words the twin does not have

    @property
    def node_ids(self) -> list[str]:
        out: list[str] = []
        for m in self.entities:
            for i in m.ids if m.resolved else ():
                if i not in out:
                    out.append(i)
        return out


_QUANTIFIERS = {"both", "all", "every", "each"}
_PRONOUNS = {"it", "its", "itself", "them", "their", "they", "there"}
_DOWNSTREAM = {"behind", "after", "downstream", "following", "past", "beyond", "below"}
_UPSTREAM = {"before", "upstream", "ahead", "feeding", "feeds", "above", "front", "preceding", "supplying"}
_FILLS = {"fill", "feed", "supply", "serve", "deliver", "pump"}  # "the pump that fills the tank"
_ID_LIKE = re.compile(r"\b([A-Za-z]{1,3}[_\-]?\d{1,3}[A-Za-z]?)\b")
_SKIP_IN_SPAN = {"the", "of", "'s", "de"}


def find_mentions(
    question: str,
    twin: TwinSpec,
    lexicon: Lexicon | None = None,
    skip: list[tuple[int, int]] | None = None,
) -> Mentions:
    """The question's mentions of the twin (see the module docstring). ``skip``: character spans
    of the normalised question already read as quantities ("3,800 orders a day")."""
    lex = lexicon or Lexicon.of(twin)
    text = normalise(question)
    tokens = tokenize(text)
    stems = [lex.correct(t.text) if t.kind == "word" else t.text for t in tokens]
    out = Mentions()
    taken: set[int] = {
        k for k, t in enumerate(tokens) if any(a <= t.start and t.end <= b for a, b in skip or ())
    }
    raw: list[tuple[int, int, set[str], str, bool]] = []  # (first token, end token, candidates, how, group)

    # 1. ids as written (single tokens, and "valve 1" / "buf fill" as two)
    for i, t in enumerate(tokens):
        if i in taken or t.kind != "word":
            continue
        for width in (3, 2, 1):
            if i + width > len(tokens):
                continue
            span = tokens[i : i + width]
            if any(x.kind not in ("word", "number") for x in span) and not (
                width == 3 and span[1].text == "-" and span[1].start == span[0].end
            ):
                continue
            words = [x.text for x in span]
            digits = [str(WORD_NUMBERS[w]) if w in WORD_NUMBERS and k else w for k, w in enumerate(words)]
            forms = {
                f
                for ws in (words, digits)  # "pump one" is pump_1
                for f in (" ".join(ws), "".join(ws), "_".join(ws), "".join(ws).replace("-", ""))
            }
            hit = next((lex.by_id[f] for f in forms if f in lex.by_id), None)
            if hit is not None:
                raw.append((i, i + width, {hit}, "id", False))
                taken.update(range(i, i + width))
                break

    # 2. names, kind words and descriptions: the longest spans whose words all fit a node
    i = 0
    while i < len(tokens):
        if i in taken or tokens[i].kind not in ("word", "number"):
            i += 1
            continue
        found = _span_at(i, tokens, stems, lex, taken)
        if found is None:
            i += 1
            continue
        end, cands, how = found
        if how in ("name", "stem") and _other_thing(i, end, cands, tokens, stems, lex):
            out.unknown.append(text[tokens[i].start : tokens[end].end])
            taken.update(range(i, end + 1))
            i = end + 1
            continue
        group = False
        j = i - 1
        while j >= 0 and tokens[j].text in ("our", "the", "of", "two", "three"):
            j -= 1
        if j >= 0 and tokens[j].text in _QUANTIFIERS and len(cands) > 1:
            group = tokens[j].text != "both" or len(cands) == 2  # "both pumps" of three: which two?
            kinds = {lex.nodes[c].kind for c in cands}
            if group and tokens[j].text != "both" and len(kinds) == 1:
                of_kind = lex.nodes_of_kind(kinds)
                if len(cands) * 2 >= len(of_kind):
                    cands = set(of_kind)  # "all the hospitals" when most customers are called one
        raw.append((i, end, cands, how, group))
        taken.update(range(i, end))
        i = end

    # 3. pronouns: the latest resolved mention before them
    for i, t in enumerate(tokens):
        if t.text in _PRONOUNS and i not in taken:
            before = [r for r in raw if r[1] <= i and len(r[2]) == 1 and r[3] != "pronoun"]
            if before:
                # "it" is the latest thing named; "they"/"them" the first (the subject)
                pick = min if t.text in ("they", "them", "their") else max
                last = pick(before, key=lambda r: r[1])
                raw.append((i, i + 1, set(last[2]), "pronoun", False))

    raw.sort(key=lambda r: r[0])
    graph = _graph(twin)
    mentions = [
        Mention(
            ids=tuple(sorted(c, key=_order(twin))),
            start=tokens[a].start,
            end=tokens[b - 1].end,
            text=text[tokens[a].start : tokens[b - 1].end],
            how=how,
            group=group,
        )
        for a, b, c, how, group in raw
    ]
    index = {m.start: k for k, m in enumerate(mentions)}
    token_at = {t.start: k for k, t in enumerate(tokens)}

    # 4. relations resolve kind words: "the table behind the filler"; and a plain word that names
    # one node ("the rack", the only one called a rack) followed by a relation that points at
    # another of its kind: "the rack after the skiving bench" is the one after the bench
    for k, m in enumerate(mentions):
        if m.group:
            continue
        if m.resolved:
            if m.how not in ("name", "kind") or " " in m.text or not is_english(m.text):
                continue
            same_kind = replace(m, ids=tuple(sorted(lex.nodes_of_kind({lex.nodes[m.ids[0]].kind}))))
            moved = (
                _relation(same_kind, mentions, tokens, token_at, graph) if len(same_kind.ids) > 1 else None
            )
            if moved is not None and moved.ids != m.ids:
                mentions[k] = moved
            continue
        resolved = _relation(m, mentions, tokens, token_at, graph)
        if resolved is None:
            resolved = _possessive(k, mentions, text, graph)
        if resolved is not None:
            mentions[k] = resolved
    # 5. descriptions tell candidates apart: "the suction-side valve"
    for k, m in enumerate(mentions):
        if m.resolved or m.group:
            continue
        a = token_at[m.start]
        window = set(stems[max(0, a - 3) : a])
        scores = {c: len(lex.nodes[c].description & window) for c in m.ids}
        best = max(scores.values(), default=0)
        winners = [c for c, s in scores.items() if s == best]
        if best > 0 and len(winners) == 1:
            mentions[k] = replace(m, ids=(winners[0],), how="description")
    del index
    mentions = _merge(mentions, text, lex)
    mentions = _without_common_nouns(mentions, question, lex)
    mentions = _without_restated(mentions, text)
    # a description word that fits several nodes says nothing; nor does one naming a product
    # ("strawberries" in the description of the packhouse that packs them)
    mentions = [
        m
        for m in mentions
        if not (m.how == "description" and (not m.resolved or stem(m.text) in lex.products))
    ]

    out.entities = mentions
    out.lanes = _lanes(mentions, tokens, token_at, twin, text)
    inside = [(m.start, m.end) for m in mentions if m.how in ("id", "name")]
    out.products = [
        p for p in _products(tokens, stems, lex) if not any(a <= p[1] and p[2] <= b for a, b in inside)
    ]
    if not out.products:  # "the omeprazole packs": the one product a named source releases
        out.products = [(p, m.start, m.end) for m in mentions if (p := _sole_product(m, twin))]
    known = {f for nw in lex.nodes.values() for f in nw.ids} | {p.lower() for p in twin.products}
    for m in _ID_LIKE.finditer(question):
        token = m.group(1)
        norm = token.lower()
        if norm not in known and norm.replace("-", "_") not in known and norm.replace("_", "") not in known:
            if not re.fullmatch(r"\d+[a-z]*|[a-z]\d{1,2}|(?:pt|co|no|ph)\d+", norm) or re.fullmatch(
                r"[a-z]{1,2}\d{1,3}", norm
            ):
                if not _is_unit_like(norm):
                    out.unknown.append(token)
    return out


def _merge(mentions: list[Mention], text: str, lex: Lexicon) -> list[Mention]:
    """Adjacent mentions of the same thing become one ("suction-side valve", "pack-lane chutes")."""
    out: list[Mention] = []
    for m in mentions:
        gap = text[out[-1].end : m.start].strip(" -") if out else ""
        same = (
            bool(out)
            and out[-1].ids == m.ids
            and len(m.ids) == 1
            and len(gap.split()) <= 1
            and gap
            not in ("and", "or", "to", "from", "with", "than", "vs", "versus", "of", "in", "at", "on", ",")
        )
        joinable = (
            out
            and (m.how == "description") == (out[-1].how == "description")
            and "pronoun" not in (m.how, out[-1].how)  # "the hypo tank hits its low alarm"
        )
        if joinable and not m.group and not out[-1].group and (gap == "" or same):
            common = set(out[-1].ids) & set(m.ids)
            if not common:
                # "the Schengen make-up carousel" (its id says Schengen), "the wort cooler pump":
                # the one whose name or id has every word of the modifier
                words = [w for w in re.split(r"[\s\-]+", out[-1].text.strip()) if w]
                common = {i for i in m.ids if words and all(lex.surface_match(w, i) for w in words)}
            if common:
                keep = out[-1] if len(out[-1].ids) <= len(m.ids) else m
                out[-1] = replace(
                    keep,
                    ids=tuple(dict.fromkeys(i for i in (*keep.ids, *out[-1].ids, *m.ids) if i in common)),
                    start=out[-1].start,
                    end=m.end,
                    text=text[out[-1].start : m.end],
                    how=out[-1].how if out[-1].how in ("id", "name") else m.how,
                )
                continue
        out.append(m)
    return out


def _is_unit_like(word: str) -> bool:
    return bool(re.fullmatch(r"(m|km|kw|kwh|co|fd|pm|am|mm|cm)\d*", word)) or word in (
        "co2",
        "m3",
        "h2o",
        "pt100",
    )


def _id_typo(word: str, lex: Lexicon) -> str | None:
    """The one node whose id ``word`` misspells by a letter ("thermoformr", "cartonner")."""
    if len(word) < 6 or word in lex.by_id or is_english(word) or not word.isalpha():
        return None
    close = {
        node
        for form, node in lex.by_id.items()
        if abs(len(form) - len(word)) <= 1 and edit_distance(word, form, 2) <= 1
    }
    return close.pop() if len(close) == 1 else None


#: pieces of equipment and places people name: "the steam boiler" is not the "Steam heater valve"
_THING_WORDS = (
    "boiler chiller compressor generator turbine furnace oven kiln dryer drier mixer crusher grinder "
    "robot crane forklift pipeline hose filter fan blower heater cooler tower silo hopper press "
    "printer scanner sorter palletiser palletizer labeller labeler filler capper freezer elevator "
    "escalator kitchen ward clinic office school"
)
_THINGS = {form for w in _THING_WORDS.split() for form in (w, w + "s", w + "es")}


def _other_thing(
    i: int, end: int, cands: set[str], tokens: list[Token], stems: list[str], lex: Lexicon
) -> bool:
    """Whether part of a node's name is followed by a noun for a piece of equipment the twin has
    no word for ("the steam boiler" when the twin has a "Steam heater valve"): then the words
    name something the twin does not have."""
    if end >= len(tokens) or tokens[end].kind != "word":
        return False
    s = stems[end]
    if tokens[end].text not in _THINGS or any(
        s in words for words in (lex.kind_words, lex.by_stem, lex.by_weak)
    ):
        return False  # a word of the twin's own (its kinds, names) may well be the node
    said = set(stems[i:end]) | {t.text for t in tokens[i:end]}
    return all(lex.nodes[c].surface and not {w.lower() for w in lex.nodes[c].surface} <= said for c in cands)


def _candidates(s: str, t: Token, lex: Lexicon, first: bool) -> tuple[set[str], str]:
    """Nodes a word can belong to, and how strongly: name (as written), stem (only the same
    stem: "filling" for the filler), kind, weak, mark, description."""
    typo = _id_typo(t.text, lex)
    if typo is not None:
        return {typo}, "name"  # "cartonner" for the cartoner, before "carton" names every station
    if s in lex.by_stem:
        names = set(lex.by_stem[s])
        if s != stem(t.text):  # a typo corrected: the node whose whole name it is, if one is
            size = {n: len(lex.nodes[n].name) + len(lex.nodes[n].weak) for n in names}
            return {n for n in names if size[n] == min(size.values())}, "name"
        exact = {n for n in names if lex.surface_match(t.text, n)}
        named = {n for n in exact if lex.in_name(t.text, n)}
        if named and len(named) < len(exact):
            exact = named  # "Opole" the works (in its name) over the quarry Q_opole (in its id only)
        if exact:
            return exact, "name"
        if t.text in lex.cues:
            return set(), ""  # "faster" is a change, not the "fast movers" zone
        return names, "stem"
    kinds = lex.kind_words.get(s)
    if kinds:
        ids = lex.nodes_of_kind(kinds) | lex.by_weak.get(s, set())
        named = (
            {n for n in ids if lex.in_name(t.text, n)} if s == t.text or not t.text.endswith("s") else set()
        )
        if named:
            ids = named  # "the basin" is the one called a basin, not every tank
        return ids, ("kind" if lex.kind_match(t.text) else "stem")
    if s in lex.by_weak:
        return set(lex.by_weak[s]), "weak"
    if s in lex.by_mark and not first:
        return set(lex.by_mark[s]), "mark"
    if s in lex.by_description:
        return set(lex.by_description[s]), "description"
    return set(), ""


def _span_at(
    i: int, tokens: list[Token], stems: list[str], lex: Lexicon, taken: set[int]
) -> tuple[int, set[str], str] | None:
    """The longest span from token ``i`` whose words all fit one or more nodes."""
    cands, how = _candidates(stems[i], tokens[i], lex, first=True)
    if not cands and stems[i] in lex.by_mark and i + 1 < len(tokens) and i + 1 not in taken:
        # a short mark may lead when the next word agrees: "CT scanners", "zone B" read backwards
        nxt, _ = _candidates(stems[i + 1], tokens[i + 1], lex, first=False)
        if set(lex.by_mark[stems[i]]) & nxt:
            cands, how = set(lex.by_mark[stems[i]]), "mark"
    if not cands:
        return None
    strengths = {how}
    best: tuple[int, set[str], set[str]] | None = (i + 1, cands, set(strengths))
    j = i + 1
    while j < len(tokens) and j not in taken:
        if tokens[j].kind not in ("word", "number"):
            break
        if tokens[j].text in _SKIP_IN_SPAN and j + 1 < len(tokens):
            nxt, _ = _candidates(stems[j + 1], tokens[j + 1], lex, first=False)
            if nxt & cands and tokens[j].text != "the" and strengths & {"name", "mark"}:
                j += 1
                continue
            break
        more, strength = _candidates(stems[j], tokens[j], lex, first=False)
        both = cands & more
        if not both or (strength == "description" and strengths != {"description"}):
            break  # a description word says which node, it is not part of the name
        cands = both
        strengths.add(strength)
        j += 1
        best = (j, cands, set(strengths))
    end, cands, strengths = best
    if "name" in strengths or ("mark" in strengths and strengths & {"kind", "weak", "name", "stem"}):
        how = "name"
    elif "kind" in strengths:
        how = "kind"
    elif "stem" in strengths:
        how = "stem"
    elif strengths == {"description"}:
        word = tokens[i].text
        if end - i == 1 and (len(word) < 5 or len(cands) > 1):
            return None
        how = "description"
    else:
        return None
    # sensors only when nothing else fits (a question is about the process, not its instruments)
    non_sensor = {c for c in cands if lex.nodes[c].kind != "sensor"}
    if non_sensor and len(non_sensor) < len(cands):
        cands = non_sensor
    return end, cands, how


def _graph(twin: TwinSpec) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(n.id for n in twin.nodes)
    for e in twin.edges:
        if e.kind in ("material", "physical"):
            g.add_edge(e.source, e.target)
    return g


def _order(twin: TwinSpec):
    pos = {n.id: k for k, n in enumerate(twin.nodes)}
    return lambda x: pos.get(x, 0)


def _relation(
    m: Mention, mentions: list[Mention], tokens: list[Token], token_at: dict[int, int], graph: nx.DiGraph
) -> Mention | None:
    """Resolve an ambiguous mention by its relation to a resolved one ("the table behind the
    filler", "the pump that fills the tank", "between the filler and the capper")."""
    end_tok = next((k for k, t in enumerate(tokens) if t.end == m.end), None)
    if end_tok is None:
        return None
    words = [t.text for t in tokens[end_tok + 1 : end_tok + 6]]
    while words and words[0] in (
        "right",
        "just",
        "directly",
        "immediately",
        "straight",
        "that",
        "which",
        "is",
        "sits",
    ):
        words = words[1:]
    if not words:
        return None
    w0 = words[0]
    stem0 = stem(w0)
    # the anchor is what follows the relation word ("the pump that fills the CLT": the CLT, not a
    # node whose name happens to contain "fill")
    later = [
        x
        for x in mentions
        if x.start > m.end and x.resolved and not x.group and stem(x.text.split()[0]) != stem0
    ]
    if not later:
        return None
    anchor = later[0]
    direction = None
    if w0 in _DOWNSTREAM or (w0 == "out" and words[1:2] == ["of"]):
        direction = "down"
    elif w0 in _UPSTREAM or (w0 == "in" and words[1:3] == ["front", "of"]) or stem0 in _FILLS:
        direction = "up"
    elif w0 == "between":
        others = [x for x in later[:2] if x.id]
        if len(others) == 2:
            path_nodes = _between(graph, others[0].id, others[1].id)
            hits = [c for c in m.ids if c in path_nodes]
            if len(hits) == 1:
                return replace(m, ids=(hits[0],), how="relation", anchors=(others[0].id, others[1].id))
        return None
    if direction is None or anchor.id is None:
        return None
    hits = _nearest(graph, anchor.id, set(m.ids), direction)
    if len(hits) == 1:
        return replace(m, ids=(hits[0],), how="relation", anchors=(anchor.id,))
    return None


def _possessive(k: int, mentions: list[Mention], text: str, graph: nx.DiGraph) -> Mention | None:
    """Resolve an ambiguous mention owned by a resolved one: "the duty pump's discharge valve",
    "the discharge valve of the duty pump" (the candidate nearest the owner, either way)."""
    m = mentions[k]
    owner = None
    if k > 0 and mentions[k - 1].resolved and text[mentions[k - 1].end : m.start].strip() in ("'s", "s'"):
        owner = mentions[k - 1]
    elif (
        k + 1 < len(mentions)
        and mentions[k + 1].resolved
        and text[m.end : mentions[k + 1].start].strip() in ("of", "of the", "on", "on the", "for", "for the")
    ):
        owner = mentions[k + 1]
    if owner is None or owner.id is None or owner.id not in graph:
        return None
    dist = nx.single_source_shortest_path_length(graph.to_undirected(as_view=True), owner.id)
    found = [(dist[c], c) for c in m.ids if c in dist]  # "the pickers of zone A" are zone A's own
    if not found:
        return None
    best = min(d for d, _ in found)
    hits = [c for d, c in found if d == best]
    if len(hits) == 1:
        return replace(m, ids=(hits[0],), how="relation", anchors=(owner.id,))
    return None


def _nearest(graph: nx.DiGraph, anchor: str, candidates: set[str], direction: str) -> list[str]:
    """The candidates closest to ``anchor`` going downstream (or upstream)."""
    g = graph if direction == "down" else graph.reverse(copy=False)
    if anchor not in g:
        return []
    dist = nx.single_source_shortest_path_length(g, anchor)
    found = [(d, n) for n, d in dist.items() if n in candidates and n != anchor]
    if not found:
        return []
    best = min(d for d, _ in found)
    return [n for d, n in found if d == best]


def _between(graph: nx.DiGraph, a: str, b: str) -> set[str]:
    for x, y in ((a, b), (b, a)):
        try:
            return set(nx.shortest_path(graph, x, y)) - {x, y}
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            continue
    return set()


_LANE_WORDS = {"to", "->", "-", "and", "into", "towards", "toward"}


def _lanes(
    mentions: list[Mention], tokens: list[Token], token_at: dict[int, int], twin: TwinSpec, text: str
) -> list[Mention]:
    """Lanes named by two nodes with an edge between them and a linking word ("from S1 to P2",
    "Hamburg -> Hanover", "the Munich-Nuremberg lane", "between Bern and Aclens")."""
    edges = {(e.source, e.target): e.key for e in twin.edges if e.kind == "material"}
    out: list[Mention] = []
    for a, b in itertools.pairwise(mentions):
        gap = text[a.end : b.start].strip()
        link = gap.split()
        if not link or len(link) > 3 or not (set(link) & _LANE_WORDS or gap in ("-", "->")):
            continue
        before = text[max(0, a.start - 12) : a.start]
        pairs = [
            (x, y)
            for x in (a.ids if not a.group else ())
            for y in (b.ids if not b.group else ())
            if (x, y) in edges
        ]
        if "between" in before.split() or link == ["and"]:
            if "between" not in before.split():
                continue
            pairs += [(y, x) for x in a.ids for y in b.ids if (y, x) in edges]
        if len(pairs) == 1:
            src, dst = pairs[0]
            out.append(
                Mention(
                    ids=(edges[pairs[0]],),
                    start=a.start,
                    end=b.end,
                    text=text[a.start : b.end],
                    how="lane",
                    lane=(src, dst),
                )
            )
    return out


def _without_common_nouns(mentions: list[Mention], question: str, lex: Lexicon) -> list[Mention]:
    """ "its donations", "a donation at Bristol" when the twin has "Mobile donation sessions
    (West Country)": one ordinary lowercase word out of a long name names nothing when the
    question names something else as it should be named (an id, or a capitalised name)."""
    question = _plain(question)

    def common(m: Mention) -> bool:
        word = m.text.strip()
        if m.how != "name" or " " in word or not (is_english(word) or is_english(word.removesuffix("s"))):
            return False
        if stem(word) in ROLE_WORDS or any(x.start > m.end and x.start - m.end <= 1 for x in mentions):
            return False  # "the duty pump", "the donor centre": it says which one
        if _capitalised(word, question):
            return False  # written with a capital: a name
        for c in m.ids:
            full = _plain(lex.twin.node(c).name or "").lower()
            name = re.findall(r"[\w'-]+", re.sub(r"\([^)]*\)", " ", full))
            places = re.findall(r"[\w'-]+", " ".join(re.findall(r"\(([^)]*)\)", full)))
            said = stem(word.lower())
            ends = {stem(name[0]), stem(name[-1])} if name else set()
            if len(lex.nodes[c].surface) < 3 or said in ends or said in map(stem, places):
                return False  # a short name, its first or last word, the place in brackets: a name
        return True

    def proper(m: Mention) -> bool:
        return m.how == "id" or (
            m.how == "name" and re.search(rf"\b{re.escape(m.text.strip().title())}", question) is not None
        )

    if not any(proper(m) for m in mentions):
        return mentions
    return [m for m in mentions if not common(m)]


def _without_restated(mentions: list[Mention], text: str) -> list[Mention]:
    """ "its stock from Plymouth", "the terminal at Warsaw": a kind word that could be several
    things, followed by the name of one of them, is that one said twice."""
    out = []
    for k, m in enumerate(mentions):
        nxt = mentions[k + 1] if k + 1 < len(mentions) else None
        if (
            not m.resolved
            and not m.group
            and nxt is not None
            and nxt.resolved
            and nxt.ids[0] in m.ids
            and re.fullmatch(r"\s+(from|at|in|of|on)\s+(the\s+)?", text[m.end : nxt.start])
        ):
            continue
        out.append(m)
    return out


def _capitalised(word: str, question: str) -> bool:
    """Whether ``word`` is written with a capital in ``question`` other than to start a sentence."""
    for hit in re.finditer(rf"\b{re.escape(word[0].upper())}{re.escape(word[1:])}", question):
        before = question[: hit.start()].rstrip()
        if before and before[-1] not in ".!?:;-\u2013\u2014(\"'":
            return True
    return False


def _plain(text: str) -> str:
    """``text`` without accents, case kept ("Kraków" -> "Krakow"), to compare with mention texts."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _sole_product(m: Mention, twin: TwinSpec) -> str | None:
    """The product a source named by its name releases, when it releases only one."""
    if m.how != "name" or not m.resolved or not twin.has_node(m.ids[0]):
        return None
    node = twin.node(m.ids[0])
    mix = node.metadata.get("product_mix") if node.kind == "source" else None
    if isinstance(mix, dict) and len(mix) == 1:
        (product,) = mix
        return product if product in twin.products else None
    return None


def _products(tokens: list[Token], stems: list[str], lex: Lexicon) -> list[tuple[str, int, int]]:
    out = []
    for i in range(len(stems)):
        for width in (2, 1):
            key = " ".join(stems[i : i + width])
            if key in lex.products and (width == 1 or i + 1 < len(tokens)):
                out.append((lex.products[key], tokens[i].start, tokens[i + width - 1].end))
                break
    seen: set[tuple[str, int]] = set()
    return [p for p in out if (p[0], p[1]) not in seen and not seen.add((p[0], p[1]))]


__all__ = ["FUNCTION_WORDS", "Mention", "Mentions", "find_mentions", "mask"]


def mask(question: str, twin: TwinSpec, lexicon: Lexicon | None = None) -> str:
    """The question with the twin's names, its products and its numbers replaced by placeholders
    ("what if <station> is down for <n>?"): what remains is how it is asked. Used to find similar
    examples and to check that evaluation splits share no phrasing."""
    from twinforge.guard.quantities import scan

    lex = lexicon or Lexicon.of(twin)
    text = normalise(question)
    numbers = scan(question, twin.currency)
    mentions = find_mentions(question, twin, lex, skip=[(n.start, n.end) for n in numbers if n.unit])
    spans: list[tuple[int, int, str]] = []
    for m in mentions.entities:
        kinds = {twin.node(i).kind for i in m.ids if twin.has_node(i)}
        spans.append((m.start, m.end, f"<{kinds.pop() if len(kinds) == 1 else 'entity'}>"))
    spans += [(a, b, "<product>") for _p, a, b in mentions.products]
    spans += [(n.start, n.end, "<n>") for n in numbers]
    out = text
    taken: list[tuple[int, int]] = []
    for a, b, _label in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if any(x < b and a < y for x, y in taken):
            continue
        taken.append((a, b))
    for a, b in sorted(taken, reverse=True):
        label = next(lbl for x, y, lbl in spans if (x, y) == (a, b))
        out = out[:a] + label + out[b:]
    return " ".join(out.split())
