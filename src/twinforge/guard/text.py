"""Text of a question, made comparable with a twin: normalised, tokenised, stemmed.

- :func:`normalise` folds Unicode (ä → a, ³ → 3, dashes, arrows, currency signs), lowercases, and
  keeps every symbol a quantity needs (``%``, ``/``, ``->``, ``:``);
- :func:`tokenize` splits it into words, numbers and symbols with their positions;
- :func:`stem` strips English inflections ("fills", "filler", "filling" → "fill") so that a verb can
  name the machine that does it;
- :func:`variants` gives the British/American spellings of a word ("palletiser" → "palletizer",
  "colour" → "color", "labeller" → "labeler");
- :func:`is_english` tells whether a word is an ordinary English word (it is in the WordPiece
  vocabulary of the packaged MiniLM tokenizer), so that typo correction never turns a real word
  ("copper") into a name of the twin ("capper").
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

_REPLACE = [
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2192", " -> "),
    ("\u27f6", " -> "),
    ("=>", " -> "),
    ("\u2013", " - "),
    ("\u2014", " - "),
    ("\u2212", "-"),
    ("\u20ac", " eur "),
    ("\u00a3", " gbp "),
    ("\u00b3", "3"),
    ("\u00b2", "2"),
    ("\u00b0c", " degc "),
    ("\u00b0f", " degf "),
    ("\u00b0", " deg "),
    ("\u00d7", " x "),
    ("\u00bd", " 0.5 "),
    ("\u00bc", " 0.25 "),
    ("\u00be", " 0.75 "),
]
_GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}


def fold(text: str) -> str:
    """ASCII letters for accented ones (``Härkingen`` → ``Harkingen``, ``Zürich`` → ``Zurich``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise(text: str) -> str:
    """Lowercase ASCII text with symbols spaced out; offsets are not kept (see :func:`tokenize`)."""
    t = text.lower()
    for a, b in _REPLACE:
        t = t.replace(a, b)
    t = t.replace("$", " usd ")
    t = fold(t)
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 2,800 -> 2800
    t = re.sub(
        r"\b(co|st|ltd|inc|corp|bros|vs|approx|no|dept|mt)\.(?=\s)", r"\1", t
    )  # abbreviations end no sentence
    t = re.sub(r"\b(e)\.g\.|\b(i)\.e\.", lambda m: "eg" if m.group(1) else "ie", t)
    t = t.replace("^3", "3").replace("^2", "2")
    t = re.sub(r"\bnon[- ](?=[a-z])", "non", t)  # "non-Schengen" is one word, not "Schengen"
    t = t.replace("@", " at ")
    t = re.sub(r"(?<=\d)\s*%", " %", t)
    t = re.sub(r"\s+", " ", t)
    return t.strip()


def german_fold(text: str) -> str:
    """``Härkingen`` → ``Haerkingen`` (the other way people write umlauts)."""
    t = text.lower()
    for a, b in _GERMAN.items():
        t = t.replace(a, b)
    return fold(t)


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # character offsets in the normalised text
    end: int
    kind: str  # "word" | "number" | "clock" | "symbol"

    @property
    def stem(self) -> str:
        return stem(self.text) if self.kind == "word" else self.text


_TOKEN = re.compile(
    r"(?P<clock>\b\d{1,2}:\d{2}\b)"
    r"|(?P<number>(?<![\w.])(?:\d+(?:\.\d+)?|\.\d+)(?=[a-z%/]|\b|\s|$))"
    r"|(?P<word>[^\W\d_][^\W_]*(?:_[^\W_]+)*(?:'[^\W\d_]+)?)"
    r"|(?P<symbol>->|%|/|\+|-|:|\^|=|<|>|\?|,|;|!|\(|\)|\.)"
)


def tokenize(text: str) -> list[Token]:
    """Tokens of a normalised text (words, numbers, clock times, symbols)."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "word"
        word = m.group(0)
        if kind == "word" and word.endswith("'s"):
            out.append(Token(word[:-2], m.start(), m.end() - 2, "word"))
            continue
        out.append(Token(word, m.start(), m.end(), kind))
    return out


# -- words -------------------------------------------------------------------------------------

_IRREGULAR = {
    "ran": "run",
    "running": "run",
    "runs": "run",
    "broke": "break",
    "broken": "break",
    "went": "go",
    "goes": "go",
    "gone": "gone",  # "S3 gone" is a loss; "goes" is not
    "took": "take",
    "taken": "take",
    "fell": "fall",
    "fallen": "fall",
    "rose": "rise",
    "risen": "rise",
    "grew": "grow",
    "grown": "grow",
    "shut": "shut",
    "lost": "lose",
    "held": "hold",
    "bought": "buy",
    "sold": "sell",
    "made": "make",
    "put": "put",
    "cut": "cut",
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "teeth": "tooth",
    "does": "do",
    "did": "do",
    "has": "have",
    "had": "have",
    "is": "be",
    "are": "be",
    "was": "be",
    "were": "be",
    "this": "this",
    "its": "it",
    "gas": "gas",
    "bus": "bus",
    "less": "less",
    "process": "process",
    "access": "access",
    "glass": "glass",
    "loss": "loss",
    "pass": "pass",
    "class": "class",
    "express": "express",
    "status": "status",
    "analysis": "analysis",
    "basis": "basis",
    "plus": "plus",
    "thus": "thus",
    "series": "series",
    "news": "news",
    "always": "always",
    "across": "across",
    "perhaps": "perhaps",
}


_KEEP = ("ss", "us", "is", "ous", "eed")


def _undouble(base: str) -> str:
    """running -> run, capper -> cap, labelled -> label (but fill, pass stay)."""
    if len(base) >= 3 and base[-1] == base[-2] and base[-1] in "bdgmnprt":
        return base[:-1]
    if len(base) >= 5 and base.endswith("ll"):
        return base[:-1]
    return base


@cache
def stem(word: str) -> str:
    """A light English stemmer: enough to make "fills", "filler", "filling", "filled" equal
    (and "rinse", "rinser", "rinsing"). Questions and twin names go through the same function,
    so consistency matters more than linguistics."""
    w = word.lower()
    w = american(_IRREGULAR.get(w, w))
    if len(w) <= 3 or w.endswith(_KEEP):
        return w
    base = w
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("ings", ""),
        ("ing", ""),
        ("ers", ""),
        ("er", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: len(w) - len(suffix)] + repl
            if suffix in ("ings", "ing", "ers", "er", "ed"):
                base = _undouble(base)
            break
    if base.endswith("e") and len(base) > 3:
        base = base[:-1]
    return base


_VARIANT_RULES = [
    (r"(?<=\w{4})is(ers?|e[ds]?|ing|ations?)$", lambda m: "iz" + m.group(1)),
    (r"yse[ds]?$", lambda m: m.group(0).replace("ys", "yz")),
    (r"our(s|ed|ing)?$", lambda m: "or" + (m.group(1) or "")),
    (r"tre(s)?$", lambda m: "ter" + (m.group(1) or "")),
    (r"ogue(s)?$", lambda m: "og" + (m.group(1) or "")),
]


def singular(word: str) -> str:
    """A plural noun's singular by the regular rules ("batteries" → "battery", "boxes" → "box")."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def american(word: str) -> str:
    """The American spelling of a British one (one rule at most): -ise/-iser/-isation → -ize...,
    -our → -or, -tre → -ter, -yse → -yze. Applied to question and twin alike."""
    if len(word) <= 5:
        return word
    for pattern, repl in _VARIANT_RULES:
        v = re.sub(pattern, repl, word)
        if v != word:
            return v
    return word


def variants(word: str) -> list[str]:
    """Other spellings of a word (British → American, German umlaut transliteration → plain)."""
    out = []
    for pattern, repl in _VARIANT_RULES:
        v = re.sub(pattern, repl, word)
        if v != word and v not in out:
            out.append(v)
    return out


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= limit:
            return limit
        prev2, prev = prev, cur
    return min(prev[-1], limit)


@cache
def _vocabulary() -> frozenset[str]:
    from twinforge.ai.embeddings import default_tokenizer_file

    try:
        data = json.loads(default_tokenizer_file().read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
    except Exception:  # no tokenizer: treat no word as ordinary (typos are then only exact-ish)
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and len(w) > 1)


def is_english(word: str) -> bool:
    """Whether ``word`` is an ordinary English word (whole word in the MiniLM vocabulary)."""
    return word in _vocabulary()


# -- numbers written as words ----------------------------------------------------------------

WORD_NUMBERS = {
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
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "dozen": 12,
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}


# -- what is not part of a question ------------------------------------------------------------

#: control characters a typed question never holds: C0/C1 controls but tab and newline, and the
#: Unicode bidirectional overrides and isolates that make text read differently from what it is
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: contact details, references and signatures: their digits are never a quantity of the twin
_NOISE = [
    ("a web address", re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)),
    (
        "a phone number",  # a short number after a phone cue ("call John on 555 0100"): the rest are found
        re.compile(  # by twinforge.ai.redaction.find_phones, checked against the countries' numbering plans
            r"\b(?:phone|tel|mobile|mob|cell|call|ring|text|whatsapp|fax|contact|reach)\b\.?:?\s*"
            r"(?:me|us|[A-Z][a-z]+)?\s*(?:on|at|via)?\s*\+?\d[\d ()./-]{5,}\d",
            re.I,
        ),
    ),
    (
        "a reference number",
        re.compile(
            r"\b(?:ticket|ref|reference|invoice|incident|serial|s/n|po|work order|wo)\b\.?\s*[:#]?\s*"
            r"[A-Za-z]{0,4}[-/]?\d{3,}[\w/-]*"  # ticket 4711, ref: WO-88812
            r"|\b(?:order|case|job|ticket|incident|invoice)\s*(?:no\.?|nr\.?|number|#|id)\s*:?\s*"
            r"[A-Za-z]{0,4}[-/]?\d[\w/-]*"  # order no. 55, case #7
            r"|(?<![\w&])#\d{3,}[\w-]*",  # #12345
            re.I,
        ),
    ),
    ("a signature", re.compile(r"\bsent from my [\w .-]{1,40}?(?=[.!?\n]|$)", re.I)),
    ("a disclaimer", re.compile(r"\b(?:confidentiality notice|disclaimer)\b[\s\S]*$", re.I)),
    (
        "a sign-off",
        re.compile(
            r"(?:(?<=[.!?])|^)\s*(?:[-\u2013\u2014]+\s*)?(?:thanks|thank you|many thanks|thx|ta|cheers|regards|"
            r"best regards|kind regards|warm regards|best wishes|best|br|rgds|sincerely|yours)\b[^?]*$"
            r"|(?<=[?!.])\s+[-\u2013\u2014]{1,2}\s+[^?]*$",  # "... impact? - Kim, Transportation"
            re.I,
        ),
    ),
    (
        "a greeting",
        re.compile(
            r"^\s*(?:\[[A-Za-z ]{2,20}\]\s*)?(?i:hi|hello|hey|hiya|morning|good morning|good afternoon|afternoon|"
            r"evening|dear)\b(?:\s+(?:(?i:all|team|everyone|folks|guys|there)|[A-Z][a-z]+)){0,2}\s*[,:!.\u2013\u2014-]\s*"
            r"|^\s*\[[A-Za-z ]{2,20}\]\s*",  # "[URGENT]"
        ),
    ),
    ("an extension number", re.compile(r"\b(?:ext|extn|extension)\b\.?\s*\d{2,6}\b|\bx\d{3,5}\b", re.I)),
]


def strip_noise(question: str) -> tuple[str, list[str]]:
    """``question`` without contact details, references, greetings, sign-offs and signatures, and
    what was taken out (said by kind, never repeated: "a phone number"), so that no digit of theirs
    becomes a value. Phone numbers and e-mail addresses are found by the redaction recognisers."""
    from twinforge.ai.redaction import EMAIL_RE, find_phones

    removed: list[str] = []
    spans: list[tuple[int, int]] = []
    for a, b, _ in sorted(find_phones(question)):
        if spans and a < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
    for a, b in reversed(spans):
        question = f"{question[:a]} {question[b:]}"
        removed.append("a phone number")
    question, n = EMAIL_RE.subn(" ", question)
    removed += ["an e-mail address"] * n
    for what, pattern in _NOISE:
        question, n = pattern.subn(" ", question)
        removed += [what] * n
    return question, removed
