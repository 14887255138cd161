"""Scoring answers against expected meanings (for ``benchmarks/ask_eval.py`` and the tests).

An expected meaning is written in the twin and scenario languages (see
``benchmarks/ask/check_gold.py``): what-ifs and comparisons as scenario interventions, why and
status questions by their target, declines by their reason. An answer is **correct** when the plan
it ran means the same: the same effect on the twin (:mod:`twinforge.plan.meaning`; a
comparison's options in either order), or the same target, lane, quantity and product. It is
**wrong** when it answered with another meaning — or answered a question that should be declined —
and a **wrong decline** when it declined an answerable question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinforge.guard.check import plan_effects, same_meaning
from twinforge.plan.meaning import effect
from twinforge.scenario import Scenario
from twinforge.spec.models import TwinSpec

VERDICTS = ("correct", "wrong", "wrong_decline", "declined")


def expected_meaning(twin: TwinSpec, expect: dict[str, Any]) -> Any:
    """What an expected meaning means, comparable with :func:`twinforge.guard.check.plan_effects`."""
    kind = expect["kind"]
    if kind == "what_if":
        return [
            effect(
                twin,
                Scenario.model_validate(
                    {"name": "expect", "interventions": expect["interventions"]}
                ).interventions,
            )
        ]
    if kind == "compare":
        return [
            effect(
                twin, Scenario.model_validate({"name": "expect", "interventions": expect[k]}).interventions
            )
            for k in ("first", "second")
        ]
    if kind in ("why", "status"):
        return {k: v for k, v in expect.items() if v is not None}
    return None


@dataclass
class Verdict:
    verdict: str  # one of VERDICTS
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict in ("correct", "declined")


def judge(result: Any, expect: dict[str, Any], twin: TwinSpec) -> Verdict:
    """How an :class:`~twinforge.copilot.ask.AskResult` compares with the expected meaning."""
    if expect["kind"] == "decline":
        if result.status == "declined":
            return Verdict("declined", f"{result.reason}: {result.detail}")
        return Verdict("wrong", f"answered {result.plan} instead of declining ({expect.get('reason')})")
    if result.status != "answered":
        return Verdict("wrong_decline", f"{result.reason}: {result.detail}")
    if result.plan is None or result.plan.get("kind") != expect["kind"]:
        return Verdict("wrong", f"answered {result.plan}")
    try:
        got = plan_effects(result.plan, twin)
    except Exception as exc:  # an answered plan always compiles; be robust in scoring
        return Verdict("wrong", f"plan does not compile: {exc}")
    if same_meaning(got, expected_meaning(twin, expect)):
        return Verdict("correct")
    return Verdict("wrong", f"answered {result.plan}")


__all__ = ["VERDICTS", "Verdict", "expected_meaning", "judge"]
