"""Chaos against a real mosquitto: poison messages, a store that refuses or fails, a broker killed
with SIGKILL, an ingestor killed mid-stream. Nothing acknowledged is lost, ingest never jams."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

from twinforge.data import DuckDBStore, InitialStateTelemetry, MqttIngestor, PlantEmulator

from .conftest import FLOW_RIG

pytestmark = pytest.mark.slow

T0 = 1_714_564_800.0
TOPIC = "twinforge/flow-rig/flow/q"
FENCE = "chaos/fence"  # a topic the ingestor does not subscribe to


def good(i: int) -> bytes:
    return json.dumps({"ts": T0 + i, "value": float(i % 40)}).encode()


POISON = [
    json.dumps({"ts": int(T0 * 1_000_000), "value": 1.0}).encode(),  # µs where seconds belong
    json.dumps({"ts_ms": int(T0 * 1_000_000), "value": 1.0}).encode(),  # µs where ms belong
    json.dumps({"ts": 1e300, "value": 1.0}).encode(),
    b'{"ts": 1714564800, "value": NaN}',
    b'{"ts": 1714564800, "value": Infinity}',
    b'{"ts": 1714564800, "value": "high"}',
    b'{"ts": "99999-01-01", "value": 1}',
    b"[" * 50_000 + b"]" * 50_000,  # nesting deeper than the JSON parser recurses
    os.urandom(2_000_000),  # a huge binary payload
]


def publish_all(mosquitto, items: list[tuple[str, bytes]], client_id: str = "chaos-pub") -> None:
    """Publish with QoS 1 and wait for every acknowledgement."""
    with PlantEmulator(_spec(), mosquitto.host, mosquitto.port, client_id=client_id) as em:
        for topic, payload in items:
            em.publish_raw(topic, payload, wait_s=None)
        em.wait_acked(60)


def _spec():
    from twinforge.spec import loads_spec

    return loads_spec(FLOW_RIG)


def test_poison_interleaved_with_good_messages_never_jams_ingest(flow_rig, tmp_path, mosquitto):
    path = tmp_path / "s.duckdb"
    items = []
    for i in range(60):
        items.append((TOPIC, good(i)))
        if i % 6 == 0:
            items.append((TOPIC, POISON[(i // 6) % len(POISON)]))
    big_batch = {"samples": [{"ts": T0 + 1000 + k, "value": 1.0} for k in range(20_000)]}  # ~1 MB, valid
    items.append((TOPIC, json.dumps(big_batch).encode()))
    n_poison = sum(1 for _t, p in items if p in POISON)
    with DuckDBStore(path) as store:
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig") as ing:
            publish_all(mosquitto, items)
            assert ing.wait_until(lambda s: s.samples_stored + s.quarantined >= 60 + 20_000 + n_poison)
            ing.wait_idle()
            assert ing.stats.store_errors == 0
        assert store.counts("flow-rig")["samples"] == 60 + 20_000
        q = store.quarantined("flow-rig")
        assert len(q) == n_poison and set(q["location"]) == {TOPIC}
        assert sum("outside the storable window" in r for r in q["reason"]) >= 3
        assert set(q["payload"]) == set(POISON)  # every poison message, its raw bytes kept whole
        # poison while the ingestor is away, then good data: a restart is not jammed by it
        publish_all(mosquitto, [(TOPIC, p) for p in POISON[:3]] + [(TOPIC, good(100 + i)) for i in range(5)])
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig") as ing:
            assert ing.stats.session_resumed == 1
            assert ing.wait_until(lambda s: s.samples_stored >= 5 and s.quarantined >= 3)
            publish_all(mosquitto, [(TOPIC, good(200))])
            assert ing.wait_until(lambda s: s.samples_stored >= 6)
        assert store.counts("flow-rig")["samples"] == 60 + 20_000 + 6
        assert store.counts("flow-rig")["quarantine"] == n_poison + 3


class RefusingStore(DuckDBStore):
    """A store with a bug the ingestor cannot foresee: any batch holding the value 666 fails."""

    def write_batch(self, batch, quarantine=()):
        if 666.0 in batch.value:
            raise RuntimeError("simulated store bug on value 666")
        return super().write_batch(batch, quarantine)


class FailingStore(DuckDBStore):
    """A store that is down (every write fails) until ``up`` is set."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.up = threading.Event()
        self.failed = 0

    def write_batch(self, batch, quarantine=()):
        if not self.up.is_set():
            self.failed += 1
            raise OSError("simulated disk failure")
        return super().write_batch(batch, quarantine)

    def write_quarantine(self, records):
        if not self.up.is_set():
            raise OSError("simulated disk failure")
        return super().write_quarantine(records)


def test_a_message_the_store_refuses_is_quarantined_and_an_outage_is_waited_out(flow_rig, mosquitto):
    with RefusingStore(":memory:") as store:
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, persistent=False) as ing:
            items = [(TOPIC, good(i)) for i in range(20)]
            items.insert(7, (TOPIC, json.dumps({"ts": T0 + 500, "value": 666}).encode()))
            publish_all(mosquitto, items)
            assert ing.wait_until(lambda s: s.samples_stored + s.quarantined >= 21)
        assert store.counts()["samples"] == 20 and ing.stats.store_rejected == 1
        (reason,) = store.quarantined()["reason"]
        assert reason.startswith("the store refused to write this message: simulated store bug on value 666")
    with FailingStore(":memory:") as store:
        with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, persistent=False) as ing:
            publish_all(mosquitto, [(TOPIC, good(i)) for i in range(20)])
            assert ing.wait_until(lambda s: s.store_errors >= 2)
            assert store.counts()["samples"] == 0 and store.counts()["quarantine"] == 0
            store.up.set()
            assert ing.wait_until(lambda s: s.samples_stored >= 20, timeout_s=30)
        assert store.counts()["samples"] == 20 and store.counts()["quarantine"] == 0
        assert ing.stats.store_rejected == 0


def test_broker_sigkill_keeps_every_acknowledged_message(flow_rig, tmp_path, mosquitto):
    """Five times: QoS 1 messages are published while the ingestor is away (its persistent session
    queues them), the broker is killed with SIGKILL and restarted on the same data folder, the
    ingestor comes back, and every acknowledged sample is stored.

    mosquitto writes its snapshot right after sending a PUBACK, in the same pass of its single
    event loop; the fence message (acknowledged only after that pass) makes "acknowledged" mean
    "acknowledged before the broker's next pass", which is the guarantee (docs/data.md)."""
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig").start().stop()
        expected = 0
        for run in range(5):
            with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=5) as em:
                rep = em.publish(InitialStateTelemetry(flow_rig, 60, start=T0 + run * 1000, seed=run))
                em.publish_raw(FENCE, b"fence")
            expected += rep.samples
            mosquitto.kill()
            assert not mosquitto.running
            mosquitto.start()
            with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig") as ing:
                assert ing.stats.session_resumed == 1  # the session itself survived the crash
                assert ing.wait_until(lambda _s, n=expected: store.counts()["samples"] >= n, timeout_s=15)
            assert store.counts()["samples"] == expected


def _lines(stream, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put(line)


def test_ingestor_killed_mid_stream_loses_nothing(flow_rig, tmp_path, mosquitto):
    """`twinforge ingest-mqtt` in its own process is killed with SIGKILL while telemetry flows; a new
    ingestor on the same store and session stores every acknowledged sample, none twice."""
    (tmp_path / "rig.yaml").write_text(FLOW_RIG)
    path = tmp_path / "s.duckdb"
    with DuckDBStore(path) as store:  # create the persistent session before anything is published
        MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig").start().stop()
    cmd = [
        sys.executable,
        "-m",
        "twinforge",
        "ingest-mqtt",
        str(tmp_path / "rig.yaml"),
        "-b",
        mosquitto.address,
    ]
    cmd += ["--store", str(path), "--client-id", "rig", "--duration", "120"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    output: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, output), daemon=True).start()
    try:
        assert "ingesting 'flow-rig'" in output.get(timeout=60)
        source = list(InitialStateTelemetry(flow_rig, 600, start=T0, seed=3))
        em = PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=4).connect()
        done = {}
        publisher = threading.Thread(
            target=lambda: done.setdefault("report", em.publish(source, speed=600 / 2.0, wait_s=60))
        )
        publisher.start()
        while publisher.is_alive() and em.sent < 60:  # let a part of the stream through, then kill
            publisher.join(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        publisher.join(60)
        em.close()
        assert done["report"].samples == len(source)
        with DuckDBStore(path, read_only=True) as store:  # what the killed process had committed
            before = store.counts()["samples"]
        assert before < len(source)  # it was killed mid-stream
        with DuckDBStore(path) as store:
            with MqttIngestor(flow_rig, store, mosquitto.host, mosquitto.port, client_id="rig") as ing:
                assert ing.wait_until(lambda _s: store.counts()["samples"] >= len(source), timeout_s=30)
                ing.wait_idle()
            assert store.counts("flow-rig")["samples"] == len(source)
            assert store.counts("flow-rig")["quarantine"] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = "".join(output.queue)
    assert "Traceback" not in text
