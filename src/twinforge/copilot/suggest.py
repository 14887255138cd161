"""Scenario proposals: the model proposes disruptions worth testing, the twin validates and runs them.

The model proposes one what-if change at a time in the twin's plan language (the same
twin-generated schema as for questions), choosing among typical magnitudes (outage durations,
percentage changes); every proposal is checked against the twin and run, and the list is ranked
by impact on the headline KPI. Each new proposal must concern an entity not used yet, so the list
covers the twin instead of repeating one idea.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from twinforge.ai.ranked import RankedDecodeError, dumps
from twinforge.copilot.engines import Outcome
from twinforge.guard.check import check_against_twin, parse_plan
from twinforge.guard.schema import narrow_schema

#: magnitudes a proposal may use: hours of outage, percentages of change
MAGNITUDES = (1.0, 2.0, 4.0, 8.0, 10.0, 20.0, 30.0, 50.0)
#: operations worth proposing (setting exact values needs a reason the model does not have)
PROPOSAL_OPS = {"outage", "change", "demand", "remove", "forbid"}

PROMPT = "Propose one disruption or stress test worth simulating on this twin."


@dataclass
class Suggestion:
    plan: dict[str, Any]
    interventions: list[str]
    outcome: Outcome
    latency_s: float

    @property
    def impact(self) -> float:
        """Relative change of the headline KPI (0 when infeasible is not comparable: infinite)."""
        if not self.outcome.feasible:
            return float("inf")
        pct = self.outcome.delta_pct
        return abs(pct) if pct is not None else 0.0


def suggest(asker: Any, n: int = 5) -> list[Suggestion]:
    """Up to ``n`` validated, simulated proposals for ``asker.twin``, most impactful first."""
    twin = asker.twin
    drop_ops = {
        op for op in ("set", "scale", "setpoint", "arrivals", "only", "exclusive") if op not in PROPOSAL_OPS
    }
    shots = []
    from twinforge.ai import Message

    for e in [e for e in asker.examples if e.kind == "what_if" and len(e.plan["changes"]) == 1][: 2 * n]:
        if e.plan["changes"][0]["op"] in PROPOSAL_OPS:
            shots += [Message("user", PROMPT), Message("assistant", dumps(e.plan))]
    used: set[str] = set()
    out: list[Suggestion] = []
    for _ in range(3 * n):
        if len(out) >= n:
            break
        try:
            schema = narrow_schema(
                asker.schema, drop_entities=used, entity_ids=asker.entities, drop_ops=drop_ops
            )
            schema["oneOf"] = [
                p for p in schema["oneOf"] if p["properties"]["kind"].get("const") == "what_if"
            ]
            schema["oneOf"][0]["properties"]["changes"]["maxItems"] = 1
        except (ValueError, IndexError):
            break
        started = time.perf_counter()
        try:
            value, _ = asker.llm.decode_ranked(
                PROMPT, schema, numbers=MAGNITUDES, system=asker.system, examples=shots
            )
        except RankedDecodeError:
            break
        plan, problems = parse_plan(value)
        if plan is None or problems:
            break
        change = plan.changes[0]
        entities = [x for x in (getattr(change, "target", None), getattr(change, "source", None)) if x]
        used |= set(entities) or {f"demand:{getattr(change, 'product', None)}"}
        interventions, twin_problems = check_against_twin(list(plan.changes), twin)
        if twin_problems:
            continue
        if not entities:  # demand changes: propose at most one
            drop_ops.add("demand")
        outcome = asker.engine.run(interventions, "proposal")
        out.append(
            Suggestion(
                plan=plan.model_dump(mode="json", exclude_none=True),
                interventions=[i.describe() for i in interventions],
                outcome=outcome,
                latency_s=time.perf_counter() - started,
            )
        )
    return sorted(out, key=lambda s: s.impact, reverse=True)
