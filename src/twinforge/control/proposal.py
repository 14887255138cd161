"""Control proposals: setpoint changes over time, or a controller in Python (see docs/guard.md).

A proposal is typed data (pydantic), discriminated by ``proposal``. Setpoint changes are the
scenario language's :class:`~twinforge.scenario.models.Setpoint`; actuators and observed states
are checked against the catalogue (a parameter must be a setpoint of its kind, a state must be a
state of its kind) by :func:`proposal_problems`.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from twinforge.errors import Issue, SpecError
from twinforge.scenario.models import Seconds, Setpoint
from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import TwinSpec

DEFAULT_HORIZON = 24 * 3600.0
MAX_HORIZON = 30 * 86400.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Range(_Model):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> _Range:
        what = getattr(self, "signal", None) or getattr(self, "kpi", "a value")
        _check_range(self.min, self.max, what)
        return self


class SignalLimit(_Range):
    """A state of a node kept between ``min`` and ``max`` (in the state's catalogue unit)."""

    signal: str = Field(description="node.state, e.g. tower.level")


class KpiLimit(_Range):
    """A KPI of the run (as ``twinforge simulate`` names it) kept between ``min`` and ``max``."""

    kpi: str = Field(description="e.g. energy, tower.mean_level, packer.throughput")


class SwitchingLimit(_Model):
    """How often a setpoint may change, per hour of the run."""

    switching: str = Field(description="node.parameter, e.g. duty_pump.speed")
    max_per_hour: float = Field(ge=0)


Limit = SignalLimit | KpiLimit | SwitchingLimit


def _check_range(lo: float | None, hi: float | None, what: str) -> None:
    if lo is None and hi is None:
        raise ValueError(f"a limit on {what} needs min or max")
    for v in (lo, hi):
        if v is not None and not math.isfinite(v):
            raise ValueError(f"a limit on {what} must be finite")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"a limit on {what} has min {lo:g} above max {hi:g}")


class Bounds(_Model):
    min: float | None = None
    max: float | None = None


class _Proposal(_Model):
    name: str = "proposal"
    description: str | None = None
    limits: list[Limit] = Field(default_factory=list)
    horizon: Seconds = DEFAULT_HORIZON
    expect: dict[str, Any] | None = Field(default=None, description="Ignored (evaluation labels)")

    @model_validator(mode="after")
    def _horizon(self) -> _Proposal:
        if not 0 < self.horizon <= MAX_HORIZON:
            raise ValueError(f"horizon must be above 0 and at most {MAX_HORIZON / 86400:g} days")
        return self


class SetpointProposal(_Proposal):
    """Setpoint changes at given times."""

    proposal: Literal["setpoints"] = "setpoints"
    setpoints: list[Setpoint] = Field(min_length=1)

    def actuated(self) -> list[str]:
        return list(dict.fromkeys(f"{s.target}.{s.parameter}" for s in self.setpoints))


class ControllerProposal(_Proposal):
    """A function ``control(obs, memory) -> {node.parameter: value}`` called every ``period``."""

    proposal: Literal["controller"] = "controller"
    observe: list[str] = Field(default_factory=list, description="node.state the function reads")
    actuate: dict[str, Bounds] = Field(min_length=1, description="node.parameter it may write")
    period: Seconds = 60.0
    code: str = Field(max_length=100_000)

    @model_validator(mode="before")
    @classmethod
    def _empty_bounds(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("actuate"), dict):
            data = {**data, "actuate": {k: v if v is not None else {} for k, v in data["actuate"].items()}}
        return data

    @model_validator(mode="after")
    def _period(self) -> ControllerProposal:
        if not 1.0 <= self.period <= self.horizon:
            raise ValueError("period must be at least 1 s and at most the horizon")
        return self

    def actuated(self) -> list[str]:
        return list(self.actuate)


class ScheduleBlock(_Model):
    """A parameter held at ``value`` from ``start`` until ``end`` (then back to the twin's value)."""

    target: str
    parameter: str
    value: float
    unit: str | None = None
    start: Seconds = 0.0
    end: Seconds | None = Field(default=None, description="Default: to the end of the run")

    @model_validator(mode="after")
    def _window(self) -> ScheduleBlock:
        if not math.isfinite(self.value):
            raise ValueError(f"{self.target}.{self.parameter}: the value must be finite")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"{self.target}.{self.parameter}: the block ends before it starts")
        return self


class ScheduleProposal(_Proposal):
    """A timetable: parameter values held over time windows (pump on/off hours, a speed plan),
    optionally repeated every ``repeat`` (e.g. 24 h). The guard runs it as the setpoint changes
    it means (:func:`twinforge.control.guard.schedule_setpoints`)."""

    proposal: Literal["schedule"] = "schedule"
    blocks: list[ScheduleBlock] = Field(min_length=1, max_length=1000)
    repeat: Seconds | None = Field(default=None, description="Repeat the timetable every this long")

    @model_validator(mode="after")
    def _no_overlap(self) -> ScheduleProposal:
        if self.repeat is not None and self.repeat <= 0:
            raise ValueError("repeat must be above 0")
        by: dict[str, list[ScheduleBlock]] = {}
        for b in self.blocks:
            by.setdefault(f"{b.target}.{b.parameter}", []).append(b)
        for ref, blocks in by.items():
            blocks = sorted(blocks, key=lambda b: b.start)
            for a, b in itertools.pairwise(blocks):
                if a.end is None or a.end > b.start:
                    raise ValueError(
                        f"{ref}: blocks overlap (one from {a.start:g} s, one from {b.start:g} s)"
                    )
            if self.repeat is not None and (blocks[-1].end or math.inf) > blocks[0].start + self.repeat:
                raise ValueError(f"{ref}: the timetable is longer than its repeat period")
        return self

    def actuated(self) -> list[str]:
        return list(dict.fromkeys(f"{b.target}.{b.parameter}" for b in self.blocks))


Proposal = Annotated[
    SetpointProposal | ControllerProposal | ScheduleProposal, Field(discriminator="proposal")
]
_PROPOSAL: TypeAdapter[Any] = TypeAdapter(Proposal)


def parse_proposal(
    data: Any, file: str = "<proposal>"
) -> SetpointProposal | ControllerProposal | ScheduleProposal:
    """A proposal from plain data; every problem is reported with its field path."""
    if not isinstance(data, dict) or data.get("proposal") not in ("setpoints", "controller", "schedule"):
        raise SpecError(
            [
                Issue(
                    message="a proposal is a mapping with proposal: setpoints, controller or schedule",
                    file=file,
                )
            ],
            summary="not a proposal",
        )
    try:
        return _PROPOSAL.validate_python(data)
    except ValidationError as exc:
        issues = [
            Issue(
                message=err["msg"],
                file=file,
                path=tuple(
                    p
                    for p in err["loc"]
                    if p not in ("setpoints", "controller", "schedule") or len(err["loc"]) == 1
                ),
            )
            for err in exc.errors()
        ]
        raise SpecError(issues, summary="invalid proposal") from None


def load_proposal(path: str | Path) -> SetpointProposal | ControllerProposal | ScheduleProposal:
    """A proposal file, read through the bounded loader (size, binary, nesting, aliases, tags)."""
    from twinforge.inputs import read_yaml

    return parse_proposal(read_yaml(path, what="proposal"), file=str(path))


def _split(ref: str) -> tuple[str, str]:
    node, dot, name = ref.partition(".")
    return node, name if dot else ""


def proposal_problems(twin: TwinSpec, p: SetpointProposal | ControllerProposal) -> list[str]:
    """What in the proposal does not fit the twin: unknown nodes, parameters that are not setpoints,
    states the kind does not have, values outside the catalogue's bounds, times beyond the horizon."""
    out: list[str] = []

    def node_kind(node: str, where: str) -> str | None:
        if not twin.has_node(node):
            out.append(f"{where}: the twin has no node {node!r}")
            return None
        return twin.node(node).kind

    def setpoint_bounds(ref: str, where: str) -> tuple[float, float] | None:
        node, name = _split(ref)
        kind = node_kind(node, where)
        if kind is None:
            return None
        pdef = CATALOG[kind].params.get(name) if kind in CATALOG else None
        if pdef is None or not pdef.setpoint:
            settable = [n for n, d in CATALOG[kind].params.items() if d.setpoint] if kind in CATALOG else []
            out.append(
                f"{where}: {name!r} is not a setpoint of a {kind}"
                + (f" (setpoints: {', '.join(settable)})" if settable else " (it has no setpoints)")
            )
            return None
        lo, hi = pdef.bounds if pdef.bounds is not None else (-math.inf, math.inf)
        return float(lo), float(hi)

    def state_ok(ref: str, where: str) -> None:
        node, name = _split(ref)
        kind = node_kind(node, where)
        if kind is not None and kind in CATALOG and name not in CATALOG[kind].states:
            out.append(f"{where}: a {kind} has no state {name!r} (states: {', '.join(CATALOG[kind].states)})")

    if isinstance(p, SetpointProposal):
        for i, s in enumerate(p.setpoints):
            where = f"setpoints[{i}]"
            b = setpoint_bounds(f"{s.target}.{s.parameter}", where)
            if b is not None and s.unit is None and not b[0] <= s.value <= b[1]:
                out.append(f"{where}: {s.target}.{s.parameter} = {s.value:g} is outside [{b[0]:g}, {b[1]:g}]")
            if s.at > p.horizon:
                out.append(f"{where}: at {s.at / 3600:g} h is beyond the horizon ({p.horizon / 3600:g} h)")
    else:
        for ref, bounds in p.actuate.items():
            b = setpoint_bounds(ref, f"actuate.{ref}")
            if b is not None:
                lo = bounds.min if bounds.min is not None else b[0]
                hi = bounds.max if bounds.max is not None else b[1]
                if not (b[0] <= lo <= hi <= b[1]):
                    out.append(
                        f"actuate.{ref}: bounds [{lo:g}, {hi:g}] are not within the catalogue's [{b[0]:g}, {b[1]:g}]"
                    )
        for ref in p.observe:
            state_ok(ref, f"observe.{ref}")
    for i, lim in enumerate(p.limits):
        if isinstance(lim, SignalLimit):
            state_ok(lim.signal, f"limits[{i}]")
        elif isinstance(lim, SwitchingLimit) and lim.switching not in p.actuated():
            out.append(f"limits[{i}]: {lim.switching!r} is not a setpoint the proposal changes")
    return out


__all__ = [
    "ControllerProposal",
    "KpiLimit",
    "Limit",
    "Proposal",
    "SetpointProposal",
    "SignalLimit",
    "SwitchingLimit",
    "load_proposal",
    "parse_proposal",
    "proposal_problems",
]
