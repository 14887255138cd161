"""MQTT → DuckDB ingest throughput: a publisher process sends telemetry through mosquitto on
loopback with QoS 1; twinforge's subscriber (MqttIngestor) writes it into a DuckDB file store.

Two runs: batched messages (100 samples per message, as gateways send) and one sample per
message. The batched run is also the burst/no-loss check: malformed messages are mixed in and
every message must end up stored or quarantined: ``lost = sent - stored - quarantined``.

Goal: >= 20,000 samples/s sustained with nothing lost. Last line:
``ingest samples_s=<x> msg_s=<y> lost=<n>``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import markdown_table, record
from twinforge.data import DuckDBStore, MosquittoBroker, MqttIngestor, PlantEmulator, TelemetrySample
from twinforge.data.brokers import mosquitto_binary, mosquitto_config
from twinforge.examples import examples_dir
from twinforge.spec import load_spec

MALFORMED = [b"{not json", b'{"value": 1.0}', b'{"ts": 1, "value": "high"}', b"[1, 2, 3]"]


def telemetry(spec, samples: int, start: float):
    """``samples`` unique samples spread over the twin's signals, 1 ms apart per signal."""
    signals = [(n.id, s.name) for n in spec.nodes for s in n.signals]
    per = samples // len(signals)
    for i in range(per):
        t = start + i * 0.001
        for node, sig in signals:
            yield TelemetrySample(node, sig, t, 1.0 + (i % 100) * 0.01)


def publisher(port: int, samples: int, per_message: int, malformed_every: int, out: mp.Queue) -> None:
    spec = load_spec(examples_dir() / "pump_station.yaml")
    em = PlantEmulator(spec, "127.0.0.1", port, samples_per_message=per_message).connect()
    sent_bad = 0
    wall0 = time.time()
    t0 = time.perf_counter()
    sent = 0
    chunk = []
    for s in telemetry(spec, samples, 1_700_000_000.0):
        chunk.append(s)
        if len(chunk) >= per_message * 50:
            sent += em.publish(chunk, wait_s=120).samples
            chunk = []
            if malformed_every:
                em.publish_raw(
                    f"twinforge/{spec.name}/current_meter/Current",
                    MALFORMED[sent_bad % len(MALFORMED)],
                    wait_s=None,
                )
                sent_bad += 1
    if chunk:
        sent += em.publish(chunk, wait_s=120).samples
    em.wait_acked(120)
    out.put(
        {
            "samples": sent,
            "messages": em.sent,
            "malformed": sent_bad,
            "seconds": time.perf_counter() - t0,
            "start": wall0,
        }
    )
    em.close()


def run(port: int, samples: int, per_message: int, malformed_every: int, workdir: Path, name: str) -> dict:
    spec = load_spec(examples_dir() / "pump_station.yaml")
    store = DuckDBStore(workdir / f"{name}.duckdb")
    ing = MqttIngestor(spec, store, "127.0.0.1", port, client_id=f"bench-{name}").start()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=publisher, args=(port, samples, per_message, malformed_every, out))
    proc.start()
    pub = out.get(timeout=600)
    proc.join(60)
    expected = pub["samples"] + pub["malformed"]
    ing.wait_until(lambda s: s.samples_stored + s.quarantined >= expected, timeout_s=120)
    elapsed = time.time() - pub["start"]
    stats = ing.stop()
    counts = store.counts(spec.name)
    store.close()
    stored, quarantined = counts["samples"], counts["quarantine"]
    return {
        "run": name,
        "samples/msg": per_message,
        "samples sent": pub["samples"],
        "messages sent": pub["messages"],
        "malformed sent": pub["malformed"],
        "stored": stored,
        "quarantined": quarantined,
        "lost": expected - stored - quarantined,
        "seconds": elapsed,
        "samples/s": stored / elapsed,
        "msg/s": pub["messages"] / elapsed,
        "publisher s": pub["seconds"],
        "batches": stats.batches,
        "backpressure waits": stats.backpressure_waits,
        "queue high water": stats.queue_high_water,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batched-samples", type=int, default=400_000)
    ap.add_argument("--single-samples", type=int, default=40_000)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if mosquitto_binary() is None:
        sys.exit("mosquitto is not installed (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="twinforge-bench-") as tmp:
        work = Path(tmp)
        broker = MosquittoBroker(data_dir=work / "broker").start()
        try:
            batched = run(broker.port, args.batched_samples, 100, 1, work, "batched")
            single = run(broker.port, args.single_samples, 1, 0, work, "single")
        finally:
            broker.close()
    rows = [batched, single]
    headers = list(batched)
    table = markdown_table(headers, [[r[h] for h in headers] for r in rows])
    print(table)
    lost = batched["lost"] + single["lost"]
    goal = batched["samples/s"] >= 20_000 and lost == 0
    verdict = (
        f"Goal (>= 20,000 samples/s sustained, nothing lost): **{'met' if goal else 'MISSED'}** — "
        f"{batched['samples/s']:,.0f} samples/s batched, {single['msg/s']:,.0f} messages/s single, lost {lost}."
    )
    print(verdict)
    if not args.no_record:
        conf = mosquitto_config(1883, "/var/lib/twinforge-mosquitto")
        body = (
            "Publisher in its own process (paho, QoS 1) → mosquitto 2 on loopback → `MqttIngestor` "
            "(paho, QoS 1, persistent session, PUBACK after the DuckDB commit) → DuckDB file store. "
            "Sustained rate = rows stored / time from the publisher's first message (after its connect) to the last row committed. "
            "The batched run mixes in one malformed message per 5,000 samples (burst/no-loss check: "
            "`lost = sent − stored − quarantined`).\n\n"
            f"{table}\n\n{verdict}\n\nThe broker configuration used (`mosquitto_config`):\n\n```\n{conf}```\n"
        )
        record("ingest", "MQTT ingest into DuckDB", body)
    print(f"ingest samples_s={batched['samples/s']:.0f} msg_s={single['msg/s']:.0f} lost={lost}")


if __name__ == "__main__":
    main()
