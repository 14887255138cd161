"""Pump, valve and tank parameters from telemetry, by least squares.

The models are the simulator's own (:mod:`twinforge.sim.components.hydraulics`), so a calibrated
twin predicts what was measured:

- **pump flow** ``Q = flow_rate * n * x`` with ``n`` the speed setpoint and ``x`` the product of the
  valve openings on the pump's path: ``flow_rate`` by least squares through the origin on the
  samples of a signal observing ``pump.flow`` (samples with the pump stopped, flow below 5 % of
  the prediction, are left out);
- **pump head** ``p = rho g head n^2 (1.2 - 0.2 x^2)`` (pressure in bar): ``head`` likewise from a
  signal observing ``pump.pressure``;
- **tank balance** ``A dL/dt = inflow - suction - outflow_rate`` between consecutive level samples
  (``L`` a volume: ``A = 1``; a height: the area ``A`` is fitted too, and needs the inflow to vary):
  ``outflow_rate`` (the demand drawn), with pump flows measured where a flow signal exists and
  predicted otherwise; intervals with the tank empty or full are left out;
- **valve coefficient** ``Q = Kv * opening * sqrt(dp / 1 bar)``: :func:`fit_valve_coefficient`,
  from flow and pressure-drop samples (the simulator throttles by opening only, so this one is for
  measured data; the twin keeps ``flow_coefficient`` for hydraulic studies).

Speeds and openings come from the twin, changed over time by ``setpoints`` (rows ``node,
parameter, t, value`` in catalogue units: the command log). Every estimate has a standard error
corrected for autocorrelated residuals (lag-1 correlation ``rho``: variance times
``(1 + rho) / (1 - rho)``), R² and the residual RMSE.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from twinforge.calibration.events import CalibrationError
from twinforge.calibration.result import CalibrationResult, Estimate
from twinforge.data.signals import SignalIndex
from twinforge.sim.components.hydraulics import RHO_G
from twinforge.sim.plan import compile_twin
from twinforge.spec import units
from twinforge.spec.diff import _show_param
from twinforge.spec.models import TwinSpec

MIN_POINTS = 10


def _stored_unit(twin: TwinSpec, node: str, name: str) -> str:
    p = twin.node(node).parameters.get(name)
    return p.unit if p is not None and p.unit else twin.param_unit(node, name)


def through_origin(u: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least squares ``y = a u``: a, its standard error (autocorrelation-corrected), R², RMSE."""
    suu = float(np.dot(u, u))
    a = float(np.dot(u, y)) / suu
    r = y - a * u
    n = len(y)
    s2 = float(np.dot(r, r)) / max(n - 1, 1)
    rho = float(np.corrcoef(r[:-1], r[1:])[0, 1]) if n > 3 and np.std(r) > 0 else 0.0
    rho = min(max(rho if math.isfinite(rho) else 0.0, 0.0), 0.99)
    se = math.sqrt(s2 / suu * (1 + rho) / (1 - rho))
    sst = float(np.sum((y - y.mean()) ** 2))
    return {
        "value": a,
        "se": se,
        "r2": 1 - float(np.dot(r, r)) / sst if sst > 0 else math.nan,
        "rmse": math.sqrt(float(np.dot(r, r)) / n),
        "rho": rho,
        "n": n,
    }


def _estimate(
    twin: TwinSpec, node: str, name: str, value: float, se: float, cat_unit: str, fit: dict
) -> Estimate:
    unit = _stored_unit(twin, node, name)
    f = units.conversion_factor(cat_unit, unit)
    p = twin.node(node).parameters.get(name)
    old_mean = twin.get(node, name, unit) if twin.has_value(node, name) else None
    return Estimate(
        node=node,
        parameter=name,
        unit=unit,
        method="least squares",
        new_value=value * f,
        old=_show_param(p) if p is not None else None,
        old_mean=old_mean,
        mean=value * f,
        mean_se=se * f,
        n=int(fit["n"]),
        gof={"r2": fit["r2"], "rmse": fit["rmse"], "residual_lag1": fit["rho"], **fit.get("extra", {})},
    )


# -- inputs ------------------------------------------------------------------------------------


def observed_series(
    twin: TwinSpec, telemetry: pd.DataFrame, source: str = "telemetry"
) -> dict[tuple[str, str], pd.DataFrame]:
    """Samples by observed ``(node, state)``: frames ``t, value`` (value in the state's unit), from a
    tidy frame ``node, signal, t, value`` (sensor node and signal, as the simulator and the store
    give them)."""
    missing = [c for c in ("node", "signal", "t", "value") if c not in telemetry.columns]
    if missing:
        raise CalibrationError(
            f"{source}: missing column(s) {', '.join(missing)} (need node, signal, t, value)"
        )
    if telemetry.empty:
        raise CalibrationError(f"{source}: no samples")
    index = SignalIndex(twin)
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for (node, signal), g in telemetry.groupby(["node", "signal"], sort=False):
        info = index.get(str(node), str(signal))
        if info is None:
            raise CalibrationError(f"{source}: twin {twin.name!r} has no signal {signal!r} on node {node!r}")
        t = pd.to_numeric(g["t"], errors="coerce").to_numpy(float)
        v = pd.to_numeric(g["value"], errors="coerce").to_numpy(float)
        ok = np.isfinite(t) & np.isfinite(v)
        t, v = t[ok], v[ok]
        if np.any(np.diff(t) < 0):
            raise CalibrationError(
                f"{source}: times of {node}.{signal} go backwards; samples must be in time order"
            )
        if info.unit and info.state_unit and info.unit != info.state_unit:
            v = v * units.conversion_factor(info.unit, info.state_unit)
        key = (info.target_node, info.target_state)
        if key not in out:  # the first signal observing a state is used
            out[key] = pd.DataFrame({"t": t, "value": v})
    return out


def telemetry_from_store(store: Any, twin: TwinSpec, start: Any = None, end: Any = None) -> pd.DataFrame:
    """The twin's samples from the store as a tidy frame ``node, signal, t, value`` (t: epoch s)."""
    parts = []
    for info in SignalIndex(twin):
        frame = store.range(twin.name, info.node, info.signal, start, end, usable_only=True)
        if frame.empty:
            continue
        t = (frame["timestamp"] - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
        parts.append(
            pd.DataFrame(
                {"node": info.node, "signal": info.signal, "t": t, "value": frame["value"].to_numpy()}
            )
        )
    if not parts:
        raise CalibrationError(f"store has no usable samples of twin {twin.name!r}")
    return pd.concat(parts, ignore_index=True)


def _timeline(
    twin: TwinSpec, node: str, name: str, setpoints: pd.DataFrame | None, t: np.ndarray
) -> np.ndarray:
    """A parameter's value at times ``t``: the twin's value, changed by the setpoint log."""
    base = twin.get(node, name) if twin.has_value(node, name) else 1.0
    out = np.full(t.shape, float(base))
    if setpoints is not None and len(setpoints):
        rows = setpoints[(setpoints["node"] == node) & (setpoints["parameter"] == name)].sort_values("t")
        for at, value in zip(rows["t"].to_numpy(float), rows["value"].to_numpy(float), strict=True):
            out[t >= at] = value
    return out


def setpoints_from_scenario(scenario: Any) -> pd.DataFrame:
    """The setpoint log (node, parameter, t, value) of a scenario's timed setpoints."""
    from twinforge.scenario.models import Setpoint
    from twinforge.sim.plan import parse_duration

    rows = []
    for iv in getattr(scenario, "interventions", []):
        if isinstance(iv, Setpoint):
            rows.append((iv.target, iv.parameter, parse_duration(iv.at, "at"), float(iv.value)))
    return pd.DataFrame(rows, columns=["node", "parameter", "t", "value"])


# -- fits --------------------------------------------------------------------------------------


def _throttle(twin: TwinSpec, valves: list[str], setpoints: pd.DataFrame | None, t: np.ndarray) -> np.ndarray:
    x = np.ones(t.shape)
    for v in valves:
        x = x * _timeline(twin, v, "opening", setpoints, t)
    return x


def calibrate_hydraulics(
    twin: TwinSpec,
    telemetry: pd.DataFrame,
    *,
    setpoints: pd.DataFrame | None = None,
    nodes: list[str] | None = None,
    source: str = "telemetry",
) -> CalibrationResult:
    """Least-squares estimates of pump ``flow_rate`` and ``head`` and tank ``outflow_rate`` (see the
    module docstring) from tidy telemetry."""
    for n in nodes or []:
        twin.node(n)  # unknown node: an error with a suggestion
    series = observed_series(twin, telemetry, source)
    plan = compile_twin(twin)
    estimates: list[Estimate] = []
    notes: list[str] = []
    flow_rate: dict[str, float] = {}
    for path in plan.pumps:
        pump = path.pump
        valves = path.suction_valves + path.discharge_valves
        if (pump, "flow") in series and (nodes is None or pump in nodes):
            s = series[(pump, "flow")]
            t, y = s["t"].to_numpy(), s["value"].to_numpy()  # m^3/h
            u = _timeline(twin, pump, "speed", setpoints, t) * _throttle(twin, valves, setpoints, t)
            nominal = twin.get(pump, "flow_rate", "m^3/h")
            keep = (u > 0) & (y > 0.05 * nominal * u)
            if keep.sum() < MIN_POINTS:
                notes.append(
                    f"{pump}.flow_rate: {int(keep.sum())} samples with the pump running; not estimated"
                )
            else:
                fit = through_origin(u[keep], y[keep])
                flow_rate[pump] = fit["value"]
                estimates.append(_estimate(twin, pump, "flow_rate", fit["value"], fit["se"], "m^3/h", fit))
        if (pump, "pressure") in series and (nodes is None or pump in nodes):
            s = series[(pump, "pressure")]
            t, y = s["t"].to_numpy(), s["value"].to_numpy()  # bar
            n = _timeline(twin, pump, "speed", setpoints, t)
            x = _throttle(twin, valves, setpoints, t)
            u = RHO_G * n * n * (1.2 - 0.2 * x * x) / 1e5
            keep = (
                (n > 0) & (y > 0.05 * twin.get(pump, "head", "m") * u)
                if twin.has_value(pump, "head")
                else n > 0
            )
            if keep.sum() < MIN_POINTS:
                notes.append(f"{pump}.head: {int(keep.sum())} samples with the pump running; not estimated")
            else:
                fit = through_origin(u[keep], y[keep])
                estimates.append(_estimate(twin, pump, "head", fit["value"], fit["se"], "m", fit))
    for node in twin.nodes:
        if (
            node.kind != "tank"
            or (node.id, "level") not in series
            or (nodes is not None and node.id not in nodes)
        ):
            continue
        est = _tank(twin, node.id, series, plan, setpoints, flow_rate, notes)
        if est is not None:
            estimates.append(est)
    if not estimates:
        raise CalibrationError(
            "nothing to estimate from the telemetry: "
            + (
                "; ".join(notes)
                if notes
                else "no signal observes a pump's flow or pressure, or a tank's level"
            )
        )
    return CalibrationResult(twin, estimates, notes)


def _pump_flow(
    twin: TwinSpec,
    path: Any,
    series: dict,
    setpoints: pd.DataFrame | None,
    flow_rate: dict[str, float],
    t: np.ndarray,
) -> np.ndarray:
    if (path.pump, "flow") in series:
        s = series[(path.pump, "flow")]
        return np.interp(t, s["t"].to_numpy(), s["value"].to_numpy())
    q = flow_rate.get(path.pump, twin.get(path.pump, "flow_rate", "m^3/h"))
    valves = path.suction_valves + path.discharge_valves
    return q * _timeline(twin, path.pump, "speed", setpoints, t) * _throttle(twin, valves, setpoints, t)


def _tank(
    twin: TwinSpec,
    tank: str,
    series: dict,
    plan: Any,
    setpoints: pd.DataFrame | None,
    flow_rate: dict[str, float],
    notes: list[str],
) -> Estimate | None:
    s = series[(tank, "level")]
    t, level = s["t"].to_numpy(), s["value"].to_numpy()
    if len(t) < MIN_POINTS + 1:
        notes.append(f"{tank}.outflow_rate: {len(t)} level samples; not estimated")
        return None
    mid = (t[:-1] + t[1:]) / 2
    dt_h = np.diff(t) / 3600.0
    net = np.zeros(mid.shape)
    for path in plan.pumps:
        if path.discharge_tank == tank:
            net += _pump_flow(twin, path, series, setpoints, flow_rate, mid)
        if path.suction_tank == tank:
            net -= _pump_flow(twin, path, series, setpoints, flow_rate, mid)
    y = np.diff(level) / dt_h  # level units per hour
    capacity = twin.get(tank, "capacity", "m^3")
    level_unit = twin.node(tank).state_unit("level") or "m^3"
    is_volume = units.compatible(level_unit, "m^3")
    lo_ok = np.minimum(level[:-1], level[1:]) > 0.005 * capacity if is_volume else np.ones(mid.shape, bool)
    hi_ok = np.maximum(level[:-1], level[1:]) < 0.995 * capacity if is_volume else np.ones(mid.shape, bool)
    keep = lo_ok & hi_ok & (dt_h > 0)
    if keep.sum() < MIN_POINTS:
        notes.append(f"{tank}.outflow_rate: {int(keep.sum())} usable level intervals; not estimated")
        return None
    y, net = y[keep], net[keep]
    extra: dict[str, float] = {}
    if is_volume:
        resid = net - y  # = outflow_rate
        d = float(np.mean(resid))
        fit = through_origin(np.ones(len(resid)), resid)
        se = fit["se"]
        r = y - (net - d)
        sst = float(np.sum((y - y.mean()) ** 2))
        fit["r2"] = 1 - float(np.dot(r, r)) / sst if sst > 0 else math.nan
        fit["rmse"] = math.sqrt(float(np.mean(r * r)))
    else:
        if np.std(net) <= 1e-9 * max(abs(np.mean(net)), 1.0):
            notes.append(
                f"{tank}: level is a height and the inflow never varies: area and demand cannot be told apart"
            )
            return None
        design = np.column_stack([net, -np.ones(len(net))])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        b, c = float(coef[0]), float(coef[1])
        r = y - design @ coef
        s2 = float(np.dot(r, r)) / max(len(y) - 2, 1)
        cov = s2 * np.linalg.inv(design.T @ design)
        d = c / b
        g = np.array([-c / b**2, 1 / b])
        se = math.sqrt(float(g @ cov @ g))
        sst = float(np.sum((y - y.mean()) ** 2))
        fit = {
            "n": len(y),
            "r2": 1 - float(np.dot(r, r)) / sst if sst > 0 else math.nan,
            "rmse": math.sqrt(float(np.mean(r * r))),
            "rho": 0.0,
        }
        extra = {"area": 1 / b, "area_se": math.sqrt(cov[0, 0]) / b**2}
    fit["value"] = d
    fit["extra"] = extra
    return _estimate(twin, tank, "outflow_rate", d, se, "m^3/h", fit)


def fit_valve_coefficient(
    twin: TwinSpec, node: str, flow: np.ndarray, dp: np.ndarray, opening: np.ndarray | float = 1.0
) -> CalibrationResult:
    """``flow_coefficient`` (Kv) of valve ``node`` from flow (m^3/h) and pressure drop (bar) samples:
    least squares of ``Q = Kv * opening * sqrt(dp / 1 bar)`` through the origin."""
    n = twin.node(node)
    if n.kind != "valve":
        raise CalibrationError(f"node {node!r} is a {n.kind}, not a valve")
    flow, dp = np.asarray(flow, float), np.asarray(dp, float)
    if flow.shape != dp.shape:
        raise CalibrationError(
            f"valve {node!r}: {len(flow)} flow samples but {len(dp)} pressure-drop samples"
        )
    if np.any(dp < 0):
        raise CalibrationError(f"valve {node!r}: pressure drop must be >= 0 (found {float(dp.min()):g} bar)")
    u = np.broadcast_to(np.asarray(opening, float), flow.shape) * np.sqrt(dp)
    keep = (u > 0) & np.isfinite(flow)
    if keep.sum() < MIN_POINTS:
        raise CalibrationError(f"valve {node!r}: {int(keep.sum())} usable samples (need {MIN_POINTS})")
    fit = through_origin(u[keep], flow[keep])
    return CalibrationResult(
        twin, [_estimate(twin, node, "flow_coefficient", fit["value"], fit["se"], "m^3/h", fit)]
    )


__all__ = [
    "calibrate_hydraulics",
    "fit_valve_coefficient",
    "observed_series",
    "setpoints_from_scenario",
    "telemetry_from_store",
    "through_origin",
]
