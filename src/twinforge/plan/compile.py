"""Plan changes -> scenario interventions. The arithmetic of a question lives here, in code:

- "by p%": a factor ``1 ± p/100``; a decrease of 100% or more is impossible (nothing would be left);
- "p% faster / slower": for a quantity measured as a time (process, transport, inter-arrival,
  repair time) the *rate* changes, so the time is divided by ``1 ± p/100``; for a rate or a speed
  the quantity itself is multiplied by ``1 ± p/100``;
- "N more / N fewer": today's value (read from the twin, in the unit written) ± N, set as the
  new value; the parameter must have one value (not one per product unless the product is named);
- "to N %" of a fraction is the fraction N/100 (the unit ``%`` converts);
- times are written with their unit and converted to seconds by the scenario language.
"""

from __future__ import annotations

from typing import Any

from twinforge.errors import TwinforgeError
from twinforge.plan.models import (
    AddChange,
    ArrivalChange,
    DemandChange,
    DemandScaleChange,
    ExclusiveChange,
    ForbidChange,
    OnlyChange,
    OutageChange,
    PercentChange,
    RemoveChange,
    ScaleChange,
    SetChange,
    SetpointChange,
)
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
from twinforge.spec import units
from twinforge.spec.models import TwinSpec


class PlanError(TwinforgeError):
    """A plan that cannot be turned into interventions; ``reason`` is a decline reason."""

    def __init__(self, message: str, reason: str = "outside_physical_limits") -> None:
        super().__init__(message)
        self.reason = reason


def _time(value: float, unit: str | None) -> str:
    return f"{value:g} {unit or 'h'}"


def is_time(twin: TwinSpec, target: str, parameter: str) -> bool:
    """Whether a parameter is measured as a time (so "faster" shortens it)."""
    try:
        unit = twin.param_unit(target, parameter)
    except Exception:
        return False
    return units.compatible(unit, "s")


def percent_factor(twin: TwinSpec, change: PercentChange) -> float:
    """The factor a percentage change multiplies its parameter by."""
    p = change.percent / 100.0
    if change.direction in ("faster", "slower"):
        if is_time(twin, change.target, change.parameter):
            if change.direction == "slower" and p >= 1:
                raise PlanError(f"{change.percent:g}% slower would leave no rate at all")
            return 1.0 / (1.0 + p) if change.direction == "faster" else 1.0 / (1.0 - p)
        p = p if change.direction == "faster" else -p
        if p <= -1:
            raise PlanError(f"{change.percent:g}% slower would leave no rate at all")
        return 1.0 + p
    if change.direction == "decrease" and p >= 1:
        raise PlanError(
            f"a decrease of {change.percent:g}% would leave nothing (or less than nothing) of "
            f"{change.parameter} of {change.target}"
        )
    return 1.0 + p if change.direction == "increase" else 1.0 - p


def _added(twin: TwinSpec, change: AddChange) -> SetParameter:
    try:
        current = twin.get(change.target, change.parameter, unit=change.unit, product=change.product)
    except TwinforgeError as exc:
        raise PlanError(
            f"cannot read today's {change.parameter} of {change.target}: {exc}", "unclear"
        ) from None
    value = current + change.amount if change.direction == "increase" else current - change.amount
    if value < 0:
        raise PlanError(
            f"{change.parameter} of {change.target} is {current:g}; {change.amount:g} less would be negative"
        )
    return SetParameter(
        target=change.target,
        parameter=change.parameter,
        value=value,
        unit=change.unit,
        product=change.product,
    )


def _demand_factor(change: DemandChange) -> float:
    p = change.percent / 100.0
    if change.direction == "decrease" and p >= 1:
        raise PlanError(f"a decrease of {change.percent:g}% would leave no demand (or less than none)")
    return 1.0 + p if change.direction == "increase" else 1.0 - p


def edge_key(twin: TwinSpec, source: str, target: str) -> str:
    """The key of the edge from ``source`` to ``target`` (``source->target`` when absent)."""
    edges = twin.edges_between(source, target)
    return edges[0].key if edges else f"{source}->{target}"


def compile_change(change: Any, twin: TwinSpec) -> list[Intervention]:
    """Turn one plan change into scenario interventions (the arithmetic is done here)."""
    match change:
        case OutageChange():
            start = _time(change.start, change.start_unit) if change.start is not None else 0.0
            return [Outage(target=change.target, duration=_time(change.duration, change.unit), start=start)]
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
            return [
                ScaleParameter(
                    target=change.target,
                    parameter=change.parameter,
                    factor=percent_factor(twin, change),
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
        case AddChange():
            return [_added(twin, change)]
        case DemandChange() | DemandScaleChange():
            factor = change.factor if isinstance(change, DemandScaleChange) else _demand_factor(change)
            return [
                ScaleDemand(
                    factor=factor,
                    product=change.product,
                    targets=[change.customer] if change.customer else None,
                )
            ]
        case ForbidChange():
            return [ForbidFlow(edge=edge_key(twin, change.source, change.target), product=change.product)]
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
            if not change.at:  # a setpoint from the start is just a new value
                return [
                    SetParameter(
                        target=change.target, parameter=change.parameter, value=change.value, unit=change.unit
                    )
                ]
            at = _time(change.at, change.at_unit)
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


def compile_changes(changes: list[Any], twin: TwinSpec) -> list[Intervention]:
    out: list[Intervention] = []
    for c in changes:
        out.extend(compile_change(c, twin))
    return out
