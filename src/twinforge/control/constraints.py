"""The constraints a proposal is judged on: the twin's own bounds and the user's limits.

From the twin (:func:`constraints_for`): a tank never overflows or runs dry (demand left unmet),
stays within its declared ``low_level`` / ``high_level``, and a pump stays below its
``max_temperature`` (the catalogue's default, 90 degC, when the twin sets none) and its
``max_vibration`` (when set). From the proposal: its signal, KPI and switching
limits; a signal limit replaces the twin's alarm band for that state.

:func:`first_violation` checks one constraint on one finished run and says when it was first
broken and by how much (signals are checked on the recorded trajectory, which is exact between
events for levels and temperatures, on a fine grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.control.proposal import KpiLimit, SignalLimit, SwitchingLimit
from twinforge.sim.plan import internal_unit, scalar
from twinforge.spec import units
from twinforge.spec.models import TwinSpec

_GRID = 20001


@dataclass(frozen=True)
class Constraint:
    kind: str  # signal, kpi, switching, overflow, dry
    label: str  # what a person reads: "tower.level within [120, 540] m^3 (the twin's alarm levels)"
    horizon: float
    signal: str | None = None  # node.state recorded for it
    kpi: str | None = None
    lo: float | None = None
    hi: float | None = None
    per_hour: float | None = None


def parameter_value(twin: TwinSpec, node: Any, name: str) -> float | None:
    """A parameter's nominal value in its catalogue unit: as the twin sets it, else the catalogue's
    default (None when it has neither)."""
    value = scalar(twin, node, name)
    pdef = node.param_def(name)
    if value is None or pdef is None:
        return value
    return units.convert(value, internal_unit(twin, node, name), pdef.unit_for(twin.currency))


def constraints_for(twin: TwinSpec, proposal: Any) -> list[Constraint]:
    h = proposal.horizon
    limits = list(getattr(proposal, "limits", []))
    user_signals = {lim.signal for lim in limits if isinstance(lim, SignalLimit)}
    out: list[Constraint] = []
    for n in twin.nodes:
        if n.kind == "tank":
            level = f"{n.id}.level"
            out.append(
                Constraint("overflow", f"{n.id} does not overflow", h, signal=level, kpi=f"{n.id}.overflow")
            )
            out.append(
                Constraint("dry", f"{n.id} does not run dry", h, signal=level, kpi=f"{n.id}.unmet_demand")
            )
            lo, hi = parameter_value(twin, n, "low_level"), parameter_value(twin, n, "high_level")
            if level not in user_signals and (lo is not None or hi is not None):
                out.append(
                    Constraint(
                        "signal",
                        f"{level} within its alarm levels [{_g(lo)}, {_g(hi)}] m^3",
                        h,
                        signal=level,
                        lo=lo,
                        hi=hi,
                    )
                )
        elif n.kind == "pump":
            for state, param, unit in (
                ("temperature", "max_temperature", "degC"),
                ("vibration", "max_vibration", "mm/s"),
            ):
                limit = parameter_value(twin, n, param)  # max_temperature defaults to 90 degC
                ref = f"{n.id}.{state}"
                if limit is not None and ref not in user_signals:
                    out.append(
                        Constraint(
                            "signal", f"{ref} below its {param} {limit:g} {unit}", h, signal=ref, hi=limit
                        )
                    )
    for lim in limits:
        if isinstance(lim, SignalLimit | KpiLimit):
            kind, ref = ("signal", lim.signal) if isinstance(lim, SignalLimit) else ("kpi", lim.kpi)
            label = f"{ref} within [{_g(lim.min)}, {_g(lim.max)}] (your limit)"
            out.append(Constraint(kind, label, h, lo=lim.min, hi=lim.max, **{kind: ref}))
        elif isinstance(lim, SwitchingLimit):
            out.append(
                Constraint(
                    "switching",
                    f"{lim.switching} changes at most {lim.max_per_hour:g} times an hour (your limit)",
                    h,
                    kpi=lim.switching,
                    per_hour=lim.max_per_hour,
                )
            )
    return out


def _g(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


def _first(series: Any, bad: Any) -> tuple[float, float] | None:
    t, v = series.dense(_GRID)
    hit = np.flatnonzero(bad(v))
    if not len(hit):
        return None
    return float(t[hit[0]]), float(v[hit[0]])


def first_violation(
    c: Constraint, result: Any, kpis: dict[str, float], switches: dict[str, int]
) -> dict[str, Any] | None:
    """When and by how much ``c`` was first broken in a finished run (None: it held)."""
    found: tuple[float | None, float] | None = None
    if c.kind in ("overflow", "dry"):
        amount = kpis.get(c.kpi or "", 0.0)
        if amount > 1e-9:
            series = result.series.get(c.signal)
            when = None
            if series is not None:
                if c.kind == "overflow":
                    cap = series.max()
                    hit = _first(series, lambda v: v >= cap - 1e-9)
                else:
                    hit = _first(series, lambda v: v <= 1e-9)
                when = hit[0] if hit else None
            found = (when, amount)
    elif c.kind == "signal":
        series = result.series.get(c.signal)
        if series is not None and len(series):
            lo = -math.inf if c.lo is None else c.lo
            hi = math.inf if c.hi is None else c.hi
            found = _first(series, lambda v: (v < lo - 1e-9) | (v > hi + 1e-9))
    elif c.kind == "kpi":
        if c.kpi not in kpis:
            return {
                "constraint": c.label,
                "time_h": None,
                "value": None,
                "detail": f"the run has no KPI {c.kpi!r}",
            }
        value = kpis[c.kpi]
        if (c.lo is not None and value < c.lo) or (c.hi is not None and value > c.hi):
            found = (None, value)
    elif c.kind == "switching":
        n = switches.get(c.kpi or "", 0)
        rate = n / (c.horizon / 3600.0)
        if c.per_hour is not None and rate > c.per_hour + 1e-9:
            found = (None, rate)
    if found is None:
        return None
    when, value = found
    return {
        "constraint": c.label,
        "time_h": None if when is None else round(when / 3600.0, 4),
        "value": None if value is None or not math.isfinite(value) else round(float(value), 6),
    }


__all__ = ["Constraint", "constraints_for", "first_violation", "parameter_value"]
