"""The twin checks a plan that a model derived from a question.

Three kinds of check, all collected in one pass:

- **the plan language** — the plan parses as a :class:`twinforge.copilot.plan.Plan`;
- **grounding** — every entity the plan names is mentioned in the question (by id, name or
  alias), every number comes from the question, and a number written with a unit keeps it
  ("30 minutes" is not 30 hours);
- **the twin** — the plan compiles to scenario interventions that validate against the twin
  (known targets, parameters valid for the kind, values within physical bounds after unit
  conversion).

Each problem says what is wrong in words a model (and a person) can act on, and carries a
*narrowing* that the repair loop applies to the decoding schema, so the next attempt cannot make
the same mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from twinforge.copilot.plan import (
    ArrivalChange,
    Change,
    ComparePlan,
    DemandChange,
    ExclusiveChange,
    ForbidChange,
    OnlyChange,
    OutageChange,
    Plan,
    SetChange,
    SetpointChange,
    StatusPlan,
    WhatIfPlan,
    WhyPlan,
    compile_changes,
)
from twinforge.guard.grounding import Grounding
from twinforge.guard.schema import Narrowing
from twinforge.scenario import Scenario, ScenarioError, apply_scenario
from twinforge.spec import units
from twinforge.spec.models import TwinSpec

_PLAN = TypeAdapter(Plan)

#: time words in questions -> the plan's time units
_TIME_WORDS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "min",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "day",
    "days": "day",
}


@dataclass
class PlanProblem:
    message: str
    narrowing: Narrowing = field(default_factory=Narrowing)


@dataclass
class CheckedPlan:
    plan: Any | None  # a Plan model when it parsed
    problems: list[PlanProblem]
    interventions: list[Any] = field(default_factory=list)  # compiled (what_if) interventions
    alternatives: list[list[Any]] = field(default_factory=list)  # compare: both sides

    @property
    def ok(self) -> bool:
        return not self.problems and self.plan is not None


def parse_plan(data: Any) -> tuple[Any | None, list[PlanProblem]]:
    try:
        return _PLAN.validate_python(data), []
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, [PlanProblem(f"the plan does not follow the plan language at {where}: {first['msg']}")]


def edge_index(twin: TwinSpec) -> dict[tuple[str, str], str]:
    return {(e.source, e.target): e.key for e in twin.edges}


def _entities(change: Change) -> list[str]:
    match change:
        case ForbidChange():
            return [change.source, change.target]
        case OnlyChange():
            return [change.target, *change.partners]
        case ExclusiveChange():
            return [change.first, change.second]
        case DemandChange():
            return [change.customer] if change.customer else []
        case _:
            return [change.target]


def _numbers(change: Change) -> list[tuple[float, str | None]]:
    """(number, its time unit if it is a time) of a change."""
    match change:
        case OutageChange():
            out = [(change.duration, change.unit)]
            if change.start is not None:
                out.append((change.start, change.start_unit or "h"))
            return out
        case SetChange():
            return [(change.value, None)]
        case SetpointChange():
            out = [(change.value, None)]
            if change.at is not None:
                out.append((change.at, change.at_unit or "h"))
            return out
        case ArrivalChange():
            return [(change.rate, None)]
        case _:
            value = getattr(change, "percent", None) or getattr(change, "factor", None)
            return [(value, None)] if value is not None else []


def mentioned_edges(g: Grounding, twin: TwinSpec) -> list[str]:
    """Edges whose two ends the question both mentions (a lane "from S1 to P2")."""
    ids = set(g.entity_ids)
    return [e.key for e in twin.edges if e.source in ids and e.target in ids]


def written_time_units(question: str) -> dict[float, set[str]]:
    """Numbers written with a time unit in the question: ``{30.0: {"min"}}``."""
    out: dict[float, set[str]] = {}
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*-?\s*([a-z]+)", question.lower()):
        unit = _TIME_WORDS.get(m.group(2))
        if unit:
            out.setdefault(float(m.group(1)), set()).add(unit)
    for word, unit in (("an hour", "h"), ("a day", "day"), ("a minute", "min"), ("half an hour", "h")):
        if word in question.lower():
            out.setdefault(1.0 if word != "half an hour" else 0.5, set()).add(unit)
    return out


def check_grounding(plan: Any, g: Grounding, twin: TwinSpec) -> list[PlanProblem]:
    """Entities and numbers of a plan must come from the question."""
    problems: list[PlanProblem] = []
    changes: list[Change] = []
    named: list[str] = []
    if isinstance(plan, WhatIfPlan):
        changes = list(plan.changes)
    elif isinstance(plan, ComparePlan):
        changes = [*plan.first, *plan.second]
    elif isinstance(plan, WhyPlan | StatusPlan):
        named = [plan.target] + ([plan.source] if isinstance(plan, WhyPlan) and plan.source else [])
    for c in changes:
        named += _entities(c)
    mentioned = g.entity_ids + mentioned_edges(g, twin)
    for entity in dict.fromkeys(named):
        if entity not in mentioned:
            hint = (
                f"; the question mentions {', '.join(mentioned)}"
                if mentioned
                else "; it mentions no part of the twin"
            )
            problems.append(
                PlanProblem(
                    f"the plan names {entity!r}, which the question does not mention{hint}",
                    Narrowing(drop_entities={entity}),
                )
            )
    if changes or isinstance(plan, WhyPlan):
        used = set(named) | {getattr(c, "product", None) for c in changes}
        for ref in list(used):
            if isinstance(ref, str) and "->" in ref:
                used |= set(ref.split("->", 1))
        unused = [e for e in [*g.entity_ids, *g.products] if e not in used]
        if unused and isinstance(plan, WhatIfPlan | WhyPlan):
            problems.append(
                PlanProblem(
                    f"the question mentions {', '.join(unused)}, which the plan does not use",
                    Narrowing(require_values=set(unused), include_values=set(unused)),
                )
            )
    written = written_time_units(g.question)
    for c in changes:
        for value, time_unit in _numbers(c):
            if value is None:
                continue
            derived_ok = getattr(c, "factor", None) == value
            if not derived_ok and g.written_number(value) is None:
                problems.append(
                    PlanProblem(
                        f"the number {value:g} is not written in the question",
                        Narrowing(drop_numbers={value}),
                    )
                )
            elif not g.has_number(value):
                problems.append(
                    PlanProblem(
                        f"the number {value:g} is not in the question", Narrowing(drop_numbers={value})
                    )
                )
            elif time_unit is not None and value in written and time_unit not in written[value]:
                allowed = written[value]
                problems.append(
                    PlanProblem(
                        f"the question gives {value:g} in {'/'.join(sorted(allowed))}, not {time_unit}",
                        Narrowing(time_units=set(allowed)),
                    )
                )
    return problems


def check_against_twin(
    changes: list[Change], twin: TwinSpec, label: str = ""
) -> tuple[list[Any], list[PlanProblem]]:
    """Compile changes and validate them against the twin."""
    try:
        interventions = compile_changes(changes, edge_index(twin))
    except ValidationError as exc:
        return [], [PlanProblem(f"{label}cannot express the change: {exc.errors()[0]['msg']}")]
    try:
        apply_scenario(twin, Scenario(name="question", interventions=interventions))
    except ScenarioError as exc:
        problems = []
        for issue in exc.errors:
            narrowing = Narrowing()
            index = issue.path[1] if len(issue.path) > 1 and isinstance(issue.path[1], int) else None
            culprit = changes[_change_of(changes, index)] if index is not None else None
            if issue.code == "out-of-bounds":
                narrowing.drop_numbers |= {float(v) for c in changes for v, _ in _numbers(c) if v is not None}
            elif culprit is not None:
                narrowing.drop_ops.add(culprit.op)
            problems.append(
                PlanProblem(
                    f"{label}{issue.message}" + (f" (expected {issue.expected})" if issue.expected else ""),
                    narrowing,
                )
            )
        return interventions, problems
    return interventions, []


def _change_of(changes: list[Change], intervention_index: int) -> int:
    """Index of the change that compiled into the given intervention (one or more each)."""
    from twinforge.copilot.plan import compile_change

    seen = 0
    for i, c in enumerate(changes):
        seen += len(compile_change(c, {}))
        if intervention_index < seen:
            return i
    return len(changes) - 1


def check_status(plan: StatusPlan, twin: TwinSpec) -> list[PlanProblem]:
    node = twin.node(plan.target)
    if plan.quantity in node.state_names():
        return []
    if not twin.has_value(plan.target, plan.quantity, product=plan.product):
        return [
            PlanProblem(
                f"{plan.target!r} has no value for {plan.quantity!r}"
                + (f" ({plan.product})" if plan.product else "")
            )
        ]
    return []


def check_plan(data: Any, g: Grounding, twin: TwinSpec) -> CheckedPlan:
    """Every problem of a decoded plan, with the narrowing that prevents it next time."""
    plan, problems = parse_plan(data)
    if plan is None:
        return CheckedPlan(None, problems)
    problems = check_grounding(plan, g, twin) + check_direction(plan, g.question) + check_sense(plan, g, twin)
    out = CheckedPlan(plan, problems)
    if isinstance(plan, WhatIfPlan):
        out.interventions, twin_problems = check_against_twin(list(plan.changes), twin)
        out.problems += twin_problems
    elif isinstance(plan, ComparePlan):
        if [c.model_dump() for c in plan.first] == [c.model_dump() for c in plan.second]:
            out.problems.append(
                PlanProblem("the two options to compare are the same", Narrowing(drop_kinds={"compare"}))
            )
        a, pa = check_against_twin(list(plan.first), twin, "first option: ")
        b, pb = check_against_twin(list(plan.second), twin, "second option: ")
        out.alternatives = [a, b]
        out.problems += pa + pb
    elif isinstance(plan, StatusPlan):
        out.problems += check_status(plan, twin)
    return out


def unit_of_time(text: str) -> str | None:
    return _TIME_WORDS.get(text.lower())


def convert_quantity(value: float, unit: str | None, to: str) -> float:
    return units.convert(value, unit or to, to)


_UP = re.compile(
    r"\b(increase[sd]?|rise[sn]?|rising|rose|grow[sn]?|grew|growing|up|more|higher|raise[sd]?|boost(ed)?|expand(ed|s)?|jump[sed]*|climb[sed]*|extra|additional|double[sd]?|triple[sd]?|gain(s|ed)?|faster|bigger|larger|surge[sd]?)\b"
)
_DOWN = re.compile(
    r"\b(decrease[sd]?|drop[sp]?(ed)?|fall[sn]?|fell|falling|shrink[s]?|shrank|down|less|lower(ed)?|reduce[sd]?|cut[s]?|decline[sd]?|slump[sed]*|halve[sd]?|fewer|smaller|weaker|los(e|es|ing|t)|slow(s|er|ed)?|degrade[sd]?|shortfall)\b"
)


def check_direction(plan: Any, question: str) -> list[PlanProblem]:
    """A change "up" must not be mapped to a decrease (and vice versa) when the question is clear."""
    text = question.lower()
    up, down = bool(_UP.search(text)), bool(_DOWN.search(text))
    if up == down:
        return []
    said = "increase" if up else "decrease"
    changes = list(plan.changes) if isinstance(plan, WhatIfPlan) else []
    problems = []
    for c in changes:
        direction = getattr(c, "direction", None)
        if direction is not None and direction != said:
            problems.append(
                PlanProblem(
                    f"the question asks for {'an' if said == 'increase' else 'a'} {said}, not {'an' if direction == 'increase' else 'a'} {direction}",
                    Narrowing(directions={said}),
                )
            )
    return problems


def _param_vocabulary(twin: TwinSpec, target: str) -> dict[str, list[str]]:
    try:
        node = twin.node(target)
    except Exception:
        return {}
    extra = node.metadata.get("vocabulary")
    return extra if isinstance(extra, dict) else {}


def check_sense(plan: Any, g: Grounding, twin: TwinSpec) -> list[PlanProblem]:
    """Does the plan do what the question talks about? Each kind of change needs its words in the
    question, each parameter or quantity its name or a synonym, a number the question gives must
    be used, and a decrease cannot exceed 100%."""
    from twinforge.copilot.plan import DemandChange, PercentChange, ScaleChange
    from twinforge.guard.vocabulary import OP_WORDS, quantity_words, says

    q = g.question
    problems: list[PlanProblem] = []
    changes: list[Change] = []
    if isinstance(plan, WhatIfPlan):
        changes = list(plan.changes)
    elif isinstance(plan, ComparePlan):
        changes = [*plan.first, *plan.second]
    for c in changes:
        words = OP_WORDS.get(c.op)
        if words and not says(q, words):
            problems.append(
                PlanProblem(
                    f"the question does not speak of a change of kind {c.op!r}", Narrowing(drop_ops={c.op})
                )
            )
        param = getattr(c, "parameter", None)
        if param is not None and not says(q, quantity_words(param, _param_vocabulary(twin, c.target))):
            problems.append(
                PlanProblem(
                    f"the question does not speak of {param.replace('_', ' ')}",
                    Narrowing(drop_params={param}),
                )
            )
        if isinstance(c, PercentChange | DemandChange) and c.direction == "decrease" and c.percent >= 100:
            problems.append(
                PlanProblem(
                    f"a decrease of {c.percent:g}% would leave nothing (or less than nothing)",
                    Narrowing(drop_numbers={c.percent}),
                )
            )
        if isinstance(c, ScaleChange) and c.factor == 1:
            problems.append(PlanProblem("a factor of 1 changes nothing", Narrowing(drop_numbers={1.0})))
    if isinstance(plan, StatusPlan):
        if not says(q, quantity_words(plan.quantity, _param_vocabulary(twin, plan.target))):
            problems.append(
                PlanProblem(
                    f"the question does not ask about {plan.quantity.replace('_', ' ')}",
                    Narrowing(drop_params={plan.quantity}),
                )
            )
    written = [x for x in g.numbers if x == g.written_number(x)]
    if (
        changes
        and written
        and not any(v is not None and g.has_number(v) for c in changes for v, _ in _numbers(c))
    ):
        problems.append(
            PlanProblem(
                f"the question gives {', '.join(f'{x:g}' for x in written)}, which the plan does not use",
                Narrowing(drop_ops={c.op for c in changes}),
            )
        )
    if isinstance(plan, WhyPlan | StatusPlan) and written:
        problems.append(
            PlanProblem(
                f"the question gives {', '.join(f'{x:g}' for x in written)}; a {plan.kind} answer would ignore it",
                Narrowing(drop_kinds={plan.kind}),
            )
        )
    return problems


def question_narrowing(g: Grounding, twin: TwinSpec) -> Narrowing:
    """What the question itself rules out before the model is asked: kinds of plan its form does
    not allow, kinds of change and quantities it has no words for, time units other than those it
    writes, and the direction of a change when it is clear."""
    from twinforge.guard.vocabulary import OP_WORDS, plausible_kinds, quantity_words, says
    from twinforge.spec.catalog import CATALOG, EDGE_CATALOG

    n = Narrowing()
    kinds = plausible_kinds(g.question, has_numbers=bool(g.written))
    if kinds is not None:
        n.drop_kinds = {"what_if", "compare", "why", "status", "decline"} - kinds
    n.drop_ops = {op for op, words in OP_WORDS.items() if not says(g.question, words)}
    names = {p for node in twin.nodes if node.kind in CATALOG for p in CATALOG[node.kind].params}
    names |= {p for node in twin.nodes if node.kind in CATALOG for p in CATALOG[node.kind].states}
    names |= {p for e in twin.edges if e.kind in EDGE_CATALOG for p in EDGE_CATALOG[e.kind].params}
    extra: dict[str, list[str]] = {}
    for node in twin.nodes:
        vocab = node.metadata.get("vocabulary")
        if isinstance(vocab, dict):
            for k, v in vocab.items():
                extra.setdefault(k, []).extend(v)
    n.drop_params = {p for p in names if not says(g.question, quantity_words(p, extra))}
    written = written_time_units(g.question)
    if written:
        n.time_units = set().union(*written.values())
    text = g.question.lower()
    up, down = bool(_UP.search(text)), bool(_DOWN.search(text))
    if up != down:
        n.directions = {"increase" if up else "decrease"}
    return n
