"""Kinds and names of the elements a description mentions.

Code decides a word's kind from the catalogue's kind names and aliases
(:data:`twinforge.spec.catalog.KIND_ALIASES`) and from the words people use for each kind
(:data:`KIND_WORDS`: "filler", "capper" → station; "reservoir" → tank; "DC" → warehouse). A few
words mean different kinds in different systems ("store" is a customer in a supply network and a
buffer on a line): :data:`AMBIGUOUS` lists their readings, the rest of the description (a line, a
supply network, a liquid system) decides, and only when it does not is the local model asked to
choose between the readings (:func:`choose_kind`); its choice is validated against the options.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from twinforge.build.result import Decision
from twinforge.guard.text import ORDINALS, WORD_NUMBERS
from twinforge.spec.catalog import KIND_ALIASES, NodeKind

#: words for each kind (singular, lowercase; British and American spellings)
KIND_WORDS: dict[str, str] = {
    # stations
    **{
        w: "station"
        for w in [
            "station",
            "workstation",
            "machine",
            "filler",
            "capper",
            "labeler",
            "labeller",
            "packer",
            "rinser",
            "depalletizer",
            "depalletiser",
            "palletizer",
            "palletiser",
            "press",
            "lathe",
            "oven",
            "mixer",
            "inspection",
            "tester",
            "welder",
            "cutter",
            "sorter",
            "printer",
            "sealer",
            "wrapper",
            "robot",
            "drill",
            "grinder",
            "dryer",
            "washer",
            "kiln",
            "sterilizer",
            "sterilizer",
            "pasteurizer",
            "pasteuriser",
            "assembler",
            "blower",
            "moulder",
            "molder",
            "extruder",
            "casepacker",
            "case_packer",
            "bottler",
            "canner",
            "seamer",
            "checkweigher",
            "picker",
            "packing_station",
            "cell",
            "booth",
            "saw",
            "router",
            "furnace",
            "mill",
            "cnc",
            "injector",
            "stamper",
            "folder",
            "bagger",
            "divider",
            "proofer",
            "slicer",
            "cooler",
            "freezer",
            "blender",
            "shaper",
            "fryer",
            "peeler",
            "grader",
            "coater",
            "gluer",
            "laminator",
            "polisher",
            "trimmer",
            "sander",
            "buffer_station",
            "tapper",
            "capper",
            "crimper",
            "bender",
            "roaster",
            "grinder",
            "kneader",
            "dispenser",
            "scanner",
        ]
    },
    "paint booth": "station",
    "assembly station": "station",
    "pick zone": "station",
    "pack bench": "station",
    # buffers
    **{w: "buffer" for w in ["buffer", "accumulator", "accumulation", "queue", "stockpile", "wip", "store"]},
    "accumulation table": "buffer",
    # conveyors
    **{w: "conveyor" for w in ["conveyor", "belt", "chute"]},
    # sources and sinks of a line
    **{w: "source" for w in ["source", "arrival", "arrivals", "intake", "infeed_source"]},
    **{w: "sink" for w in ["sink", "exit", "dock", "dispatch", "shipping", "outfeed_sink"]},
    "finished goods": "sink",
    "receiving dock": "source",
    "receiving area": "source",
    "goods in": "source",
    "goods out": "sink",
    "loading dock": "sink",
    "shipping dock": "sink",
    "shipping area": "sink",
    "end of line": "sink",
    # liquids
    **{w: "tank" for w in ["tank", "reservoir", "tower", "vessel", "basin", "cistern", "silo"]},
    "pump": "pump",
    **{w: "valve" for w in ["valve"]},
    **{w: "junction" for w in ["junction", "manifold", "tee"]},
    # supply networks
    **{w: "supplier" for w in ["supplier", "vendor"]},
    **{w: "plant" for w in ["plant", "factory", "facility", "brewery", "bottler_plant"]},
    **{w: "warehouse" for w in ["warehouse", "dc", "hub"]},
    "distribution center": "warehouse",
    "distribution centre": "warehouse",
    "cross dock": "warehouse",
    **{w: "customer" for w in ["customer", "client", "retailer", "shop", "market"]},
    "demand point": "customer",
    "depot": "depot",
    # instruments
    **{
        w: "sensor"
        for w in ["sensor", "transmitter", "meter", "gauge", "thermometer", "accelerometer", "probe"]
    },
}
KIND_WORDS.update({alias: kind.value for alias, kind in KIND_ALIASES.items()})
KIND_WORDS.update({k.value: k.value for k in NodeKind if k.value != "custom"})

#: the families of kinds: which kind of system a description is about
FAMILY = {
    "station": "line",
    "buffer": "line",
    "conveyor": "line",
    "source": "line",
    "sink": "line",
    "tank": "liquid",
    "pump": "liquid",
    "valve": "liquid",
    "junction": "liquid",
    "supplier": "network",
    "plant": "network",
    "warehouse": "network",
    "customer": "network",
    "depot": "network",
}

#: words with several readings: family of the system -> kind
AMBIGUOUS: dict[str, dict[str, str]] = {
    "store": {"network": "customer", "line": "buffer"},
    "warehouse": {"network": "warehouse", "line": "sink"},
    "customer": {"network": "customer", "line": "sink"},
    "supplier": {"network": "supplier", "line": "source"},
    "vendor": {"network": "supplier", "line": "source"},
    "dock": {"line": "sink", "network": "warehouse"},
    "mill": {"line": "station", "network": "plant"},
    "hub": {"network": "warehouse", "liquid": "junction"},
    "tower": {"liquid": "tank", "network": "warehouse"},
    "silo": {"liquid": "tank", "line": "buffer"},
    "depot": {"network": "depot", "line": "sink"},
    "market": {"network": "customer", "line": "sink"},
    "shop": {"network": "customer", "line": "sink"},
}

#: words that are kind words only as part of a longer phrase, or not nouns of equipment here
_NOT_ALONE = {"cell", "queue", "exit", "belt", "meter", "shipping", "dispatch", "intake", "arrival"}
#: verbs and others that look like kind words ("it will store", "to exit")
_VERB_BEFORE = {"to", "will", "can", "could", "would", "may", "we", "they", "must", "should"}

STOP = set(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "its",
        "it",
        "their",
        "our",
        "his",
        "her",
        "and",
        "or",
        "of",
        "in",
        "at",
        "on",
        "to",
        "from",
        "by",
        "for",
        "with",
        "into",
        "onto",
        "then",
        "next",
        "after",
        "before",
        "each",
        "every",
        "per",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "which",
        "who",
        "where",
        "when",
        "than",
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
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "last",
        "all",
        "both",
        "new",
        "old",
        "small",
        "large",
        "big",
        "main",
        "final",
        "further",
        "another",
        "other",
        "some",
        "any",
        "there",
        "here",
    ]
)
#: lowercase words that may name an element in front of a generic kind word ("inspection station")
GENERIC = {
    "station",
    "machine",
    "tank",
    "pump",
    "buffer",
    "conveyor",
    "sensor",
    "valve",
    "cell",
    "junction",
    "transmitter",
    "meter",
    "gauge",
    "probe",
    "belt",
    "booth",
    "bench",
    "zone",
    "line",
    "vessel",
}
_ADJECTIVES = set(
    [
        "small",
        "large",
        "big",
        "main",
        "final",
        "first",
        "second",
        "third",
        "last",
        "new",
        "old",
        "single",
        "double",
        "automatic",
        "manual",
        "rotary",
        "linear",
        "high",
        "low",
        "fast",
        "slow",
        "central",
        "regional",
        "local",
        "nearby",
        "north",
        "south",
        "east",
        "west",
        "northern",
        "southern",
        "eastern",
        "western",
        "upper",
        "lower",
        "inner",
        "outer",
        "short",
        "long",
        "empty",
        "full",
    ]
)
ORDINAL_WORDS = ORDINALS
COUNT_WORDS = {w: n for w, n in WORD_NUMBERS.items() if 2 <= n <= 10} | {"twin": 2, "dual": 2}
#: words before a sensor that say what it measures (its state)
SENSOR_STATES = {
    "temperature": "temperature",
    "thermometer": "temperature",
    "vibration": "vibration",
    "accelerometer": "vibration",
    "level": "level",
    "flow": "flow",
    "pressure": "pressure",
    "current": "current",
    "power": "power",
    "speed": "flow",
}

TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[-'][A-Za-z0-9_]+)*|\d+(?:\.\d+)?|->|\u2192|=>|[,;:()&/]")


@dataclass(frozen=True)
class Tok:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


def tokens(text: str) -> list[Tok]:
    return [Tok(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]


def light(word: str) -> str:
    """Singular lowercase form of a word ("Fillers" → "filler", "boxes" → "box")."""
    w = word.lower()
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


@dataclass
class Mention:
    """An element the text names: its kind readings (code's first), name, and place in the text."""

    word: str  # the kind word as found ("filler", "distribution center")
    kinds: tuple[str, ...]  # readings; one when unambiguous
    name: str  # display name
    proper: str | None  # a proper name or code given in the text ("P1", "Hanover")
    start: int
    end: int
    ordinal: int | None = None
    count: int | None = None
    modifier: str | None = None  # "inspection" in "inspection station"
    pronoun: bool = False  # "it", "which": the element named before
    plural: bool = False  # "both plants", "the customers": every element of the kind named so far

    @property
    def key(self) -> str:
        """Identity across the description: the same key is the same element."""
        if self.proper:
            p = self.proper
            if len(p) > 2 and (any(c.isdigit() for c in p) or p.isupper()):
                return slug(p)  # a code names one element whatever the kind word: "P1", "DC1"
            # "the Ohio DC" and "the distribution center in Ohio" are one element
            return f"{self.kinds[0]}_{slug(p)}"
        base = slug(f"{self.modifier} {self.word}" if self.modifier else self.word)
        return f"{base}_{self.ordinal}" if self.ordinal and self.ordinal > 1 else base


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", text.strip()).strip("_").lower()
    if not s:
        return "node"
    return s if re.match(r"[A-Za-z_]", s) else f"n_{s}"


@cache
def _unit_words() -> frozenset[str]:
    from twinforge.guard.quantities import COUNT_WORDS as UNIT_COUNTS
    from twinforge.guard.quantities import CURRENCY_WORDS, OTHER_UNITS, TIME_UNITS

    words = set(TIME_UNITS) | set(UNIT_COUNTS) | set(OTHER_UNITS) | set(CURRENCY_WORDS)
    return frozenset(words | {"m3", "m2", "l", "kg", "t", "eur", "usd", "gbp", "pallets", "items", "per"})


def _name_like(tok: Tok, sentence_start: bool) -> bool:
    t = tok.text
    if not re.match(r"[A-Za-z]", t) or t.lower() in STOP or (t.islower() and t in _unit_words()):
        return False
    if light(t) in KIND_WORDS and not any(c.isdigit() for c in t):
        return False
    if any(c.isdigit() for c in t):
        return True
    if t.isupper() and len(t) <= 5 and len(t) >= 1:
        return True
    return t[0].isupper() and not sentence_start


#: ordinary words ending like a machine's name ("-er", "-or") that are not machines
_NOT_AGENT = set(
    [
        "after",
        "other",
        "under",
        "over",
        "per",
        "water",
        "number",
        "order",
        "never",
        "either",
        "whether",
        "rather",
        "later",
        "faster",
        "slower",
        "together",
        "another",
        "every",
        "however",
        "operator",
        "worker",
        "customer",
        "supplier",
        "manager",
        "paper",
        "rubber",
        "timer",
        "user",
        "driver",
        "owner",
        "member",
        "corner",
        "partner",
        "power",
        "computer",
        "container",
        "letter",
        "matter",
        "quarter",
        "summer",
        "winter",
        "center",
        "centre",
        "meter",
        "liter",
        "litre",
        "filter",
        "floor",
        "door",
        "color",
        "colour",
        "error",
        "motor",
        "factor",
        "sensor",
        "transfer",
        "layer",
        "counter",
        "buyer",
        "carrier",
    ]
)


#: names of process steps that are stations in a line ("step 2 is drilling (42 s)")
ACTIVITIES = set(
    [
        "cutting",
        "drilling",
        "milling",
        "welding",
        "painting",
        "assembly",
        "assembling",
        "packing",
        "packaging",
        "labelling",
        "labeling",
        "filling",
        "capping",
        "inspection",
        "testing",
        "sorting",
        "printing",
        "sealing",
        "wrapping",
        "washing",
        "drying",
        "deburring",
        "grinding",
        "polishing",
        "sanding",
        "mixing",
        "baking",
        "cooling",
        "picking",
        "pressing",
        "moulding",
        "molding",
        "stamping",
        "bending",
        "coating",
        "curing",
        "trimming",
        "sewing",
        "folding",
        "gluing",
        "machining",
        "turning",
        "rinsing",
    ]
)


def _agent_noun(toks: list[Tok], i: int) -> bool:
    """ "the divider", "a proofer": a noun for what does a step (words ending in -er/-or) after an
    article, read as a station in a line (only when the description is about a line)."""
    t = toks[i]
    low = t.low
    word = light(low)
    if low in ACTIVITIES:
        return not (i + 1 < len(toks) and light(toks[i + 1].low) in KIND_WORDS)
    if not (word.endswith(("er", "or")) and len(word) > 4 and word.isalpha()) or word in _NOT_AGENT:
        return False
    prev = toks[i - 1].low if i > 0 else ""
    return prev in ("the", "a", "an") or i == 0


def find_mentions(text: str, previous: Mention | None = None, agent_nouns: bool = False) -> list[Mention]:
    """Every element the text mentions, in order (plural lists of names give one each).
    ``agent_nouns``: also read "the divider", "a proofer" as stations (for lines)."""
    toks = tokens(text)
    out: list[Mention] = []
    i = 0
    while i < len(toks):
        hit = _kind_at(toks, i)
        if hit is None and agent_nouns and _agent_noun(toks, i):
            hit = (light(toks[i].low), 1)
        if hit is None:
            low = toks[i].low
            last = out[-1] if out else previous
            if low in ("it", "which") and last is not None:
                out.append(replace(last, start=toks[i].start, end=toks[i].end, pronoun=True))
            i += 1
            continue
        word, n = hit
        j = i + n
        merged_modifier = None
        if (
            j < len(toks)
            and light(toks[j].low) in GENERIC
            and light(toks[j].low) in KIND_WORDS
            and n == 1
            and KIND_WORDS.get(word) != "sensor"
        ):
            # the head noun decides: "inspection station", "buffer tank", "filler station"
            merged_modifier, word = toks[i].low, light(toks[j].low)
            j += 1
            lead = _modifier_before(toks, i, word)
            if lead:
                merged_modifier = f"{lead} {merged_modifier}"
        kinds = _readings(word)
        prev = toks[i - 1].low if i > 0 else ""
        if prev in _VERB_BEFORE and word in ("store", "exit", "queue", "source", "press", "mill", "drill"):
            i = j
            continue
        if word in _NOT_ALONE and not _has_company(toks, i, j):
            i = j
            continue
        plural = toks[j - 1].low != light(toks[j - 1].low)
        # names after the kind word: "Plant North", "pump P-101", "customers Berlin, Munich and Hamburg"
        names, k = _names_after(toks, j, plural)
        before = _proper_before(toks, i)
        modifier = merged_modifier or _modifier_before(toks, i, word)
        if modifier and not merged_modifier:
            back = i - 1 - len(modifier.split())  # "two packing stations": the count is before the modifier
            prev = toks[back].low if back >= 0 else ""
        elif merged_modifier:
            back = i - 1 - (len(merged_modifier.split()) - 1)
            prev = toks[back].low if back >= 0 else ""
        ordinal = ORDINAL_WORDS.get(prev)
        count = COUNT_WORDS.get(prev) or (int(prev) if prev.isdigit() and plural and len(prev) <= 3 else None)
        if names:
            for nm, (s, e) in names:
                out.append(
                    Mention(
                        word,
                        kinds,
                        _display(word, nm),
                        nm,
                        s if len(names) > 1 else toks[i].start,
                        e,
                        modifier=modifier,
                    )
                )
            i = k
            continue
        if before:
            nm, s = before
            out.append(Mention(word, kinds, _display(word, nm), nm, s, toks[j - 1].end, modifier=None))
            i = j
            continue
        name = f"{modifier} {word}" if modifier else word
        if ordinal and ordinal > 1:
            name = f"{name} {ordinal}"
        out.append(
            Mention(
                word,
                kinds,
                name,
                None,
                toks[i].start,
                toks[j - 1].end,
                ordinal=ordinal,
                count=count,
                modifier=modifier,
                plural=plural and not count,
            )
        )
        i = j
    return out


def _has_company(toks: list[Tok], i: int, j: int) -> bool:
    """A weak kind word counts when a name or a modifier goes with it."""
    if j < len(toks) and _name_like(toks[j], False):
        return True
    return i > 0 and toks[i - 1].low not in STOP and toks[i - 1].low.isalpha()


def _kind_at(toks: list[Tok], i: int) -> tuple[str, int] | None:
    for n in (3, 2):
        if i + n <= len(toks):
            phrase = " ".join(light(t.low) if k == n - 1 else t.low for k, t in enumerate(toks[i : i + n]))
            if phrase in KIND_WORDS:
                return phrase, n
    w = light(toks[i].low)
    if w in KIND_WORDS and toks[i].text[0].isalpha():
        if w in ("dc",) and not toks[i].text.isupper():
            return None
        return w, 1
    # codes such as "DC1", "DC-2": kind word with a number glued on
    m = re.match(r"^(dc|wh)[-_]?\d+$", toks[i].low)
    if m:
        return None
    return None


def _readings(word: str) -> tuple[str, ...]:
    if word in AMBIGUOUS:
        return tuple(dict.fromkeys(AMBIGUOUS[word].values()))
    return (KIND_WORDS.get(word, "station"),)


def _display(word: str, proper: str) -> str:
    if proper.islower():
        return proper  # a list after a colon: "stations: receiving, cutting"
    if len(proper) <= 2 or proper.isdigit():
        return f"{word.title()} {proper}"  # "Station A", "Machine 2"
    if any(c.isdigit() for c in proper) or proper.isupper():
        return proper
    head = word.upper() if len(word) <= 3 else word.title()
    return f"{head} {proper}"


def _names_after(toks: list[Tok], j: int, plural: bool) -> tuple[list[tuple[str, tuple[int, int]]], int]:
    k = j
    if plural:
        # "five stations in series: receiving, cutting and packing": the list names them
        m = k
        if (
            m + 1 < len(toks)
            and toks[m].low == "in"
            and toks[m + 1].low in ("series", "parallel", "sequence", "order", "line")
        ):
            m += 2
        if m < len(toks) and toks[m].low == ":":
            listed = _word_list(toks, m + 1)
            if len(listed) >= 2:
                return listed, _list_end(toks, m + 1)
    if (
        k < len(toks)
        and toks[k].low in ("in", "at", "called", "named", ":", "(", ",")
        and (k + 1 < len(toks) and _name_like(toks[k + 1], False))
    ):
        k += 1
    names: list[tuple[str, tuple[int, int]]] = []
    if k == j and k < len(toks) and _code_after_kind(toks, k):
        # "Station A", "machine 2", "Line 3": a letter or number right after the kind word
        return [(toks[k].text, (toks[k].start, toks[k].end))], k + 1
    while k < len(toks):
        run: list[Tok] = []
        while (
            k < len(toks)
            and len(run) < 3
            and (_name_like(toks[k], False) or (run and len(toks[k].text) == 1 and toks[k].text.isupper()))
        ):
            run.append(toks[k])
            k += 1
        if not run:
            break
        names.append((" ".join(t.text for t in run), (run[0].start, run[-1].end)))
        if not plural:
            break
        if k < len(toks) and toks[k].low in (",", "and", "&", "or"):
            if k + 1 < len(toks) and toks[k + 1].low == "and":
                k += 1
            if k + 1 < len(toks) and _name_like(toks[k + 1], False):
                k += 1
                continue
        break
    if (
        plural
        and len(names) == 1
        and not (j < len(toks) and toks[j].low in ("in", "at", "called", "named", ":", "("))
    ):
        pass
    return names, k


def _list_end(toks: list[Tok], k: int) -> int:
    while k < len(toks) and toks[k].text not in (".", ";", "(", ")"):
        k += 1
    return k


def _word_list(toks: list[Tok], k: int) -> list[tuple[str, tuple[int, int]]]:
    """Names in a list after a colon: up to three words each, separated by "," / "and"."""
    out: list[tuple[str, tuple[int, int]]] = []
    run: list[Tok] = []
    end = _list_end(toks, k)
    for t in [*toks[k:end], Tok(",", 0, 0)]:
        if t.low in (",", "and", "&", "then", "->"):
            if run and len(run) <= 3:
                words = [r for r in run if r.low not in STOP]
                if words:
                    out.append((" ".join(w.text for w in words), (words[0].start, words[-1].end)))
            run = []
        elif t.text[0].isalnum():
            run.append(t)
    return out


def _code_after_kind(toks: list[Tok], k: int) -> bool:
    from twinforge.guard.quantities import COUNT_WORDS as UNIT_COUNTS
    from twinforge.guard.quantities import OTHER_UNITS, TIME_UNITS

    t = toks[k].text
    if len(t) == 1 and t.isupper() and t != "I":
        return not (k + 1 < len(toks) and toks[k + 1].text[:1].isupper() and toks[k + 1].low not in STOP)
    if t.isdigit() and len(t) <= 3:
        nxt = toks[k + 1].low if k + 1 < len(toks) else ""
        units = set(TIME_UNITS) | set(UNIT_COUNTS) | set(OTHER_UNITS) | {"%", "per", "x", "/"}
        return nxt not in units and light(nxt) not in units and not nxt.startswith("item")
    return False


def _proper_before(toks: list[Tok], i: int) -> tuple[str, int] | None:
    run: list[Tok] = []
    k = i - 1
    while k >= 0 and len(run) < 2:
        t = toks[k]
        sentence_start = k == 0 or toks[k - 1].text in (".", ";", ":")
        if _name_like(t, sentence_start) and not (t.text.isupper() and len(t.text) <= 1):
            run.insert(0, t)
            k -= 1
            continue
        break
    if not run:
        return None
    return " ".join(t.text for t in run), run[0].start


def _modifier_before(toks: list[Tok], i: int, word: str) -> str | None:
    if word not in GENERIC or i == 0:
        return None
    t = toks[i - 1]
    low = t.low
    if not low.isalpha() or low in STOP or low in _ADJECTIVES or low in COUNT_WORDS or low in ORDINAL_WORDS:
        return None
    if low in KIND_WORDS and word not in ("sensor", "transmitter", "meter", "gauge", "probe"):
        return None
    if i >= 2:  # "raw milk tank"
        t2 = toks[i - 2].low
        if (
            t2.isalpha()
            and t2 not in STOP
            and t2 not in COUNT_WORDS
            and t2 not in ORDINAL_WORDS
            and t2 not in KIND_WORDS
        ):
            return f"{t2} {low}"
    return low


def family_of(mentions: list[Mention]) -> dict[str, int]:
    """How many unambiguous mentions each family of kinds has."""
    counts: dict[str, int] = {}
    for m in mentions:
        if len(m.kinds) == 1 and m.kinds[0] in FAMILY and not m.pronoun:
            fam = FAMILY[m.kinds[0]]
            counts[fam] = counts.get(fam, 0) + 1
    return counts


Chooser = Callable[[str, str, list[str]], tuple[str, str]]


def resolve_kind(
    mention: Mention, families: dict[str, int], context: str, chooser: Chooser | None
) -> tuple[str, Decision | None]:
    """The kind of a mention: its only reading, the reading of the description's family, or the
    model's choice between the readings (validated); without a model, the first reading."""
    if len(mention.kinds) == 1:
        return mention.kinds[0], None
    readings = AMBIGUOUS.get(mention.word, {})
    present = [f for f in readings if families.get(f)]
    options = list(mention.kinds)
    if len(present) == 1 or (
        present and families[present[0]] > 2 * max(families.get(f, 0) for f in present[1:])
    ):
        best = max(present, key=lambda f: families[f])
        kind = readings[best]
        return kind, Decision(f"kind of {mention.word!r}", options, kind, f"context ({best})")
    if chooser is not None:
        kind, how = chooser(mention.word, context, options)
        if kind in options:
            return kind, Decision(f"kind of {mention.word!r}", options, kind, how)
    return options[0], Decision(f"kind of {mention.word!r}", options, options[0], "first reading (no model)")


def model_chooser(llm) -> Chooser:  # llm: twinforge.ai.LLM
    """A chooser that asks the local model which of the readings the sentence means."""
    from twinforge.spec.catalog import CATALOG

    def choose(word: str, context: str, options: list[str]) -> tuple[str, str]:
        labels = [f"{k}: {CATALOG[k].description}" for k in options]
        prompt = (
            f"In a description of a system for a digital twin: {context!r}\n"
            f"What is the {word!r} in this sentence?"
        )
        choice = llm.choose(prompt, labels)
        margin = f", margin {choice.margin:.2f}" if isinstance(choice.margin, float) else ""
        return options[choice.index], f"model ({choice.how}{margin})"

    return choose


def choose_kind(llm, word: str, context: str, options: list[str]) -> tuple[str, str]:
    """Ask the model which reading of ``word`` the sentence means (the answer is one of ``options``)."""
    kind, how = model_chooser(llm)(word, context, options)
    if kind not in options:  # pragma: no cover - choose only returns an index into options
        raise ValueError(f"model chose {kind!r}, not one of {options}")
    return kind, how
