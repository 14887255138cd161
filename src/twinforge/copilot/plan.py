"""The question plan: what a language model fills in when it reads a question about a twin.

A plan is deliberately closer to the words of a question than the scenario language is: "down
for 4 hours" is ``{"op": "outage", "duration": 4, "unit": "h"}``, "20% more demand" is
``{"op": "demand", "direction": "increase", "percent": 20}``. A small model copies entities and
numbers from the question into typed slots; :func:`compile_changes` turns the plan into scenario
interventions with the arithmetic done by code, never by the model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from twinforge.scenario import (
    Exclusive,
    ForbidFlow,
    Intervention,
    Outage,
    RemoveNode,
    RestrictPartners,
    ScaleDemand,
    ScaleParameter,
    SetArrivalRate,
    SetParameter,
    Setpoint,
)

TimeUnit = Literal["s", "min", "h", "day"]
_TIME_UNITS = {"s": "s", "min": "min", "h": "h", "day": "day"}


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutageChange(_Change):
    """A node is down (broken, stopped, unavailable) for a while."""

    op: Literal["outage"] = "outage"
    target: str
    duration: float = Field(gt=0)
    unit: TimeUnit = "h"
    start: float | None = Field(
        default=None, ge=0, description="When it goes down, from the start of the run"
    )
    start_unit: TimeUnit | None = None


class SetChange(_Change):
    """A parameter takes a new value."""

    op: Literal["set"] = "set"
    target: str
    parameter: str
    value: float
    unit: str | None = None
    product: str | None = None


class PercentChange(_Change):
    """A parameter goes up or down by a percentage."""

    op: Literal["change"] = "change"
    target: str
    parameter: str
    direction: Literal["increase", "decrease"]
    percent: float = Field(gt=0)
    product: str | None = None


class ScaleChange(_Change):
    """A parameter is multiplied by a factor ("double", "halve")."""

    op: Literal["scale"] = "scale"
    target: str
    parameter: str
    factor: float = Field(gt=0)
    product: str | None = None


class DemandChange(_Change):
    """Customer demand goes up or down by a percentage (all customers or one, all products or one)."""

    op: Literal["demand"] = "demand"
    direction: Literal["increase", "decrease"]
    percent: float = Field(gt=0)
    product: str | None = None
    customer: str | None = None


class ForbidChange(_Change):
    """No flow from one node to another (optionally for one product)."""

    op: Literal["forbid"] = "forbid"
    source: str
    target: str
    product: str | None = None


class RemoveChange(_Change):
    """A node is gone (closed, lost, unavailable for the whole plan)."""

    op: Literal["remove"] = "remove"
    target: str


class OnlyChange(_Change):
    """A node only ships to, or only buys from, the listed partners."""

    op: Literal["only"] = "only"
    direction: Literal["serve_only", "buy_only"]
    target: str
    partners: list[str] = Field(min_length=1)


class ExclusiveChange(_Change):
    """Use one of two nodes, not both."""

    op: Literal["exclusive"] = "exclusive"
    first: str
    second: str


class ArrivalChange(_Change):
    """Arrivals at a source per unit time."""

    op: Literal["arrivals"] = "arrivals"
    target: str
    rate: float = Field(gt=0)
    unit: Literal["1/min", "1/h", "1/day", "item/min", "item/h", "item/day"] = "1/h"


class SetpointChange(_Change):
    """A control setpoint changes (valve opening, pump or machine speed), optionally at a time."""

    op: Literal["setpoint"] = "setpoint"
    target: str
    parameter: str
    value: float
    unit: str | None = None
    at: float | None = Field(default=None, ge=0)
    at_unit: TimeUnit | None = None


Change = Annotated[
    OutageChange
    | SetChange
    | PercentChange
    | ScaleChange
    | DemandChange
    | ForbidChange
    | RemoveChange
    | OnlyChange
    | ExclusiveChange
    | ArrivalChange
    | SetpointChange,
    Field(discriminator="op"),
]

DECLINE_REASONS = (
    "not_about_this_twin",
    "unknown_entity",
    "not_modelled",
    "outside_physical_limits",
    "unclear",
)


class WhatIfPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["what_if"] = "what_if"
    changes: list[Change] = Field(min_length=1, max_length=4)


class ComparePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["compare"] = "compare"
    first: list[Change] = Field(min_length=1, max_length=3)
    second: list[Change] = Field(min_length=1, max_length=3)


class WhyPlan(BaseModel):
    """Why is X used / why is X the bottleneck / why do we ship from S to T: answered by a
    counterfactual on X (or on the lane S->T)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["why"] = "why"
    source: str | None = Field(default=None, description="For a lane: why do we ship from source to target")
    target: str


class StatusPlan(BaseModel):
    """A question about the twin's own data (a parameter or the current state)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["status"] = "status"
    target: str
    quantity: str
    product: str | None = None


class DeclinePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["decline"] = "decline"
    reason: Literal[
        "not_about_this_twin",
        "unknown_entity",
        "not_modelled",
        "outside_physical_limits",
        "unclear",
    ]


Plan = Annotated[WhatIfPlan | ComparePlan | WhyPlan | StatusPlan | DeclinePlan, Field(discriminator="kind")]


class PlanEnvelope(BaseModel):
    """Wrapper so a plan can be validated from plain data."""

    plan: Plan


def _seconds(value: float, unit: str | None) -> str:
    return f"{value:g} {_TIME_UNITS[unit or 'h']}"


def compile_change(change: Change, twin_edges: dict[tuple[str, str], str]) -> list[Intervention]:
    """Turn one plan change into scenario interventions (the arithmetic is done here)."""
    match change:
        case OutageChange():
            start = _seconds(change.start, change.start_unit) if change.start is not None else 0.0
            return [
                Outage(target=change.target, duration=_seconds(change.duration, change.unit), start=start)
            ]
        case SetChange():
            return [
                SetParameter(
                    target=change.target,
                    parameter=change.parameter,
                    value=change.value,
                    unit=change.unit,
                    product=change.product,
                )
            ]
        case PercentChange():
            sign = 1 if change.direction == "increase" else -1
            factor = 1 + sign * change.percent / 100
            return [
                ScaleParameter(
                    target=change.target,
                    parameter=change.parameter,
                    factor=max(factor, 0.0),
                    product=change.product,
                )
            ]
        case ScaleChange():
            return [
                ScaleParameter(
                    target=change.target,
                    parameter=change.parameter,
                    factor=change.factor,
                    product=change.product,
                )
            ]
        case DemandChange():
            sign = 1 if change.direction == "increase" else -1
            return [
                ScaleDemand(
                    factor=max(1 + sign * change.percent / 100, 0.0),
                    product=change.product,
                    targets=[change.customer] if change.customer else None,
                )
            ]
        case ForbidChange():
            key = twin_edges.get((change.source, change.target), f"{change.source}->{change.target}")
            return [ForbidFlow(edge=key, product=change.product)]
        case RemoveChange():
            return [RemoveNode(target=change.target)]
        case OnlyChange():
            return [
                RestrictPartners(target=change.target, partners=change.partners, direction=change.direction)
            ]
        case ExclusiveChange():
            return [Exclusive(nodes=(change.first, change.second))]
        case ArrivalChange():
            return [SetArrivalRate(target=change.target, rate=change.rate, unit=change.unit)]
        case SetpointChange():
            at = _seconds(change.at, change.at_unit) if change.at is not None else 0.0
            return [
                Setpoint(
                    target=change.target,
                    parameter=change.parameter,
                    value=change.value,
                    unit=change.unit,
                    at=at,
                )
            ]
    raise TypeError(f"unknown change {change!r}")  # pragma: no cover


def compile_changes(changes: list[Change], twin_edges: dict[tuple[str, str], str]) -> list[Intervention]:
    out: list[Intervention] = []
    for c in changes:
        out.extend(compile_change(c, twin_edges))
    return out
