from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinforge.calibration import DriftMonitor, event_drift, simulate_event_log
from twinforge.sim import run_replications
from twinforge.spec import load_spec


def _samples(tel: pd.DataFrame, shift: float = 0.0) -> list[tuple[str, float, float]]:
    return [
        (f"{n}.{s}", float(t) + shift, float(v))
        for n, s, t, v in zip(tel["node"], tel["signal"], tel["t"], tel["value"], strict=True)
    ]


def _run(twin, hours: float, seed: int, state=None) -> pd.DataFrame:
    return run_replications(
        twin, reps=1, horizon=f"{hours} h", seed=seed, telemetry=True, state=state
    ).telemetry


def test_an_unchanged_pump_station_raises_no_drift(pump_station):
    monitor = DriftMonitor(pump_station)
    assert monitor.feed(_samples(_run(pump_station, 3, seed=11))) == []
    assert monitor.status()["warming_up"] == 0 and monitor.status()["signals"] == 6


@pytest.mark.parametrize(("parameter", "factor"), [("flow_rate", 0.92), ("head", 1.08)])
def test_a_changed_pump_is_named_with_the_parameter_that_explains_it(pump_station, parameter, factor):
    changed = pump_station.copy_deep()
    changed.scale("pump", parameter, factor)
    monitor = DriftMonitor(pump_station)
    assert monitor.feed(_samples(_run(pump_station, 1, seed=12))) == []
    alerts = monitor.feed(_samples(_run(changed, 1, seed=13), shift=3600.0))
    assert alerts, "the change was not detected"
    first = alerts[0]
    assert first.t > 3600 and first.target == "pump" and first.parameter == parameter
    assert first.explained > 0.9
    proposal = first.proposal
    true = changed.get("pump", parameter, proposal.unit)
    assert abs(proposal.new_value - true) / true < 0.01
    assert f"pump.{parameter}" in first.describe() and "->" in first.describe()


def test_a_tank_demand_change_is_named_on_the_tower(examples):
    tower = load_spec(examples / "water_tower.yaml")
    changed = tower.copy_deep()
    changed.set("tower", "outflow_rate", 110.0)
    first = _run(tower, 2, seed=1)
    level = float(first[first["signal"] == "TowerLevel"]["value"].iloc[-1])
    monitor = DriftMonitor(tower)
    assert monitor.feed(_samples(first)) == []
    rest = _run(changed, 2, seed=2, state={"tower": {"level": level}})
    alerts = monitor.feed(_samples(rest[rest["t"] > 0], shift=7200.0))
    assert alerts and alerts[0].target == "tower" and alerts[0].parameter == "outflow_rate"
    assert alerts[0].proposal.new_value == pytest.approx(110.0, rel=0.02)


def test_station_process_time_drift_from_events(one_station):
    slower = one_station.copy_deep()
    slower.scale("press", "process_time", 1.1)
    assert event_drift(one_station, simulate_event_log(one_station, "1 day", seed=1)) == []
    alerts = event_drift(one_station, simulate_event_log(slower, "1 day", seed=1))
    assert len(alerts) == 1 and alerts[0].target == "press" and alerts[0].parameter == "process_time"
    assert alerts[0].direction == "up"
    assert alerts[0].proposal.mean == pytest.approx(16.5, rel=0.03)
    assert np.isfinite(alerts[0].score) and alerts[0].score > alerts[0].threshold
