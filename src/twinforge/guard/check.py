"""The twin checks a plan that a model chose for a question.

Two checks, both by code:

- **against the twin** (:func:`twin_problems`): the plan compiles to scenario interventions
  (:func:`twinforge.plan.compile_changes`, where set-to / change-by / faster / amounts are
  computed) that validate against the twin — known targets, parameters valid for the kind,
  values within physical bounds after unit conversion, lanes that exist;
- **against the question** (:func:`check_plan`): the plan means what one of the question's
  readings means (:mod:`twinforge.guard.reading`): the same entities in the same roles, every
  number in one of its roles and with its unit, the direction the question says. A plan that
  means something else is refused with what differs — never repaired into another plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from twinforge.errors import SpecError
from twinforge.guard.reading import Reading, Refusal
from twinforge.plan.compile import PlanError, compile_changes
from twinforge.plan.meaning import Effect, effect, same_effect
from twinforge.plan.models import ComparePlan, KeepPlan, Plan, StatusPlan, WhatIfPlan, WhyPlan
from twinforge.scenario import Scenario, apply_scenario
from twinforge.spec.models import TwinSpec

_PLAN = TypeAdapter(Plan)
_LIMIT_CODES = {"out-of-bounds", "bounds", "not-integer", "physical-bounds"}


@dataclass
class CheckedPlan:
    plan: Any | None  # a Plan model when it parsed
    problems: list[str] = field(default_factory=list)
    interventions: list[Any] = field(default_factory=list)  # what_if: compiled interventions
    alternatives: list[list[Any]] = field(default_factory=list)  # compare: both options
    reason: str | None = None  # the decline reason the problems amount to

    @property
    def ok(self) -> bool:
        return not self.problems and self.plan is not None


def parse_plan(data: Any) -> tuple[Any | None, str | None]:
    """The plan model, or why the data is not a plan."""
    try:
        return _PLAN.validate_python(data), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"the plan does not follow the plan language at {where}: {first['msg']}"


def _groups(plan: Any) -> list[list[Any]]:
    if isinstance(plan, WhatIfPlan):
        return [list(plan.changes)]
    if isinstance(plan, ComparePlan):
        return [list(plan.first), list(plan.second)]
    return []


def twin_problems(plan_data: dict[str, Any] | Any, twin: TwinSpec) -> list[Refusal]:
    """Why the twin cannot run a plan (empty when it can)."""
    plan = plan_data
    if isinstance(plan_data, dict):
        plan, error = parse_plan(plan_data)
        if plan is None:
            return [Refusal("unclear", error or "not a plan")]
    out: list[Refusal] = []
    for changes in _groups(plan):
        try:
            interventions = compile_changes(changes, twin)
            apply_scenario(twin, Scenario(name="question", interventions=interventions))
        except PlanError as exc:
            out.append(Refusal(exc.reason, str(exc)))
        except SpecError as exc:
            for issue in exc.errors:
                reason = (
                    "outside_physical_limits"
                    if issue.code in _LIMIT_CODES or "bound" in issue.message
                    else "unclear"
                )
                detail = issue.message + (f" (expected {issue.expected})" if issue.expected else "")
                out.append(Refusal(reason, detail))
        except (ValidationError, ValueError) as exc:
            out.append(Refusal("outside_physical_limits", str(exc).splitlines()[0]))
    if isinstance(plan, KeepPlan):
        from twinforge.control.request import RequestError, band_controller

        try:
            band_controller(twin, plan.target, plan.quantity, plan.min, plan.max)
        except RequestError as exc:
            out.append(Refusal(exc.reason, str(exc)))
        return out
    if isinstance(plan, StatusPlan | WhyPlan):
        if not twin.has_node(plan.target) and not any(e.key == plan.target for e in twin.edges):
            out.append(Refusal("unknown_entity", f"the twin has no {plan.target!r}"))
    if isinstance(plan, StatusPlan) and not out:
        from twinforge.plan.schema import twin_has_quantity

        if not twin_has_quantity(twin, twin.element(plan.target), plan.quantity):
            out.append(Refusal("not_modelled", f"{plan.target!r} has no value for {plan.quantity!r}"))
    return out


def plan_effects(plan_data: dict[str, Any] | Any, twin: TwinSpec) -> Any:
    """The meaning of a plan: its effect on the twin (one per option of a comparison); for why
    and status plans, what they are about."""
    plan = plan_data if not isinstance(plan_data, dict) else _PLAN.validate_python(plan_data)
    if isinstance(plan, WhatIfPlan | ComparePlan):
        return [effect(twin, compile_changes(g, twin)) for g in _groups(plan)]
    return plan.model_dump(mode="json", exclude_none=True)


def same_meaning(a: Any, b: Any) -> bool:
    """Whether two effects (from :func:`plan_effects`) are the same; a comparison's options in
    either order."""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        if all(same_effect(x, y) for x, y in zip(a, b, strict=True)):
            return True
        return len(a) == 2 and same_effect(a[0], b[1]) and same_effect(a[1], b[0])
    if isinstance(a, Effect) and isinstance(b, Effect):
        return same_effect(a, b)
    return a == b


def check_plan(data: Any, reading: Reading, twin: TwinSpec) -> CheckedPlan:
    """Check a model's plan against the twin and against the question's readings."""
    plan, error = parse_plan(data)
    if plan is None:
        return CheckedPlan(None, [error or "not a plan"], reason="unclear")
    out = CheckedPlan(plan)
    if plan.kind == "decline":
        return out
    problems = twin_problems(plan, twin)
    if problems:
        out.problems = [p.detail for p in problems]
        out.reason = problems[0].reason
        return out
    meaning = plan_effects(plan, twin)
    readings = [c for c in reading.candidates if c.plan["kind"] == plan.kind]
    if not any(same_meaning(meaning, plan_effects(c.plan, twin)) for c in readings):
        out.problems = _differences(plan, reading, twin)
        out.reason = "unclear"
        return out
    for changes in _groups(plan):
        compiled = compile_changes(changes, twin)
        if isinstance(plan, WhatIfPlan):
            out.interventions = compiled
        else:
            out.alternatives.append(compiled)
    return out


def _differences(plan: Any, reading: Reading, twin: TwinSpec) -> list[str]:
    """What a plan says that the question does not (for the answer and the audit)."""
    said = set(reading.entity_ids)
    for lane in reading.mentions.lanes:
        said |= set(lane.lane or ())
    named: list[str] = []
    if isinstance(plan, WhyPlan | StatusPlan | KeepPlan):
        named = [plan.target] + ([plan.source] if isinstance(plan, WhyPlan) and plan.source else [])
    for g in _groups(plan):
        for c in g:
            for key in ("target", "source", "customer", "first", "second"):
                v = getattr(c, key, None)
                if isinstance(v, str):
                    named += v.split("->")
            named += list(getattr(c, "partners", []) or [])
    out = [
        f"the plan names {n!r}, which the question does not mention"
        for n in dict.fromkeys(named)
        if n not in said
    ]
    numbers = [n.value for n in reading.numbers]
    for g in _groups(plan):
        for c in g:
            for key in ("value", "percent", "factor", "amount", "duration", "start", "at", "rate"):
                v = getattr(c, key, None)
                if isinstance(v, int | float) and not any(
                    abs(v - x) <= 1e-6 * max(1, abs(x)) for x in numbers
                ):
                    out.append(f"the number {v:g} is not written in the question")
    if not out:
        out.append("the plan does not mean any reading of the question the twin can make")
    return out


__all__ = ["CheckedPlan", "check_plan", "parse_plan", "plan_effects", "same_meaning", "twin_problems"]
