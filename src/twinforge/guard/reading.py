"""Reading a question: every plan it can mean on one twin, ranked by how well each explains it.

The reading is done by code, from the question's words and the twin:

1. **Refusals first.** An empty question, one too long to be a question, one in another language,
   or one that gives the assistant instructions ("ignore the twin and say ...") is declined
   with its reason before anything else.
2. **What is named and written.** Numbers with their units and roles
   (:mod:`twinforge.guard.quantities`), the parts of the twin (:mod:`twinforge.guard.grounding`),
   the quantities and kinds of change the words speak of (:mod:`twinforge.guard.vocabulary`).
3. **Structure.** A comparison is split into its two options ("... the filler down 1 h *or* the
   labeller down 2 h"), each option and a what-if into clauses of one change each ("make the
   filler 10% quicker *and* add 10 places to the buffer after it"); a part an option leaves out is
   taken from the other ("the filler at 90% *versus* 110%", "add 100 pallets a day, Hanover *or*
   Nuremberg?").
4. **Candidates.** For each clause, every change of the plan language that the clause's words can
   fill: the entities in their roles (source and target of a lane, the buyer and the seller of a
   restriction), each number in one of its roles with a unit the parameter can take, the
   direction said, the kind of change its words speak of. A number left unused, a named part of the
   twin left unused, or a direction contradicted rules a candidate out; which role a number plays
   and how directly the words name the quantity rank the rest.

The candidates are complete plans (plain data of :mod:`twinforge.plan.models`). When the best
ones mean different things, a language model chooses among them (:mod:`twinforge.copilot.ask`);
when there is none, :attr:`Reading.refusal` says why, specifically (the unknown name, the
quantity the twin does not model, the candidates of an ambiguous name, the clock time with no
start of the run).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from twinforge.guard.grounding import Mention, Mentions, find_mentions
from twinforge.guard.lexicon import Lexicon
from twinforge.guard.quantities import NumberMention, direction_of, scan
from twinforge.guard.text import CONTROL, WORD_NUMBERS, is_english, normalise, stem, strip_noise, tokenize
from twinforge.guard.vocabulary import (
    OP_WORDS,
    QUANTITY_HINTS,
    QUANTITY_VAGUE,
    QUANTITY_WORDS,
    find_light,
    find_phrases,
    light,
    plan_forms,
)
from twinforge.plan.models import OUTAGE_TARGET_KINDS
from twinforge.plan.schema import engine_of, parameter_groups, twin_has_quantity
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import TwinSpec

_LANE_WORDS = ("lane", "route", "link", "road", "leg", "connection", "truck", "haul", "ship", "freight")
_QUESTION_WORD = re.compile(
    r"\s*(how|what|what's|whats|why|which|who|when|where|does|do|is|are|can|could|will|would|should|did|any|still)\b"
)
#: the question being read, as written (capitals tell a name from a word)
_QUESTION: contextvars.ContextVar[str] = contextvars.ContextVar("question", default="")
#: longest question read (longer text is not a question)
MAX_CHARS = 2000
#: the parameter "faster" and "slower" change, per kind, when the question names no other
PACE = {
    "station": "process_time",
    "conveyor": "transport_time",
    "source": "interarrival_time",
    "pump": "speed",
}
#: the parameter a count of a node's own things sets ("120 chutes", "6 pack benches")
COUNT_PARAMETER = {"buffer": "capacity", "station": "servers", "conveyor": "capacity"}
#: what a store's size is ("double the accumulation table", "halve the tank")
SIZE_PARAMETER = {"buffer": "capacity", "tank": "capacity", "warehouse": "capacity"}
#: parameters that are a rate or a speed ("faster" multiplies them)
RATE_PARAMETERS = {"speed", "flow_rate", "outflow_rate"}
#: words for a rate: "X% more of a rate" on a quantity measured as a time means the time shrinks
RATE_WORDS = {
    stem(w)
    for w in (
        "production",
        "productivity",
        "volume",
        "rate",
        "throughput",
        "arrival",
        "arrive",
        "order",
        "output",
        "pace",
        "frequency",
        "often",
    )
}


@dataclass
class Refusal:
    """Why a question gets no number: a decline reason and the specific detail."""

    reason: str
    detail: str


@dataclass
class Clause:
    """One change (or the subject of a why/status question) in the words of the question."""

    start: int
    end: int
    text: str
    entities: list[Mention] = field(default_factory=list)
    lanes: list[Mention] = field(default_factory=list)
    numbers: list[NumberMention] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    quantities: dict[str, int] = field(default_factory=dict)  # quantity -> 2 named, 1 hinted
    spans: dict[str, int] = field(default_factory=dict)  # quantity -> words in the phrase that names it
    hints: dict[str, int] = field(default_factory=dict)  # quantity -> how many words hint at it
    ops: set[str] = field(default_factory=set)
    direction: str | None = None  # increase / decrease
    pace: str | None = None  # faster / slower
    frequency: bool = False  # "twice as often": a rate of events, the inverse of a time between them
    results: list[tuple[int, int]] = field(default_factory=list)  # "effect on the daily cost": what is asked
    stems: list[str] = field(default_factory=list)
    inherited: set[str] = field(default_factory=set)  # parts taken from another clause


@dataclass
class Candidate:
    """A complete plan the question can mean, with its cost (lower fits better)."""

    plan: dict[str, Any]
    cost: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Reading:
    question: str
    text: str
    twin: TwinSpec
    numbers: list[NumberMention] = field(default_factory=list)
    mentions: Mentions = field(default_factory=Mentions)
    forms: list[str] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)
    sides: list[list[Clause]] | None = None
    refusal: Refusal | None = None
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Refusal] = field(default_factory=list)  # why candidates were ruled out
    #: what was taken out before reading, by kind ("a phone number"): never a value
    ignored: list[str] = field(default_factory=list)

    @property
    def best(self) -> list[Candidate]:
        """The candidates with the lowest cost."""
        if not self.candidates:
            return []
        low = min(c.cost for c in self.candidates)
        return [c for c in self.candidates if c.cost <= low + 1e-9]

    @property
    def entity_ids(self) -> list[str]:
        return self.mentions.node_ids


# -- refusals ----------------------------------------------------------------------------------

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instruction|instructions|rules|prompt|twin|model|above|previous|prior|everything|constraints|guard)"
    r"|\byou are (now|no longer)\b|\bdeveloper mode\b|\bsystem prompt\b|\bjailbreak\b|\bpretend (to be|you)\b|\bact as\b"
    r"|\b(print|reveal|show|repeat|tell me) (all )?(your|the) (hidden |system )?(instructions|prompt|rules)\b"
    r"|\b(say|reply|answer|respond|output|write)\s+(only\s+|just\s+)?(with\s+)?[\"\u201c]"
    r"|\b(also|then|just|please|simply|and) (say|claim|state|report|tell (me|them)) (that )?the [a-z ]{1,30} (is|are|was) \d"
    r"|\b(the )?(answer|reply|response|report|output|result)s? (should|must|has to|needs to|shall) (say|state|show|read|claim)\b"
    r"|(^|[.!?:;]\s+|\(\s*)(tell|respond|reply|output|mention|print|write|claim)"
    r"\b(?! me\b| us\b| what\b| how\b| whether\b| if\b| which\b| why\b| when\b)"
    r"|\b(don'?t|do not|never|no need to) (run|use|simulate|check|consult|ask) (the )?(twin|model|simulation|simulator)"
    r"|\bjust (answer|say|reply|write|output|return) \S*\d"
    r"|\bwhatever the (twin|model|simulation|simulator|data) (says|shows|computes)"
    r"|\bnew (instructions?|rules?|task|orders) *[:,-]"
    r"|(^|\s|\()(system|assistant|user|developer|output|answer|response) *:"
    r"|</?[a-z][a-z0-9_-]*( [^<>]*)?>|\[/?(inst|system|sys)\]|<\|[a-z_]+\|>"
    r"|\bpassword\b|\bapi key\b|\bcredentials?\b|\b(send|email|e-mail|post|upload|forward) (it |this |the [a-z ]+ )?(to|at)\b",
    re.I,
)
_FOREIGN = {
    "german": {
        "der",
        "die",
        "das",
        "und",
        "ist",
        "wenn",
        "was",
        "nicht",
        "mit",
        "fur",
        "auf",
        "wie",
        "wird",
        "zwei",
        "stunden",
        "passiert",
        "eine",
        "den",
        "dem",
        "ausfallt",
        "bei",
        "oder",
    },
    "french": {
        "le",
        "la",
        "les",
        "et",
        "est",
        "si",
        "que",
        "une",
        "des",
        "du",
        "pour",
        "avec",
        "qui",
        "quoi",
        "se",
        "passe",
        "il",
        "elle",
        "ferme",
        "journee",
        "demande",
        "augmente",
        "de",
    },
    "spanish": {
        "el",
        "los",
        "las",
        "y",
        "es",
        "si",
        "que",
        "una",
        "para",
        "con",
        "por",
        "pasa",
        "se",
        "cuando",
        "horas",
        "dos",
        "la",
        "de",
        "del",
    },
    "italian": {
        "il",
        "lo",
        "gli",
        "e",
        "se",
        "che",
        "una",
        "per",
        "con",
        "cosa",
        "succede",
        "ore",
        "della",
        "del",
        "di",
    },
    "dutch": {"het", "een", "en", "als", "wat", "gebeurt", "niet", "voor", "met", "uur", "de", "van"},
}
#: words that are function words in another language and ordinary English too
_SHARED = {"per", "a", "e", "is", "was", "die", "den", "van", "con", "se", "il", "the", "me", "de"}
_ENGLISH = {
    "the",
    "a",
    "an",
    "and",
    "is",
    "are",
    "if",
    "what",
    "how",
    "why",
    "of",
    "to",
    "in",
    "for",
    "on",
    "we",
    "our",
    "it",
    "does",
    "do",
    "would",
    "will",
    "can",
    "with",
    "by",
    "down",
    "up",
    "more",
    "less",
    "which",
    "when",
    "there",
    "this",
    "that",
    "be",
    "was",
    "were",
    "at",
    "from",
    "all",
    "both",
    "should",
}


def refusal_of(question: str, twin: TwinSpec, lex: Lexicon) -> Refusal | None:
    """Bad input, instructions to the assistant, another language: declined with the reason."""
    text = question.strip()
    if not text:
        return Refusal("unclear", "the question is empty")
    if len(text) > MAX_CHARS:
        return Refusal(
            "unclear", f"the question is {len(text):,} characters long; a question has at most {MAX_CHARS:,}"
        )
    control = CONTROL.search(text)
    if control is not None:
        return Refusal(
            "unclear",
            f"the question holds a control character (U+{ord(control.group()):04X} at position "
            f"{control.start() + 1}): escape sequences and direction overrides change what the text "
            "shows, so it is not read",
        )
    if _INJECTION.search(text):
        return Refusal(
            "not_about_this_twin",
            "the text gives instructions to the assistant instead of asking about the twin; numbers come only from the twin",
        )
    letters = [c for c in text if c.isalpha()]
    if letters and sum(1 for c in letters if ord(c) < 0x250) / len(letters) < 0.6:
        return Refusal("not_about_this_twin", "the question is not in English (or another Latin script)")
    words = [t.text for t in tokenize(normalise(text)) if t.kind == "word"]
    own = {w for w in words if stem(w) in lex.by_stem or w in lex.by_id or stem(w) in lex.kind_words}
    rest = [w for w in words if w not in own]
    english = sum(1 for w in rest if w in _ENGLISH)
    for language, function_words in _FOREIGN.items():
        foreign = sum(1 for w in rest if w in function_words and w not in _ENGLISH and w not in _SHARED)
        if foreign >= 2 and foreign > 2 * english:
            return Refusal("not_about_this_twin", f"the question is in {language.title()}; ask in English")
    if rest and not any(is_english(w) for w in rest) and len(rest) >= 3:
        return Refusal("not_about_this_twin", "the question is not in English")
    return None


# -- structure ---------------------------------------------------------------------------------

_SIDE_SPLIT = re.compile(r"\s(?:or|versus|vs\.?|against|compared (?:with|to)|rather than|or else)\s")
_SIDE_SPLIT_AFTER_COMPARE = re.compile(r"\s(?:or|versus|vs\.?|against|with|and|to)\s")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:;|\.\s|,?\s+and\s+(?:at the same time\s+)?|,?\s+while\s+|,?\s+plus\s+|,?\s+as well as\s+|,\s+also\s+|\s+and also\s+|,\s*then\s+|,\s*(?=(?:what|how|does|do|is|are|can|will|would|could|where|which|when|who|did|should)\b)|\s+[-\u2013\u2014:]\s+|\?\s+|!\s+|\s+[-\u2013\u2014]\s+(?=(?:what|how|does|do|is|can|will|would|could|which|where|when|any)\b))\s*"
)


def _clause(reading: Reading, start: int, end: int, lex: Lexicon) -> Clause:
    text = reading.text
    cl = Clause(start, end, text[start:end])
    cl.entities = [m for m in reading.mentions.entities if start <= m.start < end]
    cl.lanes = [m for m in reading.mentions.lanes if start <= m.start < end]
    cl.numbers = [
        n for n in reading.numbers if start <= n.start < end and not set(n.roles) & {"old", "reference"}
    ]
    cl.products = list(dict.fromkeys(p for p, a, _ in reading.mentions.products if start <= a < end))
    toks = [t for t in tokenize(text) if start <= t.start < end]
    cl.stems = [stem(t.text) for t in toks]
    words = [t.text for t in toks]
    extra = _twin_vocabulary(reading.twin)
    names = [(m.start, m.end) for m in cl.entities if m.how in ("id", "name", "kind")]
    # words inside a name ("out conveyor") and the asker's own wants ("I need a straight answer")
    # are not cues
    cl.results = [(start + r.start(), start + r.end()) for r in _RESULT_PHRASE.finditer(cl.text)]
    cl.results += [(start + r.start(1), start + r.end(1)) for r in _RESULT_OK.finditer(cl.text)]
    outside = [
        not any(a <= t.start < b for a, b in names)
        and not any(a <= t.start < b for a, b in cl.results)
        and not (k > 0 and words[k - 1] in _ASKER and words[k] in _ASKER_VERBS)
        for k, t in enumerate(toks)
    ]
    op_spans = {
        op: find_phrases([s if ok else "\0" for s, ok in zip(cl.stems, outside, strict=True)], cues)
        for op, cues in OP_WORDS.items()
    }
    lights = [light(w) if ok else "\0" for w, ok in zip(words, outside, strict=True)]
    stems_out = [s if ok else "\0" for s, ok in zip(cl.stems, outside, strict=True)]
    named: dict[str, list[tuple[int, int]]] = {}
    for name in _all_quantities():
        phrases = [name.replace("_", " "), *QUANTITY_WORDS.get(name, ()), *extra.get(name, [])]
        spans = find_light(lights, phrases)
        if spans:
            named[name] = spans
        elif find_phrases(stems_out, phrases):
            cl.quantities[name] = 1  # a naming word in another form ("fixing", "scrapped"): a strong hint
            cl.spans[name] = 0
            cl.hints[name] = 4
        elif find_light(lights, QUANTITY_HINTS.get(name, ())):
            cl.quantities[name] = 1  # a hint
            cl.spans[name] = 0
            cl.hints[name] = len(find_phrases(stems_out, QUANTITY_HINTS.get(name, ())))
        elif find_phrases(stems_out, QUANTITY_HINTS.get(name, ())):
            cl.quantities[name] = 1  # a hint in another form ("took", "longer")
            cl.spans[name] = 0
            cl.hints[name] = len(find_phrases(stems_out, QUANTITY_HINTS.get(name, ())))
        elif find_light(lights, QUANTITY_VAGUE.get(name, ())):
            cl.quantities[name] = 1
            cl.spans[name] = -1
    for name, spans in named.items():
        # "fixed cost" names the fixed cost, not also the cost; "unmet demand penalty" not demand
        inner = all(
            any(
                a2 <= a and b <= b2 and (b2 - a2) > (b - a)
                for other, s2 in named.items()
                if other != name
                for a2, b2 in s2
            )
            for a, b in spans
        )
        if inner:
            continue
        cl.quantities[name] = 2
        cl.spans[name] = max(b - a for a, b in spans)
    # a cue inside a quantity's own name is no change: "the scrap rate" does not scrap anything
    phrases = [(a, b) for spans in named.values() for a, b in spans if b - a > 1]
    for op, spans in op_spans.items():
        if any(not any(a2 <= a and b <= b2 for a2, b2 in phrases) for a, b in spans):
            cl.ops.add(op)
    for k, w in enumerate(words):
        d = direction_of(w)
        if d in ("faster", "slower"):
            if w == "quick" and k + 1 < len(words) and words[k + 1] in ("one", "question", "q"):
                continue  # "quick one before the meeting": a short question, not a pace
            cl.pace = cl.pace or d
        elif d and cl.direction is None:
            cl.direction = d
    joined = " ".join(words)
    if _SPED_UP.search(joined):
        cl.pace = cl.pace or "faster"
        if cl.quantities.get("speed") == 2 and not re.search(
            r"\bspeed\s+(to|of|at|setpoint)\b|%\s*speed", joined
        ):
            del cl.quantities["speed"]  # "speed the placer up by 10%": a verb, not the speed setpoint
    if _OFTEN.search(joined):
        cl.frequency = True
        failing = re.search(
            r"\b(fail|fails|failing|failure|break|breaks|broke|breakdown|down|trip|trips|jam|jams|stop|stops)",
            joined,
        )
        for name in ("mtbf", "mcbf"):
            if name in cl.quantities or failing:
                cl.quantities[name] = 2  # "breaks down twice as often": the time (or cycles) between failures
    if re.search(r"\b(slow(s|ed|ing)? (it |them )?down)\b", joined):
        cl.pace = cl.pace or "slower"
    return cl


_QUANTITIES: list[str] = []


def _all_quantities() -> list[str]:
    if not _QUANTITIES:
        names = {n for kd in CATALOG.values() for n in [*kd.params, *kd.states]}
        from twinforge.spec.catalog import EDGE_CATALOG

        names |= {n for ek in EDGE_CATALOG.values() for n in ek.params}
        _QUANTITIES.extend(sorted(names))
    return _QUANTITIES


def _twin_vocabulary(twin: TwinSpec) -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {}
    for node in twin.nodes:
        vocab = node.metadata.get("vocabulary") if isinstance(node.metadata, dict) else None
        if isinstance(vocab, dict):
            for k, v in vocab.items():
                extra.setdefault(k, []).extend(str(x) for x in (v if isinstance(v, list) else [v]))
    return extra


def _evidence(cl: Clause) -> bool:
    return bool(cl.numbers or cl.ops - {"demand", "arrivals"} or cl.pace)


#: what a question asks about the result ("the effect on the daily cost", "what it does to the
#: HLT level"): its words name what to report, not what changes
_RESULT_PHRASE = re.compile(
    r"(\b(effect|effects|impact|influence|consequences?)\s+(on|for)\b|\bdo(es)?\s+(that|this|it)\s+do\s+to\b"
    r"|\bhappens?\s+to\b|\b(better|worse|best|worst|cheaper)\s+(for|on)\b)[^.?!,;]*?(?=\s+(if|when|once|should|after|because|in case)\b|[.?!,;]|$)"
)
#: "..., hlt ok?", "- is the basin still fine?": a check on a result at the end of the question
_RESULT_OK = re.compile(
    r"[,;:\u2013\u2014-]\s*(?:is|are|will|does|do)?\s*((?:the\s+)?[\w' -]{1,40}?)\s+(?:still\s+)?"
    r"(?:ok|okay|alright|all right|fine|cope|coping|hold up|keep up)\s*\??\s*$"
)
_OFTEN = re.compile(r"\b(as|more|less) (often|frequently)\b|\btimes as often\b")
_ASKER = {"i", "we", "i'd", "we'd", "you"}
_ASKER_VERBS = {"need", "want", "wanted", "needed"}
_SPED_UP = re.compile(r"\b((speed(s|ing)?|sped)( [\w-]+){0,6} up|step up|quicken)\b")


_DASHES = ("-", "\u2013", "\u2014", ":")
_RESULT = re.compile(r"\s*(tell|show|let me know|give me|report|see|check|find out|work out)\b")
_HYPOTHETICAL = re.compile(r"\b(if|suppose|assume|assuming|imagine|say|would|could|were|what if|instead)\b")
_NOW = re.compile(
    r"\b(is|are|runs|run|does|do|takes|take)\s+((rated|currently|now|running|at|about|around|roughly|"
    r"typically|usually|normally)\s+)*(at\s+)?(about\s+|around\s+)?\d|\b(today|currently|at the moment|right now)\b"
)


def _states_now(cl: Clause) -> bool:
    """A clause that says how things are today ("the filler is at about 32 s per case")."""
    return (
        bool(cl.numbers)
        and not _HYPOTHETICAL.search(cl.text)
        and bool(_NOW.search(cl.text))
        and not cl.ops & {"outage", "remove"}
    )


def _chatter(cl: Clause) -> bool:
    """A sentence with nothing of the twin in it: no number, no part, no lane, no change."""
    return not (cl.numbers or cl.lanes or cl.ops or cl.pace or [m for m in cl.entities if m.how != "pronoun"])


def _split_clauses(reading: Reading, start: int, end: int, lex: Lexicon) -> list[Clause]:
    """A stretch of the question as clauses of one change each (split only where both parts
    carry a change of their own)."""
    text = reading.text
    cuts = [start]
    spans = [(m.start, m.end) for m in reading.mentions.entities + reading.mentions.lanes]
    for m in _CLAUSE_SPLIT.finditer(text, start, end):
        if any(a < m.start() < b for a, b in spans) or text.count("(", start, m.start()) > text.count(
            ")", start, m.start()
        ):
            continue  # not inside a name, a lane ("Munich - Nuremberg") or brackets ("(P-201, P-202 and P-203)")
        cuts.append(m.start())
        cuts.append(m.end())
    cuts.append(end)
    pieces = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)]
    clauses = [_clause(reading, a, b, lex) for a, b in pieces if b > a]
    merged: list[Clause] = []
    dropping = False
    for cl in clauses:
        gap = text[merged[-1].end : cl.start] if merged else ""
        new_sentence = bool(re.search(r"[.;?!]\s*$", gap + " "))
        if dropping and not new_sentence and not _evidence(cl):
            continue  # the rest of a question about the result ("... where do the basin and hot well ...")
        dropping = False
        sentence = merged and (
            new_sentence or (gap.strip() in (",", "-", "\u2013", "\u2014") and _QUESTION_WORD.match(cl.text))
        )
        own_subject = bool(cl.entities or cl.lanes) or sentence
        if sentence and _chatter(merged[-1]):
            merged[-1] = cl  # "Morning all, hope the weekend treated you well. ...": small talk
            continue
        dash = bool(merged) and gap.strip() in _DASHES
        if (
            dash
            and not _evidence(merged[-1])
            and not merged[-1].quantities
            and not merged[-1].products
            and _evidence(cl)
            and [m for m in cl.entities if m.how != "pronoun"]
        ):
            merged[-1] = cl  # "Biofilm on the coolers - we want to double the feed rate": why, not what
            continue
        if dash and _evidence(cl) and _evidence(merged[-1]) and not _QUESTION_WORD.match(cl.text):
            merged[-1] = _clause(reading, merged[-1].start, cl.end, lex)  # "X wants a deal - they only ..."
            continue
        if (
            sentence
            and not cl.numbers
            and (_QUESTION_WORD.match(cl.text) or not [m for m in cl.entities if m.how not in ("pronoun",)])
        ):
            dropping = True
            continue  # "How many cases do we lose?", "Plan without it please.": about the result
        if merged and not (_evidence(cl) and _evidence(merged[-1]) and own_subject):
            if (sentence or _RESULT.match(cl.text)) and not _evidence(cl):
                dropping = True
                continue  # a question about the result ("Is that workable?", "tell me when ..."): context
            merged[-1] = _clause(reading, merged[-1].start, cl.end, lex)
        else:
            merged.append(cl)
    # "Plant South is rated 500 a day. What if it could do 25 an hour?": today's value, then the change
    if len(merged) > 1 and any(_HYPOTHETICAL.search(c.text) for c in merged):
        kept = [c for c in merged if not _states_now(c)]
        if kept:
            said = [c for c in merged if c not in kept]
            for c in kept:
                lanes = [ln for d in said for ln in d.lanes]
                if lanes and not c.lanes and all(m.how == "pronoun" for m in c.entities):
                    c.lanes, c.entities = lanes[:1], []  # "Lane S1 to P2 is 400 a day. If they cap it ..."
            merged = kept
    # "... tariff going up to 35p a kWh. What does that do to the sorter's running cost?"
    for cl in merged:
        if not cl.entities and not cl.lanes and cl.numbers:
            inside = [(c.start, c.end) for c in merged]
            lend = [
                m
                for m in reading.mentions.entities
                if m.resolved and not any(a <= m.start < b for a, b in inside) and m.how != "pronoun"
            ]
            if lend:
                cl.entities = lend[:1]
                cl.inherited.add("entities")
    # ellipsis: "hire one extra picker for the mezzanine and one extra for zone A"
    for prev, cl in itertools.pairwise(merged):
        if not cl.quantities and prev.quantities and cl.numbers:
            cl.quantities = dict(prev.quantities)
            cl.inherited.add("quantities")
        if not cl.ops and prev.ops:
            cl.ops = set(prev.ops)
            cl.inherited.add("ops")
        if cl.pace is None and prev.pace and cl.numbers and any(n.unit == "%" for n in cl.numbers):
            cl.pace = prev.pace
    return merged or [_clause(reading, start, end, lex)]


def _sides(reading: Reading, lex: Lexicon) -> list[list[Clause]] | None:
    """The two options of a comparison, or None."""
    text = reading.text
    splitter = _SIDE_SPLIT_AFTER_COMPARE if re.match(r"\s*(compare|contrast)\b", text) else _SIDE_SPLIT
    for m in splitter.finditer(text):
        left_start = _option_start(text, m.start())
        right_end = _option_end(text, m.end())
        a = _split_clauses(reading, left_start, m.start(), lex)
        b = _split_clauses(reading, m.end(), right_end, lex)
        pre = _clause(reading, 0, left_start, lex) if left_start > 0 else None
        if not _content(a) and not _content(b):
            continue
        _fill(a, b, pre)
        _fill(b, a, pre)
        _same_unit(a, b)
        return [a, b]
    return None


def _same_unit(a: list[Clause], b: list[Clause]) -> None:
    """ "the sorter down for an hour or the labeller down for three": a bare number in one option
    takes the unit of the number in the same place of the other."""
    for x, y in ((a, b), (b, a)):
        for n in x[0].numbers:
            if (n.unit == "" and not n.derived) or (n.unit == "" and n.text in WORD_NUMBERS):
                others = [m for m in y[0].numbers if m.is_time and "duration" in m.roles]
                if len(others) == 1 and re.search(r"\bfor\s+\S+\s*$", x[0].text[: n.end - x[0].start]):
                    n.unit, n.roles = others[0].unit, ("duration",)


def _content(side: list[Clause]) -> bool:
    return any(cl.entities or cl.numbers or cl.quantities or cl.lanes for cl in side)


def _option_start(text: str, split: int) -> int:
    """Where the first option begins: after the last comma, colon, dash or question word."""
    head = text[:split]
    best = 0
    for m in re.finditer(
        r"[,:;?]\s|\s-\s|\bcompare\b|\bbetween\b|\bwhether\b|\bon\b(?= an? )|\bis it (better|cheaper|worse) to\b"
        r"|\bto\b(?= (get|run|close|open|make|add|have))|\bto\b(?= [a-z]+ (the|a|an|its|our|their|one|two|an?other)\b)",
        head,
    ):
        best = m.end()
    return best


def _option_end(text: str, after: int) -> int:
    m = re.search(r"[?.!;]|,\s(which|what|how|does|do|is|would|and what)\b", text[after:])
    return after + m.start() if m else len(text)


def _fill(side: list[Clause], other: list[Clause], pre: Clause | None) -> None:
    """Parts an option leaves out, from the other option or from what precedes both."""
    cl, ref = side[0], other[0]
    own_quantities = bool(cl.quantities)
    sources = [x for x in (pre, ref) if x is not None]
    # "which uses less power - A or B": what the question measures (but "where's an extra 100 of
    # capacity worth more, A or B" says the change up front)
    asks = pre is not None and bool(_QUESTION_WORD.match(pre.text)) and not pre.numbers
    for src in sources:
        if src is pre and asks:
            if not cl.entities and not cl.lanes and (src.entities or src.lanes):
                cl.entities, cl.lanes = list(src.entities), list(src.lanes)
                cl.inherited.add("entities")
            if not cl.products and src.products:
                cl.products = list(src.products)
            if not cl.ops and src.ops:
                cl.ops = set(src.ops)  # "which is cheaper to close, A or B?"
            continue  # what the question measures, not what changes
        if (not cl.entities and not cl.lanes and (src.entities or src.lanes) and src is not ref) or (
            not cl.entities and not cl.lanes and src is ref and cl.numbers
        ):
            cl.entities = list(src.entities)
            cl.lanes = list(src.lanes)
            cl.inherited.add("entities")
        if (
            not cl.numbers
            and src.numbers
            and (src is pre or not (cl.ops & {"remove", "forbid", "only", "exclusive"}))
        ):
            cl.numbers = list(src.numbers)
            cl.inherited.add("numbers")
        if not cl.quantities and src.quantities:
            cl.quantities = dict(src.quantities)
        if not cl.ops and src.ops:
            cl.ops = set(src.ops)
        if cl.direction is None:
            cl.direction = src.direction
        if cl.pace is None and not own_quantities:
            cl.pace = src.pace  # "A 10% faster or B 20%?"; not "one more head or B 10% faster"
        if not cl.products and src.products and src is pre:
            cl.products = list(src.products)


# -- the twin's side -----------------------------------------------------------------------------


@dataclass
class _Ctx:
    twin: TwinSpec
    engine: str
    lex: Lexicon
    groups: dict[tuple[bool, str], list[tuple[str, Any, list[str]]]] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def params_of(self, target: str) -> list[tuple[str, Any]]:
        """(parameter, definition) a question may change on one node or lane."""
        out = []
        for setpoint in (False, True):
            key = (setpoint, self.engine)
            if key not in self.groups:
                self.groups[key] = list(parameter_groups(self.twin, self.engine, setpoint=setpoint))
            for _kind, pdef, targets in self.groups[key]:
                if target in targets and (pdef.name, pdef) not in out:
                    out.append((pdef.name, pdef))
        return out

    @property
    def present(self) -> set[str]:
        """Every parameter some node or lane of the twin has."""
        if "present" not in self.cache:
            self.cache["present"] = {name for n in [*self.twin.nodes] for name, _ in self.params_of(n.id)} | {
                name for e in self.twin.edges for name, _ in self.params_of(e.key)
            }
        return self.cache["present"]

    def setpoints(self, target: str) -> set[str]:
        key = (True, self.engine)
        if key not in self.groups:
            self.groups[key] = list(parameter_groups(self.twin, self.engine, setpoint=True))
        return {pdef.name for _k, pdef, targets in self.groups[key] if target in targets}

    def kind(self, ref: str) -> str:
        if self.twin.has_node(ref):
            return self.twin.node(ref).kind
        return "lane"


def _observed(twin: TwinSpec, node_id: str) -> tuple[str, str] | None:
    node = twin.node(node_id)
    if node.kind == "sensor" and node.observes and "." in node.observes:
        target, state = node.observes.split(".", 1)
        return target, state
    return None


@dataclass
class _Slot:
    """An entity a change can use: which mention it comes from, and how sure the reading is."""

    id: str
    mention: int | None  # index into the clause's entities (None: implied by the twin)
    ambiguous: bool = False
    state: str | None = None  # for a sensor: the state it observes
    ends: tuple[str, ...] = ()  # for a lane: its two nodes


def _entity_slots(cl: Clause, twin: TwinSpec, kinds: set[str] | None = None) -> list[_Slot]:
    out: list[_Slot] = []
    for k, m in enumerate(cl.entities):
        ids = m.ids
        for i in ids:
            sid, state = i, None
            obs = _observed(twin, i)
            if obs is not None:
                sid, state = obs
            if kinds is None or twin.node(sid).kind in kinds:
                out.append(_Slot(sid, k, ambiguous=not m.resolved and not m.group, state=state))
    return out


@dataclass
class _Draft:
    """A candidate change while it is built: what it uses of the clause."""

    changes: list[dict[str, Any]]
    numbers: set[int] = field(default_factory=set)  # indices into clause.numbers
    mentions: set[int] = field(default_factory=set)  # indices into clause.entities
    products: bool = False
    cost: float = 0.0
    notes: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def _role_cost(n: NumberMention, role: str) -> float | None:
    return float(n.roles.index(role)) if role in n.roles else None


def _time_unit(unit: str) -> tuple[float, str]:
    """A time unit the plan language writes (weeks become days)."""
    return (7.0, "day") if unit == "week" else (1.0, unit)


def _value_unit(n: NumberMention, pdef: Any, currency: str) -> tuple[float, str | None] | None:
    """The (value, unit) a number gives a parameter, or None when its unit does not fit."""
    cat = pdef.unit_for(currency)
    u = n.unit
    if u in ("", None):
        return n.value, None
    if u == "%":
        return (n.value, "%") if units.compatible(cat, "") else None
    if u.startswith("/"):
        if cat.endswith(u):
            return n.value, None
        if cat.startswith("item/") and units.compatible("item" + u, cat):
            return n.value, "item" + u  # "25 an hour" on a capacity per day
        return None
    if u == "week":
        u, factor = "day", 7.0
    else:
        factor = 1.0
    if units.compatible(u, cat):
        return n.value * factor, u
    if u == "item" and (cat.startswith("item/") or (pdef.integer and units.compatible(cat, ""))):
        return n.value, None  # "one loader short": a count of servers
    if u in ("EUR", "GBP", "USD", "CHF", "JPY", "CNY"):
        if u != currency:
            return None
        if cat.startswith(u + "/"):
            return n.value, None
    if "/" in u and u.split("/")[0] in ("EUR", "GBP", "USD", "CHF") and u.split("/")[0] != currency:
        return None
    return None


def _explains(cl: Clause, name: str, pdef: Any, target_kind: str, named: set[str], ctx: _Ctx) -> float | None:
    """How well the clause's words name a parameter: 0 when they name it (or it is the pace a
    "faster" changes), 1 when a word only hints at it or only a number's unit fits, None when
    nothing does or the words name another quantity of the same target."""
    strength = cl.quantities.get(name, 0)
    if strength == 2:
        return 0.0
    if (
        name == "start_time"
        and not named
        and re.search(r"\b(start|began|begin|kick|launch)", cl.text)
        and any(n.is_time and n.roles == ("amount",) and n.direction for n in cl.numbers)
    ):
        return 0.0  # "start the campaign two hours earlier": its first arrival moves
    if cl.pace and PACE.get(target_kind) == name and not any(_paced(q) for q in named):
        return 0.0  # "the pickers are 15% faster": the pace, not the number of pickers
    if named:
        return None
    if strength == 1:
        return 1.0 - 0.1 * min(3, max(0, cl.hints.get(name, 1) - 1))  # more hints, better
    if name == "interarrival_time" and "arrivals" in cl.ops and _rate_words(cl):
        return 0.5  # "order volume up 30%"
    if PACE.get(target_kind) == name and (
        _rate_words(cl) or any(_PER_TIME.fullmatch(n.unit or "") for n in cl.numbers)
    ):
        kind_params = CATALOG[target_kind].params if target_kind in CATALOG else {}
        if any(cl.quantities.get(q) == 1 for q in RATE_PARAMETERS - {name} if q in kind_params):
            return 1.0  # "the pump now delivers 10% less": the flow its words hint at, not its speed
        return 0.5  # "the filler's output falls by 20%", "it could only manage 100 an hour": its pace
    if target_kind == "source" and name == "interarrival_time":
        return 0.5  # "island A 20% busier", "transfer bags double": what a source changes is its flow
    if COUNT_PARAMETER.get(target_kind) == name and _count_before(cl):
        return 0.5  # "120 pack-lane chutes": a count of the thing named
    if (
        PACE.get(target_kind) == name
        and _is_time(pdef, ctx.twin.currency)
        and any(n.is_time and "value" in n.roles for n in cl.numbers)
    ):
        return 1.0  # "out conveyor 3 min instead of 90 s": a time on a conveyor is its travel time
    if SIZE_PARAMETER.get(target_kind) == name:
        if any("factor" in n.roles for n in cl.numbers):
            return 1.0  # "double the accumulation table": a store doubled is its size doubled
        if any(
            n.unit not in ("", "%")
            and _value_unit(n, pdef, ctx.twin.currency)
            and not re.search(r"\b(at|with)\s*$", cl.text[: max(0, n.start - cl.start)])
            for n in cl.numbers
        ):
            return 1.2  # "if the hot well were 30 m3": a store's volume is its size ("at 3 m3" is a level)
    cat = pdef.unit_for(ctx.twin.currency)
    for n in cl.numbers:
        if (
            n.unit not in ("", "%")
            and not n.unit.startswith("/")
            and _value_unit(n, pdef, ctx.twin.currency) is not None
            and not units.compatible(cat, "s")
        ):
            return 1.5
        if n.unit == "%" and "value" in n.roles[:1] and units.compatible(cat, "") and pdef.setpoint:
            return 1.0  # "run the labeller at 110%": a setpoint given as a share
        if n.unit.startswith("/") and cat == f"{ctx.twin.currency}{n.unit}":
            return 1.5  # "the lane went up to 4.50 a pallet": a price per item, in the twin's currency
    return None


def _param_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    """set / change / scale / add / setpoint on a parameter of a node or a lane."""
    out: list[_Draft] = []
    targets = _entity_slots(cl, ctx.twin)
    for lane in cl.lanes:
        targets.append(_Slot(lane.ids[0], None, ends=lane.lane))
    lane_words = bool(find_phrases(cl.stems, _LANE_WORDS))
    implied = not targets
    if implied:
        # a quantity only one node of the twin has ("the daily target", "arrivals")
        for name in cl.quantities:
            holders = [
                n.id for n in ctx.twin.nodes if n.kind != "sensor" and name in dict(ctx.params_of(n.id))
            ]
            if len(holders) == 1:
                targets.append(_Slot(holders[0], None))
        if (cl.pace or ("arrivals" in cl.ops and _rate_words(cl))) and not targets:
            paced = [n.id for n in ctx.twin.nodes if n.kind == "source"]
            if len(paced) == 1:
                targets.append(_Slot(paced[0], None))
    seen_targets = set()
    for slot in targets:
        if (slot.id, slot.mention) in seen_targets:
            continue
        seen_targets.add((slot.id, slot.mention))
        kind = ctx.kind(slot.id)
        kind_of = kind if kind != "lane" else "lane"
        setpoints = ctx.setpoints(slot.id)
        params = ctx.params_of(slot.id)
        named = {name for name, _ in params if cl.quantities.get(name) == 2}
        for name, pdef in params:
            ev = _explains(cl, name, pdef, kind_of, named, ctx)
            if ev is None:
                continue
            base = _Draft(
                [], mentions={slot.mention} if slot.mention is not None else set(), ids={slot.id, *slot.ends}
            )
            base.cost += ev + (1.0 if implied else 0.0) + (0.5 if slot.ambiguous else 0.0)
            if cl.lanes and lane_words and not slot.ends:
                base.cost += 1.0  # "capacity on the Gossau-Zurich lane" is the lane's
            per_product = pdef.per_product and ctx.twin.products
            products = [p for p in cl.products if per_product]
            product = products[0] if len(products) == 1 else None
            if len(products) > 1:
                continue
            common = {"target": slot.id, "parameter": name}
            if product:
                common["product"] = product
            for i, n in enumerate(cl.numbers):
                # set to a value (a setpoint when a start time is given)
                rc = _role_cost(n, "value")
                vu = _value_unit(n, pdef, ctx.twin.currency) if rc is not None else None
                share = _full_share(cl, n)
                if share is not None and name in _FILL_LEVELS and kind_of == "tank" and rc is not None:
                    vu = _of_capacity(ctx, slot.id, pdef, share)  # "starts the day half full": of its size
                if vu is not None:
                    value, unit = vu
                    change = {"op": "set", **common, "value": value}
                    if unit:
                        change["unit"] = unit
                    starts = [
                        (j, m)
                        for j, m in enumerate(cl.numbers)
                        if j != i and "start" in m.roles and m.is_time
                    ]
                    if name in setpoints and starts:
                        for j, m in starts:
                            sv, su = _time_unit(m.unit)
                            sp = {"op": "setpoint", "target": slot.id, "parameter": name, "value": value}
                            if unit:
                                sp["unit"] = unit
                            sp |= {"at": m.value * sv, "at_unit": su}
                            d = _Draft(
                                [sp], numbers={i, j}, mentions=set(base.mentions), products=bool(product)
                            )
                            d.cost = base.cost + rc + _role_cost(m, "start")
                            d.ids = set(base.ids)
                            out.append(d)
                    d = _Draft([change], numbers={i}, mentions=set(base.mentions), products=bool(product))
                    d.cost = base.cost + rc + (0.5 if (name in setpoints and n.direction) else 0.0)
                    d.ids = set(base.ids)
                    out.append(d)
                # a pace given as a rate: "if the filler could only manage 100 cases an hour"
                per = _PER_TIME.fullmatch(n.unit or "")
                if vu is None and per and PACE.get(kind_of) == name and _is_time(pdef, ctx.twin.currency):
                    try:
                        servers = ctx.twin.get(slot.id, "servers") if "servers" in dict(params) else 1.0
                    except Exception:
                        servers = 1.0
                    if n.value > 0:
                        seconds = servers * _SECONDS[per.group(1)] / n.value
                        change = {"op": "set", **common, "value": round(seconds, 6), "unit": "s"}
                        d = _Draft([change], numbers={i}, mentions=set(base.mentions), products=bool(product))
                        d.cost = base.cost + 0.5
                        d.ids = set(base.ids)
                        out.append(d)
                # change by a percentage (or faster / slower)
                rc = _role_cost(n, "percent")
                if rc is not None and n.unit == "%" and n.value > 0:
                    direction = _direction_for(cl, n, name, pdef, ctx, kind_of)
                    if direction is not None:
                        change = {"op": "change", **common, "direction": direction, "percent": n.value}
                        d = _Draft([change], numbers={i}, mentions=set(base.mentions), products=bool(product))
                        d.cost = base.cost + rc
                        d.ids = set(base.ids)
                        out.append(d)
                # scale by a factor
                if "factor" in n.roles and n.value > 0:
                    factor = n.value
                    paced = cl.pace or (kind_of == "source" and name == "interarrival_time")
                    if paced and _is_time(pdef, ctx.twin.currency) and not _said_of_time(cl):
                        factor = 1.0 / factor  # "twice as fast": the time halves
                    elif cl.frequency and name in ("mtbf", "mcbf"):
                        factor = 1.0 / factor  # "fails twice as often": half the time between failures
                    change = {"op": "scale", **common, "factor": factor}
                    d = _Draft([change], numbers={i}, mentions=set(base.mentions), products=bool(product))
                    d.cost = base.cost + _role_cost(n, "factor")
                    d.ids = set(base.ids)
                    out.append(d)
                # add or take away an amount
                rc = _role_cost(n, "amount")
                vu = _value_unit(n, pdef, ctx.twin.currency) if rc is not None else None
                if vu is not None and n.value > 0:
                    direction = n.direction or cl.direction
                    if direction in ("increase", "decrease"):
                        amount, unit = vu
                        change = {"op": "add", **common, "direction": direction, "amount": amount}
                        if unit:
                            change["unit"] = unit
                        d = _Draft([change], numbers={i}, mentions=set(base.mentions), products=bool(product))
                        d.cost = base.cost + rc
                        d.ids = set(base.ids)
                        out.append(d)
    return out


_FILL_LEVELS = ("initial_level", "high_level", "low_level")


def _full_share(cl: Clause, n: NumberMention) -> float | None:
    """The share of a store a number says ("half full", "80% full"), or None."""
    after = cl.text[max(0, n.end - cl.start) :]
    if not re.match(r"\s*(%\s*)?full\b", after) or n.unit not in ("", "%"):
        return None
    share = n.value / 100.0 if n.unit == "%" else n.value
    return share if 0 <= share <= 1 else None


def _of_capacity(ctx: _Ctx, node: str, pdef: Any, share: float) -> tuple[float, str | None] | None:
    unit = pdef.unit_for(ctx.twin.currency)
    try:
        capacity = ctx.twin.get(node, "capacity", unit=unit)
    except Exception:
        return None
    return share * capacity, unit


_PER_TIME = re.compile(r"(?:item)?/(s|min|h|day)")
_SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0, "day": 86400.0}


def _rate_words(cl: Clause) -> bool:
    """Whether the clause speaks of a rate ("volume", "orders") outside the names it uses."""
    names = [(m.start, m.end) for m in cl.entities]
    words = [t for t in tokenize(cl.text)]
    return any(
        stem(t.text) in RATE_WORDS and not any(a <= t.start + cl.start < b for a, b in names) for t in words
    )


def _paced(name: str) -> bool:
    """Whether "faster" can apply to a quantity (a time or a rate)."""
    for kd in CATALOG.values():
        if name in kd.params:
            return units.compatible(kd.params[name].unit, "s") or name in RATE_PARAMETERS
    return False


def _count_before(cl: Clause) -> bool:
    """A bare number right before a name ("120 pack-lane chutes", "a 100-tote queue")."""
    return any(
        n.unit in ("", "item") and any(0 <= m.start - n.end <= 3 for m in cl.entities) for n in cl.numbers
    )


def _is_time(pdef: Any, currency: str) -> bool:
    return units.compatible(pdef.unit_for(currency), "s")


def _said_of_time(cl: Clause) -> bool:
    return bool(
        {"process_time", "transport_time", "mttr", "setup_time", "lead_time", "interarrival_time"}
        & set(cl.quantities)
        and find_phrases(cl.stems, ("time", "take", "long"))
    )


def _direction_for(cl: Clause, n: NumberMention, name: str, pdef: Any, ctx: _Ctx, kind: str) -> str | None:
    """increase / decrease / faster / slower for a percentage change of ``name``."""
    pace = cl.pace if n.direction not in ("increase", "decrease") or _SPED_UP.search(cl.text) else None
    if n.direction in ("faster", "slower"):
        pace = n.direction
    if pace:
        # faster and slower change a time or a rate, nothing else
        return pace if _is_time(pdef, ctx.twin.currency) or name in RATE_PARAMETERS else None
    d = n.direction or cl.direction
    if d not in ("increase", "decrease"):
        return None
    if _is_time(pdef, ctx.twin.currency) and (_rate_words(cl) or kind == "source") and not _said_of_time(cl):
        return "faster" if d == "increase" else "slower"  # "order volume up 30%": the time between shrinks
    return d


def _outage_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    closed_for = "remove" in cl.ops and any("duration" in n.roles[:1] and n.is_time for n in cl.numbers)
    if "outage" not in cl.ops and not closed_for:  # "closed two days for the carnival": a while
        return []
    out = []
    slots = _entity_slots(cl, ctx.twin, set(OUTAGE_TARGET_KINDS))
    durations = [(i, n) for i, n in enumerate(cl.numbers) if "duration" in n.roles and n.is_time]
    starts = [(i, n) for i, n in enumerate(cl.numbers) if "start" in n.roles and n.is_time]
    for slot in _distinct(slots):
        for i, n in durations:
            dv, du = _time_unit(n.unit)
            base = {"op": "outage", "target": slot.id, "duration": n.value * dv, "unit": du}
            d = _Draft(
                [base],
                numbers={i},
                mentions={slot.mention} if slot.mention is not None else set(),
                ids={slot.id},
            )
            d.cost = _role_cost(n, "duration") + (0.5 if slot.ambiguous else 0.0)
            out.append(d)
            for j, m in starts:
                if j == i:
                    continue
                sv, su = _time_unit(m.unit)
                d2 = _Draft(
                    [{**base, "start": m.value * sv, "start_unit": su}],
                    numbers={i, j},
                    mentions=set(d.mentions),
                    ids={slot.id},
                )
                d2.cost = d.cost + _role_cost(m, "start")
                out.append(d2)
    return out


def _distinct(slots: list[_Slot]) -> list[_Slot]:
    seen, out = set(), []
    for s in slots:
        if (s.id, s.mention) not in seen:
            seen.add((s.id, s.mention))
            out.append(s)
    return out


def _removal_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    if "remove" not in cl.ops:
        return []
    out = []
    kinds = {
        "supplier",
        "plant",
        "warehouse",
        "customer",
        "station",
        "buffer",
        "conveyor",
        "pump",
        "valve",
        "tank",
        "source",
        "sink",
    }
    for slot in _distinct(_entity_slots(cl, ctx.twin, kinds)):
        d = _Draft(
            [{"op": "remove", "target": slot.id}],
            mentions={slot.mention} if slot.mention is not None else set(),
            ids={slot.id},
        )
        d.cost = 0.5 if slot.ambiguous else 0.0
        if ctx.kind(slot.id) == "valve" and _VALVE_MOVE.search(cl.text):
            d.cost += 1.0  # a valve closed is shut, not taken out
        out.append(d)
    return out


_VALVE_MOVE = re.compile(r"\b(clos(e|es|ed)|shut(s|ting)?|open(s|ed)?)\b")  # not "the opening"


def _valve_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    """A valve shut or opened with no value said: opening 0 or 1 ("somebody closes the outlet
    valve at the one-hour mark")."""
    moves = {m.group(1)[:4] for m in _VALVE_MOVE.finditer(cl.text)}
    if len(moves) != 1 or any("start" not in n.roles for n in cl.numbers):
        return []
    value = 1.0 if moves == {"open"} else 0.0
    starts = [(j, n) for j, n in enumerate(cl.numbers) if n.is_time]
    out = []
    for slot in _distinct(_entity_slots(cl, ctx.twin, {"valve"})):
        if "opening" not in dict(ctx.params_of(slot.id)):
            continue
        mentions = {slot.mention} if slot.mention is not None else set()
        if not starts:
            d = _Draft(
                [{"op": "set", "target": slot.id, "parameter": "opening", "value": value}], mentions=mentions
            )
            d.ids, d.cost = {slot.id}, 0.5
            out.append(d)
        elif "opening" in ctx.setpoints(slot.id):
            for j, n in starts:
                at, unit = _time_unit(n.unit)
                sp = {"op": "setpoint", "target": slot.id, "parameter": "opening", "value": value}
                d = _Draft([sp | {"at": n.value * at, "at_unit": unit}], numbers={j}, mentions=mentions)
                d.ids, d.cost = {slot.id}, 0.5 + _role_cost(n, "start")
                out.append(d)
    return out


def _lane_pairs(cl: Clause, ctx: _Ctx) -> list[tuple[str, str, set[int], float]]:
    """(source, target, mentions used, cost) for every lane the clause can name."""
    edges = {(e.source, e.target) for e in ctx.twin.edges if e.kind == "material"}
    out = []
    for lane in cl.lanes:
        src, dst = lane.lane  # type: ignore[misc]
        used = {k for k, m in enumerate(cl.entities) if src in m.ids or dst in m.ids}
        out.append((src, dst, used, 0.0))
    slots = _entity_slots(cl, ctx.twin)
    for a, b in itertools.permutations(slots, 2):
        if a.mention == b.mention or (a.id, b.id) not in edges:
            continue
        order = 0.0 if (a.mention or 0) < (b.mention or 0) else 1.0
        out.append((a.id, b.id, {a.mention, b.mention} - {None}, order + 0.5 * (a.ambiguous + b.ambiguous)))  # type: ignore[arg-type]
    return out


def _forbid_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    closed_lane = bool(cl.lanes) and bool(cl.ops & {"remove", "outage"})  # "S2->P1 shut?"
    if ctx.engine != "optimize" or not ("forbid" in cl.ops or closed_lane):
        return []
    out = []
    product = cl.products[0] if len(cl.products) == 1 else None
    for src, dst, used, cost in _lane_pairs(cl, ctx):
        change = {"op": "forbid", "source": src, "target": dst}
        if product:
            change["product"] = product
        d = _Draft([change], mentions=set(used), products=bool(product), ids={src, dst})
        d.cost = cost
        out.append(d)
    return out


_BUY = re.compile(
    r"\b(buy|buys|bought|source|sources|sourced|sourcing|receive|receives|received|take|takes|took|get|gets|got|supplied|served|fed|delivered|shipped|deliveries|supply|supplies)\b[^.;]*?\b(from|by)\b"
)
_SELL = re.compile(
    r"\b(sell|sells|sold|ship|ships|shipped|supply|supplies|serve|serves|served|deliver|delivers|send|sends|feed|feeds)\b[^.;]*?\bto\b|\b(serve|serves|served|supply|supplies|deliver to|ship to)\b"
)


def _only_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    if ctx.engine != "optimize" or "only" not in cl.ops:
        return []
    lanes = [e for e in ctx.twin.edges if e.kind == "material"]
    succ = {(e.source, e.target) for e in lanes}
    text = cl.text
    out = []
    slots = _entity_slots(cl, ctx.twin)
    directions = []
    if _BUY.search(text):
        directions.append("buy_only")
    if _SELL.search(text):
        directions.append("serve_only")
    if not directions:
        directions = ["buy_only", "serve_only"]
    for direction in directions:
        for subject in slots:
            partners = [s for s in slots if s.mention != subject.mention]
            ok = [
                p
                for p in partners
                if ((subject.id, p.id) in succ if direction == "serve_only" else (p.id, subject.id) in succ)
            ]
            names = []
            used = {subject.mention} - {None}
            for p in ok:
                if p.id not in names:
                    names.append(p.id)
                    used.add(p.mention)
            if not names:
                continue
            order = 0.0 if all((subject.mention or 0) < (p.mention or 0) for p in ok) else 0.5
            d = _Draft(
                [{"op": "only", "direction": direction, "target": subject.id, "partners": names}],
                mentions=used - {None},
                ids={subject.id, *names},
            )
            d.cost = order + (0.0 if len(directions) == 1 else 1.0)
            out.append(d)
    return out


def _exclusive_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    if (
        ctx.engine != "optimize"
        or "exclusive" not in cl.ops
        or not re.search(r"\beither\b|\bnot both\b|\bbut not\b|\bone of\b", cl.text)
    ):
        return []
    slots = [
        s
        for s in _distinct(_entity_slots(cl, ctx.twin, {"supplier", "plant", "warehouse", "customer"}))
        if not s.ambiguous
    ]
    out = []
    for a, b in itertools.combinations(slots, 2):
        if a.id == b.id or ctx.kind(a.id) != ctx.kind(b.id):
            continue
        d = _Draft(
            [{"op": "exclusive", "first": a.id, "second": b.id}],
            mentions={a.mention, b.mention} - {None},
            ids={a.id, b.id},
        )
        out.append(d)
    return out


def _demand_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    customers_named = [m for m in cl.entities if m.ids and all(ctx.kind(i) == "customer" for i in m.ids)]
    other_named = [q for q, s in cl.quantities.items() if s == 2 and q != "demand" and q in ctx.present]
    if (
        ctx.engine != "optimize"
        or other_named
        or ("demand" not in cl.quantities and not (customers_named and not cl.quantities))
    ):
        return []
    # a demand clause speaks of customers: "Barcelona" is the Barcelona customer, not the DC there
    for k, m in enumerate(cl.entities):
        buyers = [i for i in m.ids if ctx.kind(i) == "customer"]
        if not m.resolved and not m.group and len(buyers) == 1 and m.how != "pronoun":
            cl.entities[k] = dataclasses.replace(m, ids=(buyers[0],))
    out = []
    customers = _distinct(_entity_slots(cl, ctx.twin, {"customer"}))
    others = [k for k, m in enumerate(cl.entities) if not any(s.mention == k for s in customers)]
    product = cl.products[0] if len(cl.products) == 1 else None
    if len(cl.products) > 1:
        return []
    whom: list[_Slot | None] = list(customers) if customers else [None]
    everyone = {n.id for n in ctx.twin.nodes if n.kind == "customer"}
    if any(m.group and set(m.ids) >= everyone for m in cl.entities):
        whom = [None]
    for i, n in enumerate(cl.numbers):
        for c in whom:
            extra: dict[str, Any] = {}
            if product:
                extra["product"] = product
            if c is not None:
                extra["customer"] = c.id
            used = (
                {c.mention} - {None} if c is not None else {k for k, m in enumerate(cl.entities) if m.group}
            )
            if n.unit == "%" and "percent" in n.roles and n.value > 0:
                direction = n.direction or cl.direction
                if direction in ("increase", "decrease"):
                    d = _Draft(
                        [{"op": "demand", "direction": direction, "percent": n.value, **extra}],
                        numbers={i},
                        mentions=used,
                        products=bool(product),
                    )
                    d.cost = _role_cost(n, "percent") + (0.5 if c is not None and c.ambiguous else 0.0)
                    d.ids = {c.id} if c else set(everyone)
                    out.append(d)
            if "factor" in n.roles and n.value > 0:
                d = _Draft(
                    [{"op": "demand_scale", "factor": n.value, **extra}],
                    numbers={i},
                    mentions=used,
                    products=bool(product),
                )
                d.cost = 0.0
                d.ids = {c.id} if c else set(everyone)
                out.append(d)
    del others
    return out


def _arrival_drafts(cl: Clause, ctx: _Ctx) -> list[_Draft]:
    sources = _distinct(_entity_slots(cl, ctx.twin, {"source"}))
    if ctx.engine != "simulate" or ("arrivals" not in cl.ops and not sources):
        return []
    implied = False
    if not sources:
        ids = [n.id for n in ctx.twin.nodes if n.kind == "source"]
        if len(ids) == 1:
            sources = [_Slot(ids[0], None)]
            implied = True
    out = []
    for slot in sources:
        for i, n in enumerate(cl.numbers):
            if "rate" not in n.roles or "/" not in n.unit:
                continue
            num, den = n.unit.split("/", 1)
            if num not in ("item", "") or den not in ("min", "h", "day"):
                continue
            d = _Draft(
                [{"op": "arrivals", "target": slot.id, "rate": n.value, "unit": f"1/{den}"}],
                numbers={i},
                mentions={slot.mention} - {None},
                ids={slot.id},
            )
            d.cost = _role_cost(n, "rate") + (1.0 if implied else 0.0)
            out.append(d)
    return out


_BUILDERS = (
    _param_drafts,
    _outage_drafts,
    _removal_drafts,
    _valve_drafts,
    _forbid_drafts,
    _only_drafts,
    _exclusive_drafts,
    _demand_drafts,
    _arrival_drafts,
)


_WHERE = re.compile(
    r"\b(before|after|behind|ahead of|in front of|upstream of|downstream of|next to|near|beside|into|feeding|past|beyond)\s+(the\s+)?$"
)


def _locative(m: Mention, cl: Clause) -> bool:
    """A name said as a place relative to another thing ("the queue before the sorter")."""
    before = cl.text[: max(0, m.start - cl.start)]
    return bool(_WHERE.search(before)) and any(x.start < m.start for x in cl.entities if x is not m)


_ORDINALS = {"second", "third", "fourth", "fifth", "2nd", "3rd", "4th", "5th"}


def _part_of(m: Mention, cl: Clause, d: _Draft) -> bool:
    """``m`` is said as part of a thing the draft changes ("the silos at the Warsaw terminal")."""
    after = cl.text[max(0, m.end - cl.start) :]
    hit = re.match(r"\s*(at|in|of|on)\s+(the\s+)?", after)
    if not hit:
        return False
    nxt = next((x for x in cl.entities if x.start >= m.end), None)
    return nxt is not None and nxt.start - m.end <= hit.end() + 1 and bool(set(nxt.ids) & d.ids)


def _modifier_of(m: Mention, cl: Clause, d: _Draft) -> bool:
    """``m`` stands right before a thing the draft changes and says which ("the storm tank penstock",
    "Opole's kiln")."""
    nxt = next((x for x in cl.entities if x.start >= m.end), None)
    if nxt is None or not nxt.resolved or not set(nxt.ids) & d.ids or set(m.ids) & set(nxt.ids):
        return False  # "the depal machine" is the depalletiser itself, not which machine
    return re.fullmatch(r"\s*(?:'s)?\s*", cl.text[m.end - cl.start : nxt.start - cl.start]) is not None


def _strong(m: Mention, cl: Clause | None = None, question: str = "") -> bool:
    """A mention the plan must use: a group, an id, a relation, or a name that is not just one
    ordinary lowercase English word ("low fill" is not the buffer named "fill")."""
    if m.group:
        return True
    if not m.resolved or m.how not in ("id", "name", "relation", "lane"):
        return False
    word = m.text.strip()
    if m.how == "name" and " " not in word and is_english(word):
        return bool(
            _QUESTION.get() and re.search(rf"\b{word[0].upper()}{re.escape(word[1:])}", _QUESTION.get())
        )
    return True


def _restated(a: NumberMention, b: NumberMention) -> bool:
    """The same number said twice ("a second packing head, basically two packers")."""
    return a.value == b.value and a.unit == b.unit and a is not b


def _complete(d: _Draft, cl: Clause, twin: TwinSpec, problems: list[Refusal]) -> bool:
    """Every number and every part of the twin the clause names is used."""
    for i, n in enumerate(cl.numbers):
        if i in d.numbers or any(_restated(n, cl.numbers[j]) for j in d.numbers):
            continue
        if n.text.split()[-1] in _ORDINALS and d.numbers:
            continue  # "a second packing line ... would add 200 t/d": which line, not a value
        return False
    for k, m in enumerate(cl.entities):
        if "entities" in cl.inherited or not _strong(m, cl):
            continue
        if m.group:
            if set(m.ids) <= d.ids:
                continue
            return False
        if k in d.mentions or set(m.ids) & d.ids:
            continue
        if any(set(m.ids) & set(x.anchors) and (set(x.ids) & d.ids) for x in cl.entities):
            continue  # "the table behind the filler": the filler only says which table
        if _locative(m, cl) and d.ids:
            continue  # "the queue before the sorter", "at M1": where, not what changes
        if _part_of(m, cl, d) or _modifier_of(m, cl, d):
            continue  # "one of the silos at the Warsaw terminal", "the storm tank penstock": which one
        if any(a <= m.start < b for a, b in cl.results):
            continue  # "what happens to the hot well": what to report
        obs = _observed(twin, m.ids[0]) if len(m.ids) == 1 else None
        if obs is not None and obs[0] in d.ids:
            continue
        if m.how == "pronoun":
            continue
        return False
    return True


def _clause_changes(cl: Clause, ctx: _Ctx, problems: list[Refusal]) -> list[_Draft]:
    drafts: list[_Draft] = []
    for build in _BUILDERS:
        drafts += build(cl, ctx)
    # the same change for each member of a group or of a list ("both valves", "S1 and S2")
    drafts += _distributed(drafts, cl, ctx)
    complete = [d for d in drafts if _complete(d, cl, ctx.twin, problems)]
    for d in complete:
        if cl.products and not d.products:
            d.cost += 1.0
        for lane in cl.lanes:
            if set(lane.lane or ()) & d.ids and not _on_lane(d, lane):
                d.cost += 1.5  # "losing the Opole-Wroclaw lane" is the lane, not the works at one end
    return complete


def _on_lane(d: _Draft, lane: Mention) -> bool:
    return any(
        c.get("target") == lane.ids[0] or (c.get("source"), c.get("target")) == lane.lane for c in d.changes
    )


def _listed(cl: Clause) -> list[int]:
    """Mentions named as a list ("S1 and S2", "Geneva, Lausanne and Basel", "both A and B")."""
    out: set[int] = set()
    ents = cl.entities
    for k in range(len(ents) - 1):
        a, b = ents[k], ents[k + 1]
        if not (a.resolved and b.resolved) or a.group or b.group or a.how == "pronoun" or b.how == "pronoun":
            continue
        gap = cl.text[a.end - cl.start : b.start - cl.start].strip()
        if gap in ("and", ",", "&", "or", ", and", "as well as", "plus"):
            out |= {k, k + 1}
    return sorted(out)


def _distributed(drafts: list[_Draft], cl: Clause, ctx: _Ctx) -> list[_Draft]:
    groups = [k for k, m in enumerate(cl.entities) if m.group]
    lists = _listed(cl)
    out = []
    for d in drafts:
        if len(d.changes) != 1:
            continue
        change = d.changes[0]
        key = "customer" if "customer" in change else "target" if "target" in change else None
        if key is None or "source" in change or change.get("op") in ("only", "exclusive"):
            continue
        kind = ctx.kind(change[key])
        members: list[str] = []
        used = set(d.mentions)
        for k in groups + lists:
            m = cl.entities[k]
            ids = [i for i in m.ids if ctx.twin.has_node(i) and ctx.twin.node(i).kind == kind]
            if ids and (m.group or len(ids) == 1):
                members += [i for i in ids if i not in members]
                used.add(k)
        if len(members) < 2 or change[key] not in members:
            continue
        many = _Draft(
            [{**change, key: i} for i in members],
            numbers=set(d.numbers),
            mentions=used,
            products=d.products,
            ids=set(members),
        )
        many.cost = d.cost
        out.append(many)
    return out


# -- plans ---------------------------------------------------------------------------------------


def _what_if(clauses: list[Clause], ctx: _Ctx, problems: list[Refusal]) -> list[Candidate]:
    per_clause = []
    for cl in clauses:
        if len(clauses) > 1 and not cl.numbers and not cl.entities and not cl.lanes:
            continue  # "the canteen is shut all week, anyway - ...": nothing of the twin to change
        drafts = _clause_changes(cl, ctx, problems)
        if not drafts:
            return []
        low = min(d.cost for d in drafts)
        per_clause.append([d for d in drafts if d.cost <= low + 1e-9][:6])
    out = []
    for combo in itertools.product(*per_clause):
        changes = [c for d in combo for c in d.changes]
        if len(changes) > 4:
            continue
        out.append(Candidate({"kind": "what_if", "changes": changes}, sum(d.cost for d in combo)))
    return out


def _compare(sides: list[list[Clause]], ctx: _Ctx, problems: list[Refusal]) -> list[Candidate]:
    a = _what_if(sides[0], ctx, problems)
    b = _what_if(sides[1], ctx, problems)
    out = []
    for x, y in itertools.product(a[:6], b[:6]):
        if x.plan["changes"] == y.plan["changes"] or len(x.plan["changes"]) > 3 or len(y.plan["changes"]) > 3:
            continue
        out.append(
            Candidate(
                {"kind": "compare", "first": x.plan["changes"], "second": y.plan["changes"]}, x.cost + y.cost
            )
        )
    return out


def _why(reading: Reading, ctx: _Ctx) -> list[Candidate]:
    out = []
    if ctx.engine == "optimize":
        for lane in reading.mentions.lanes:
            src, dst = lane.lane  # type: ignore[misc]
            out.append(Candidate({"kind": "why", "source": src, "target": dst}, 0.0))
        if not out:
            ents = [m for m in reading.mentions.entities if m.resolved and not m.group]
            edges = {(e.source, e.target) for e in ctx.twin.edges if e.kind == "material"}
            # "from Opole rather than from Malogoszcz", "and not from the south plant": not the source
            ents = [
                m
                for m in ents
                if not re.search(
                    r"(rather than|instead of|\bnot)\s+(from\s+)?(the\s+)?$", reading.text[: m.start]
                )
            ]
            for a, b in itertools.combinations(ents, 2):
                flow = re.search(
                    r"\b(ship|send|sent|deliver|suppl|move|route|buy|bought|source|get|got|truck|rail|haul|serv|feed|fed)",
                    reading.text,
                )
                if (a.id, b.id) in edges and flow:
                    out.append(Candidate({"kind": "why", "source": a.id, "target": b.id}, 0.5))
                if (b.id, a.id) in edges and flow and re.search(r"\bfrom\b", reading.text[a.end : b.start]):
                    out.append(Candidate({"kind": "why", "source": b.id, "target": a.id}, 0.5))
    for k, m in enumerate(reading.mentions.entities):
        if m.group or m.how == "pronoun":
            continue
        for i in m.ids:
            obs = _observed(ctx.twin, i)
            target = obs[0] if obs else i
            cost = (
                k * 0.3
                + (0.0 if m.resolved else 2.0)
                + (1.0 if m.how in ("stem", "description", "kind") else 0.0)
                + (1.0 if out else 0.0)
            )
            out.append(Candidate({"kind": "why", "target": target}, cost))
    return out


#: "how long does a bag take through the transfer tunnel": the time a thing spends there
_TAKES = re.compile(r"\bhow long (?:does|do|did|will|would) [^?]{0,60}?\btakes?\b")
#: "what is the pH of the water": the quantity asked for, by its own word
_ASKED = re.compile(r"\bwhat(?:'s| is| are| was)\s+the\s+([a-z][\w-]*)\s+(?:of|in|at)\b")
#: every word a quantity is named or hinted with, as written and as stems
_QUANTITY_WORDS_SAID = {
    s for table in (QUANTITY_WORDS, QUANTITY_HINTS) for ws in table.values() for w in ws for s in w.split()
}
_QUANTITY_STEMS = {stem(w) for w in _QUANTITY_WORDS_SAID}


def _unknown_quantity(text: str, lex: Lexicon) -> str | None:
    """The word a status question asks the value of, when no quantity, part or product of the twin
    goes by it ("the pH of the water"): its vaguer words then say nothing."""
    m = _ASKED.search(text)
    if m is None:
        return None
    word = m.group(1)
    s = stem(word)
    known = (
        word in _QUANTITY_WORDS_SAID
        or s in _QUANTITY_STEMS
        or any(s in table for table in (lex.by_stem, lex.kind_words, lex.by_weak, lex.products))
        or word in lex.by_id
        or word in ("value", "status", "state", "reading", "figure", "number", "amount", "current")
    )
    return None if known else word


#: "keep the tower between 40 and 60 %", "hold the wet well above 12 m3": a band held by control
_KEEP = re.compile(
    r"(?:^|[.!?;:]\s*|\b(?:can|could|would) (?:you|we)\s+|\bplease\s+|\b(?:we|i) (?:want|need|would like|'d like) to\s+"
    r"|\bhow (?:do|can|should) we\s+|\blet's\s+)(keep|hold|maintain)\b[^.?!]{0,80}?"
    r"\b(between|above|over|below|under|at least|at most|within)\s+(?:about |roughly |around )?\d"
)
_LOW_WORDS = ("above", "over", "at least")
_HIGH_WORDS = ("below", "under", "at most")


def _keep(reading: Reading, ctx: _Ctx) -> tuple[list[Candidate], Refusal | None]:
    """A band a controller is to hold: the tank named, its level, the edges in m^3 (a share of
    its capacity when given in %)."""
    hit = _KEEP.search(reading.text)
    if hit is None:
        return [], None
    tanks = [m.ids[0] for m in reading.mentions.entities if m.resolved and ctx.kind(m.ids[0]) == "tank"]
    if not tanks:  # "the tank" of several: which one
        tanks = [i for m in reading.mentions.entities for i in m.ids if ctx.kind(i) == "tank"]
    tanks = list(dict.fromkeys(tanks))
    if len(tanks) != 1:
        if not tanks:
            return [], None  # "keep in stock over the summer": no tank, no band to hold
        names = ", ".join(_label(ctx.twin, i) for i in tanks)
        return [], Refusal("ambiguous", f"it could be any of {names}; say which")
    tank = tanks[0]
    capacity = float(ctx.twin.get(tank, "capacity"))
    numbers = [
        n for n in reading.numbers if n.start >= hit.start() and not set(n.roles) & {"old", "reference"}
    ]
    if not numbers or len(numbers) > 2:
        return [], Refusal("unclear", "say the band: between two levels, or above / below one")
    units_said = {n.unit for n in numbers if n.unit}
    values = []
    for n in numbers:
        unit = n.unit or (next(iter(units_said)) if len(units_said) == 1 else "")
        if unit == "%":
            values.append(n.value / 100 * capacity)
        elif unit and units.compatible(unit, "m^3"):
            values.append(units.convert(n.value, unit, "m^3"))
        else:
            return [], Refusal("unclear", f"say the unit of {n.text!r} (% of the tank, or m3)")
    word = hit.group(2)
    if word in ("between", "within"):
        if len(values) != 2:
            return [], Refusal("unclear", "a band 'between' needs two levels")
        low, high = sorted(values)
    elif len(values) != 1:
        return [], Refusal("unclear", f"'{word}' takes one level")
    elif word in _LOW_WORDS:
        low, high = values[0], None
    else:
        low, high = None, values[0]
    plan = {"kind": "keep", "target": tank, "quantity": "level"}
    plan |= {k: round(v, 6) for k, v in (("min", low), ("max", high)) if v is not None}
    return [Candidate(plan, 0.0)], None


def _status(reading: Reading, ctx: _Ctx) -> list[Candidate]:
    cl = _clause(reading, 0, len(reading.text), ctx.lex)
    out = []
    if _unknown_quantity(reading.text, ctx.lex):
        return out
    slots = _entity_slots(cl, ctx.twin)
    for lane in cl.lanes:
        slots.append(_Slot(lane.ids[0], None))
    named = [k for k, v in cl.quantities.items() if v == 2 and k != "length"]
    if cl.quantities.get("length") == 2 and named and "length" not in cl.text:
        del cl.quantities["length"]  # "how long is the changeover": the time of the changeover
    if not slots:
        if named:  # no part named: a quantity named outright says whose; words that hint at others do not
            cl.quantities = {k: v for k, v in cl.quantities.items() if v == 2}
        for name in cl.quantities:
            nodes = [n for n in ctx.twin.nodes if n.kind != "sensor" and twin_has_quantity(ctx.twin, n, name)]
            if len(nodes) > 1:  # "the changeover": the one station that has one, not the defaults
                nodes = [n for n in nodes if name in n.parameters] or nodes
            if len(nodes) == 1:
                slots.append(_Slot(nodes[0].id, None))
    product = cl.products[0] if len(cl.products) == 1 else None
    for slot in _distinct(slots):
        el = ctx.twin.element(slot.id)
        names = list(cl.quantities)
        if slot.state and slot.state not in names:
            names.append(slot.state)
        count = COUNT_PARAMETER.get(ctx.kind(slot.id))
        if (
            count
            and slot.mention is not None
            and re.search(r"how many\s+$", reading.text[: cl.entities[slot.mention].start])
        ):
            names.append(count)  # "how many pack benches": the count of them
            cl.quantities[count] = 2
        pace = PACE.get(ctx.kind(slot.id))
        if pace and _TAKES.search(reading.text) and twin_has_quantity(ctx.twin, el, pace):
            names = [pace]  # "how long does a bag take through the tunnel": its pace, a time
        for name in names:
            if not twin_has_quantity(ctx.twin, el, name):
                continue
            plan = {"kind": "status", "target": slot.id, "quantity": name}
            pdef = el.param_def(name)
            if product and pdef is not None and pdef.per_product:
                plan["product"] = product
            strength = cl.quantities.get(name, 0) + 0.2 * cl.spans.get(name, 0)
            cost = (
                (0.0 if cl.quantities.get(name) == 2 else 1.0)
                - 0.1 * strength
                + (1.0 if slot.ambiguous else 0.0)
            )
            cost += 0.3 * (slot.mention or 0)
            out.append(Candidate(plan, cost))
    return out


def read(question: str, twin: TwinSpec, lexicon: Lexicon | None = None, engine: str | None = None) -> Reading:
    """Everything the question can mean on ``twin`` (see the module docstring)."""
    lex = lexicon or Lexicon.of(twin)
    refusal = refusal_of(question, twin, lex)
    question, ignored = strip_noise(question)
    question, context = _without_context(question, twin, lex)
    ignored += ["a sentence of context"] * context
    question = _same_time(question)
    text = normalise(question)
    _QUESTION.set(question)
    reading = Reading(question=question, text=text, twin=twin, ignored=ignored, refusal=refusal)
    if reading.refusal is not None:
        return reading
    numbers = scan(question, twin.currency)
    unit_spans = [(n.start, n.end) for n in numbers if n.unit and n.unit != "%" and not n.derived]
    reading.mentions = find_mentions(question, twin, lex, skip=unit_spans)
    # a number inside a name ("valve 1", "supplier 2") is not a value
    inside = [(m.start, m.end) for m in reading.mentions.entities if m.how in ("id", "name")]
    reading.numbers = [n for n in numbers if not any(a <= n.start < b for a, b in inside)]
    usable = [n for n in reading.numbers if not set(n.roles) & {"old", "reference"}]
    if _HOW_MUCH.match(text):  # "how much busheling does Mansfield take a day?": per day, not a change
        usable = [n for n in usable if not _PER_WORDS.fullmatch(n.text)]
    ctx = _Ctx(twin, engine or engine_of(twin), lex)
    unknown = unknown_names(reading, ctx, strict=True)
    if unknown:
        reading.refusal = Refusal("unknown_entity", f"the twin has no {', '.join(repr(u) for u in unknown)}")
        return reading
    kept, refusal = _keep(reading, ctx)
    if kept or refusal:
        reading.forms = ["keep"]
        reading.candidates, reading.refusal = kept, refusal
        return reading
    changes_said = bool(usable) or bool(re.search(r"\b(double|halve|triple|faster|slower|quicker)", text))
    reading.forms = plan_forms(text, has_changes=changes_said)
    if changes_said and reading.forms[0] in ("what_if", "compare"):
        reading.forms = [f for f in reading.forms if f in ("what_if", "compare")]  # never a lookup
    candidates: list[Candidate] = []
    for rank, form in enumerate(reading.forms):
        found: list[Candidate] = []
        if form == "compare":
            sides = _sides(reading, lex)
            if sides is not None:
                reading.sides = sides
                found = _compare(sides, ctx, reading.problems)
        elif form == "what_if":
            reading.clauses = _split_clauses(reading, 0, len(text), lex)
            found = _what_if(reading.clauses, ctx, reading.problems)
        elif form == "why":
            with _asking_sentence(reading):
                found = _why(reading, ctx)
        elif form == "status" and not _AHEAD.search(text):
            with _asking_sentence(reading):
                found = _status(reading, ctx)
        if (
            form == "status"
            and rank > 0
            and _clause(reading, 0, len(text), lex).ops
            & {"outage", "remove", "forbid", "only", "exclusive", "arrivals"}
        ):
            found = []  # "what happens when the sensor dies?" asks for a change, not a lookup
        for c in found:
            c.cost += 3.0 * rank
        candidates += found
    reading.candidates = sorted(candidates, key=lambda c: c.cost)
    if not candidates and "status" in reading.forms and _AHEAD.search(text):
        reading.refusal = Refusal(
            "not_modelled",
            "it asks for a forecast or a recommendation; the twin gives today's values, and what happens "
            "after a change you describe",
        )
        return reading
    _settle(reading, ctx)
    return reading


_SENTENCE_END = re.compile(r"(?<=[.!:;])\s+")
#: a turn from context to the question
_ANYWAY = re.compile(
    r"(?:^|[.!;]\s+)(?:anyway|anyhow|long story short|so my question is|my question is)\s*[:,-]\s*", re.I
)


_HOW_MUCH = re.compile(r"\s*(how (much|many|long|big|often)|what(?:'s| is| are)?)\b")
_PER_WORDS = re.compile(r"(a|an|per|each|every) (second|minute|hour|day|week|month|shift|year)s?")
_ORDINAL = re.compile(r"(?:st|nd|rd|th)\b", re.I)  # right after a number: "2nd week"


def _names_nothing(segment: str, twin: TwinSpec, lex: Lexicon) -> bool:
    """A stretch of text that names no part, lane or product of the twin and no quantity or change."""
    r = Reading(question=segment, text=normalise(segment), twin=twin)
    r.mentions = find_mentions(segment, twin, lex)
    numbers = [
        n
        for n in scan(segment, twin.currency)
        if not _ORDINAL.match(r.text, n.end) and "clock" not in n.roles  # "2nd week", "the 10 o'clock call"
    ]
    if any(n.unit for n in numbers):
        return False  # "Our supplier quotes 280 EUR per MWh from next month.": a value of the twin
    cl = _clause(r, 0, len(r.text), lex)
    named = [m for m in cl.entities if m.how != "pronoun"]
    # a word for a quantity alone ("New to the team (2nd week).") is chatter; with a number it is not
    return not (named or cl.lanes or cl.products or cl.ops or cl.pace or (cl.quantities and numbers))


def _without_context(question: str, twin: TwinSpec, lex: Lexicon) -> tuple[str, int]:
    """ "Apologies for the long mail, two people are off sick. Anyway: what if the packer were 15%
    faster?": sentences before the one that asks, naming nothing of the twin, are context; they are
    left out (and counted) when the asking sentence names the twin itself."""
    ask = question.rfind("?")
    turn = list(_ANYWAY.finditer(question, 0, max(ask, 0)))
    if turn and not _names_nothing(question[turn[-1].end() :], twin, lex):
        return question[turn[-1].end() :], 1  # "... two people off sick. Anyway: what if ..."
    cuts = [m.end() for m in _SENTENCE_END.finditer(question, 0, max(ask, 0))]
    if ask < 0 or not cuts or _names_nothing(question[cuts[-1] :], twin, lex):
        return question, 0
    starts = [0, *cuts]
    dropped = 0
    while dropped < len(cuts) and _names_nothing(question[starts[dropped] : cuts[dropped]], twin, lex):
        dropped += 1
    return question[starts[dropped] :], dropped


@contextlib.contextmanager
def _asking_sentence(reading: Reading) -> Any:
    """For a why or status question: the parts of the twin named in the sentence that asks, when
    it names any ("Long day at the yard. Why is East Chicago so busy?" asks about East Chicago)."""
    text, saved = reading.text, reading.mentions
    end = text.rfind("?")
    start = max(text.rfind(c, 0, end) for c in ".!?:;") + 1 if end > 0 else 0
    inside = [m for m in saved.entities if start <= m.start and m.end <= end and m.how != "pronoun"]
    if start > 0 and inside and len(inside) < len([m for m in saved.entities if m.how != "pronoun"]):
        reading.mentions = dataclasses.replace(
            saved,
            entities=[m for m in saved.entities if start <= m.start],
            lanes=[m for m in saved.lanes if start <= m.start],
        )
    try:
        yield
    finally:
        reading.mentions = saved


_SAME_TIME = re.compile(
    r"\b(at the same (time|moment|point)|at that (same )?(time|moment|point)|simultaneously|meanwhile)\b",
    re.I,
)


def _same_time(question: str) -> str:
    """ "... down from hour 2, and the cartoner loses 30 min at the same time": the second change
    starts when the first does, said as a start of its own (when one start was said before)."""
    m = _SAME_TIME.search(question)
    if m is None:
        return question
    starts = [n for n in scan(question[: m.start()]) if n.roles and n.roles[0] == "start" and n.unit]
    if len(starts) != 1:
        return question
    start = starts[0]
    return f"{question[: m.start()]}{start.value:g} {start.unit} into the run{question[m.end() :]}"


def _ids_of(plan: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key in ("target", "source"):
        if isinstance(plan.get(key), str):
            out.add(plan[key])
    for change in [*plan.get("changes", []), *plan.get("first", []), *plan.get("second", [])]:
        for key in ("target", "source", "customer", "first", "second"):
            if isinstance(change.get(key), str):
                out |= set(change[key].split("->"))
        out |= set(change.get("partners", []))
    return out


def _settle(reading: Reading, ctx: _Ctx) -> None:
    """Check the candidates against the twin, keep one of each meaning, and decline when what is
    left differs only in which of several things an ambiguous name means."""
    from twinforge.guard.check import twin_problems
    from twinforge.plan.compile import PlanError

    kept: list[Candidate] = []
    for c in reading.candidates:
        try:
            problems = twin_problems(c.plan, ctx.twin)
        except PlanError as exc:
            reading.problems.append(Refusal(exc.reason, str(exc)))
            continue
        if problems:
            reading.problems.extend(problems)
            continue
        kept.append(c)
    reading.candidates = _distinct_meanings(kept, ctx.twin)
    best = reading.best
    if len(best) > 1:
        for m in reading.mentions.entities:
            if m.resolved or m.group:
                continue
            chosen = [frozenset(_ids_of(c.plan) & set(m.ids)) for c in best]
            if all(chosen) and len(set(chosen)) > 1:
                names = ", ".join(_label(ctx.twin, i) for i in m.ids)
                reading.refusal = Refusal("ambiguous", f"'{m.text}' could be any of {names}; say which")
                return
    if not reading.candidates and reading.refusal is None:
        reading.refusal = _why_none(reading, ctx)


def _label(twin: TwinSpec, node_id: str) -> str:
    node = twin.node(node_id) if twin.has_node(node_id) else None
    return f"{node_id} ({node.name})" if node is not None and node.name else node_id


def _distinct_meanings(cands: list[Candidate], twin: TwinSpec) -> list[Candidate]:
    """One candidate per meaning (the cheapest): "20% more demand at Berlin" said as a demand
    change or as a change of Berlin's demand parameter is one meaning."""
    from twinforge.guard.check import plan_effects

    out: list[tuple[Candidate, Any]] = []
    for c in cands:
        eff = plan_effects(c.plan, twin)
        if any(_same(eff, e) for _, e in out if _.plan["kind"] == c.plan["kind"]):
            continue
        out.append((c, eff))
    return [c for c, _ in out]


def _same(a: Any, b: Any) -> bool:
    from twinforge.plan.meaning import Effect, same_effect

    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Effect) and isinstance(b, Effect):
        return same_effect(a, b)
    return a == b


def _why_none(reading: Reading, ctx: _Ctx) -> Refusal:
    """The most specific reason no plan fits."""
    for p in reading.problems:
        if p.reason == "outside_physical_limits":
            return p
    unknown = unknown_names(reading, ctx)
    if unknown:
        return Refusal("unknown_entity", f"the twin has no {', '.join(repr(u) for u in unknown)}")
    ambiguous = [
        m for m in reading.mentions.entities if not m.resolved and not m.group and m.how in ("kind", "name")
    ]
    if ambiguous and not [m for m in reading.mentions.entities if m.resolved]:
        m = ambiguous[0]
        names = ", ".join(_label(ctx.twin, i) for i in m.ids)
        return Refusal("ambiguous", f"'{m.text}' could be any of {names}; say which")
    if reading.problems:
        return reading.problems[0]
    asked = _unknown_quantity(reading.text, ctx.lex) if "status" in reading.forms else None
    if asked:
        return Refusal("not_modelled", f"the twin has no value for {asked!r}")
    if (
        not reading.mentions.entities
        and not reading.mentions.products
        and not any(cl.quantities for cl in reading.clauses)
    ):
        return Refusal("not_about_this_twin", f"the question names nothing of twin {ctx.twin.name!r}")
    clock = [n for n in reading.numbers if "clock" in n.roles]
    if clock:
        return Refusal(
            "unclear", f"the question gives a time of day ({clock[0].text}) but not when the run starts"
        )
    vague = [
        cl
        for cl in reading.clauses
        if cl.numbers and len({i for m in cl.entities for i in m.ids}) == 1 and not cl.quantities
    ]
    if vague:
        node = vague[0].entities[0].ids[0]
        if ctx.twin.has_node(node):
            from twinforge.guard.vocabulary import display

            names = ", ".join(display(p) for p, _ in ctx.params_of(node)[:8])
            return Refusal(
                "unclear", f"the question does not say which quantity of {node} changes (it has: {names})"
            )
    return Refusal("not_modelled", _unmodelled(reading, ctx))


def _unmodelled(reading: Reading, ctx: _Ctx) -> str:
    words = [t.text for t in tokenize(reading.text) if t.kind == "word"]
    known = {w for w in words if stem(w) in ctx.lex.by_stem or stem(w) in ctx.lex.kind_words}
    content = [
        w for w in words if w not in known and len(w) > 3 and w not in _ENGLISH and not w.startswith("what")
    ]
    hint = f" (it has nothing for: {', '.join(content[:4])})" if content else ""
    return f"twin {ctx.twin.name!r} does not model what the question asks about{hint}"


_KIND_OR_DEMAND = re.compile(r"\b(demand|sales|orders)\b")
#: words that stand before "demand" without naming a product
_NOT_PRODUCTS = set(
    [
        "usual",
        "normal",
        "total",
        "overall",
        "daily",
        "weekly",
        "monthly",
        "current",
        "expected",
        "forecast",
        "peak",
        "average",
        "extra",
        "additional",
        "regular",
        "typical",
        "projected",
        "base",
        "baseline",
        "seasonal",
        "local",
        "customer",
        "customers",
        "all",
        "their",
        "our",
        "its",
        "whole",
        "market",
        "retail",
        "wholesale",
        "export",
        "domestic",
        "future",
        "planned",
        "actual",
        "same",
        "new",
        "higher",
        "lower",
    ]
)


#: a lookup of a value in the future or of advice: "how much stock will X have built up by the
#: end of ...", "how many pallets should we keep" (a status answers with today's value)
_AHEAD = re.compile(
    r"\b(will\b.{0,60}\b(have|be|reach|end up)|should we (keep|hold|carry|stock|order)|by the end of|"
    r"(do|would|will) (we|i|you) need|"
    r"going to (be|have|reach))\b"
)


def unknown_names(reading: Reading, ctx: _Ctx, strict: bool = False) -> list[str]:
    """Names the question uses that the twin does not have: id-like words ("M7", "valve3"),
    proper names before a kind word ("the Thun butter plant", "the Leipzig warehouse"), and
    products before a word for demand ("butter demand")."""
    out = [] if strict else list(reading.mentions.unknown)
    if strict:  # an id-like word right next to a kind word: "supplier S9", "valve 3", "plant P7"
        for u in reading.mentions.unknown:
            if re.search(rf"\b\w+\s+{re.escape(u)}\b|\b{re.escape(u)}\s+\w+", reading.question, re.I):
                near = re.findall(rf"(\w+)\s+{re.escape(u)}\b", reading.question, re.I)
                if any(stem(w.lower()) in ctx.lex.kind_words for w in near) or not reading.mentions.entities:
                    out.append(u)
    original = reading.question
    toks = tokenize(reading.text)
    lex = ctx.lex
    for i, t in enumerate(toks):
        if t.kind != "word":
            continue
        s = stem(t.text)
        head = s in lex.kind_words and lex.kind_match(t.text)
        demand = bool(_KIND_OR_DEMAND.fullmatch(t.text)) and bool(ctx.twin.products)
        if demand and i + 3 < len(toks) and toks[i + 1].text in ("for", "of"):
            # "demand for white cement": a kind of the twin's own goods it does not carry
            w1, w2 = toks[i + 2].text, toks[i + 3].text
            if (
                stem(w2) in lex.by_weak
                and toks[i + 2].kind == "word"
                and w1 not in _ENGLISH
                and w1 not in _NOT_PRODUCTS
                and not (stem(w1) in lex.by_stem or w1 in lex.by_id or stem(w1) in lex.products)
            ):
                out.append(f"{w1} {w2}")
        if not (head or demand):
            continue
        j = i - 1
        name: list[str] = []
        while j > 0 and toks[j].kind == "word" and stem(toks[j].text) in lex.by_weak and head:
            j -= 1  # "the Chelm cement plant": the twin's own domain word says nothing of which
        while (
            j >= 0
            and toks[j].kind == "word"
            and toks[j].text not in _ENGLISH
            and toks[j].text not in ("our", "new", "old", "main", "their", "my", "your", "his", "her", "its")
        ):
            w = toks[j].text
            if (
                stem(w) in lex.by_stem
                or stem(w) in lex.by_description
                or w in lex.by_id
                or stem(w) in lex.products
            ):
                name = []
                break
            if stem(w) in lex.kind_words or w in lex.protected:
                break
            name.insert(0, w)
            j -= 1
        if not name:
            continue
        if demand and not head:
            if not set(name) & _NOT_PRODUCTS:
                out.append(" ".join(name))
            continue
        capital = any(
            re.search(rf"(?<![.?!]\s)(?<!^)\b{w[0].upper()}{re.escape(w[1:])}", original.strip())
            for w in name
        )
        kinds = lex.kind_words.get(s, set())
        unique = len([n for n in ctx.twin.nodes if n.kind in kinds]) == 1
        if capital or (not all(is_english(w) for w in name) and not unique):
            out.append(" ".join([*name, t.text]))
    return list(dict.fromkeys(out))


__all__ = ["MAX_CHARS", "Candidate", "Clause", "Reading", "Refusal", "read", "refusal_of"]
