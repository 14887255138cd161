"""Answers a person can trust: every number comes from the twin's results.

The templated answer is built only from an :class:`Outcome` (or the twin's own data). An optional
narrative written by a language model is accepted only when every number in it can be traced to
those results; otherwise it is rejected and the templated answer is shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from twinforge.copilot.engines import Outcome

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


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


def numbers_in(text: str) -> list[float]:
    out = []
    for m in _NUMBER.finditer(text):
        try:
            out.append(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    return out


def traceable(value: float, allowed: Iterable[float], rel: float = 0.006) -> bool:
    """``value`` equals an allowed number up to rounding (or is a small count/ordinal)."""
    if float(value).is_integer() and 0 <= value <= 10:
        return True  # "2 suppliers", "step 1": counting words, not results
    for a in allowed:
        for cand in (a, abs(a), 100 * a):
            if math.isclose(abs(value), abs(cand), rel_tol=rel, abs_tol=0.051):
                return True
    return False


def check_narrative(narrative: str, allowed: Iterable[float]) -> list[float]:
    """Numbers in ``narrative`` that the results do not contain (empty: the narrative passes)."""
    allowed = list(allowed)
    return [x for x in numbers_in(narrative) if not traceable(x, allowed)]
