"""Answers a person can trust: every number comes from the twin's results.

The templated answer is built only from an :class:`Outcome` (or the twin's own data). An optional
narrative written by a language model is accepted only when every number in it can be traced to
those results; otherwise it is rejected and the templated answer is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from twinforge.copilot.engines import Outcome
from twinforge.guard.text import WORD_NUMBERS

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
_WORD = "|".join(sorted(WORD_NUMBERS, key=len, reverse=True))
_NUMBER_WORDS = re.compile(rf"\b(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*\b", re.I)


def fmt(x: float, digits: int = 4) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def fmt_signed(x: float) -> str:
    return ("+" if x >= 0 else "−") + fmt(abs(x))


def outcome_text(o: Outcome, what: str) -> str:
    """One paragraph on baseline vs scenario."""
    if not o.feasible:
        return f"{what}: the twin finds no feasible plan.\n{o.explanation or ''}".rstrip()
    assert o.baseline is not None and o.scenario is not None and o.delta is not None
    text = f"{what}: {o.kpi} goes from {fmt(o.baseline)} to {fmt(o.scenario)} {o.unit} ({fmt_signed(o.delta)}"
    if o.delta_pct is not None:
        text += f", {fmt_signed(o.delta_pct)}%"
    text += ")"
    if o.ci is not None:
        text += f"; 95% CI of the change [{fmt(o.ci[0])}, {fmt(o.ci[1])}] {o.unit}"
    text += "."
    if o.details:
        text += "\n" + "\n".join(f"  - {d}" for d in o.details)
    return text


def numbers_in(text: str) -> list[tuple[float, int]]:
    """Every number written in ``text``, in digits or in words ("twenty-five"), with the decimals it
    is written to (words: 0)."""
    out = []
    for m in _NUMBER.finditer(text):
        written = m.group(0).replace(",", "")
        try:
            out.append((float(written), len(written.partition(".")[2])))
        except ValueError:
            continue
    for m in _NUMBER_WORDS.finditer(text):
        total = current = 0
        for word in re.split(r"[\s-]+(?:and[\s-]+)?", m.group(0).lower()):
            value = WORD_NUMBERS[word]
            if value in (100, 1000):
                current = max(current, 1) * value
                if value == 1000:
                    total, current = total + current, 0
            else:
                current += value
        out.append((float(total + current), 0))
    return out


def traceable(value: float, decimals: int, allowed: Iterable[float]) -> bool:
    """``value``, written to ``decimals`` places, is an allowed number rounded to those places (as a
    percentage too, or without its sign); a near miss ("about 63,000" for 63,020) is not."""
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    return any(abs(abs(value) - abs(cand)) <= tolerance for a in allowed for cand in (a, 100 * a))


def check_narrative(narrative: str, allowed: Iterable[float]) -> list[float]:
    """Numbers in ``narrative`` that the results do not contain (empty: the narrative passes). Small
    counts and numbers in words are numbers too: "two suppliers" passes only if the facts say 2."""
    allowed = list(allowed)
    return [x for x, decimals in numbers_in(narrative) if not traceable(x, decimals, allowed)]
