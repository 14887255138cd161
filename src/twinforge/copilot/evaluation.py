"""Scoring answers against ground truth: the intended plan, run through the same engine.

Used by ``benchmarks/ask_eval.py`` and the tests. An answer is correct when its headline value
equals the ground truth: exactly (up to float rounding) for optimisation and status questions,
within the 95% CI of the ground-truth difference for simulation (with common random numbers an
identical plan gives an identical value); an infeasible ground truth needs an infeasible answer
with the same shortfall.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import TypeAdapter

from twinforge.copilot.engines import Outcome
from twinforge.copilot.plan import Plan, compile_changes
from twinforge.copilot.why import counterfactual
from twinforge.guard.check import edge_index


class GroundTruth:
    """The intended plan of an intent, run through the same engine."""

    def __init__(self, twin: Any, engine: Any) -> None:
        self.twin = twin
        self.engine = engine
        self.cache: dict[str, Any] = {}

    def value(self, plan_data: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(plan_data, sort_keys=True)
        if key in self.cache:
            return self.cache[key]
        plan = TypeAdapter(Plan).validate_python(plan_data)
        edges = edge_index(self.twin)
        out: dict[str, Any]
        if plan.kind == "what_if":
            out = summarise(self.engine.run(compile_changes(list(plan.changes), edges)))
        elif plan.kind == "compare":
            a = summarise(self.engine.run(compile_changes(list(plan.first), edges)))
            b = summarise(self.engine.run(compile_changes(list(plan.second), edges)))
            out = {"first": a, "second": b}
        elif plan.kind == "why":
            cf = counterfactual(self.twin, plan, self.engine)
            out = (
                {"value": 0.0, "half_width": 0.0}
                if cf.interventions is None
                else summarise(self.engine.run(cf.interventions))
            )
        elif plan.kind == "status":
            node = self.twin.node(plan.target)
            if plan.quantity in node.state_names() and not self.twin.has_value(plan.target, plan.quantity):
                sv = node.state.get(plan.quantity)
                sd = node.state_def(plan.quantity)
                value = (
                    sv.initial if sv is not None and sv.initial is not None else (sd.initial if sd else 0.0)
                )
            else:
                value = self.twin.get(plan.target, plan.quantity, product=plan.product)
            out = {"value": value, "half_width": 0.0}
        else:
            raise ValueError(plan.kind)
        self.cache[key] = out
        return out


def summarise(o: Outcome) -> dict[str, Any]:
    if not o.feasible:
        short = sum(v for k, v in o.numbers.items() if k.endswith(" short"))
        return {"value": None, "infeasible_short": short, "half_width": 0.0}
    half = 0.0 if o.ci is None else (o.ci[1] - o.ci[0]) / 2
    return {"value": o.delta, "half_width": half}


def matches(answer: dict[str, Any], truth: dict[str, Any]) -> bool:
    if truth.get("value") is None:
        return (
            answer.get("value") is None
            and answer.get("infeasible_short") is not None
            and math.isclose(
                answer["infeasible_short"], truth["infeasible_short"], rel_tol=1e-6, abs_tol=1e-6
            )
        )
    if answer.get("value") is None:
        return False
    tol = max(truth.get("half_width", 0.0), 1e-6 * max(1.0, abs(truth["value"])))
    return abs(answer["value"] - truth["value"]) <= tol


def answer_summary(result: Any) -> dict[str, Any] | dict[str, dict[str, Any]]:
    if result.kind == "compare":
        return {"first": summarise(result.outcomes[0]), "second": summarise(result.outcomes[1])}
    if result.kind in ("what_if", "why") and result.outcomes:
        return summarise(result.outcomes[0])
    return {"value": result.value, "half_width": 0.0}


def is_correct(result: Any, truth: dict[str, Any]) -> bool:
    if result.status != "answered":
        return False
    ans = answer_summary(result)
    if "first" in truth:
        return (
            "first" in ans
            and matches(ans["first"], truth["first"])
            and matches(ans["second"], truth["second"])
        )
    if "first" in ans:
        return False
    return matches(ans, truth)
