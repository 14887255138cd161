"""How people name the parts of one twin: a lexicon built from the twin itself.

For every node it collects the words that can refer to it — its id in every form (``buf_fill``,
"buf fill", ``valve1`` as "valve 1"), the words of its ``name:`` ("Plant North (Hanover)": "north",
"hanover"), its ``metadata.aliases``, the distinctive words of its description ("Inlet valve on the
pump suction side": "inlet", "suction") — and the *kind words* of each kind: general English
("machine", "tank", "supplier", "customer"), the twin's own catalogue aliases, words its names
share within one kind ("Bulle Cheese Dairy", "Gossau Dairy": "dairy" is a plant), and synonyms the
twin's description gives in parentheses ("Buffers (accumulation tables)": "table" is a buffer).

Words are compared as stems (:func:`twinforge.guard.text.stem`), so "fills" finds the filler and
"labelling" the labeller; British and American spellings are the same stem; a misspelt word that
is not ordinary English ("sortr") is corrected to the one lexicon word within a small edit
distance.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from twinforge.guard.text import (
    american,
    edit_distance,
    fold,
    german_fold,
    is_english,
    normalise,
    singular,
    stem,
    tokenize,
)
from twinforge.spec.catalog import KIND_ALIASES
from twinforge.spec.models import Node, TwinSpec

#: general English words for each kind of node
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "station": ("machine", "station", "workstation", "cell", "equipment"),
    "buffer": ("buffer", "queue", "accumulation", "accumulator", "store", "storage", "stock"),
    "conveyor": ("conveyor", "belt", "conveyer"),
    "source": ("source", "arrival", "arrivals", "release"),
    "sink": ("sink", "exit", "outbound", "dock"),
    "tank": ("tank", "reservoir", "vessel", "cistern", "basin", "sump"),
    "pump": ("pump",),
    "valve": ("valve",),
    "junction": ("junction", "tee", "manifold"),
    "supplier": ("supplier", "vendor", "source"),
    "plant": ("plant", "factory", "facility", "mill"),
    "warehouse": ("warehouse", "dc", "hub", "depot", "distribution"),
    "customer": ("customer", "client", "market", "region", "store", "shop", "retailer", "account"),
    "depot": ("depot", "yard"),
    "sensor": ("sensor", "meter", "gauge", "probe", "transmitter", "gage"),
}
#: words that link or qualify names (prepositions, articles, company forms): neither names nor ids
_LINK_WORDS = {
    "a",
    "an",
    "the",
    "of",
    "and",
    "or",
    "to",
    "in",
    "on",
    "at",
    "for",
    "by",
    "with",
    "from",
    "into",
    "de",
    "la",
    "le",
    "st",
    "co",
    "ltd",
    "inc",
    "gmbh",
    "ag",
    "plc",
}
#: words that are never part of a name
FUNCTION_WORDS = _LINK_WORDS | {
    "du",
    "des",
    "sa",
    "llc",
}
#: words that are part of names but never identify a node on their own
STOPWORDS = _LINK_WORDS | {
    "our",
    "we",
    "us",
    "it",
    "its",
    "is",
    "be",
    "are",
    "this",
    "that",
    "these",
    "those",
    "all",
    "both",
    "each",
    "every",
    "what",
    "if",
    "how",
    "why",
    "which",
    "when",
    "new",
    "old",
    "main",
    "one",
    "two",
    "line",
    "per",
    "day",
    "hour",
    "time",
    "rate",
    "cost",
    "flow",
    "level",
    "side",
    "total",
    "system",
    "area",
    "zone",
    "run",
    "up",
    "down",
    "out",
    "off",
}
#: words for the role a unit plays among its twins ("duty", "standby"): they say which one
ROLE_WORDS = {
    stem(w)
    for w in (
        "duty",
        "standby",
        "spare",
        "backup",
        "reserve",
        "primary",
        "secondary",
        "lead",
        "lag",
        "auxiliary",
    )
}
#: description words too general to point at a node (function words, common verbs, prepositions)
COMMON = set(
    [
        "about",
        "above",
        "across",
        "after",
        "again",
        "against",
        "along",
        "also",
        "although",
        "always",
        "among",
        "another",
        "any",
        "anything",
        "around",
        "away",
        "back",
        "because",
        "been",
        "before",
        "behind",
        "being",
        "below",
        "beneath",
        "beside",
        "besides",
        "between",
        "beyond",
        "both",
        "bring",
        "brings",
        "but",
        "came",
        "can",
        "cannot",
        "come",
        "comes",
        "could",
        "did",
        "does",
        "doing",
        "done",
        "down",
        "drop",
        "dropping",
        "drops",
        "during",
        "each",
        "either",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "few",
        "first",
        "following",
        "for",
        "from",
        "front",
        "further",
        "get",
        "gets",
        "getting",
        "give",
        "given",
        "gives",
        "go",
        "goes",
        "going",
        "good",
        "got",
        "great",
        "half",
        "has",
        "have",
        "having",
        "here",
        "high",
        "how",
        "however",
        "into",
        "just",
        "keep",
        "keeps",
        "kept",
        "large",
        "last",
        "later",
        "least",
        "left",
        "less",
        "like",
        "little",
        "long",
        "look",
        "lot",
        "low",
        "made",
        "main",
        "make",
        "makes",
        "many",
        "may",
        "might",
        "more",
        "most",
        "much",
        "must",
        "near",
        "need",
        "needs",
        "never",
        "next",
        "nor",
        "not",
        "now",
        "off",
        "often",
        "once",
        "only",
        "onto",
        "other",
        "others",
        "otherwise",
        "our",
        "out",
        "over",
        "own",
        "part",
        "per",
        "put",
        "rather",
        "really",
        "right",
        "same",
        "see",
        "seen",
        "set",
        "several",
        "shall",
        "should",
        "side",
        "since",
        "small",
        "some",
        "something",
        "sometimes",
        "soon",
        "still",
        "stop",
        "stops",
        "such",
        "take",
        "taken",
        "takes",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "things",
        "this",
        "those",
        "though",
        "through",
        "thus",
        "till",
        "together",
        "too",
        "toward",
        "towards",
        "under",
        "until",
        "upon",
        "use",
        "used",
        "uses",
        "using",
        "very",
        "want",
        "was",
        "way",
        "well",
        "went",
        "were",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whole",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "hundred",
        "thousand",
        "either",
        "neither",
        "new",
        "old",
        "full",
        "empty",
        "small",
        "big",
        "near",
        "far",
        "early",
        "late",
        "fast",
        "slow",
        "high",
        "low",
        "mostly",
        "largest",
        "smallest",
        "eastern",
        "western",
        "northern",
        "southern",
    ]
)
_GENERAL = (
    STOPWORDS
    | COMMON
    | {
        "item",
        "items",
        "one",
        "when",
        "where",
        "used",
        "each",
        "has",
        "have",
        "can",
        "will",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "some",
        "more",
        "less",
        "also",
        "only",
        "into",
        "onto",
        "after",
        "before",
        "between",
        "through",
        "around",
        "about",
        "full",
        "empty",
        "waits",
        "wait",
        "takes",
        "goes",
        "gets",
        "made",
        "make",
        "water",
        "product",
        "products",
        "order",
        "orders",
        "case",
        "cases",
        "model",
        "modelled",
        "twin",
    }
)


#: words in a name that relate the node to another one ("valve of P-201", "sensor on P-203")
_RELATING = {
    "of",
    "on",
    "for",
    "to",
    "from",
    "at",
    "in",
    "near",
    "after",
    "before",
    "behind",
    "feeding",
    "serving",
}


@dataclass
class NodeWords:
    """The words that can refer to one node."""

    id: str
    kind: str
    ids: set[str] = field(default_factory=set)  # whole-id forms ("buf_fill", "buffill", "valve1")
    #: short forms of a name's word and number ("Pump 1" -> "p1", "p-1"): ids when only one node has them
    short: set[str] = field(default_factory=set)
    name: set[str] = field(default_factory=set)  # stems of id parts, name, aliases
    weak: set[str] = field(default_factory=set)  # name words that identify nothing alone ("zone", "side")
    marks: set[str] = field(
        default_factory=set
    )  # short parts that identify only next to another word ("a", "1")
    description: set[str] = field(default_factory=set)  # distinctive stems of its description
    surface: set[str] = field(default_factory=set)  # its name words as written (for exact matches)


@dataclass
class Lexicon:
    """Every way the question may name a part of the twin (see the module docstring)."""

    twin: TwinSpec
    nodes: dict[str, NodeWords] = field(default_factory=dict)
    kind_words: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # stem -> kinds
    products: dict[str, str] = field(default_factory=dict)  # stem -> product
    by_stem: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name stems -> nodes
    by_mark: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_weak: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_description: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_id: dict[str, str] = field(default_factory=dict)
    extra_words: set[str] = field(default_factory=set)  # more words worth correcting typos towards

    @classmethod
    def of(cls, twin: TwinSpec, extra_words: set[str] | None = None) -> Lexicon:
        lex = cls(twin)
        lex.extra_words = set(extra_words or ())
        lex._build()
        return lex

    # -- building ---------------------------------------------------------------------------
    @cached_property
    def _twin_words(self) -> set[str]:
        """Words of the twin's own name: its domain, not any one node ("cement", "dairy")."""
        return {stem(w) for w in re.split(r"[\W_]+", self.twin.name.lower()) if len(w) >= 4}

    @cached_property
    def _product_stems(self) -> set[str]:
        return {stem(w) for p in self.twin.products for w in re.split(r"[_\s]+", p.lower())}

    def _build(self) -> None:
        for kind, words in KIND_WORDS.items():
            for w in words:
                self.kind_words[stem(w)].add(kind)
        for alias, kind in KIND_ALIASES.items():
            if "_" not in alias and alias != "demand":
                self.kind_words[stem(alias)].add(kind.value)
        self._twin_kind_words()
        for node in self.twin.nodes:
            self.nodes[node.id] = self._node_words(node)
        # description words that point at one or two nodes only
        counts: dict[str, set[str]] = defaultdict(set)
        for node in self.twin.nodes:
            for w in self._words(node.description or ""):
                counts[w].add(node.id)
        cues = {stem(w) for ws in _op_words().values() for w in ws}
        from twinforge.guard.vocabulary import QUANTITY_WORDS

        cues |= {stem(w) for ws in QUANTITY_WORDS.values() for p in ws for w in p.split()}
        cues -= ROLE_WORDS  # "the standby pump": a role tells two pumps apart, even if it is also a cue
        for w, ids in counts.items():
            if len(ids) <= 2 and w not in self.kind_words and len(w) >= 3 and w not in cues:
                for nid in ids:
                    self.nodes[nid].description.add(w)
                    self.by_description[w].add(nid)
        for nw in self.nodes.values():
            for w in nw.name:
                self.by_stem[w].add(nw.id)
            for w in nw.marks:
                self.by_mark[w].add(nw.id)
            for w in nw.weak:
                self.by_weak[w].add(nw.id)
            for form in nw.ids:
                self.by_id[form] = nw.id
        owners: dict[str, set[str]] = defaultdict(set)
        for nw in self.nodes.values():
            for form in nw.short:
                owners[form].add(nw.id)
        for form, ids in owners.items():
            if len(ids) == 1 and form not in self.by_id:
                self.by_id[form] = next(iter(ids))  # "P1" for "Pump 1 (duty)", unless "Press 1" is one too
        for p in self.twin.products:
            for form in {p.lower(), p.replace("_", " ").lower()}:
                self.products[" ".join(stem(t.text) for t in tokenize(normalise(form)))] = p

    def _words(self, text: str) -> list[str]:
        return [
            stem(t.text) for t in tokenize(normalise(text)) if t.kind == "word" and t.text not in _GENERAL
        ]

    def _twin_kind_words(self) -> None:
        """Kind words this twin adds: head words shared by names of one kind, and synonyms its
        description gives in parentheses ("Buffers (accumulation tables)")."""
        quantities = _quantity_stems()
        # "Buffers (accumulation tables)": a one- to three-word synonym of a kind word
        for text in filter(None, [self.twin.description] + [n.description for n in self.twin.nodes]):
            for m in re.finditer(r"([A-Za-z][\w\- ]{2,40}?)\s*\(([A-Za-z][A-Za-z\- ]{2,40})\)", text):
                before = self._words(m.group(1))
                inside = m.group(2).lower().split()
                if not before or len(inside) > 3 or set(inside) & FUNCTION_WORDS:
                    continue
                kinds = self.kind_words.get(before[-1])
                if kinds:
                    for w in self._words(m.group(2)):
                        if w not in _GENERAL and len(w) >= 3 and w not in quantities:
                            self.kind_words[w] |= kinds
        # a node's own kind word when its description starts with a two-word noun ("Infeed table")
        for node in self.twin.nodes:
            phrase = _first_phrase(node.description)
            if phrase and len(phrase.split()) <= 2:
                words = self._words(phrase)
                if (
                    words
                    and words[-1] not in self.kind_words
                    and len(words[-1]) >= 4
                    and words[-1] not in quantities
                ):
                    self.kind_words[words[-1]].add(node.kind)

    def _node_words(self, node: Node) -> NodeWords:
        nw = NodeWords(node.id, node.kind)
        nid = node.id.lower()
        nw.ids = {nid, nid.replace("_", " "), nid.replace("_", "").replace("-", ""), nid.replace("-", " ")}
        # equipment codes in names ("Duty pump P-201", "FCV-202") name the node like an id; a code
        # after "of", "on" ... names another node ("discharge control valve of P-201")
        for m in re.finditer(r"\b[A-Za-z]{1,4}-?\d{1,4}[A-Za-z]?\b", node.name or ""):
            before = (node.name or "")[: m.start()].split()
            if before and before[-1].lower() in _RELATING:
                continue
            c = m.group(0).lower()
            nw.ids |= {c, c.replace("-", ""), c.replace("-", " "), c.replace("-", "_")}
        short_name = node.name if node.kind != "sensor" else ""  # "Pump 1 flow meter" is not P1
        for m in re.finditer(r"\b([A-Za-z])[A-Za-z]+ #?(\d{1,3})\b", short_name or ""):
            letter, number = m.group(1).lower(), m.group(2)
            nw.short |= {f"{letter}{number}", f"{letter}-{number}"}
        texts = [node.id]
        if node.name:
            texts.append(node.name)
        aliases = node.metadata.get("aliases") if isinstance(node.metadata, dict) else None
        if isinstance(aliases, list):
            texts += [str(a) for a in aliases]
            nw.ids |= {normalise(str(a)) for a in aliases}
        for text in texts:
            joined = re.sub(r"\bnon-", "non", text.lower())  # "non-Schengen" is not "Schengen"
            spaced = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", re.sub(r"[_\-]", " ", joined))
            spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", spaced)
            for variant in {normalise(spaced), german_fold(spaced)}:
                for t in tokenize(variant):
                    if t.kind not in ("word", "number"):
                        continue
                    w = stem(t.text)
                    if t.text in FUNCTION_WORDS and not (len(t.text) == 1 and text == node.id):
                        continue
                    nw.surface.add(american(t.text))
                    nw.surface.add(singular(american(t.text)))
                    code = bool(re.fullmatch(r"[a-z]+\d+[a-z]?|\d+[a-z]+", w))  # "M1", "P7", "2B": a name
                    if (len(w) <= 2 and not code) or t.kind == "number" or w.isdigit():
                        nw.marks.add(w)
                    elif code:
                        nw.name.add(w)
                    elif w in self._twin_words and text == node.name:
                        nw.weak.add(w)  # "cement" in a cement network's names says nothing
                    elif (
                        w in STOPWORDS
                        or w in self.kind_words
                        or w in self._product_stems
                        or _count_word(w)
                        or (node.kind == "sensor" and w in _quantity_stems())
                    ):
                        nw.weak.add(w)
                    else:
                        nw.name.add(w)
        return nw

    # -- looking words up -------------------------------------------------------------------
    @cached_property
    def vocabulary(self) -> set[str]:
        """Stems worth correcting a typo towards."""
        words = set(self.by_stem) | set(self.by_description) | set(self.kind_words)
        words |= {s for p in self.products for s in p.split()}
        words |= {stem(w) for w in self.extra_words}
        return {w for w in words if len(w) >= 4}

    def correct(self, word: str) -> str:
        """The stem of ``word``, corrected to a lexicon word when it is an obvious typo."""
        s = stem(word)
        if (
            s in self.vocabulary
            or len(s) < 5
            or is_english(word)
            or word in self.protected
            or s in self.by_mark
            or not word.isalpha()
        ):
            return s
        limit = 1 if len(s) < 8 else 2
        close = [
            w
            for w in self.vocabulary
            if (w[0] == s[0] and abs(len(w) - len(s)) <= limit and edit_distance(s, w, limit + 1) <= limit)
            or (w.endswith(s) and len(w) - len(s) <= 2)  # "palletiser" for the "depalletizer"
        ]
        if len(close) > 1:  # a typo more often drops letters than adds them
            close = [w for w in close if len(w) >= len(s)]
        return close[0] if len(close) == 1 else s

    @cached_property
    def protected(self) -> set[str]:
        """Words of the question language (cues, units, numbers): never "corrected"."""
        from twinforge.guard import quantities as q
        from twinforge.guard import vocabulary as v

        words = set(q.UP) | set(q.DOWN) | set(q.FASTER) | set(q.SLOWER) | set(q.TIME_UNITS)
        words |= set(q.CURRENCY_WORDS) | set(q.OTHER_UNITS) | set(q._FACTORS) | set(q.COUNT_WORDS)
        for group in (v.OP_WORDS, v.QUANTITY_WORDS):
            for ws in group.values():
                for w in ws:
                    words |= set(w.split())
        return words

    @cached_property
    def cues(self) -> set[str]:
        """Words of change and direction: never a stem-only name ("faster" is not "fast movers")."""
        from twinforge.guard import quantities as q

        return set(q.UP) | set(q.DOWN) | set(q.FASTER) | set(q.SLOWER) | set(q._FACTORS) | set(q.TIME_UNITS)

    def in_name(self, word: str, node: str) -> bool:
        """Whether ``word`` is in the node's ``name:`` (not only in its id)."""
        name = self.twin.node(node).name if self.twin.has_node(node) else None
        if not name:
            return False
        forms = {american(t.text) for t in tokenize(normalise(name))} | {
            american(t.text) for t in tokenize(german_fold(name))
        }
        return _surface_in(word, forms | {singular(f) for f in forms})

    def surface_match(self, word: str, node: str) -> bool:
        """Whether ``word`` is one of the node's name words as written (plural and British
        spellings allowed), not only a word of the same stem ("filling" is not "filler")."""
        return _surface_in(word, self.nodes[node].surface)

    @cached_property
    def kind_surface(self) -> set[str]:
        """Kind words as written (general English and this twin's own)."""
        out = {american(w) for ws in KIND_WORDS.values() for w in ws}
        for nw in self.nodes.values():
            out |= {w for w in nw.surface if stem(w) in self.kind_words}
        return out | {w for w in self.kind_words if len(w) >= 4}

    def kind_match(self, word: str) -> bool:
        return _surface_in(word, self.kind_surface)

    def nodes_of_kind(self, kinds: set[str]) -> set[str]:
        return {n.id for n in self.twin.nodes if n.kind in kinds}


def _op_words() -> dict[str, tuple[str, ...]]:
    from twinforge.guard.vocabulary import OP_WORDS

    return OP_WORDS


def _surface_in(word: str, forms: set[str]) -> bool:
    w = american(word.lower())
    for x in (w, w.replace("ll", "l")):
        if x in forms or (x.endswith("s") and x[:-1] in forms) or (x.endswith("es") and x[:-2] in forms):
            return True
        if x.endswith("ies") and x[:-3] + "y" in forms:
            return True
    return False


def _count_word(w: str) -> bool:
    from twinforge.guard.quantities import _COUNT_STEMS

    return w in _COUNT_STEMS


def _quantity_stems() -> set[str]:
    """Stems of the catalogue's parameter and state names: words for quantities, never kinds."""
    from twinforge.spec.catalog import CATALOG

    names = {n for kd in CATALOG.values() for n in [*kd.params, *kd.states]}
    return {stem(w) for n in names for w in n.split("_")}


def _first_phrase(text: str | None) -> str | None:
    if not text:
        return None
    return re.split(r"[;:.,]", text.strip(), maxsplit=1)[0]


def ascii_name(text: str) -> str:
    return fold(text)
