"""The scenario language: a base twin plus a list of typed interventions.

This is the language that people, scripts and the LLM use to ask "what if". It is small, typed and
serialisable: every intervention is pydantic data discriminated by ``op``. Meaning is checked
against a twin by :func:`twinforge.scenario.validate_scenario`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from twinforge.errors import UnitError
from twinforge.spec import units
from twinforge.spec.models import ID_PATTERN, Edge


def _to_seconds(v: Any) -> Any:
    """Accept seconds, a quantity string (``"4 h"``) or ``{value, unit}``; store seconds."""
    if isinstance(v, bool):
        raise ValueError("a time must be a number of seconds or a quantity such as '4 h'")
    if isinstance(v, int | float):
        return float(v)
    try:
        if isinstance(v, str):
            value, unit = units.parse_quantity(v)
            return units.convert(value, unit or "s", "s")
        if isinstance(v, dict) and set(v) <= {"value", "unit"} and "value" in v:
            return units.convert(float(v["value"]), v.get("unit") or "s", "s")
    except (UnitError, TypeError, ValueError) as exc:
        raise ValueError(f"not a time: {exc}") from None
    return v


Seconds = Annotated[
    float,
    BeforeValidator(_to_seconds),
    Field(ge=0, allow_inf_nan=False, description="seconds, or a quantity such as '4 h'"),
]

#: Largest factor of ``scale_parameter`` and ``scale_demand`` (a million times the current value).
MAX_FACTOR = 1e6

Factor = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_FACTOR,
        allow_inf_nan=False,
        description="multiplier: 1.2 is +20 %; 0 only where the parameter may be zero",
    ),
]


class _Intervention(BaseModel):
    # every number of an intervention is finite: inf and NaN are refused when the scenario is read
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    note: str | None = Field(default=None, description="Why this intervention (free text)")

    def describe(self) -> str:
        raise NotImplementedError


def _fmt_s(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g} {unit}"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds:g} s"


class SetParameter(_Intervention):
    """Set a parameter of a node or edge to a value."""

    op: Literal["set_parameter"] = "set_parameter"
    target: str = Field(description="Node id, or edge id / 'source->target'")
    parameter: str
    value: float
    unit: str | None = Field(default=None, description="Unit of value; default: the catalogue unit")
    product: str | None = Field(default=None, description="Only this product's value")

    def describe(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        p = f" for {self.product}" if self.product else ""
        return f"set {self.target}.{self.parameter}{p} to {self.value:g}{u}"


class ScaleParameter(_Intervention):
    """Multiply a parameter (value, distribution, per-product values) by a factor."""

    op: Literal["scale_parameter"] = "scale_parameter"
    target: str
    parameter: str
    factor: Factor
    product: str | None = None

    def describe(self) -> str:
        p = f" for {self.product}" if self.product else ""
        return f"scale {self.target}.{self.parameter}{p} by {self.factor:g} ({(self.factor - 1) * 100:+.0f}%)"


class Outage(_Intervention):
    """Take a node down for an interval (simulation); in a daily flow plan the node loses the
    share duration/planning period of its capacity."""

    op: Literal["outage"] = "outage"
    target: str
    start: Seconds = 0.0
    duration: Seconds

    def describe(self) -> str:
        when = "from the start" if self.start == 0 else f"from t={_fmt_s(self.start)}"
        return f"{self.target} down for {_fmt_s(self.duration)} {when}"


class RemoveNode(_Intervention):
    """Remove a node and every edge touching it."""

    op: Literal["remove_node"] = "remove_node"
    target: str

    def describe(self) -> str:
        return f"{self.target} removed (unavailable)"


class AddEdge(_Intervention):
    op: Literal["add_edge"] = "add_edge"
    edge: Edge

    def describe(self) -> str:
        return f"add {self.edge.kind} edge {self.edge.key}"


class RemoveEdge(_Intervention):
    op: Literal["remove_edge"] = "remove_edge"
    target: str = Field(description="Edge id or 'source->target'")

    def describe(self) -> str:
        return f"remove edge {self.target}"


class SetArrivalRate(_Intervention):
    """Arrivals per unit time at a source (sets its mean inter-arrival time, keeping the shape)."""

    op: Literal["set_arrival_rate"] = "set_arrival_rate"
    target: str
    rate: float = Field(gt=0)
    unit: str = Field(default="1/h", description="Arrivals per time ('1/h') or items per time ('item/h')")

    def describe(self) -> str:
        return f"arrival rate at {self.target} set to {self.rate:g} {self.unit}"


class Setpoint(_Intervention):
    """Change a control setpoint (a parameter flagged as setpoint) at time ``at``."""

    op: Literal["setpoint"] = "setpoint"
    target: str
    parameter: str
    value: float
    unit: str | None = None
    at: Seconds = 0.0

    def describe(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        return f"setpoint {self.target}.{self.parameter} = {self.value:g}{u} at t={_fmt_s(self.at)}"


class ScaleDemand(_Intervention):
    """Scale customer demand: all customers or some, all products or one."""

    op: Literal["scale_demand"] = "scale_demand"
    factor: Factor
    product: str | None = None
    targets: list[str] | None = Field(default=None, description="Customers (default: all)")

    def describe(self) -> str:
        who = ", ".join(self.targets) if self.targets else "all customers"
        what = f" of {self.product}" if self.product else ""
        return f"demand{what} at {who} scaled by {self.factor:g} ({(self.factor - 1) * 100:+.0f}%)"


class ForbidFlow(_Intervention):
    """No flow on an edge (optionally for one product only)."""

    op: Literal["forbid_flow"] = "forbid_flow"
    edge: str = Field(description="Edge id or 'source->target'")
    product: str | None = None

    def describe(self) -> str:
        return f"no flow on {self.edge}" + (f" for {self.product}" if self.product else "")


class RestrictPartners(_Intervention):
    """A node may only ship to (``serve_only``) or only receive from (``buy_only``) the given partners."""

    op: Literal["restrict_partners"] = "restrict_partners"
    target: str
    partners: list[str] = Field(min_length=1)
    direction: Literal["serve_only", "buy_only"]

    def describe(self) -> str:
        verb = "ships only to" if self.direction == "serve_only" else "buys only from"
        return f"{self.target} {verb} {', '.join(self.partners)}"


class Exclusive(_Intervention):
    """At most one of two nodes may be used (carry any flow)."""

    op: Literal["exclusive"] = "exclusive"
    nodes: tuple[str, str]

    def describe(self) -> str:
        return f"use {self.nodes[0]} or {self.nodes[1]}, not both"


Intervention = Annotated[
    SetParameter
    | ScaleParameter
    | Outage
    | RemoveNode
    | AddEdge
    | RemoveEdge
    | SetArrivalRate
    | Setpoint
    | ScaleDemand
    | ForbidFlow
    | RestrictPartners
    | Exclusive,
    Field(discriminator="op"),
]

INTERVENTION_OPS = (
    "set_parameter",
    "scale_parameter",
    "outage",
    "remove_node",
    "add_edge",
    "remove_edge",
    "set_arrival_rate",
    "setpoint",
    "scale_demand",
    "forbid_flow",
    "restrict_partners",
    "exclusive",
)

#: Interventions that change the twin itself (applied before a run).
STATIC_OPS = {
    "set_parameter",
    "scale_parameter",
    "remove_node",
    "add_edge",
    "remove_edge",
    "set_arrival_rate",
    "scale_demand",
}
#: Interventions that happen at a time during a simulation.
TIMED_OPS = {"outage", "setpoint"}
#: Interventions that constrain decisions in optimisation.
CONSTRAINT_OPS = {"forbid_flow", "restrict_partners", "exclusive"}


class Scenario(BaseModel):
    """A named list of interventions on a base twin."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: Literal[1] = Field(default=1, alias="scenario", description="Scenario format version")
    name: str = Field(pattern=ID_PATTERN.replace("\\-]*$", "\\-.]*$"))
    description: str | None = None
    twin: str | None = Field(default=None, description="Name of the twin this scenario was written for")
    interventions: list[Intervention] = Field(default_factory=list)

    def describe(self) -> list[str]:
        return [i.describe() for i in self.interventions]
