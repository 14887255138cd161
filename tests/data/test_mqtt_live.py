"""MQTT ingest against real brokers: mosquitto processes on loopback and the embedded amqtt broker."""

from __future__ import annotations

import threading
import time

import pytest

from twinforge.data import (
    DuckDBStore,
    EmbeddedBroker,
    InitialStateTelemetry,
    MqttIngestor,
    PlantEmulator,
)

pytestmark = pytest.mark.slow

T_START = 1_714_564_800.0
PREFIX = "twinforge/flow-rig"
MALFORMED = [
    (f"{PREFIX}/flow/q", b"{broken json"),
    (f"{PREFIX}/flow/q", b'{"value": 1.0}'),
    (f"{PREFIX}/flow/q", b'{"ts": 1714564800, "value": "high"}'),
    (f"{PREFIX}/flow/nosuch", b'{"ts": 1714564800, "value": 1.0}'),
    (f"{PREFIX}/unmapped", b'{"ts": 1714564800, "value": 1.0}'),
]


def telemetry(spec, seconds, start=T_START):
    return InitialStateTelemetry(spec, seconds, start=start, seed=1)


def test_malformed_messages_through_mosquitto_land_in_quarantine(flow_rig, store, mosquitto):
    with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port) as ing:
        with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=25) as em:
            rep = em.publish(telemetry(flow_rig, 300))
            for topic, payload in MALFORMED:
                em.publish_raw(topic, payload)
        assert ing.wait_until(lambda s: s.samples_stored + s.quarantined >= rep.samples + len(MALFORMED))
    counts = store.counts("flow-rig")
    assert rep.samples == 300 + 30 + 30 + 60  # q 1 s, t 10 s (x2), v 5 s
    assert counts["samples"] == rep.samples
    q = store.quarantined("flow-rig")
    assert len(q) == len(MALFORMED)
    reasons = list(q["reason"])
    assert any("not valid JSON" in r for r in reasons)
    assert any("missing field 'ts'" in r for r in reasons)
    assert any("'value' must be a number" in r for r in reasons)
    assert any("has no signal 'nosuch'" in r for r in reasons)
    assert any("matches no topic rule" in r for r in reasons)
    assert set(q["text"]) == {p.decode() for _t, p in MALFORMED}


def test_broker_restart_mid_stream_loses_nothing(flow_rig, store, mosquitto):
    """Clean broker restart (SIGTERM saves sessions) while the emulator publishes: both clients
    reconnect by themselves, the subscriber resubscribes, every sample arrives exactly once in the store."""
    source = telemetry(flow_rig, 600)
    expected = sum(1 for _ in source)
    with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, reconnect_max_s=0.5) as ing:
        em = PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=5).connect()
        result = {}

        def publish():
            result["report"] = em.publish(source, speed=600 / 2.0, wait_s=60)  # ~2 s of publishing

        thread = threading.Thread(target=publish)
        thread.start()
        time.sleep(0.6)
        mosquitto.stop()
        assert not mosquitto.running
        time.sleep(0.3)
        mosquitto.start()
        thread.join(60)
        em.close()
        assert result["report"].samples == expected
        assert ing.wait_until(lambda s: store.counts()["samples"] >= expected, timeout_s=30)
        ing.wait_idle()
        assert ing.stats.disconnects >= 1 and ing.stats.reconnects >= 1
    assert store.counts("flow-rig")["samples"] == expected
    assert store.counts("flow-rig")["quarantine"] == 0
    flow = store.range("flow-rig", "flow", "q")
    assert flow["timestamp"].is_monotonic_increasing and len(flow) == 600


def test_messages_queued_while_ingestor_is_away_survive_a_broker_restart(flow_rig, tmp_path, mosquitto):
    """Persistent session: QoS 1 messages published while the ingestor is offline are kept by the
    broker (on disk across its restart) and delivered when the ingestor comes back."""
    path = tmp_path / "store.duckdb"
    with DuckDBStore(path) as store:
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig-ingest") as ing:
            with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port) as em:
                first = em.publish(telemetry(flow_rig, 20))
            assert ing.wait_until(lambda s: s.samples_stored >= first.samples)
        # ingestor away; the broker queues for its session
        with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port) as em:
            away = em.publish(telemetry(flow_rig, 20, start=T_START + 20))
        mosquitto.stop()
        mosquitto.start()
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig-ingest") as ing:
            assert ing.stats.session_resumed == 1
            with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port) as em:
                after = em.publish(telemetry(flow_rig, 20, start=T_START + 40))
            total = first.samples + away.samples + after.samples
            assert ing.wait_until(lambda s: store.counts()["samples"] >= total)
        assert store.counts()["samples"] == total
        assert store.range("flow-rig", "flow", "q")["value"].count() == 60


def test_ingestor_reconnects_and_resubscribes_after_broker_crash(flow_rig, store, mosquitto):
    """SIGKILL: the broker loses its unsaved state; the ingestor reconnects on its own, subscribes
    again, and messages published after the restart arrive."""
    with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, reconnect_max_s=0.5) as ing:
        mosquitto.kill()
        assert ing.wait_until(lambda s: s.disconnects == 1, timeout_s=10)
        mosquitto.start()
        ing.wait_connected(15)
        assert ing.stats.connects == 2
        with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=10) as em:
            rep = em.publish(telemetry(flow_rig, 50))
        assert ing.wait_until(lambda s: s.samples_stored >= rep.samples)
    assert store.counts()["samples"] == rep.samples


class SlowStore(DuckDBStore):
    """A store whose writes take 20 ms (a test double for a busy disk)."""

    def write_batch(self, batch, quarantine=()):
        time.sleep(0.02)
        return super().write_batch(batch, quarantine)


def test_backpressure_blocks_instead_of_dropping(flow_rig, mosquitto):
    with SlowStore(":memory:") as store:
        with MqttIngestor(
            flow_rig, store, mosquitto.host, mosquitto.port, queue_size=4, batch_samples=20, persistent=False
        ) as ing:
            with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port) as em:
                rep = em.publish(telemetry(flow_rig, 200))
            assert ing.wait_until(lambda s: s.samples_stored >= rep.samples, timeout_s=60)
            assert ing.stats.backpressure_waits > 0
            assert ing.stats.queue_high_water <= 4
        assert store.counts()["samples"] == rep.samples


def test_mqtt5_session(flow_rig, store, mosquitto):
    with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, protocol="5") as ing:
        with PlantEmulator(
            flow_rig, mosquitto.host, mosquitto.port, protocol="5", samples_per_message=50
        ) as em:
            rep = em.publish(telemetry(flow_rig, 100))
            em.publish_raw(f"{PREFIX}/flow/q", b"[]")
        assert ing.wait_until(lambda s: s.samples_stored + s.quarantined >= rep.samples + 1)
    assert store.counts()["samples"] == rep.samples and store.counts()["quarantine"] == 1


def test_embedded_amqtt_broker_path(flow_rig, store):
    with EmbeddedBroker() as broker, MqttIngestor(flow_rig, store, broker.host, broker.port) as ing:
        with PlantEmulator(flow_rig, broker.host, broker.port, samples_per_message=20) as em:
            rep = em.publish(telemetry(flow_rig, 60))
            for topic, payload in MALFORMED:
                em.publish_raw(topic, payload)
        assert ing.wait_until(lambda s: s.samples_stored + s.quarantined >= rep.samples + len(MALFORMED))
    assert store.counts()["samples"] == rep.samples
    assert store.counts()["quarantine"] == len(MALFORMED)
