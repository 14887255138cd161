from __future__ import annotations

import pandas as pd
import pytest

from twinforge.data import FileMapping, InitialStateTelemetry, Quality, ReplaySource, sync_state
from twinforge.data.sync import signal_statuses

T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def write(store, rows):
    store.write_samples(
        "flow-rig", pd.DataFrame(rows, columns=["node", "signal", "timestamp", "value", "quality"])
    )


def test_state_from_latest_telemetry_with_staleness_and_units(flow_rig, store):
    write(
        store,
        [
            ("flow", "q", T0, 5.0, 0),
            ("flow", "q", T0 + pd.Timedelta(seconds=9), 6.0, 0),  # period 1 s: age 1 s at +10 s -> fresh
            ("thermo", "t", T0 - pd.Timedelta(seconds=60), 40.0, 0),  # period 10 s: age 70 s -> stale
            ("thermo_backup", "t", T0 + pd.Timedelta(seconds=5), 313.15, 0),  # K, age 5 s -> fresh, wins
        ],
    )
    state = sync_state(flow_rig, store, at=T0 + pd.Timedelta(seconds=10))
    flow = state.get("pump", "flow")
    assert (flow.value, flow.unit, flow.status, flow.age_s) == (6.0, "m^3/h", "fresh", pytest.approx(1.0))
    temp = state.get("tank", "temperature")
    assert temp.value == pytest.approx(40.0) and temp.unit == "degC" and temp.source == "thermo_backup.t"
    level = state.get("tank", "level")
    assert level.status == "missing" and level.value is None and level.unit == "m^3"
    assert state.counts() == {"fresh": 2, "stale": 0, "missing": 1}
    assert state.values() == {"pump": {"flow": 6.0}, "tank": {"temperature": pytest.approx(40.0)}}
    statuses = {(s.node, s.signal): s for s in state.signals}
    assert statuses[("thermo", "t")].status == "stale" and statuses[("thermo", "t")].age_s == pytest.approx(
        70.0
    )
    loose = {
        (s.node, s.signal): s
        for s in signal_statuses(flow_rig, store, at=T0 + pd.Timedelta(seconds=10), stale_after_periods=8)
    }
    assert loose[("thermo", "t")].status == "fresh"
    with pytest.raises(KeyError, match=r"no signal observes pump\.status"):
        state.get("pump", "status")
    assert state.to_frame().shape == (3, 8)
    assert state.as_dict()["states"]["pump"]["flow"]["value"] == 6.0


def test_stale_reading_when_only_old_data(flow_rig, store):
    write(store, [("flow", "q", T0, 5.0, 0)])
    state = sync_state(flow_rig, store, at=T0 + pd.Timedelta(seconds=4))
    assert state.get("pump", "flow").status == "stale"
    assert state.values(include_stale=False) == {}
    assert state.values() == {"pump": {"flow": 5.0}}


def test_bad_quality_latest_sample_is_not_used(flow_rig, store):
    write(
        store,
        [
            ("flow", "q", T0, 5.0, 0),
            ("flow", "q", T0 + pd.Timedelta(seconds=1), 80.0, int(Quality.OUT_OF_RANGE)),
        ],
    )
    state = sync_state(flow_rig, store, at=T0 + pd.Timedelta(seconds=2))
    assert state.value("pump", "flow") == 5.0
    st = next(s for s in state.signals if s.node == "flow")
    assert st.latest_bad and st.quality is Quality.GOOD


def test_state_sync_of_skab_replay_converts_flow_to_state_unit(pump_station, store, skab_dir):
    frame = pd.read_csv(skab_dir / "anomaly-free.csv", sep=";", dtype=str, nrows=30)
    mapping = FileMapping.from_signal_names(pump_station, list(frame.columns), "datetime", delimiter=";")
    source = ReplaySource(pump_station, frame, mapping, end_at=T0.timestamp())
    rows = [(s.node, s.signal, pd.Timestamp(s.timestamp, unit="s", tz="UTC"), s.value, 0) for s in source]
    assert len(rows) == 30 * 8
    store.write_samples(
        "pump-station", pd.DataFrame(rows, columns=["node", "signal", "timestamp", "value", "quality"])
    )
    state = sync_state(pump_station, store, at=T0 + pd.Timedelta(seconds=1))
    last_flow_lpm = float(frame["Volume Flow RateRMS"].iloc[-1])
    flow = state.get("pump", "flow")
    assert flow.value == pytest.approx(last_flow_lpm * 60 / 1000) and flow.unit == "m^3/h"
    assert flow.timestamp == T0
    assert state.counts()["fresh"] == 8


def test_initial_state_telemetry_is_the_documented_placeholder(flow_rig):
    samples = list(InitialStateTelemetry(flow_rig, 20, start=100.0, seed=3))
    by_signal = {}
    for s in samples:
        by_signal.setdefault((s.node, s.signal), []).append(s)
    keys = [("flow", "q"), ("thermo", "t"), ("thermo_backup", "t"), ("level", "v")]
    assert [len(by_signal[k]) for k in keys] == [20, 2, 2, 4]
    assert [s.timestamp for s in by_signal[("level", "v")]] == [100.0, 105.0, 110.0, 115.0]
    assert all(s.value == 20.0 for s in by_signal[("thermo", "t")])  # tank temperature initial, no noise
    assert all(s.value == pytest.approx(293.15) for s in by_signal[("thermo_backup", "t")])  # in K
    assert [s.timestamp for s in samples] == sorted(s.timestamp for s in samples)
    assert samples == list(InitialStateTelemetry(flow_rig, 20, start=100.0, seed=3))


def test_initial_state_telemetry_noise_is_seeded_and_within_range(bottling_line):
    def values(seed, node):
        return [
            s.value
            for s in InitialStateTelemetry(bottling_line, 1000, start=0.0, seed=seed)
            if s.node == node
        ]

    a, b = values(7, "filler_temp"), values(8, "filler_temp")
    assert len(a) == 200 and a != b  # period 5 s
    assert pd.Series(a).mean() == pytest.approx(22.0, abs=0.05)  # filler temperature initial
    assert pd.Series(a).std() == pytest.approx(0.2, rel=0.2)  # the signal's noise_std
    vib = values(7, "filler_vib")  # around 0 with noise: clipped to the range [0, 50]
    assert min(vib) == 0.0 and max(vib) > 0.0
