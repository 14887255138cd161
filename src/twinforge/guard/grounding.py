"""Grounding: what a question actually mentions — which of the twin's entities, which numbers.

The twin uses this to check a model's output against the question: every entity and every number
in a plan must come from the question (or from the twin itself), so the model cannot invent one.
Entities are recognised by id, by name, by ``metadata.aliases``, and by simple derived forms
(``buf_fill`` → "buf fill"; ``S2`` of kind supplier → "supplier 2"; ``C_berlin`` → "berlin").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twinforge.spec.models import TwinSpec

_WORD_NUMBERS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
#: Words that stand for a factor or a single unit of time ("for an hour" -> 1).
_WORD_FACTORS = {
    "double": 2.0,
    "doubled": 2.0,
    "doubles": 2.0,
    "twice": 2.0,
    "triple": 3.0,
    "tripled": 3.0,
    "triples": 3.0,
    "half": 0.5,
    "halve": 0.5,
    "halved": 0.5,
    "halves": 0.5,
    "quadruple": 4.0,
}
_ARTICLE_UNIT = re.compile(r"\b(?:an?|one|per)\s+(second|minute|hour|day|week|shift)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:[.,]\d+)?|\.\d+)(?![\w.]*\d)")
_TOKEN = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower().replace("_", " ").replace("-", " ")))


@dataclass(frozen=True)
class Mention:
    entity: str  # node id or edge key
    alias: str  # the words that matched
    start: int  # position in the normalised question


@dataclass
class Grounding:
    """What a question mentions."""

    question: str
    entities: list[Mention] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)  # id-like words that are not in the twin
    products: list[str] = field(default_factory=list)  # the twin's products the question names

    @property
    def entity_ids(self) -> list[str]:
        out: list[str] = []
        for m in self.entities:
            if m.entity not in out:
                out.append(m.entity)
        return out

    def mentions(self, entity: str) -> bool:
        return entity in self.entity_ids

    written: list[float] = field(default_factory=list)  # numbers as written (digits and number words)

    def written_number(self, value: float) -> float | None:
        """``value`` when the question writes it (not only derived from a percentage)."""
        return value if any(abs(value - w) <= 1e-9 * max(1.0, abs(w)) for w in self.written) else None

    def has_number(self, value: float, rel: float = 1e-6) -> bool:
        return any(abs(value - n) <= rel * max(1.0, abs(n)) for n in self.numbers)


_KIND_WORDS = {
    "station": ["machine", "station"],
    "supplier": ["supplier", "vendor"],
    "plant": ["plant", "factory", "facility"],
    "customer": ["customer", "client", "market"],
    "warehouse": ["warehouse", "dc"],
    "buffer": ["buffer"],
    "pump": ["pump"],
    "valve": ["valve"],
    "tank": ["tank"],
    "sensor": ["sensor"],
    "depot": ["depot"],
}


def entity_aliases(twin: TwinSpec) -> dict[str, list[str]]:
    """Normalised phrases that refer to each node (longest first)."""
    aliases: dict[str, set[str]] = {}
    for n in twin.nodes:
        names = {n.id, n.id.replace("_", " ")}
        if n.name:
            names.add(n.name)
            names.add(re.sub(r"\(.*?\)", "", n.name))
            names.update(re.findall(r"\((.*?)\)", n.name))
        for a in n.metadata.get("aliases", []) if isinstance(n.metadata.get("aliases"), list) else []:
            names.add(str(a))
        parts = re.split(r"[_\-]", n.id)
        if len(parts) == 2 and len(parts[0]) <= 2 and len(parts[1]) >= 4:
            names.add(parts[1])  # C_berlin -> berlin
        m = re.fullmatch(r"([A-Za-z]+?)[_\-]?(\d+)", n.id)
        if m:
            for word in _KIND_WORDS.get(n.kind, []):
                names.add(f"{word} {m.group(2)}")
                names.add(f"{word} {n.id}")
        aliases[n.id] = {_norm(x) for x in names if _norm(x)}
    # an alias shared by two nodes identifies neither
    counts: dict[str, int] = {}
    for names in aliases.values():
        for a in names:
            counts[a] = counts.get(a, 0) + 1
    return {
        nid: sorted((a for a in names if counts[a] == 1), key=len, reverse=True)
        for nid, names in aliases.items()
    }


def written_numbers(question: str) -> list[float]:
    """Numbers written in digits or words (no derived forms)."""
    text = question.lower()
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0)
        raw = raw.replace(",", ".") if re.fullmatch(r"[-+]?\d+,\d{1,2}", raw) else raw.replace(",", "")
        try:
            out.append(float(raw))
        except ValueError:
            continue
    out += [float(_WORD_NUMBERS[w]) for w in _TOKEN.findall(text) if w in _WORD_NUMBERS]
    return out


def extract_numbers(question: str) -> list[float]:
    """Numbers written in the question, including words ("two", "double", "an hour")."""
    text = question.lower()
    out: list[float] = []
    for m in _NUMBER.finditer(text):
        raw = (
            m.group(0).replace(",", ".")
            if re.fullmatch(r"[-+]?\d+,\d{1,2}", m.group(0))
            else m.group(0).replace(",", "")
        )
        try:
            out.append(float(raw))
        except ValueError:
            continue
    words = _TOKEN.findall(text)
    for w in words:
        if w in _WORD_NUMBERS:
            out.append(float(_WORD_NUMBERS[w]))
        if w in _WORD_FACTORS:
            out.append(_WORD_FACTORS[w])
    if _ARTICLE_UNIT.search(text) or "half an hour" in text:
        out.append(1.0)
    if "half an hour" in text or "half a day" in text:
        out.append(0.5)
    if "quarter of an hour" in text:
        out.append(0.25)
    # percentages also as fractions and factors ("20%" may mean 0.2 or x1.2)
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*(?:%|percent)", text):
        p = float(m.group(1))
        out.extend([p / 100, 1 + p / 100, 1 - p / 100])
    return sorted(set(out))


_ID_LIKE = re.compile(r"\b([A-Z]{1,3}[_\-]?\d{1,3}[A-Za-z]?)\b")


def _alias_pattern(alias: str) -> str:
    """Regex for an alias as a whole phrase of the normalised question; a name ending in a word
    also matches its plural ("run 2 cappers in parallel", "both pumps")."""
    plural = "(?:s|es)?" if re.search(r"[a-z]{3}$", alias) else ""
    return rf"(?<= ){re.escape(alias)}{plural}(?= )"


def ground(question: str, twin: TwinSpec) -> Grounding:
    """Find the twin's entities and the numbers a question mentions."""
    g = Grounding(question=question)
    text = f" {_norm(question)} "
    taken: list[tuple[int, int]] = []
    candidates = [(alias, nid) for nid, names in entity_aliases(twin).items() for alias in names]
    for alias, nid in sorted(candidates, key=lambda c: len(c[0]), reverse=True):
        for m in re.finditer(_alias_pattern(alias), text):
            span = (m.start(), m.end())
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            g.entities.append(Mention(entity=nid, alias=alias, start=m.start()))
    g.entities.sort(key=lambda m: m.start)
    g.numbers = extract_numbers(question)
    g.written = written_numbers(question)
    for product in twin.products:
        if re.search(rf"(?<= ){re.escape(_norm(product))}s?(?= )", text):
            g.products.append(product)
    known = {_norm(n.id) for n in twin.nodes} | {a for names in entity_aliases(twin).values() for a in names}
    for m in _ID_LIKE.finditer(question):
        token = m.group(1)
        if _norm(token) not in known:
            g.unknown_ids.append(token)
    # numbers that are only part of an entity's name ("S2", "supplier 2") are not values
    for mention in g.entities:
        for d in re.findall(r"\d+(?:\.\d+)?", mention.alias):
            if float(d) in g.numbers and not _number_elsewhere(question, d, mention.alias):
                g.numbers.remove(float(d))
                if float(d) in g.written:
                    g.written.remove(float(d))
    return g


def _number_elsewhere(question: str, digits: str, alias: str) -> bool:
    """True when ``digits`` also occurs in the question outside the entity alias."""
    text = _norm(question)
    stripped = text.replace(alias, " ")
    return re.search(rf"(?<![\w.]){re.escape(digits)}(?![\w])", stripped) is not None


def mask(question: str, twin: TwinSpec) -> str:
    """The question with its entities, products and numbers replaced by placeholders of their
    kind ("What if <supplier> goes out of business?"): what remains is how it is asked, which is
    what few-shot retrieval should match on."""
    g = ground(question, twin)
    text = f" {_norm(question)} "
    kinds = {n.id: n.kind for n in twin.nodes}
    for m in sorted(g.entities, key=lambda m: len(m.alias), reverse=True):
        text = re.sub(_alias_pattern(m.alias), f"<{kinds.get(m.entity, 'entity')}>", text)
    for product in twin.products:
        text = re.sub(rf"(?<= ){re.escape(_norm(product))}s?(?= )", "<product>", text)
    text = re.sub(r"(?<= )\d+(?: \d+)?(?= )", "<n>", text)
    return " ".join(text.split())
