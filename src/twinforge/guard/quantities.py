"""The numbers of a question: value, unit, and the role each plays.

A number means something only with its words around it. "for 4 hours" is a duration, "4 hours
into the run" a start time, "to 5 days" a new value, "by 10%" a change, "10% faster" a change of a
rate, "3 more" an amount to add, "double" a factor, "200 orders an hour" a rate, "instead of 30"
the old value (not used). :func:`scan` finds every number (digits, number words, "an hour", "half
an hour", clock times) with its unit in the twin's unit language (``h``, ``%``, ``item/day``,
``EUR/item``, ``L/min``...) and gives it the roles it can play, most likely first, and the
direction of a change when the question says it. Code, not a model, decides these: a plan may
only put a number in a slot of one of its roles.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from twinforge.guard.text import ORDINALS, WORD_NUMBERS, Token, normalise, stem, tokenize

# -- units ------------------------------------------------------------------------------------

TIME_UNITS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "min",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
}
COUNT_WORDS = {
    "item",
    "case",
    "pallet",
    "container",
    "order",
    "tote",
    "unit",
    "piece",
    "pc",
    "pcs",
    "bottle",
    "parcel",
    "box",
    "crate",
    "load",
    "patient",
    "carton",
    "bag",
    "drum",
    "truckload",
    "shipment",
    "place",
    "slot",
    "spot",
    "space",
    "part",
    "product",
    "batch",
    "job",
    "car",
    "vehicle",
    "package",
    "roll",
    "keg",
    "ton",
    "tonne",
    "tonnes",
    "tons",
    "t",
}
CURRENCY_WORDS = {
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "chf": "CHF",
    "franc": "CHF",
    "francs": "CHF",
    "fr": "CHF",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "jpy": "JPY",
    "yen": "JPY",
    "cny": "CNY",
    "yuan": "CNY",
}
#: hundredths of a currency
CENT_WORDS = {
    "cent": None,
    "cents": None,
    "p": "GBP",
    "pence": "GBP",
    "penny": "GBP",
    "rappen": "CHF",
}
OTHER_UNITS = {
    "%": "%",
    "percent": "%",
    "pct": "%",
    "kwh": "kWh",
    "mwh": "MWh",
    "kw": "kW",
    "w": "W",
    "mw": "MW",
    "watt": "W",
    "watts": "W",
    "kilowatt": "kW",
    "kilowatts": "kW",
    "l": "L",
    "litre": "L",
    "litres": "L",
    "liter": "L",
    "liters": "L",
    "ml": "mL",
    "m3": "m^3",
    "bar": "bar",
    "kpa": "kPa",
    "pa": "Pa",
    "psi": "psi",
    "degc": "degC",
    "celsius": "degC",
    "degf": "degF",
    "fahrenheit": "degF",
    "m": "m",
    "metre": "m",
    "metres": "m",
    "meter": "m",
    "meters": "m",
    "km": "km",
    "mm": "mm",
    "cm": "cm",
    "cycle": "cycle",
    "cycles": "cycle",
    "rpm": "1/min",
    "kg": "kg",
    "g": "g_0",
    "a": "A",  # amperes only directly after a number with nothing else that fits
    "amp": "A",
    "amps": "A",
    "v": "V",
    "volt": "V",
    "volts": "V",
}
#: words before "one of" that take one away ("lose one of the three scanners")
_TAKE_AWAY = {
    "lose",
    "losing",
    "lost",
    "remove",
    "removing",
    "drop",
    "dropping",
    "out",
    "scrap",
    "retire",
    "retiring",
}
#: words before "a"/"an" that add one ("add a scanner", "hire an operator")
_ADD_ONE = {
    "add",
    "adding",
    "hire",
    "hiring",
    "install",
    "installing",
    "open",
    "opening",
    "buy",
    "put",
    "bring",
    "get",
}
#: nouns that are not counted things ("a second look", "take a second")
_NOT_COUNTED = {
    "look",
    "time",
    "go",
    "try",
    "thought",
    "option",
    "way",
    "opinion",
    "shift",
    "bit",
    "little",
    "lot",
    "few",
    "day",
    "week",
    "while",
    "moment",
    "chance",
}
#: words after "a third" that make it a fraction ("a third more orders"), not an ordinal
_FRACTION_NEXT = {
    "more",
    "less",
    "fewer",
    "of",
    "off",
    "extra",
    "lower",
    "higher",
    "faster",
    "slower",
    "cheaper",
}
#: words before "a second" that make it a time, not an ordinal
_TIME_CONTEXT = {
    "for",
    "in",
    "within",
    "after",
    "every",
    "per",
    "each",
    "than",
    "under",
    "over",
    "about",
    "just",
    "only",
}
#: words before "one" that make it a pronoun ("the existing one")
_NOT_A_NUMBER = {
    "the",
    "this",
    "that",
    "each",
    "every",
    "any",
    "which",
    "existing",
    "new",
    "old",
    "other",
    "no",
    "another",
    "same",
    "current",
    "only",
    "quick",  # "quick one before the meeting": a question, not a number
}
#: words that may stand between a unit and its per-part ("2 CHF less per container")
_GAP = {"less", "more", "cheaper", "dearer", "extra", "higher", "lower", "off"}
#: hedges skipped when looking for the word before a number ("more like 8 hours")
_HEDGES = {
    "like",
    "really",
    "actually",
    "about",
    "around",
    "approximately",
    "roughly",
    "some",
    "just",
    "maybe",
    "perhaps",
    "nearly",
    "almost",
    "exactly",
    "even",
    "still",
    "say",
    "probably",
}
_ADD = {"add", "adds", "adding", "added", "plus", "another", "extra", "additional"}
#: words that may stand between a number and its unit ("3 more seconds", "40 extra roll containers")
_FILLER = {"more", "extra", "additional", "fewer", "less", "roll", "new", "empty", "full", "whole"}
#: words between a quantity and the unit it is per ("5 euros a pallet", "200 orders an hour")
PER = {"/", "a", "an", "per", "each", "every"}


_COUNT_STEMS = {stem(w) for w in COUNT_WORDS}


def _count(word: str) -> bool:
    return word in COUNT_WORDS or stem(word) in _COUNT_STEMS


@dataclass
class NumberMention:
    """A number in a question, with its unit and the roles it may play (most likely first)."""

    value: float
    unit: str  # "" when none is written
    roles: tuple[str, ...]
    start: int  # character span in the normalised question
    end: int
    text: str
    direction: str | None = None  # increase | decrease | faster | slower
    derived: bool = False  # from words ("double", "an hour"), not digits
    clock: float | None = None  # a time of day, in hours
    inner: tuple[str, ...] = ()  # words between the number and its unit ("more" in "3 more seconds")

    @property
    def is_time(self) -> bool:
        return self.unit in ("s", "min", "h", "day", "week")

    def plain(self) -> str:
        u = f" {self.unit}" if self.unit and self.unit != "%" else self.unit
        return f"{self.value:g}{u}"


# -- cue words ---------------------------------------------------------------------------------

UP = {
    "busier",
    "more",
    "up",
    "higher",
    "increase",
    "rise",
    "raise",
    "grow",
    "longer",
    "bigger",
    "larger",
    "extra",
    "additional",
    "add",
    "plus",
    "boost",
    "jump",
    "climb",
    "surge",
    "expand",
    "over",
    "above",
    "dearer",
    "pricier",
    "expensive",
    "hike",
    "heavier",
    "another",
    "further",
    "bump",
    "ramp",
    "gain",
    "improve",
    "greater",
    "upped",
}
DOWN = {
    "quieter",
    "short",
    "shaves",
    "calmer",
    "less",
    "fewer",
    "down",
    "lower",
    "reduce",
    "cut",
    "drop",
    "fall",
    "decline",
    "shrink",
    "shorter",
    "smaller",
    "minus",
    "off",
    "slash",
    "lose",
    "under",
    "below",
    "cheaper",
    "decrease",
    "knock",
    "trim",
    "shave",
    "worse",
    "degrade",
    "sink",
    "dip",
    "weaker",
    "lighter",
    "remove",
    "savings",
    "saving",
    "save",
}
#: nouns of a change: "savings of", "an increase of"
_CHANGE_NOUNS = {
    "savings": "decrease",
    "saving": "decrease",
    "cut": "decrease",
    "cuts": "decrease",
    "reduction": "decrease",
    "drop": "decrease",
    "decrease": "decrease",
    "fall": "decrease",
    "increase": "increase",
    "rise": "increase",
    "hike": "increase",
    "uplift": "increase",
}
# nouns a number counts in a question rather than quantifies in the twin ("two things at once")
#: comparatives after a quantity with its unit: "100 m3 bigger" is a change by 100 m3
_COMPARATIVES = {
    "bigger",
    "larger",
    "smaller",
    "higher",
    "lower",
    "heavier",
    "lighter",
    "wider",
    "deeper",
    "longer",
}
#: equipment that people number ("kiln 2", "bay 4", "line 3"): the number says which one
_LABELLED = {
    "kiln",
    "bay",
    "oven",
    "unit",
    "hall",
    "dock",
    "door",
    "gate",
    "berth",
    "shed",
    "bed",
    "no",
    "number",
}
_COUNTED = {
    "thing",
    "things",
    "option",
    "options",
    "idea",
    "ideas",
    "question",
    "questions",
    "change",
    "changes",
    "step",
    "steps",
}
FASTER = {"faster", "quicker", "speedier", "accelerate"}
SLOWER = {"slower", "slow", "sluggish"}
_STEM_UP = {stem(w) for w in UP}
_STEM_FASTER = {stem(w) for w in FASTER}
_STEM_SLOWER = {stem(w) for w in SLOWER}
_STEM_DOWN = {stem(w) for w in DOWN}


def direction_of(word: str) -> str | None:
    w = word.lower()
    s = stem(w)
    if w in FASTER or s in _STEM_FASTER:
        return "faster"
    if w in SLOWER or s in _STEM_SLOWER:
        return "slower"
    if w in UP or s in _STEM_UP:
        return "increase"
    if w in DOWN or s in _STEM_DOWN:
        return "decrease"
    return None


#: words right before a number that give its role
_BEFORE_VALUE = {"to", "at", "of", "=", "is", "be", "are", "was", "were", "becomes", "become", "as", "only"}
_BEFORE_CHANGE = {"by"}
_BEFORE_START = {"after", "from", "starting", "beginning", "until", "till", "since", "around"}
_BEFORE_DURATION = {
    "for",
    "lasting",
    "lasts",
    "last",
    "during",
    "within",
    "over",
    "down",
    "off",
    "out",
    "offline",
    "stopped",
    "idle",
}
_VALUE_VERBS = {
    "take",
    "took",
    "takes",
    "taking",
    "average",
    "averaged",
    "averages",
    "averaging",
    "need",
    "needs",
    "needed",
    "hold",
    "holds",
    "held",
    "have",
    "has",
    "had",
    "get",
    "gets",
    "cost",
    "costs",
    "charge",
    "charges",
    "pay",
    "pays",
    "want",
    "wants",
    "fit",
    "fits",
    "run",
    "runs",
    "ran",
    "set",
    "use",
    "uses",
    "reach",
    "reaches",
    "hit",
    "hits",
    "make",
    "makes",
    "deliver",
    "delivers",
    "supply",
    "supplies",
    "handle",
    "handles",
    "process",
    "processes",
    "ship",
    "ships",
    "draw",
    "draws",
    "drawing",
    "sell",
    "sells",
    "order",
    "orders",
    "require",
    "requires",
    "demand",
    "demands",
    "sits",
    "sit",
    "stay",
    "stays",
    "stuck",
    "sticks",
    "with",
}
#: words after a time that make it an amount of change ("5 minutes longer", "2 h sooner")
_MORE_OR_LESS = {
    "more",
    "extra",
    "longer",
    "less",
    "shorter",
    "fewer",
    "faster",
    "quicker",
    "slower",
    "sooner",
}
_AFTER_START = {"into", "in", "later", "mark", "onward", "onwards", "after"}
_START_VERBS = {stem(w) for w in ("start", "started", "starting", "begin", "began", "kick", "launch", "open")}
_AFTER_DURATION = {"outage", "stop", "stoppage", "shutdown", "downtime", "break", "breakdown", "long"}


def _number_words(tokens: list[Token], i: int) -> tuple[float, int] | None:
    """A number written in words starting at token ``i``: (value, tokens used)."""
    t = tokens[i].text
    if t not in WORD_NUMBERS:
        return None
    value = float(WORD_NUMBERS[t])
    used = 1
    if t in ("hundred", "thousand", "dozen"):
        return value, used
    # twenty five, twenty-five
    j = i + 1
    if j < len(tokens) and tokens[j].text == "-":
        j += 1
    if value >= 20 and value % 10 == 0 and j < len(tokens) and tokens[j].text in WORD_NUMBERS:
        small = WORD_NUMBERS[tokens[j].text]
        if 0 < small < 10:
            value += small
            used = j - i + 1
    k = i + used
    if k < len(tokens) and tokens[k].text in ("hundred", "thousand"):
        value *= WORD_NUMBERS[tokens[k].text]
        used += 1
    return value, used


_FRACTIONS = {"half": 0.5, "third": 1 / 3, "thirds": 1 / 3, "quarter": 0.25, "quarters": 0.25}
_FACTORS = {
    "double": 2.0,
    "doubled": 2.0,
    "doubles": 2.0,
    "doubling": 2.0,
    "twice": 2.0,
    "triple": 3.0,
    "tripled": 3.0,
    "triples": 3.0,
    "tripling": 3.0,
    "thrice": 3.0,
    "quadruple": 4.0,
    "quadrupled": 4.0,
    "halve": 0.5,
    "halved": 0.5,
    "halves": 0.5,
    "halving": 0.5,
}


def scan(question: str, currency: str | None = None) -> list[NumberMention]:
    """Every number of a question with its unit and roles (see the module docstring)."""
    text = normalise(question)
    tokens = tokenize(text)
    found: list[NumberMention] = []
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        mention, n = _read_at(tokens, i, currency)
        if mention is not None:
            found.append(mention)
            used.update(range(i, i + n))
            i += n
            continue
        del tok
        i += 1
    clock_reference(found, tokens)
    found = _merge_per(found, tokens)
    _contrast(found, text)
    for m in found:
        _assign_roles(m, tokens, text)
    return found


def _contrast(found: list[NumberMention], text: str) -> None:
    """ "MTBF is 6 hours on paper, but it's more like 180 minutes": the first number is the old
    value when a later one of the same kind contradicts it."""
    for a, b in itertools.pairwise(found):
        between = text[a.end : b.start] + " "
        same_kind = (a.is_time and b.is_time) or (a.unit == b.unit)
        contrast = r"\b(more like|actually|really|in practice|in reality|closer to|nearer|reckon|rather)\b"
        if same_kind and re.search(r"\bbut\b", between) and re.search(contrast, between):
            a.roles = ("old",)


def _merge_per(found: list[NumberMention], tokens: list[Token]) -> list[NumberMention]:
    """ "40 more containers of milk a day": the "a day" is the per-part of the count before it."""
    out: list[NumberMention] = []
    for m in found:
        if (
            out
            and m.derived
            and m.value == 1
            and m.text.split()[0] in ("a", "an", "per", "each", "every")
            and m.unit in ("h", "day", "week", "min")
            and (out[-1].unit == "item" or out[-1].unit in CURRENCY_WORDS.values())
            and _between(tokens, out[-1].end, m.start) <= 4
        ):
            prev = out[-1]
            out[-1] = replace(prev, unit=f"{prev.unit}/{m.unit}", end=m.end, text=f"{prev.text} ... {m.text}")
            continue
        out.append(m)
    return out


def _between(tokens: list[Token], end: int, start: int) -> int:
    return sum(1 for t in tokens if t.start >= end and t.end <= start)


def _read_at(tokens: list[Token], i: int, currency: str | None) -> tuple[NumberMention | None, int]:
    """The number starting at token ``i`` (digits, words, fractions, factor words), if any."""
    tok = tokens[i]
    low = tok.text
    nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
    prev = tokens[i - 1].text if i > 0 else ""

    # "lose one of the three scanners", "remove one of the pumps": one fewer
    if low == "one" and nxt == "of" and prev in _TAKE_AWAY:
        # "one of the three ...": the three is how many there are now, not a value
        n = 4 if i + 3 < len(tokens) and tokens[i + 2].text == "the" and _number_words(tokens, i + 3) else 1
        end = tokens[i + n - 1].end
        mention = NumberMention(
            1.0, "", ("amount",), tok.start, end, "one of", direction="decrease", derived=True
        )
        return mention, n
    # "a fourth CT scanner", "open a fifth bench": that many
    after2 = tokens[i + 2] if i + 2 < len(tokens) else None
    if (
        low in ("a", "an")
        and nxt in ORDINALS
        and nxt != "first"
        and prev != "by"  # "down by a third next month": a fraction
        and after2 is not None
        and after2.kind == "word"
    ):
        if (
            after2.text not in TIME_UNITS
            and after2.text not in _NOT_COUNTED
            and after2.text not in _FRACTION_NEXT
        ):
            value = float(ORDINALS[nxt])
            return NumberMention(
                value, "", ("value",), tok.start, tokens[i + 1].end, f"{low} {nxt}", derived=True
            ), 2
    # "add a scanner", "hire an operator": one more
    if prev in _ADD_ONE and low in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1].kind == "word":
        if nxt not in TIME_UNITS and nxt not in WORD_NUMBERS and nxt not in _NOT_COUNTED:
            mention = NumberMention(
                1.0, "", ("amount",), tok.start, tok.end, f"{prev} {low}", direction="increase", derived=True
            )
            return mention, 1
    # one more of something: "another picker", "an extra bench", "one more"
    two = f"{low} {nxt}"
    if two in ("an extra", "an additional", "one more", "one extra", "one additional") or low == "another":
        n = 1 if low == "another" else 2
        after = tokens[i + n] if i + n < len(tokens) else None
        if (
            after is not None
            and after.kind == "word"
            and after.text not in TIME_UNITS
            and after.text not in WORD_NUMBERS
            and after.text not in ("look", "time", "go", "try", "thought", "option", "way")
        ):
            m = NumberMention(
                1.0,
                "",
                ("amount",),
                tok.start,
                tokens[i + n - 1].end,
                two if n == 2 else low,
                direction="increase",
                derived=True,
            )
            return m, n
    # "cut in half", "split in half": a factor
    if low == "in" and nxt == "half":
        return NumberMention(0.5, "", ("factor",), tok.start, tokens[i + 1].end, "in half", derived=True), 2
    # "shut completely", "close fully", "open fully": the ends of a fraction
    verb = next(
        (
            t.text
            for t in reversed(tokens[max(0, i - 5) : i])
            if t.text in ("shut", "close", "closed", "open", "opened")
        ),
        None,
    )
    if low in ("wide", "fully", "full", "completely") and nxt in ("open", "opened", "closed", "shut"):
        value = 0.0 if nxt.startswith(("shut", "clos")) else 1.0  # "goes wide open"
        end = tokens[i + 1].end
        return NumberMention(value, "", ("value",), tok.start, end, f"{low} {nxt}", derived=True), 2
    if low in ("completely", "fully", "entirely", "wide", "right") and verb is not None:
        value = 0.0 if verb.startswith(("shut", "clos")) else 1.0
        prev = verb
        return NumberMention(value, "", ("value",), tok.start, tok.end, f"{prev} {low}", derived=True), 1
    # a whole day, a full week, an entire shift
    if (
        low in ("a", "an", "one", "the")
        and nxt in ("whole", "full", "entire")
        and i + 2 < len(tokens)
        and tokens[i + 2].text in TIME_UNITS
    ):
        unit = TIME_UNITS[tokens[i + 2].text]
        text = f"{low} {nxt} {tokens[i + 2].text}"
        return NumberMention(1.0, unit, (), tok.start, tokens[i + 2].end, text, derived=True), 3
    # "half the usual demand", "half as much": a factor
    if low == "half" and nxt in ("the", "of", "as", "our", "its", "their"):
        return NumberMention(0.5, "", ("factor",), tok.start, tok.end, "half", derived=True), 1
    # full speed, full stroke, full power: all of it
    if (
        low == "full"
        and nxt in ("speed", "stroke", "power", "throttle", "output")
        and prev in ("at", "to", "on")
    ):
        return NumberMention(1.0, "", ("value",), tok.start, tok.end, "full", derived=True), 1
    # half open, half speed, half full: a fraction
    if low == "half" and nxt in ("open", "closed", "shut", "full", "speed", "capacity", "way", "power"):
        return NumberMention(0.5, "", ("value",), tok.start, tok.end, "half", derived=True), 1
    # factor words: double, twice, halve ...
    if low in _FACTORS:
        value = _FACTORS[low]
        return NumberMention(value, "", ("factor",), tok.start, tok.end, tok.text, derived=True), 1
    if tok.kind == "number" and nxt in ("times", "x", "fold"):
        v = float(tok.text)
        return NumberMention(v, "", ("factor",), tok.start, tokens[i + 1].end, f"{tok.text} {nxt}"), 2
    if tok.kind == "word" and re.fullmatch(r"\d+(?:\.\d+)?x|x\d+(?:\.\d+)?", low):
        return NumberMention(float(low.strip("x")), "", ("factor",), tok.start, tok.end, low), 1
    # midnight, noon: times of day
    if low in ("midnight", "noon", "midday") and prev in ("at", "from", "since", "until"):
        clock = 0.0 if low == "midnight" else 12.0
        return NumberMention(clock, "h", ("clock",), tok.start, tok.end, low, clock=clock, derived=True), 1

    # clock times: 06:30, 6am, 10 pm
    if tok.kind == "clock":
        hh, mm = tok.text.split(":")
        clock = int(hh) + int(mm) / 60
        if nxt in ("pm",) and clock < 12:
            clock += 12
        n = 2 if nxt in ("am", "pm", "h", "hrs") else 1
        return NumberMention(
            clock, "h", ("clock",), tok.start, tokens[i + n - 1].end, tok.text, clock=clock
        ), n
    if tok.kind == "number" and nxt in ("am", "pm", "o", "o'clock", "oclock") and float(tok.text) <= 12:
        clock = float(tok.text) % 12 + (12 if nxt == "pm" else 0)
        n = 3 if nxt == "o" and i + 2 < len(tokens) and tokens[i + 2].text == "clock" else 2
        if nxt == "o" and n == 2:
            return None, 1
        return NumberMention(
            clock, "h", ("clock",), tok.start, tokens[i + n - 1].end, tok.text, clock=clock
        ), n

    # fractions of a unit: half an hour, a quarter of an hour, half a day
    if low == "half" and nxt in ("an", "a") and i + 2 < len(tokens) and tokens[i + 2].text in TIME_UNITS:
        unit = TIME_UNITS[tokens[i + 2].text]
        return NumberMention(
            0.5, unit, (), tok.start, tokens[i + 2].end, f"half {nxt} {tokens[i + 2].text}", derived=True
        ), 3
    if (
        low in ("a", "one")
        and nxt == "quarter"
        and i + 4 < len(tokens)
        and tokens[i + 2].text == "of"
        and tokens[i + 4].text in TIME_UNITS
    ):
        unit = TIME_UNITS[tokens[i + 4].text]
        return NumberMention(
            0.25, unit, (), tok.start, tokens[i + 4].end, "a quarter " + unit, derived=True
        ), 5

    # "a third more", "by a quarter", "half the" ...: a fraction (as a percentage)
    if low in ("a", "one", "two", "three") and nxt in _FRACTIONS and nxt != "half":
        frac = _FRACTIONS[nxt] * (WORD_NUMBERS.get(low, 1) if low != "a" else 1)
        return (
            NumberMention(
                round(100 * frac, 6), "%", (), tok.start, tokens[i + 1].end, f"{low} {nxt}", derived=True
            ),
            2,
        )

    # an hour, a day, a minute (not "a" as a per-word: handled by the unit reader below); "a
    # second" is a time only after a word of time ("for a second"), else an ordinal ("a second
    # filler")
    if (
        low in ("a", "an", "one")
        and nxt in TIME_UNITS
        and prev not in PER
        and not _per_context(tokens, i)
        and (nxt != "second" or prev in _TIME_CONTEXT)
    ):
        unit = TIME_UNITS[nxt]
        value, n = 1.0, 2
        # an hour and a half
        if (
            i + 4 < len(tokens)
            and tokens[i + 2].text == "and"
            and tokens[i + 3].text == "a"
            and tokens[i + 4].text == "half"
        ):
            value, n = 1.5, 5
        elif i + 3 < len(tokens) and tokens[i + 2].text == "and" and tokens[i + 3].text == "half":
            value, n = 1.5, 4
        return NumberMention(
            value, unit, (), tok.start, tokens[i + n - 1].end, f"{low} {nxt}", derived=True
        ), n

    # digits or number words
    value: float | None = None
    signed = False
    n = 0
    if tok.kind == "number":
        value, n = float(tok.text), 1
        if (
            prev == "-"
            and i > 1
            and tokens[i - 1].end == tok.start
            and tokens[i - 2].end < tokens[i - 1].start
        ):
            value = -value  # "-5%" (a minus sign attached to the number)
        if prev in ("minus", "negative") and i > 1 and tokens[i - 2].text in ("to", "at", "be", "is", "of"):
            value = -value  # "set it to minus 50": a value below zero, not a decrease by 50
        if prev == "+" and tokens[i - 1].end == tok.start:
            signed = True  # "+10%": an increase
        if nxt == "k" and tokens[i + 1].start == tok.end:
            value, n = 1000 * value, 2  # "$7.5k", "12k a day": thousands
    else:
        words = _number_words(tokens, i)
        timed = nxt in TIME_UNITS or (nxt == "-" and i + 2 < len(tokens) and tokens[i + 2].text in TIME_UNITS)
        if words is not None and not (
            low == "one" and (prev in _NOT_A_NUMBER or nxt in ("of", "another", "way")) and not timed
        ):  # "the one to grow" is no number; "the one-hour mark" is
            value, n = words
    if value is None:
        return None, 1
    derived = tok.kind != "number"
    j = i + n
    # "hour 5", "hour one", "minute 20": a point in time (not "45 min 3 h": that unit is taken)
    if (
        prev in TIME_UNITS
        and prev not in ("s",)
        and TIME_UNITS[prev] in ("h", "min", "day")
        and not (i > 1 and tokens[i - 2].kind == "number")
    ):
        return (
            NumberMention(
                value,
                TIME_UNITS[prev],
                ("start",),
                tokens[i - 1].start,
                tokens[j - 1].end,
                f"{prev} {tok.text}",
                derived=derived,
            ),
            j - i,
        )
    # "one and a half hours"
    if (
        j + 2 < len(tokens)
        and tokens[j].text == "and"
        and tokens[j + 1].text == "a"
        and tokens[j + 2].text == "half"
    ):
        value += 0.5
        j += 3
    # currency before the number: "eur 0.30", "gbp 5"
    unit = ""
    if prev in CURRENCY_WORDS:
        unit = CURRENCY_WORDS[prev]
    end = tokens[j - 1].end
    # a unit after the number
    u, k = _unit_at(tokens, j, currency)
    if u is not None:
        if u.startswith("cent:"):
            value = value / 100.0
            u = u[5:]
        unit = u if not unit else (unit + u if u.startswith("/") else unit)
        end = tokens[k - 1].end
        j = k
    elif (
        not unit
        and j < len(tokens)
        and tokens[j].text in ("a", "an", "per", "/")
        and j + 1 < len(tokens)
        and tokens[j + 1].text in TIME_UNITS
    ):
        unit = "/" + TIME_UNITS[tokens[j + 1].text]  # "3000 a day": per day, of what the parameter counts
        end = tokens[j + 1].end
        j += 2
    elif (
        not unit
        and j + 1 < len(tokens)
        and tokens[j].text in ("a", "an", "per", "each")
        and _count(tokens[j + 1].text)
        and "." in tok.text
    ):
        unit = "/item"  # "4.50 a pallet": an amount of money per thing, in the twin's currency
        end = tokens[j + 1].end
        j += 2
    elif unit and j < len(tokens) and tokens[j].text in PER:
        denom, k = _denominator(tokens, j)
        if denom:
            unit += "/" + denom
            end = tokens[k - 1].end
            j = k
    text = " ".join(t.text for t in tokens[i:j])
    inner = tuple(t.text for t in tokens[i + n : j] if t.text in _FILLER or t.text in _GAP)
    if signed:
        inner = ("+", *inner)
    return NumberMention(value, unit, (), tok.start, end, text, derived=derived, inner=inner), j - i


def _per_context(tokens: list[Token], i: int) -> bool:
    """Whether "a"/"an" at ``i`` follows a quantity ("200 orders an hour"): then it means "per"."""
    return i > 0 and (tokens[i - 1].kind == "number" or _count(tokens[i - 1].text))


def _denominator(tokens: list[Token], j: int) -> tuple[str, int]:
    """The unit after a per-word at ``j`` ("a pallet" -> item, "an hour" -> h, "/kwh" -> kWh)."""
    if j + 1 >= len(tokens):
        return "", j
    w = tokens[j + 1].text
    if w in TIME_UNITS:
        return TIME_UNITS[w], j + 2
    if w == "d" and tokens[j].text == "/":
        return "day", j + 2
    if _count(w):
        return "item", j + 2
    if w in ("kwh", "mwh"):
        return OTHER_UNITS[w], j + 2
    if w in ("l", "litre", "litres", "liter", "liters", "m3", "kg", "km", "cycle"):
        return OTHER_UNITS.get(w, w), j + 2
    # "per cubic metre", "a tonne"
    return "", j


def _unit_at(tokens: list[Token], j: int, currency: str | None) -> tuple[str | None, int]:
    """The unit written at token ``j`` (after a number), with a per-part, and where it ends."""
    if j >= len(tokens):
        return None, j
    if tokens[j].text == "-" and j + 1 < len(tokens) and tokens[j].start == tokens[j - 1].end:
        j += 1  # "50-case", "8-hour"
    skipped = 0
    while skipped < 2 and j + skipped < len(tokens) - 1 and tokens[j + skipped].text in _FILLER:
        skipped += 1
    if skipped:
        unit, k = (
            _unit_at(tokens, j + skipped, currency) if tokens[j + skipped].text not in _FILLER else (None, j)
        )
        if unit is not None and unit != "%":
            return unit, k
    w = tokens[j].text
    w2 = tokens[j + 1].text if j + 1 < len(tokens) else ""
    unit: str | None = None
    k = j + 1
    if w == "per" and w2 == "cent":
        unit, k = "%", j + 2
    elif w == "%" or w in ("percent", "pct"):
        unit = "%"
    elif w in TIME_UNITS:
        unit = TIME_UNITS[w]
    elif w in CURRENCY_WORDS:
        unit = CURRENCY_WORDS[w]
    elif w in CENT_WORDS:
        cur = CENT_WORDS[w] or currency or "EUR"
        unit = "cent:" + cur
    elif w == "cubic" and w2 in ("metre", "metres", "meter", "meters", "m"):
        unit, k = "m^3", j + 2
    elif w in ("deg", "degree", "degrees") and w2 in ("c", "celsius", ""):
        unit, k = "degC", j + (2 if w2 in ("c", "celsius") else 1)
    elif w in ("deg", "degree", "degrees"):
        unit = "degC"
    elif w in OTHER_UNITS and (w not in ("a", "g", "m", "w", "v", "l") or _unit_context(tokens, j)):
        unit = OTHER_UNITS[w]
    elif _count(w):
        unit = "item"
        # "roll containers", "more orders": count words may follow an adjective
    if unit is None:
        return None, j
    # a per-part: "/h", "a day", "per pallet", "an hour" (after "less", "cheaper" ...)
    gap = 0
    while gap < 2 and k + gap < len(tokens) and tokens[k + gap].text in _GAP:
        gap += 1
    if gap and k + gap < len(tokens) and tokens[k + gap].text in PER:
        denom, k2 = _denominator(tokens, k + gap)
        if denom and unit not in ("%",):
            prefix = unit[5:] if unit.startswith("cent:") else unit
            joined = f"{prefix}/{denom}"
            return ("cent:" + joined if unit.startswith("cent:") else joined), k2
    if k < len(tokens) and tokens[k].text in PER:
        denom, k2 = _denominator(tokens, k)
        if denom:
            prefix = unit[5:] if unit.startswith("cent:") else unit
            if prefix in ("s", "min", "h", "day", "week") and denom == "item":
                return unit, k2  # "3 seconds per case" is a time per item: the time
            joined = f"{prefix}/{denom}"
            return ("cent:" + joined if unit.startswith("cent:") else joined), k2
    return unit, k


def _unit_context(tokens: list[Token], j: int) -> bool:
    """Single-letter units only when followed by a per-part or at the end of a phrase."""
    w = tokens[j].text
    nxt = tokens[j + 1].text if j + 1 < len(tokens) else ""
    if w == "a":
        return False  # "5 a day" is a per-part, never amperes here
    if w in ("l", "m") and nxt in ("/", "per"):
        return True
    return nxt in ("", ",", ".", ";", "?", "and", "/", "per", "of", "at", "to", "in", "for", "on", "-", ")")


_SUBJECT = r"\b(we|shift|day|run|line|production|work|brew|plant|they|i)\b"
_START_PHRASE = (
    r"\b(start|starts|started|starting|begin|begins|began|beginning|kick off|kicks off|opens)"
    r"(\s+(of|the|shift|run|day|line|production|work|working|brew))*\s*(at|being|is|was|=)?"
)


def clock_reference(found: list[NumberMention], tokens: list[Token]) -> None:
    """Clock times become start times relative to the run's start when the question gives it
    ("we start at 06:00", "shift starts at 6am"); a bare "at 10" after one is a clock time too."""
    clocks = [m for m in found if m.clock is not None or m.roles == ("clock",)]
    if not clocks:
        return
    text = " ".join(t.text for t in tokens)
    # "we start at 6", "the day starts at 7": a bare hour after a start phrase is the reference
    for m in found:
        if m.clock is None and not m.unit and 0 <= m.value <= 24 and float(m.value).is_integer():
            if re.search(_START_PHRASE + r"\s*$", text[: _offset(tokens, m.start)]):
                m.clock = m.value
                clocks.append(m)
    # the run's start: said with its subject ("we start at 6", "the shift starts at 06:00", "start of
    # shift being 06:00") before a bare start phrase; "3 hours starting at 10 am" is when, not the start
    reference = None
    for strong in (True, False):
        for m in clocks:
            before = text[: _offset(tokens, m.start)]
            if strong and not (
                re.search(_SUBJECT + r"[\w\s']{0,16}?" + _START_PHRASE + r"\s*$", before)
                or re.search(
                    r"\bstart of (the )?(shift|day|run|production|brew day)\s*(is|being|at|=)?\s*$", before
                )
            ):
                continue
            if not strong and (
                not re.search(_START_PHRASE + r"\s*$", before) or re.search(r"\bstarting\s*(at)?\s*$", before)
            ):
                continue
            reference = m
            break
        if reference is not None:
            break
    for m in found:
        if m.clock is None and reference is not None and not m.unit and 0 < m.value <= 24:
            before = text[: _offset(tokens, m.start)]
            if re.search(r"\bat\s*$", before) and float(m.value).is_integer():
                m.clock = m.value
    for m in found:
        if m.clock is None:
            continue
        if m is reference:
            m.roles = ("reference",)
            continue
        if reference is None:
            m.roles = ("clock",)  # a time of day with no start of the run to count from
            continue
        hours = (m.clock - reference.clock) % 24
        m.value, m.unit, m.roles = (
            (hours * 60.0, "min", ("start",)) if not hours.is_integer() else (hours, "h", ("start",))
        )
    # "from 14:00 to 15:30": the second time says how long
    timed = [m for m in found if m.clock is not None and m is not reference and m.roles == ("start",)]
    for a, b in itertools.pairwise(timed):
        between = text[_offset(tokens, a.start) : _offset(tokens, b.start)]
        ranged = re.search(r"\b(to|until|till|-)\s*$", between) or (
            re.search(r"\band\s*$", between) and re.search(r"\bbetween\s*$", text[: _offset(tokens, a.start)])
        )  # "from 14:00 to 15:30", "between 09:00 and 10:30"
        if ranged and b.clock is not None and a.clock is not None:
            hours = (b.clock - a.clock) % 24
            b.value, b.unit, b.roles = (
                (hours * 60.0, "min", ("duration",))
                if not hours.is_integer()
                else (hours, "h", ("duration",))
            )


def _offset(tokens: list[Token], start: int) -> int:
    """Character offset in the space-joined token text of the token starting at ``start``."""
    pos = 0
    for t in tokens:
        if t.start == start:
            return pos
        pos += len(t.text) + 1
    return pos


def _window(text: str, start: int, end: int, before: int = 4, after: int = 4) -> tuple[list[str], list[str]]:
    left = [t.text for t in tokenize(text[:start])][-before:]
    right = [t.text for t in tokenize(text[end:])][:after]
    return left, right


def _assign_roles(m: NumberMention, tokens: list[Token], text: str) -> None:
    """The roles a number can play, from the words around it."""
    if m.roles:  # factor words, clock times: already decided
        if m.roles == ("factor",):
            _, right = _window(text, m.start, m.end, 0, 3)
            left, _ = _window(text, m.start, m.end, 3, 0)
            if m.value == 0.5 and (left[-1:] == ["at"] or right[:1] in (["open"], ["speed"])):
                m.roles = ("value",)  # "half open", "at half speed"
        return
    left, right = _window(text, m.start, m.end, before=8)
    right = [*m.inner, *right]
    core = list(left)
    while core and (
        core[-1] in _HEDGES or (core[-1] == "more" and len(core) < len(left) and left[len(core)] == "like")
    ):
        core.pop()
    if m.unit and core and core[-1] in CURRENCY_WORDS:
        core.pop()  # "savings of $5,000" reads "savings of usd 5000"
    prev = core[-1] if core else ""
    prev2 = core[-2] if len(core) > 1 else ""
    lead = left[-3:]
    for_before = "for" in lead and all(
        w in ("the", "whole", "entire", "full", "next", "first", "a", "an")
        for w in lead[lead.index("for") + 1 :]
    )
    nxt = right[0] if right else ""
    nxt2 = right[1] if len(right) > 1 else ""
    m.direction = _direction_near(_clause_left(left), right)
    if m.inner[:1] == ("+",):
        m.direction = "increase"
    if nxt in ("more", "less") and (nxt2 in FASTER | SLOWER or nxt2 in ("slow", "fast", "quick")):
        slow = nxt2 in SLOWER or nxt2 == "slow"
        m.direction = "slower" if (nxt == "more") == slow else "faster"
    joined = " ".join(left[-3:])
    old = (
        "instead of" in joined
        or "rather than" in joined
        or (prev in ("than", "from") and _later_to(text, m.end))
        or (prev == "not" and left[-2:-1] == [","])  # "... 40 minutes, not 25"
    )
    if nxt in _COUNTED:
        m.roles = ("old",)  # "two things together": a count of what is asked, not a value
        return
    if prev in _LABELLED and not m.unit and float(m.value).is_integer() and m.inner[:1] != ("+",):
        m.roles = ("reference",)  # "Kiln 2 at Opole has a ring build-up": which kiln, not a value
        return
    if prev == "the" and prev2 == "of" and len(core) > 2 and core[-3] in ("one", "two", "three", "some"):
        m.roles = ("reference",)  # "one of the two ICT fixtures": how many there are, not a value
        return
    if prev in ("all", "these", "those") and not m.unit and any(w.endswith("s") for w in right[:3]):
        m.roles = ("reference",)  # "all three big pumps": which ones, not a value
        return
    if "short" in right[:2] and "of" not in right[:3]:
        m.roles = ("amount",)  # "we're one loader short": one fewer
        m.direction = "decrease"
        return
    if prev == "of" and prev2 in _CHANGE_NOUNS:
        m.roles = ("amount",)  # "savings of $5,000 a day", "an increase of 10 pallets"
        m.direction = _CHANGE_NOUNS[prev2]
        return
    if old or (prev == "of" and prev2 in ("every",) and "instead" in left):
        m.roles = ("old",)
        return
    said = prev2 if prev == "-" else prev
    if m.unit == "%" and m.value < 0 and said not in _BEFORE_VALUE:
        m.value, m.direction, m.roles = -m.value, "decrease", ("percent",)  # "all demand -20%"
        return
    if m.unit == "%":
        if re.match(
            r"^\s*(from where it is|from (its|the) current|from now|from today|of (its|the) current)",
            text[m.end :],
        ):
            m.roles = ("percent",)
            m.direction = m.direction or "decrease"
            return
        if (
            prev in _BEFORE_CHANGE
            or m.inner[:1] == ("+",)
            or (nxt in UP | DOWN | FASTER | SLOWER and prev not in ("to", "at"))
            or stem(nxt) in _STEM_UP | _STEM_DOWN
            or (direction_of(prev) is not None and prev not in ("up", "down"))
        ):
            m.roles = ("percent", "value")
        elif (
            prev in _BEFORE_VALUE
            or prev in _VALUE_VERBS
            or nxt in ("of", "open", "speed", "opening", "capacity", "closed")
        ):
            m.roles = ("value", "percent")
        elif m.direction is not None:
            m.roles = ("percent", "value")
        else:
            m.roles = ("value", "percent")
        return
    if m.is_time:
        in_average = nxt == "in" and nxt2 in ("average", "total", "all", "a", "the")
        if nxt in ("earlier", "sooner", "later") and any(stem(w) in _START_VERBS for w in left):
            m.roles = ("amount",)  # "start the campaign two hours earlier": its start moves
            m.direction = "increase" if nxt == "later" else "decrease"
        elif (prev == "for" or for_before) and nxt == "after":
            m.roles = ("duration",)  # "stops for half an hour after 5 hours": how long, then when
        elif (
            prev in _BEFORE_START
            or (nxt in _AFTER_START and not in_average)
            or (prev == "at" and nxt in ("mark", "into", "in"))
        ):
            m.roles = ("start",)
        elif nxt in _MORE_OR_LESS:
            m.roles = ("amount",)
        elif prev == "at" or (prev == "the" and nxt == "mark"):
            m.roles = ("start", "value")
        elif (
            prev in _BEFORE_DURATION
            or for_before
            or nxt in _AFTER_DURATION
            or (nxt == "-" and nxt2 in _AFTER_DURATION)
        ):
            m.roles = ("duration",)
        elif prev in _ADD:
            m.roles = ("amount",)
            m.direction = m.direction or "increase"
        elif direction_of(prev) in ("increase", "decrease") or nxt == "off":
            m.roles = ("amount", "duration")  # "shaves 3 seconds off", "cut 5 minutes"
            m.direction = "decrease" if nxt == "off" else direction_of(prev)
        elif prev in ("every", "each"):
            m.roles = ("value",)
        elif nxt == "later":
            m.roles = ("start",)  # "2 hours later"
        elif prev in _BEFORE_CHANGE:
            m.roles = ("amount", "duration")
        elif prev in _BEFORE_VALUE or prev in _VALUE_VERBS or in_average or "average" in left[-4:]:
            m.roles = ("value", "duration")  # "we wait 40 minutes in average": a mean, not one event
        else:
            m.roles = ("duration", "value", "start")
        return
    rate_unit = "/" in m.unit and m.unit.split("/", 1)[1] in ("s", "min", "h", "day", "week")
    amount = (
        prev in _BEFORE_CHANGE
        or nxt in ("more", "extra", "additional", "fewer", "less")
        or (nxt in _GAP and m.unit not in ("", "%"))
        or (nxt2 in ("more", "fewer", "less", "extra") and not m.unit)
        or (m.direction is not None and direction_of(prev) in ("increase", "decrease"))
    )
    if nxt2 in ("more", "fewer", "less") and not m.unit:
        m.direction = direction_of(nxt2)
    if prev in _ADD:
        amount = True
        m.direction = m.direction or "increase"
    if m.unit not in ("", "%") and nxt in _COMPARATIVES and direction_of(nxt) in ("increase", "decrease"):
        amount = True  # "100 m3 bigger", "2 bar lower": by how much, not what it becomes
        m.direction = direction_of(nxt)

    if amount and prev != "to":
        m.roles = ("amount", "value") + (("rate",) if rate_unit else ())
    elif prev in _BEFORE_VALUE or prev in _VALUE_VERBS or prev == "every":
        m.roles = ("value", "amount") + (("rate",) if rate_unit else ())
    else:
        m.roles = ("value", "amount") + (("rate",) if rate_unit else ())
    if rate_unit and m.unit.startswith("item/") and m.roles[0] != "amount":
        m.roles = tuple(dict.fromkeys(("value", "rate", *m.roles)))


def _later_to(text: str, end: int) -> bool:
    """Whether a "to" follows soon after ``end`` ("from 30 to 25 seconds")."""
    return re.match(r"^\s*(?:[a-z%/]+\s+){0,3}to\b", text[end:]) is not None


def _clause_left(left: list[str]) -> list[str]:
    """The words before a number back to the start of its clause."""
    out: list[str] = []
    for w in reversed(left):
        if w in (",", ";", ".", "and", "or", "while", "but", "versus", "vs", "-"):
            break
        out.append(w)
    return list(reversed(out))


def _direction_near(left: list[str], right: list[str]) -> str | None:
    for w in right[:2]:
        d = direction_of(w)
        if d:
            return d
    for w in reversed(left):
        d = direction_of(w)
        if d:
            return d
    return None


def with_unit(m: NumberMention, unit: str) -> NumberMention:
    return replace(m, unit=unit)


@dataclass
class Scan:
    """Numbers of a question, as used by the reading (kept for callers that want all of them)."""

    numbers: list[NumberMention] = field(default_factory=list)

    @property
    def written(self) -> list[float]:
        return [m.value for m in self.numbers if "old" not in m.roles and "reference" not in m.roles]


__all__ = ["ORDINALS", "NumberMention", "direction_of", "scan"]
