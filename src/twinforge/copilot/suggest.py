"""Scenario proposals: disruptions worth testing, chosen by the model, run by the twin.

The twin lists the single-change disruptions it can run (every node that can go down for a few
hours, every parameter that can move by a typical percentage, demand swings and closed lanes for
networks), each validated against the twin. The language model chooses, one at a time, the one
most worth testing for a planner — a node or quantity not chosen yet, so the list covers the twin
instead of repeating one idea. Every proposal is run, and the list is ranked by the size of its
effect on the headline KPI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from twinforge.copilot.engines import Outcome
from twinforge.guard.check import twin_problems
from twinforge.plan.compile import compile_changes
from twinforge.plan.models import OUTAGE_TARGET_KINDS, WhatIfPlan
from twinforge.plan.schema import parameter_groups

PROMPT = "Propose one disruption or stress test worth simulating on this twin."
#: typical magnitudes: hours of outage, percentages of change
OUTAGE_HOURS = (2, 4, 8)
PERCENTS = (20,)


@dataclass
class Suggestion:
    plan: dict[str, Any]
    interventions: list[str]
    outcome: Outcome
    latency_s: float

    @property
    def impact(self) -> float:
        """Relative change of the headline KPI (infinite when the plan becomes infeasible)."""
        if not self.outcome.feasible:
            return float("inf")
        pct = self.outcome.delta_pct
        return abs(pct) if pct is not None else 0.0


def disruptions(twin: Any, engine: str) -> list[dict[str, Any]]:
    """Every single-change disruption the twin can run (plain plan data)."""
    out: list[dict[str, Any]] = []
    for n in twin.nodes:
        if n.kind in OUTAGE_TARGET_KINDS:
            for h in OUTAGE_HOURS:
                out.append({"op": "outage", "target": n.id, "duration": h, "unit": "h"})
    for _kind, pdef, targets in parameter_groups(twin, engine):
        if pdef.integer or pdef.name in ("start_time", "max_arrivals", "initial_level"):
            continue
        for t in targets:
            for p in PERCENTS:
                out.append(
                    {
                        "op": "change",
                        "target": t,
                        "parameter": pdef.name,
                        "direction": "decrease",
                        "percent": p,
                    }
                )
    if engine == "optimize":
        out += [{"op": "demand", "direction": "increase", "percent": p} for p in (10, 20)]
        out += [
            {"op": "forbid", "source": e.source, "target": e.target}
            for e in twin.edges
            if e.kind == "material"
        ]
    plans = [{"kind": "what_if", "changes": [c]} for c in out]
    return [p for p in plans if not twin_problems(p, twin)]


def _subject(plan: dict[str, Any]) -> str:
    c = plan["changes"][0]
    return f"{c.get('target') or c.get('source') or 'demand'}:{c.get('parameter') or c['op']}"


def suggest(asker: Any, n: int = 5) -> list[Suggestion]:
    """Up to ``n`` validated, simulated proposals for ``asker.twin``, most impactful first."""
    twin = asker.twin
    pool = disruptions(twin, asker.engine_name)
    used: set[str] = set()
    out: list[Suggestion] = []
    from twinforge.copilot.ask import describe_twin

    system = describe_twin(twin, asker.engine_name)
    while len(out) < n:
        options = [p for p in pool if _subject(p) not in used and p["changes"][0].get("target") not in used]
        seen: set[str] = set()
        options = [p for p in options if not (_subject(p) in seen or seen.add(_subject(p)))]  # type: ignore[func-returns-value]
        if not options:
            break
        started = time.perf_counter()
        choice = asker.llm.choose(PROMPT, options[:24], system=system)
        plan = options[choice.index]
        used.add(_subject(plan))
        used.add(plan["changes"][0].get("target") or "demand")
        parsed = WhatIfPlan.model_validate(plan)
        interventions = compile_changes(list(parsed.changes), twin)
        outcome = asker.engine.run(interventions, "proposal")
        out.append(
            Suggestion(
                plan=plan,
                interventions=[i.describe() for i in interventions],
                outcome=outcome,
                latency_s=time.perf_counter() - started,
            )
        )
    return sorted(out, key=lambda s: s.impact, reverse=True)
