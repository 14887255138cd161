"""The question plan: what a question about a twin means, as typed data.

A plan stays close to the words of a question — "down for 4 hours" is
``{"op": "outage", "target": "filler", "duration": 4, "unit": "h"}``, "20% faster" is
``{"op": "change", ..., "direction": "faster", "percent": 20}`` — and
:func:`twinforge.plan.compile_changes` turns it into scenario interventions with the arithmetic
done by code (set-to vs change-by, speed vs time, percent of a fraction, current value ± an
amount), never by a model.

These pydantic models are the only definition of the plan language. Each field says, in its
``json_schema_extra``, what it refers to in a twin (``x-twin``: a node of some kinds, an element
that carries parameters, a parameter of the target, a product, a unit) or which role a number
plays in the question (``x-role``: a duration, a start time, a value set, a percentage, a
factor, an amount, a rate). :mod:`twinforge.plan.schema` derives the JSON Schema a model fills
from these models, specialised to one twin (ids, parameters, units and bounds become enums and
limits) and narrowed to one question.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from twinforge.scenario import OUTAGE_KINDS

TimeUnit = Literal["s", "min", "h", "day"]
TIME_UNITS: tuple[str, ...] = ("s", "min", "h", "day")

#: node kinds a question can take down for a while: the scenario language's, less sensors (a
#: question about a sensor being down asks about data, not the process)
OUTAGE_TARGET_KINDS = tuple(sorted(OUTAGE_KINDS - {"sensor"}))
NETWORK_KINDS = ("supplier", "plant", "warehouse", "customer")


def _node(*kinds: str, **kw: Any) -> Any:
    """A field naming a node (of the given kinds; any kind but sensors when none is given)."""
    extra: dict[str, Any] = {"x-twin": "node"}
    if kinds:
        extra["x-kinds"] = list(kinds)
    return Field(json_schema_extra=extra, **kw)


def _number(role: str, **kw: Any) -> Any:
    """A number slot; ``role`` is what the number is in the question."""
    return Field(json_schema_extra={"x-role": role}, **kw)


_ELEMENT = {"x-twin": "element"}  # a node or a lane (edge) that carries parameters
_PARAMETER = {"x-twin": "parameter"}  # a parameter of the target
_PRODUCT = {"x-twin": "product"}
_UNIT = {"x-twin": "unit"}  # a unit of the parameter's dimension


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the engines that can run this kind of change ("simulate": lines and pump stations,
    #: "optimize": supply networks)
    engines: ClassVar[tuple[str, ...]] = ("simulate", "optimize")


class OutageChange(_Change):
    """A node is down (broken, stopped, unavailable) for a while, from the start or a later time."""

    op: Literal["outage"] = "outage"
    target: str = _node(*OUTAGE_TARGET_KINDS)
    duration: float = _number("duration", gt=0)
    unit: TimeUnit = "h"
    start: float | None = _number("start", default=None, ge=0)
    start_unit: TimeUnit | None = None


class SetChange(_Change):
    """A parameter takes a new value ("goes to 5 days", "set the opening to 60%")."""

    op: Literal["set"] = "set"
    target: str = Field(json_schema_extra=_ELEMENT)
    parameter: str = Field(json_schema_extra=_PARAMETER)
    value: float = _number("value")
    unit: str | None = Field(default=None, json_schema_extra=_UNIT)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class PercentChange(_Change):
    """A parameter goes up or down by a percentage, or its node runs a percentage faster or
    slower (for a time such as a process time, faster means the time is divided by 1 + p/100)."""

    op: Literal["change"] = "change"
    target: str = Field(json_schema_extra=_ELEMENT)
    parameter: str = Field(json_schema_extra=_PARAMETER)
    direction: Literal["increase", "decrease", "faster", "slower"]
    percent: float = _number("percent", gt=0)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class ScaleChange(_Change):
    """A parameter is multiplied by a factor ("doubles", "halves", "three times")."""

    op: Literal["scale"] = "scale"
    target: str = Field(json_schema_extra=_ELEMENT)
    parameter: str = Field(json_schema_extra=_PARAMETER)
    factor: float = _number("factor", gt=0)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class AddChange(_Change):
    """A parameter goes up or down by an amount ("two more servers", "lead time 3 days longer")."""

    op: Literal["add"] = "add"
    target: str = Field(json_schema_extra=_ELEMENT)
    parameter: str = Field(json_schema_extra=_PARAMETER)
    direction: Literal["increase", "decrease"]
    amount: float = _number("amount", gt=0)
    unit: str | None = Field(default=None, json_schema_extra=_UNIT)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class DemandChange(_Change):
    """Customer demand goes up or down by a percentage (all customers or one, all products or one)."""

    engines: ClassVar[tuple[str, ...]] = ("optimize",)
    op: Literal["demand"] = "demand"
    direction: Literal["increase", "decrease"]
    percent: float = _number("percent", gt=0)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)
    customer: str | None = _node("customer", default=None)


class DemandScaleChange(_Change):
    """Customer demand is multiplied by a factor ("demand doubles")."""

    engines: ClassVar[tuple[str, ...]] = ("optimize",)
    op: Literal["demand_scale"] = "demand_scale"
    factor: float = _number("factor", gt=0)
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)
    customer: str | None = _node("customer", default=None)


class ForbidChange(_Change):
    """No flow from one node to another (optionally for one product): a lane is closed."""

    engines: ClassVar[tuple[str, ...]] = ("optimize",)
    op: Literal["forbid"] = "forbid"
    source: str = Field(json_schema_extra={"x-twin": "lane-source"})
    target: str = Field(json_schema_extra={"x-twin": "lane-target"})
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class RemoveChange(_Change):
    """A node is gone for the whole plan or run (closed, lost, out of business, taken out)."""

    op: Literal["remove"] = "remove"
    target: str = _node(*NETWORK_KINDS, "station", "buffer", "conveyor", "pump", "valve", "tank")


class OnlyChange(_Change):
    """A node only ships to (``serve_only``), or only buys from (``buy_only``), the partners."""

    engines: ClassVar[tuple[str, ...]] = ("optimize",)
    op: Literal["only"] = "only"
    direction: Literal["serve_only", "buy_only"]
    target: str = _node(*NETWORK_KINDS)
    partners: list[str] = Field(min_length=1, max_length=4, json_schema_extra={"x-twin": "partner"})


class ExclusiveChange(_Change):
    """Use one of two nodes, not both."""

    engines: ClassVar[tuple[str, ...]] = ("optimize",)
    op: Literal["exclusive"] = "exclusive"
    first: str = _node(*NETWORK_KINDS)
    second: str = _node(*NETWORK_KINDS)


class ArrivalChange(_Change):
    """Arrivals at a source per unit time."""

    engines: ClassVar[tuple[str, ...]] = ("simulate",)
    op: Literal["arrivals"] = "arrivals"
    target: str = _node("source")
    rate: float = _number("rate", gt=0)
    unit: Literal["1/min", "1/h", "1/day"] = "1/h"


class SetpointChange(_Change):
    """A control setpoint changes (valve opening, pump or machine speed), optionally at a time."""

    engines: ClassVar[tuple[str, ...]] = ("simulate",)
    op: Literal["setpoint"] = "setpoint"
    target: str = Field(json_schema_extra=_ELEMENT)
    parameter: str = Field(json_schema_extra={"x-twin": "setpoint"})
    value: float = _number("value")
    unit: str | None = Field(default=None, json_schema_extra=_UNIT)
    at: float | None = _number("start", default=None, ge=0)
    at_unit: TimeUnit | None = None


CHANGE_TYPES: tuple[type[_Change], ...] = (
    OutageChange,
    SetChange,
    PercentChange,
    ScaleChange,
    AddChange,
    DemandChange,
    DemandScaleChange,
    ForbidChange,
    RemoveChange,
    OnlyChange,
    ExclusiveChange,
    ArrivalChange,
    SetpointChange,
)

Change = Annotated[
    OutageChange
    | SetChange
    | PercentChange
    | ScaleChange
    | AddChange
    | DemandChange
    | DemandScaleChange
    | ForbidChange
    | RemoveChange
    | OnlyChange
    | ExclusiveChange
    | ArrivalChange
    | SetpointChange,
    Field(discriminator="op"),
]

DeclineReason = Literal[
    "not_about_this_twin",
    "unknown_entity",
    "not_modelled",
    "outside_physical_limits",
    "ambiguous",
    "unclear",
]
DECLINE_REASONS: tuple[str, ...] = DeclineReason.__args__  # type: ignore[attr-defined]

#: what each decline reason says to a person (the specific detail is added by the code that
#: found it: the unknown name, the quantity, the bound, the candidates)
DECLINE_TEXT = {
    "not_about_this_twin": "the question is not about this twin",
    "unknown_entity": "the question names something the twin does not have",
    "not_modelled": "the twin does not model what the question asks about",
    "outside_physical_limits": "the question asks for a value outside the twin's physical limits",
    "ambiguous": "the question could mean more than one thing in this twin",
    "unclear": "the question is not clear enough to map onto the twin",
}


class WhatIfPlan(BaseModel):
    """One or more changes, run against the baseline."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["what_if"] = "what_if"
    changes: list[Change] = Field(min_length=1, max_length=4)


class ComparePlan(BaseModel):
    """Two options, each one or more changes, run against the same baseline."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["compare"] = "compare"
    first: list[Change] = Field(min_length=1, max_length=3)
    second: list[Change] = Field(min_length=1, max_length=3)


class WhyPlan(BaseModel):
    """Why is X used / why is X the bottleneck / why do we ship from S to T: answered by a
    counterfactual on X (or on the lane S->T)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["why"] = "why"
    source: str | None = Field(
        default=None,
        description="For a lane: why do we ship from source to target",
        json_schema_extra={"x-twin": "lane-source"},
    )
    target: str = _node()


class StatusPlan(BaseModel):
    """A question about the twin's own data: a parameter, or a state variable (live when a
    state is connected)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["status"] = "status"
    target: str = Field(json_schema_extra=_ELEMENT)
    quantity: str = Field(json_schema_extra={"x-twin": "quantity"})
    product: str | None = Field(default=None, json_schema_extra=_PRODUCT)


class KeepPlan(BaseModel):
    """Keep a state of a node within a band ("keep the tower between 40 and 60 %"): answered by a
    controller proposal that the control guard judges in closed loop (nominal and stress
    scenarios). Values are in the state's catalogue unit."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["keep"] = "keep"
    target: str = _node()
    quantity: str = Field(json_schema_extra={"x-twin": "quantity"})
    min: float | None = Field(default=None, description="Lower edge of the band")
    max: float | None = Field(default=None, description="Upper edge of the band")


class DeclinePlan(BaseModel):
    """The twin cannot answer the question (the reason is specific; the detail comes from code)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["decline"] = "decline"
    reason: DeclineReason


Plan = Annotated[
    WhatIfPlan | ComparePlan | WhyPlan | StatusPlan | KeepPlan | DeclinePlan, Field(discriminator="kind")
]
PLAN_TYPES: tuple[type[BaseModel], ...] = (
    WhatIfPlan,
    ComparePlan,
    WhyPlan,
    StatusPlan,
    KeepPlan,
    DeclinePlan,
)
PLAN_KINDS: tuple[str, ...] = ("what_if", "compare", "why", "status", "keep", "decline")


class PlanEnvelope(BaseModel):
    """Wrapper so a plan can be validated from plain data."""

    plan: Plan


def changes_of(plan: Any) -> list[Any]:
    """Every change of a plan (both options of a comparison)."""
    if isinstance(plan, WhatIfPlan):
        return list(plan.changes)
    if isinstance(plan, ComparePlan):
        return [*plan.first, *plan.second]
    return []
