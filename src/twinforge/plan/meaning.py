"""What a plan means: its effect on the twin, comparable across ways of saying the same thing.

Two lists of interventions mean the same when they leave the twin with the same parameter values
(converted to the catalogue's units, distributions included), the same nodes and edges, the same
timed events (outages, setpoints — a setpoint at time zero is just a new value) and the same
constraints on the plan (closed lanes, partner restrictions, exclusive choices). So "scale the
process time by 1/1.2" equals "20% faster", "demand of lager at Berlin × 1.1" equals "scale
C_berlin.demand[lager] by 1.1", and "set capacity to 700" equals "add 100 to 600".

:func:`effect` computes it; :func:`same_effect` compares two effects with a relative tolerance
(labels are written with a few decimals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from twinforge.scenario import Scenario, SetParameter, Setpoint, apply_scenario
from twinforge.spec.models import TwinSpec

REL_TOL = 1e-4


@dataclass
class Effect:
    """The canonical effect of interventions on a twin."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)  # (element, parameter) -> new value
    removed: frozenset[str] = frozenset()  # nodes and edges no longer in the twin
    added: frozenset[str] = frozenset()
    timed: list[tuple[Any, ...]] = field(default_factory=list)
    constraints: list[tuple[Any, ...]] = field(default_factory=list)

    def describe(self) -> list[str]:
        out = [f"{el}.{p} = {v}" for (el, p), v in sorted(self.values.items())]
        out += [f"removed {x}" for x in sorted(self.removed)] + [f"added {x}" for x in sorted(self.added)]
        out += [" ".join(str(x) for x in t) for t in self.timed + self.constraints]
        return out


def _rounded(x: Any) -> Any:
    if isinstance(x, float):
        return 0.0 if x == 0 else float(f"{x:.9g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items() if v is not None}
    if isinstance(x, list | tuple):
        return [_rounded(v) for v in x]
    return x


def _parameters(twin: TwinSpec) -> dict[tuple[str, str], Any]:
    out = {}
    refs = [(n.id, n) for n in twin.nodes] + [(e.key, e) for e in twin.edges]
    for ref, el in refs:
        for name, p in el.parameters.items():
            out[(ref, name)] = _rounded(p.model_dump(mode="json", exclude_none=True))
    return out


def effect(twin: TwinSpec, interventions: list[Any]) -> Effect:
    """The effect of ``interventions`` on ``twin`` (they must validate: see the scenario language)."""
    ivs = [
        SetParameter(target=iv.target, parameter=iv.parameter, value=iv.value, unit=iv.unit)
        if isinstance(iv, Setpoint) and iv.at == 0
        else iv
        for iv in interventions
    ]
    applied = apply_scenario(twin, Scenario(name="meaning", interventions=ivs))
    before, after = _parameters(twin), _parameters(applied.twin)
    values = {k: v for k, v in after.items() if before.get(k) != v}
    ids_before = {n.id for n in twin.nodes} | {e.key for e in twin.edges}
    ids_after = {n.id for n in applied.twin.nodes} | {e.key for e in applied.twin.edges}
    timed = []
    for iv in applied.timed:
        data = iv.model_dump(mode="json", exclude={"note"})
        if data.get("op") == "setpoint":
            from twinforge.spec import units

            unit = twin.param_unit(iv.target, iv.parameter)
            data["value"] = units.convert(iv.value, iv.unit or unit, unit)
            data.pop("unit", None)
        timed.append(tuple(sorted((k, _rounded(v)) for k, v in data.items())))
    constraints = []
    for c in applied.constraints:
        data = c.model_dump(mode="json", exclude={"note"})
        for key in ("partners", "nodes"):
            if key in data:
                data[key] = sorted(data[key])
        constraints.append(tuple(sorted((k, str(v)) for k, v in data.items())))
    return Effect(
        values=values,
        removed=frozenset(ids_before - ids_after),
        added=frozenset(ids_after - ids_before),
        timed=sorted(timed, key=str),
        constraints=sorted(constraints, key=str),
    )


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def same_effect(a: Effect, b: Effect) -> bool:
    """Whether two effects are the same (values equal up to a relative 1e-4)."""
    return (
        a.removed == b.removed
        and a.added == b.added
        and _close(a.values, b.values)
        and _close(a.timed, b.timed)
        and a.constraints == b.constraints
    )


__all__ = ["Effect", "effect", "same_effect"]
