"""Telemetry: tidy samples at each signal's period, noise, ranges, sensor outages, streaming."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twinforge.scenario import Outage, Scenario
from twinforge.sim import Model, RunOptions, compile_twin, iter_telemetry, simulate


def test_bottling_line_telemetry_table(bottling_line):
    tel = simulate(bottling_line, horizon="1 h", telemetry=True, seed=2).telemetry
    assert list(tel.columns) == ["replication", "node", "signal", "t", "value"]
    counts = tel.groupby(["node", "signal"]).size().to_dict()
    assert counts == {
        ("buffer_level", "level"): 360,
        ("capper_vib", "vibration"): 3600,
        ("filler", "status"): 360,
        ("filler_temp", "temperature"): 720,
        ("filler_vib", "vibration"): 3600,
    }
    temp = tel[tel["signal"] == "temperature"]
    assert np.allclose(temp["t"] % 5, 0)
    assert tel["t"].is_monotonic_increasing
    levels = tel[tel["node"] == "buffer_level"]["value"]
    assert np.array_equal(levels, levels.round())  # noise-free photo-eye counts items
    assert set(tel[tel["signal"] == "status"]["value"]) <= {0.0, 1.0}


def test_measurement_noise_has_the_declared_std(bottling_line):
    plan = compile_twin(bottling_line)
    model = Model(plan, 1, 0, RunOptions(horizon=4 * 3600, telemetry=True))
    result = model.run()
    tel = result.telemetry
    temp = tel[tel["node"] == "filler_temp"]
    exact = model.series("filler.temperature").at(temp["t"].to_numpy())
    residual = temp["value"].to_numpy() - exact
    assert residual.std() == pytest.approx(0.2, rel=0.05)  # noise_std 0.2 over 2880 samples
    assert abs(residual.mean()) < 0.02


def test_sensor_outage_leaves_a_gap_and_range_clips(bottling_line):
    twin = bottling_line.copy_deep()
    twin.node("filler_temp").signals[0].range = (-20, 24.0)
    sc = Scenario(
        name="probe", interventions=[Outage(target="filler_temp", start="10 min", duration="20 min")]
    )
    tel = simulate(twin, horizon="1 h", telemetry=True, scenario=sc).telemetry
    temp = tel[tel["node"] == "filler_temp"]
    assert not ((temp["t"] >= 600) & (temp["t"] < 1800)).any()
    assert len(temp) == 720 - 240
    assert temp["value"].max() <= 24.0


def test_streamed_telemetry_does_not_depend_on_chunk_size(pump_station):
    a = list(itertools.islice(iter_telemetry(pump_station, chunk=7, seed=3), 8 * 40))
    b = list(itertools.islice(iter_telemetry(pump_station, chunk="1 min", seed=3), 8 * 40))
    assert a == b
    assert a[0].t == 0.0 and a[-1].t == 39.0
    assert {s.node for s in a} == {n.id for n in pump_station.nodes if n.kind == "sensor"}
    flow = [s for s in a if s.signal == "Volume Flow RateRMS"]
    assert flow[0].unit == "L/min" and 120 < flow[0].value < 130
    # the same samples as a whole run
    whole = simulate(pump_station, horizon=40, telemetry=True, seed=3).telemetry
    assert np.allclose(whole["value"].to_numpy(), [s.value for s in a])


def test_streaming_without_horizon_on_a_twin_with_daily_targets(bottling_line):
    samples = list(itertools.islice(iter_telemetry(bottling_line, chunk="10 min", seed=1), 5000))
    assert len(samples) == 5000
    assert samples[-1].t > 0
    assert all(a.t <= b.t for a, b in itertools.pairwise(samples))
