"""The parts working together: simulated telemetry → MQTT → DuckDB → synced state → early warning."""

from __future__ import annotations

import time

import pytest

from twinforge.data import (
    DuckDBStore,
    EmbeddedBroker,
    MqttIngestor,
    PlantEmulator,
    SimulatedTelemetry,
    sync_state,
)
from twinforge.sim import BufferOverflow, ThresholdCrossing, early_warning, starting_state

pytestmark = pytest.mark.slow


def test_state_synced_from_live_telemetry_drives_early_warning(bottling_line):
    now = time.time()
    hour = 3600.0
    with EmbeddedBroker() as broker, DuckDBStore(":memory:") as store:
        with MqttIngestor(bottling_line, store, broker.host, broker.port, persistent=False) as ingest:
            with PlantEmulator(bottling_line, broker.host, broker.port, samples_per_message=50) as emulator:
                report = emulator.publish(SimulatedTelemetry(bottling_line, hour, start=now - hour, seed=3))
            assert ingest.wait_until(lambda s: s.samples_stored >= report.samples, timeout_s=60)
        state = sync_state(bottling_line, store)
    observed = state.to_mapping()
    assert "buf_fill" in observed and "filler" in observed
    assert 0 <= observed["buf_fill"]["level"] <= 25 and observed["filler"]["temperature"] > 20
    settable, ignored = starting_state(bottling_line, state)
    # vibration is computed by the simulator, not a starting condition
    assert "filler.vibration" in ignored and settable["buf_fill"]["level"] == observed["buf_fill"]["level"]

    events = [BufferOverflow(buffer="buf_fill"), ThresholdCrossing(state="filler.temperature", above=70)]
    live = early_warning(bottling_line, settable, horizon="2 h", events=events, reps=40, seed=1)
    table = live.table.set_index("event")
    assert len(table) == 2
    assert ((table["probability"] >= 0) & (table["probability"] <= 1)).all()

    # the same question from a buffer that is almost full: an overflow becomes more likely and sooner
    almost_full = {**settable, "buf_fill": {"level": 24}}
    tight = early_warning(bottling_line, almost_full, horizon="2 h", events=events[:1], reps=40, seed=1).table
    assert tight["probability"].iloc[0] >= table["probability"].iloc[0]
