"""Pump station: flows, affinity laws, tank levels and alarms, dry running, telemetry."""

from __future__ import annotations

import pytest

from twinforge.scenario import Outage, Scenario, Setpoint
from twinforge.sim import early_warning, simulate
from twinforge.sim.components.hydraulics import RHO_G
from twinforge.sim.warning import ThresholdCrossing
from twinforge.spec import loads_spec


def final_state(twin, horizon, scenario=None, states=("pump.flow",)):
    mc = simulate(twin, horizon=horizon, scenario=scenario, record=list(states))
    out = {}
    for name in states:
        s = mc.series[mc.series["series"] == name]
        out[name] = float(s["value"].iloc[-1])
    return out, dict(zip(mc.kpis["kpi"], mc.kpis["value"], strict=True))


def test_pump_flow_power_and_pressure_at_rated_point(pump_station):
    names = ("pump.flow", "pump.power", "pump.pressure", "pump.current", "pump.temperature")
    state, k = final_state(pump_station, 600, states=names)
    assert state["pump.flow"] == pytest.approx(7.5)  # 125 L/min in m^3/h
    assert state["pump.power"] == pytest.approx(0.55)
    assert state["pump.pressure"] == pytest.approx(RHO_G * 18 / 1e5)
    assert state["pump.current"] == pytest.approx(0.25 + 550 / (230 * 0.85))
    assert state["pump.temperature"] == pytest.approx(89.0)  # steady state at rated power
    assert k["pump.pumped"] == pytest.approx(7.5 / 3600 * 600)
    assert k["pump.energy"] == pytest.approx(0.55 * 600 / 3600)
    assert k["tank.mean_level"] == pytest.approx(0.07)  # water circulates: level constant


def test_affinity_laws_for_a_speed_setpoint(pump_station):
    sc = Scenario(name="slow", interventions=[Setpoint(target="pump", parameter="speed", value=0.8, at=0)])
    names = ("pump.flow", "pump.power", "pump.pressure")
    state, _ = final_state(pump_station, 60, sc, names)
    assert state["pump.flow"] == pytest.approx(7.5 * 0.8)
    assert state["pump.power"] == pytest.approx(0.55 * 0.8**3)
    assert state["pump.pressure"] == pytest.approx(RHO_G * 18 * 0.8**2 / 1e5)


def test_throttling_valve_halves_flow_and_raises_pressure(pump_station):
    sc = Scenario(
        name="throttle", interventions=[Setpoint(target="valve2", parameter="opening", value=0.5, at=30)]
    )
    state, k = final_state(pump_station, 60, sc, ("pump.flow", "pump.pressure", "pump.power"))
    assert state["pump.flow"] == pytest.approx(3.75)
    assert state["pump.pressure"] == pytest.approx(RHO_G * 18 * (1.2 - 0.2 * 0.25) / 1e5)
    assert state["pump.power"] == pytest.approx(0.55 * 0.75)
    assert k["pump.pumped"] == pytest.approx((7.5 * 30 + 3.75 * 30) / 3600)


def test_pump_outage_stops_flow(pump_station):
    sc = Scenario(name="off", interventions=[Outage(target="pump", start=0, duration=120)])
    state, k = final_state(pump_station, 60, sc, ("pump.flow", "pump.current", "pump.status"))
    assert state == {"pump.flow": 0.0, "pump.current": 0.0, "pump.status": 0.0}
    assert k["pump.down"] == 1.0


DRAIN = """
twinforge: 1
name: drain
nodes:
  - id: tank
    kind: tank
    parameters: {capacity: 1 m^3, initial_level: 0.5 m^3, low_level: 0.2 m^3, high_level: 0.9 m^3, outflow_rate: 0.36 m^3/h}
  - id: supply
    kind: tank
    parameters: {capacity: 1 m^3, initial_level: 0.05 m^3}
  - id: pump
    kind: pump
    parameters: {flow_rate: 0.72 m^3/h, speed: 1.0, power: 0.1 kW}
edges:
  - {source: supply, target: pump, kind: physical}
  - {source: pump, target: tank, kind: physical}
"""


def test_tank_levels_alarms_and_dry_running():
    twin = loads_spec(DRAIN)
    # pump fills the tank at 0.72 m^3/h from a supply tank holding 0.05 m^3: it runs dry after
    # 250 s; the tank then drains at 0.36 m^3/h and hits its low level and empties
    k = dict(zip(*[simulate(twin, horizon=20000).kpis[c] for c in ("kpi", "value")], strict=True))
    assert k["pump.pumped"] == pytest.approx(0.05)
    assert k["pump.dry"] == pytest.approx((20000 - 250) / 20000)
    assert k["supply.min_level"] == pytest.approx(0.0, abs=1e-12)
    peak = 0.5 + (0.72 - 0.36) / 3600 * 250
    assert k["tank.max_level"] == pytest.approx(peak)
    empty_at = 250 + peak / (0.36 / 3600)
    assert k["tank.low_alarms"] == 1
    assert k["tank.min_level"] == pytest.approx(0.0, abs=1e-12)
    assert k["tank.unmet_demand"] == pytest.approx(0.36 / 3600 * (20000 - empty_at))
    # the low-level crossing is found exactly
    low_at = 250 + (peak - 0.2) / (0.36 / 3600)
    ew = early_warning(
        twin, None, horizon=20000, events=[ThresholdCrossing(state="tank.level", below=0.2)], reps=2
    )
    assert ew.table.loc[0, "probability"] == 1.0
    assert ew.table.loc[0, "expected_time_h"] * 3600 == pytest.approx(low_at)


def test_pump_station_telemetry_is_plausible(pump_station):
    tel = simulate(pump_station, horizon=120, telemetry=True, seed=3).telemetry
    assert list(tel.columns) == ["replication", "node", "signal", "t", "value"]
    by = tel.groupby("signal")["value"]
    means = by.mean()
    assert means["Volume Flow RateRMS"] == pytest.approx(125, rel=0.01)
    assert means["Pressure"] == pytest.approx(RHO_G * 18 / 1e5, rel=0.01)
    assert means["Current"] == pytest.approx(0.25 + 550 / (230 * 0.85), rel=0.01)
    assert 0.05 < means["Accelerometer1RMS"] < 0.2
    assert means["Temperature"] == pytest.approx(89.0)
    assert by.std()["Volume Flow RateRMS"] > 0  # process noise makes the signal alive
    assert by.count().eq(120).all()  # 1 Hz for 120 s
