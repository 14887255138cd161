"""Calibration: the twin's parameters fitted to stored data, and drift watched while it runs.

Python entry points::

    from twinforge.calibration import calibrate, read_event_log, simulate_event_log

    log = read_event_log("events.csv", twin)           # node, event, t[, reason]
    result = calibrate(twin, events=log)               # stations: MLE, family by AIC, KS, SEs
    result = calibrate(twin, telemetry=frame)          # pumps and tanks: least squares, R², RMSE
    print(result.render()); result.write("diff.yaml")  # old -> new with units, for review
    new_twin = result.calibrated()                     # or apply_diff(twin, read_diff(...))

    monitor = DriftMonitor(twin)                       # CUSUM on standardised residuals
    alerts = monitor.feed([("flow_meter.Flow", t, value), ...])

Layer: below ``data`` and ``sim`` (it reads the store, compiles and runs the twin), above ``app``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from twinforge.calibration.drift import DriftAlert, DriftMonitor, event_drift, predict_states
from twinforge.calibration.events import (
    CalibrationError,
    check_event_log,
    event_log_from_store,
    event_log_to_store,
    read_event_log,
    simulate_event_log,
    write_event_log,
)
from twinforge.calibration.fit import calibrate_events, station_samples
from twinforge.calibration.hydraulics import (
    calibrate_hydraulics,
    fit_valve_coefficient,
    setpoints_from_scenario,
    telemetry_from_store,
)
from twinforge.calibration.result import CalibrationResult, Estimate, apply_diff, apply_estimates, read_diff
from twinforge.spec.models import TwinSpec


def calibrate(
    twin: TwinSpec,
    *,
    events: pd.DataFrame | None = None,
    telemetry: pd.DataFrame | None = None,
    setpoints: pd.DataFrame | None = None,
    nodes: list[str] | None = None,
) -> CalibrationResult:
    """Every estimate the data allow: stations from ``events``, pumps and tanks from ``telemetry``."""
    if events is None and telemetry is None:
        raise CalibrationError("nothing to calibrate from: give an event log, telemetry, or both")
    parts: list[CalibrationResult] = []
    problems: list[str] = []
    if events is not None:
        parts.append(calibrate_events(twin, events, nodes))
    if telemetry is not None:
        hydraulic_nodes = None
        if nodes is not None:
            hydraulic_nodes = [n for n in nodes if twin.node(n).kind in ("pump", "tank", "valve")]
        if nodes is None or hydraulic_nodes:
            try:
                parts.append(
                    calibrate_hydraulics(twin, telemetry, setpoints=setpoints, nodes=hydraulic_nodes)
                )
            except CalibrationError as exc:
                if events is None:
                    raise
                problems.append(str(exc))
    estimates = [e for p in parts for e in p.estimates]
    notes = [n for p in parts for n in p.notes] + problems
    return CalibrationResult(twin, estimates, notes)


def calibrate_store(store: Any, twin: TwinSpec, nodes: list[str] | None = None) -> CalibrationResult:
    """Calibrate from what the store holds: station events and the twin's telemetry."""
    events = None
    try:
        events = event_log_from_store(store, twin)
    except CalibrationError:
        events = None
    try:
        telemetry: pd.DataFrame | None = telemetry_from_store(store, twin)
    except CalibrationError:
        telemetry = None
    if events is None and telemetry is None:
        raise CalibrationError(f"the store holds no station events and no telemetry of twin {twin.name!r}")
    if events is not None and nodes is not None:
        station_nodes = [n for n in nodes if twin.node(n).kind == "station"]
        if not station_nodes:
            events = None
    return calibrate(twin, events=events, telemetry=telemetry, nodes=nodes)


__all__ = [
    "CalibrationError",
    "CalibrationResult",
    "DriftAlert",
    "DriftMonitor",
    "Estimate",
    "apply_diff",
    "apply_estimates",
    "calibrate",
    "calibrate_events",
    "calibrate_hydraulics",
    "calibrate_store",
    "check_event_log",
    "event_drift",
    "event_log_from_store",
    "event_log_to_store",
    "fit_valve_coefficient",
    "predict_states",
    "read_diff",
    "read_event_log",
    "setpoints_from_scenario",
    "simulate_event_log",
    "station_samples",
    "telemetry_from_store",
    "write_event_log",
]
