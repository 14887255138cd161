from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinforge.calibration import (
    CalibrationError,
    calibrate,
    calibrate_hydraulics,
    fit_valve_coefficient,
    setpoints_from_scenario,
)
from twinforge.scenario.models import Scenario, Setpoint
from twinforge.sim import run_replications
from twinforge.spec import load_spec

STEPS = Scenario(
    name="steps",
    interventions=[
        Setpoint(target="duty_pump", parameter="speed", value=v, at=f"{h} h")
        for h, v in [(1, 0.9), (2, 0.5), (3, 0.8)]
    ],
)


@pytest.fixture
def water_tower(examples):
    return load_spec(examples / "water_tower.yaml")


def test_pump_flow_rate_and_tank_demand_are_recovered_from_telemetry(water_tower):
    true = water_tower.copy_deep()
    true.set("duty_pump", "flow_rate", 160.0)  # m^3/h; default 150
    true.set("tower", "outflow_rate", 92.0)  # default 100
    tel = run_replications(true, reps=1, horizon="4 h", seed=3, scenario=STEPS, telemetry=True).telemetry
    res = calibrate_hydraulics(water_tower, tel, setpoints=setpoints_from_scenario(STEPS))
    q = res.estimate("duty_pump", "flow_rate")
    d = res.estimate("tower", "outflow_rate")
    assert q.old_mean == 150 and abs(q.mean - 160) < 0.3 and q.ci95[0] <= 160 <= q.ci95[1]
    assert abs(d.mean - 92) < 0.3 and d.ci95[0] <= 92 <= d.ci95[1]
    assert q.gof["r2"] > 0.99 and 0 < q.gof["rmse"] < 3
    assert res.calibrated().get("duty_pump", "flow_rate") == pytest.approx(q.mean)


def test_pump_head_is_recovered_and_units_are_kept(pump_station):
    true = pump_station.copy_deep()
    true.scale("pump", "head", 0.9)
    true.scale("pump", "flow_rate", 1.1)
    tel = run_replications(true, reps=1, horizon="30 min", seed=5, telemetry=True).telemetry
    res = calibrate(pump_station, telemetry=tel)
    q, h = res.estimate("pump", "flow_rate"), res.estimate("pump", "head")
    assert q.unit == "L/min" and abs(q.mean - 137.5) / 137.5 < 0.005
    assert h.unit == "m" and abs(h.mean - 16.2) / 16.2 < 0.005
    assert q.mean_se > 0 and h.mean_se > 0


def test_valve_coefficient_from_flow_and_pressure_drop(pump_station):
    rng = np.random.default_rng(1)
    dp = rng.uniform(0.2, 2.0, 300)
    opening = rng.uniform(0.3, 1.0, 300)
    flow = 9.5 * opening * np.sqrt(dp) + rng.normal(0, 0.1, 300)
    est = fit_valve_coefficient(pump_station, "valve1", flow, dp, opening).estimate(
        "valve1", "flow_coefficient"
    )
    assert abs(est.mean - 9.5) < 3 * est.mean_se and est.gof["r2"] > 0.99
    with pytest.raises(CalibrationError, match="not a valve"):
        fit_valve_coefficient(pump_station, "pump", flow, dp)
    with pytest.raises(CalibrationError, match="pressure drop must be >= 0"):
        fit_valve_coefficient(pump_station, "valve1", flow, -dp)


def test_bad_telemetry_is_refused_with_what_and_where(pump_station):
    with pytest.raises(CalibrationError, match="no samples"):
        calibrate_hydraulics(pump_station, pd.DataFrame(columns=["node", "signal", "t", "value"]))
    bad = pd.DataFrame({"node": ["flow_meter"], "signal": ["Flow"], "t": [0.0], "value": [1.0]})
    with pytest.raises(CalibrationError, match="no signal 'Flow' on node 'flow_meter'"):
        calibrate_hydraulics(pump_station, bad)
    back = pd.DataFrame(
        {
            "node": ["flow_meter"] * 3,
            "signal": ["Volume Flow RateRMS"] * 3,
            "t": [0, 2, 1],
            "value": [1, 1, 1],
        }
    )
    with pytest.raises(CalibrationError, match="go backwards"):
        calibrate_hydraulics(pump_station, back)
    with pytest.raises(Exception, match="did you mean 'pump'"):
        calibrate_hydraulics(pump_station, back, nodes=["pumpp"])
