"""(part, problem, action) from a work-order text, by rules over :mod:`.vocabulary`.

The part is the head of the first noun phrase that names one: the text is cut into phrases at
prepositions, conjunctions, sides (left/right) and punctuation, and the last part found inside the
first phrase that has one is taken (``bucket crowd hose`` is a hose; ``oil leak on control valve``
is the valve). An indicator light names the part before it (``engine stop light`` is the engine).
The problem is the first problem in :data:`~.vocabulary.PROBLEMS` order that the text states; the
action is the action word that comes first in the text.

:func:`fill_with_llm` asks the local language model, under a JSON Schema whose fields are enums of
the vocabulary, for the fields the rules left empty. Whether that helps is measured on the
development labels in ``benchmarks/maintenance.py``; it is off unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from twinforge.maintenance.vocabulary import (
    ACTIONS,
    INSTALLED_PARTS,
    PARTS,
    PHRASE_BREAKS,
    PROBLEMS,
    compile_table,
    normalize,
)

_PARTS = compile_table(PARTS)
_PROBLEMS = compile_table(PROBLEMS)
_ACTIONS = compile_table(ACTIONS)
_INDICATORS = {"light"}


@dataclass(frozen=True)
class Extraction:
    """What a work-order line is about. Empty strings where the text does not say."""

    part: str = ""
    problem: str = ""
    action: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"part": self.part, "problem": self.problem, "action": self.action}


def find_parts(norm: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, part) spans in normalised text, in text order."""
    taken: list[tuple[int, int, str]] = []
    for name, pattern in _PARTS:
        for m in pattern.finditer(norm):
            if m.end() > m.start() and all(m.end() <= s or m.start() >= e for s, e, _ in taken):
                taken.append((m.start(), m.end(), name))
    return sorted(taken)


def head_part(norm: str) -> str:
    spans = find_parts(norm)
    if not spans:
        return ""
    breaks = [m.start() for m in PHRASE_BREAKS.finditer(norm)]
    phrase: list[tuple[int, int, str]] = []
    for span in spans:
        if phrase and any(phrase[-1][1] <= b < span[0] for b in breaks):
            break
        phrase.append(span)
    if len(phrase) > 1 and phrase[-1][2] in _INDICATORS:
        return phrase[-2][2]
    return phrase[-1][2]


def first_match(norm: str, table: list[tuple[str, re.Pattern[str]]], *, by_position: bool) -> str:
    best: tuple[int, int, str] | None = None
    for order, (name, pattern) in enumerate(table):
        m = pattern.search(norm)
        if m is None:
            continue
        if not by_position:
            return name
        key = (m.start(), order, name)
        if best is None or key < best:
            best = key
    return best[2] if best else ""


def extract(text: str, *, expand_abbreviations: bool = True) -> Extraction:
    """Part, problem and action stated in ``text`` (rules only).

    ``expand_abbreviations=False`` matches the vocabulary on the lower-cased raw text: the
    benchmark's baseline, showing what the abbreviation table is worth.
    """
    norm = normalize(text) if expand_abbreviations else re.sub(r"\s+", " ", text.lower()).strip()
    part = head_part(norm)
    problem = first_match(norm, _PROBLEMS, by_position=False)
    action = first_match(norm, _ACTIONS, by_position=True)
    if action == "replace" and part in INSTALLED_PARTS and re.search(r"\b(fit|install)", norm):
        action = "install"
    if action == "replace" and problem == "" and re.search(r"\b(fit|mount) (additional|extra)\b", norm):
        action = "install"
    return Extraction(part, problem, action)


# -- the language model, for what the rules leave empty ------------------------------------
def extraction_schema() -> dict[str, Any]:
    """JSON Schema of an extraction: each field one of the vocabulary's names, or empty."""
    return {
        "type": "object",
        "properties": {
            "part": {"type": "string", "enum": ["", *PARTS]},
            "problem": {"type": "string", "enum": ["", *PROBLEMS]},
            "action": {"type": "string", "enum": ["", *ACTIONS]},
        },
        "required": ["part", "problem", "action"],
        "additionalProperties": False,
    }


_EXAMPLES = (
    ("L/H BUCKET CYL LEAKING.", {"part": "bucket cylinder", "problem": "leak", "action": ""}),
    ("REPLACE 2 BUCKET TEETH", {"part": "bucket tooth", "problem": "", "action": "replace"}),
    ("r/h engine won't start", {"part": "engine", "problem": "no_start", "action": ""}),
)


def fill_with_llm(text: str, found: Extraction, llm: Any = None) -> tuple[Extraction, dict[str, Any]]:
    """Fill the empty fields of ``found`` with the local LLM (JSON Schema constrained).

    Fields the rules filled are never changed. Returns the extraction and the call's metadata
    (attempts, latency). Raises :class:`twinforge.ai.AIError` subclasses when no model is available.
    """
    empty = [k for k, v in found.as_dict().items() if not v]
    if not empty:
        return found, {}
    if llm is None:
        from twinforge.ai import get_llm

        llm = get_llm()
    value, meta = llm.generate_structured(
        f"Maintenance work order: {text}\nWhich part, problem and action does it state? "
        "Use an empty string for anything it does not state.",
        extraction_schema(),
        examples=list(_EXAMPLES),
        max_tokens=60,
    )
    merged = found.as_dict()
    for key in empty:
        merged[key] = str(value.get(key, "") or "")
    info = {"attempts": len(meta.attempts), "latency_s": meta.latency_s}
    return Extraction(**merged), info
