"""Redaction of personal data before text leaves the machine, reversible for what the user sees.

>>> r = Redactor()
>>> red = r.redact("Technician John Miller (john.miller@acme.com) replaced the bearing")
>>> red.text
'Technician <PERSON_1> (<EMAIL_1>) replaced the bearing'
>>> red.restore("Thanks <PERSON_1>")
'Thanks John Miller'

What is found:

- e-mail addresses;
- phone numbers: international (``+49 170 1234567``), with area code in brackets
  (``(555) 123-4567``), national with a leading zero (``0170/1234567``), ``555-123-4567``;
- person names "where detectable": names after a title or role (``Mr``, ``Dr``, ``Technician``,
  ``Operator``, ``Engineer``, ``reported by`` ...), names spelled in an e-mail address
  (``john.miller@`` → ``John Miller`` anywhere in the text), the surname of a name found so, and
  every name of the configured roster (``[redaction] known_names``). A free-standing name with no
  such cue is not detectable without a language model and is left as is;
- identifiers matching configured patterns (``[redaction] id_patterns = {EMPLOYEE = 'EMP-\\d{5}'}``).

Every distinct value gets one placeholder (``<PERSON_1>``, ``<EMAIL_2>``...), the same in every
message of a call, so the model can still refer to it; :meth:`Redaction.restore` maps placeholders
in the answer back (also when the model dropped the angle brackets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinforge.ai.errors import AIError

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
PHONE_RES = [
    # +49 170 1234567, +1 (555) 123-4567, +44 20 7946 0958
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ ./-]?(?:\(\d{1,5}\)|\d{1,5})){1,5}(?![\w])"),
    # (555) 123-4567, (0170) 1234567
    re.compile(r"(?<!\w)\(\d{2,5}\)[ ./-]?\d{3,4}[ ./-]?\d{3,5}(?=\W|$)"),
    # 0170/1234567, 030 1234 5678, 0170-123 4567
    re.compile(r"(?<![\w/-])0\d{2,4}[ /-]\d{3,4}(?:[ -]?\d{2,5})?(?=\W|$)"),
    # 555-123-4567, 555.123.4567
    re.compile(r"(?<![\w-])\d{3}[-.]\d{3}[-.]\d{4}(?![\w-])"),
]
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:[-'][A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+)?"
_INITIAL = r"[A-Z]\."
_CUES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Sir|Madam|"
    r"[Tt]echnician|[Tt]ech|[Oo]perator|[Ee]ngineer|[Mm]echanic|[Ee]lectrician|[Ss]upervisor|"
    r"[Ii]nspector|[Cc]ontractor|[Ff]oreman|[Mm]anager|[Ss]hift lead|[Ss]hift leader|[Pp]lanner|"
    r"[Ww]orker|[Ee]mployee|[Cc]olleague|[Aa]pprentice|[Aa]uditor|[Dd]river|"
    r"[Rr]eported by|[Ss]igned(?: off)? by|[Aa]pproved by|[Cc]hecked by|[Pp]erformed by|[Dd]one by|"
    r"[Aa]ssigned to|[Cc]ontact|[Cc]all|[Cc]alled|[Aa]sk|[Ii]nformed|[Nn]ame|[Aa]uthor"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau)\.?\s+"
PERSON_AFTER_CUE_RE = re.compile(
    rf"\b(?:{_CUES})\.?:?\s+(?:{_TITLES})?"
    rf"((?:{_INITIAL}\s?)?{_NAME_WORD}(?:\s+(?:{_INITIAL}\s?)?{_NAME_WORD}){{0,2}})"
)
#: capitalised words that follow a cue but are not names
_NOT_NAMES = {
    "The",
    "This",
    "That",
    "These",
    "Those",
    "A",
    "An",
    "Pump",
    "Line",
    "Shift",
    "Team",
    "Crew",
    "Night",
    "Day",
    "Morning",
    "Evening",
    "Maintenance",
    "Production",
    "Quality",
    "Safety",
    "Station",
    "Plant",
    "Site",
    "Vendor",
    "Contractor",
    "Service",
    "Support",
    "Operator",
    "Technician",
    "Engineer",
    "Unit",
    "Area",
    "Room",
    "Hall",
    "Building",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Replaced",
    "Inspected",
    "Checked",
    "Found",
    "Noted",
    "Cleaned",
    "On",
    "At",
    "In",
    "For",
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Prof",
    "Herr",
    "Frau",
    "Sir",
    "Madam",
}


@dataclass
class Redaction:
    """The mapping between placeholders and the values they hide, shared by the messages of a call."""

    by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    text: str = ""  # the last redacted text

    def placeholder(self, label: str, value: str) -> str:
        key = (label, value)
        if key not in self.by_value:
            n = self.counters.get(label, 0) + 1
            self.counters[label] = n
            ph = f"<{label}_{n}>"
            self.by_value[key] = ph
            self.by_placeholder[ph] = value
        return self.by_value[key]

    @property
    def found(self) -> dict[str, str]:
        """Placeholder → hidden value."""
        return dict(self.by_placeholder)

    def __len__(self) -> int:
        return len(self.by_placeholder)

    def restore(self, text: str) -> str:
        """Put the hidden values back where the placeholders are (with or without ``<>``)."""
        if not self.by_placeholder:
            return text
        names = {ph[1:-1]: value for ph, value in self.by_placeholder.items()}
        pattern = re.compile(r"<?\b(" + "|".join(re.escape(n) for n in names) + r")\b>?")
        return pattern.sub(lambda m: names[m.group(1)], text)

    def restore_obj(self, value: Any) -> Any:
        """:meth:`restore` applied to every string inside a JSON-like object."""
        if isinstance(value, str):
            return self.restore(value)
        if isinstance(value, list):
            return [self.restore_obj(v) for v in value]
        if isinstance(value, dict):
            return {
                self.restore(k) if isinstance(k, str) else k: self.restore_obj(v) for k, v in value.items()
            }
        return value


class Redactor:
    """Finds personal data in text and replaces it with placeholders."""

    def __init__(
        self,
        *,
        emails: bool = True,
        phones: bool = True,
        person_names: bool = True,
        known_names: Iterable[str] = (),
        id_patterns: Mapping[str, str] | None = None,
    ):
        self.emails = emails
        self.phones = phones
        self.person_names = person_names
        self.known_names = sorted({n.strip() for n in known_names if n.strip()}, key=len, reverse=True)
        self.id_patterns: dict[str, re.Pattern[str]] = {}
        for label, pattern in (id_patterns or {}).items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", label):
                raise AIError(f"redaction id_patterns: label {label!r} must be upper case (A-Z, 0-9, _)")
            try:
                self.id_patterns[label] = re.compile(pattern)
            except re.error as exc:
                raise AIError(
                    f"redaction id_patterns[{label}]: invalid regular expression {pattern!r}: {exc}"
                ) from None

    @classmethod
    def from_settings(cls, settings: Any) -> Redactor:
        return cls(
            emails=settings.emails,
            phones=settings.phones,
            person_names=settings.person_names,
            known_names=settings.known_names,
            id_patterns=settings.id_patterns,
        )

    def find(self, text: str, known: Iterable[tuple[str, str]] = ()) -> list[tuple[int, int, str]]:
        """Spans ``(start, end, label)`` of personal data in ``text``, non-overlapping, in order.

        ``known`` are ``(label, value)`` pairs found earlier in the same call: they are hidden
        wherever they appear, cue or not (e.g. a name the model repeats in its JSON answer)."""
        spans: list[tuple[int, int, str]] = []
        for label, value in known:
            spans += [(m.start(), m.end(), label) for m in re.finditer(re.escape(value), text)]
        if self.emails:
            spans += [(m.start(), m.end(), "EMAIL") for m in EMAIL_RE.finditer(text)]
        for label, rx in self.id_patterns.items():
            spans += [(m.start(), m.end(), label) for m in rx.finditer(text) if m.end() > m.start()]
        if self.phones:
            for rx in PHONE_RES:
                for m in rx.finditer(text):
                    if sum(c.isdigit() for c in m.group()) >= 7:
                        spans.append((m.start(), m.end(), "PHONE"))
        if self.person_names:
            spans += self._names(text)
        # keep the earliest, then the longest; drop spans overlapping one already kept
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        kept: list[tuple[int, int, str]] = []
        for span in spans:
            if kept and span[0] < kept[-1][1]:
                continue
            kept.append(span)
        return kept

    def _names(self, text: str) -> list[tuple[int, int, str]]:
        names: set[str] = set(self.known_names)
        for m in PERSON_AFTER_CUE_RE.finditer(text):
            words = m.group(1).split()
            while words and words[0].rstrip(".") in _NOT_NAMES:
                words = words[1:]
            while words and words[-1] in _NOT_NAMES:
                words = words[:-1]
            if words:
                names.add(" ".join(words))
        for m in EMAIL_RE.finditer(text):
            local = m.group().split("@", 1)[0]
            parts = [p for p in re.split(r"[._-]", local) if p.isalpha() and len(p) > 1]
            if len(parts) >= 2:
                names.add(" ".join(p.capitalize() for p in parts))
        surnames = {n.split()[-1] for n in names if len(n.split()) >= 2 and len(n.split()[-1]) >= 3}
        candidates = sorted(names | surnames, key=len, reverse=True)
        spans = []
        for name in candidates:
            for m in re.finditer(rf"(?<![\w@.]){re.escape(name)}(?![\w@])", text):
                spans.append((m.start(), m.end(), "PERSON"))
        return spans

    def redact(self, text: str, redaction: Redaction | None = None) -> Redaction:
        """Replace personal data in ``text``; pass the same ``redaction`` for every text of one call."""
        redaction = redaction if redaction is not None else Redaction()
        out, pos = [], 0
        for start, end, label in self.find(text, known=list(redaction.by_value)):
            out.append(text[pos:start])
            out.append(redaction.placeholder(label, text[start:end]))
            pos = end
        out.append(text[pos:])
        redaction.text = "".join(out)
        return redaction
