"""MQTT → DuckDB ingest throughput and loss: a publisher process sends telemetry through mosquitto
on loopback with QoS 1; twinforge's subscriber (MqttIngestor) writes it into a DuckDB file store.

Four runs, each with its own broker (fresh data folder), store and ingest session:

- ``paced``: 100 samples per message (as gateways send); the publisher waits for the broker's
  acknowledgements after every 50 messages (flow control). Headline sustained rate.
- ``burst``: 100 samples per message, every message handed to the MQTT client at once, without
  waiting on any acknowledgement (up to 1,000 in flight, the rest queued in the client).
- ``broker restart``: as ``paced``; once the publisher has handed over a third of its messages the
  broker is killed (SIGKILL) and restarted on its data folder; publisher and ingestor reconnect by
  themselves.
- ``single``: one sample per message, paced as ``paced``.

``paced`` and ``burst`` mix in one malformed message per 5,000 samples. Counting is in samples:
``lost = samples sent - samples stored`` (every sample has its own series and time, so a sample is
stored at most once); ``acked lost`` = samples in messages the broker acknowledged to the publisher
that are not in the store (checked sample by sample); malformed messages are counted apart
(``malformed sent`` vs ``quarantined``).

Goal: >= 20,000 samples/s sustained with nothing lost. Last line:
``ingest samples_s=<paced> burst_samples_s=<x> msg_s=<single> lost=<samples> acked_lost=<samples>
malformed_missing=<messages>`` (lost and acked_lost summed over all runs). ``--record`` writes the
``ingest`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from benchmarks._record import add_record_flag, markdown_table, record
from twinforge.data import DuckDBStore, MosquittoBroker, MqttIngestor
from twinforge.data.brokers import mosquitto_binary, mosquitto_config
from twinforge.data.mqtt import MqttMapping
from twinforge.examples import examples_dir
from twinforge.spec import load_spec

SPEC_PATH = examples_dir() / "pump_station.yaml"
T0_MS = 1_700_000_000_000  # first sample time (epoch ms); samples of a signal are 1 ms apart
MALFORMED = [b"{not json", b'{"value": 1.0}', b'{"ts": 1, "value": "high"}', b"[1, 2, 3]"]
MALFORMED_EVERY = 5_000  # samples between two malformed messages
PACE = 50  # a paced publisher waits for acknowledgements after this many messages
RESTART_AT = 1 / 3  # share of the messages published when the broker is killed
RESTART_DOWN_S = 0.5  # seconds the broker stays dead


# -- messages -----------------------------------------------------------------------------------


def messages(samples: int, per_message: int, malformed: bool) -> list[tuple[str, bytes, tuple]]:
    """Every message of a run: ``(topic, payload, key)`` with ``key = (node, signal, first index,
    count)`` of the samples it holds (``(None, None, 0, 0)`` for a malformed one). Deterministic, so
    the publisher process and the checker build the same list."""
    spec = load_spec(SPEC_PATH)
    mapping = MqttMapping.default(spec)
    signals = [(n.id, s.name) for n in spec.nodes for s in n.signals]
    steps = samples // len(signals)
    out: list[tuple[str, bytes, tuple]] = []
    bad_topic = mapping.topic_for("current_meter", "Current")[0]
    since_bad = n_bad = 0
    for first in range(0, steps, per_message):
        count = min(per_message, steps - first)
        for node, sig in signals:
            topic, named = mapping.topic_for(node, sig)
            items = []
            for i in range(first, first + count):
                item: dict[str, Any] = {"ts_ms": T0_MS + i, "value": 1.0 + (i % 100) * 0.01}
                if named:
                    item["signal"] = sig
                items.append(item)
            body = items[0] if count == 1 else {"samples": items}
            out.append((topic, json.dumps(body, separators=(",", ":")).encode(), (node, sig, first, count)))
            since_bad += count
            if malformed and since_bad >= MALFORMED_EVERY:
                out.append((bad_topic, MALFORMED[n_bad % len(MALFORMED)], (None, None, 0, 0)))
                n_bad += 1
                since_bad = 0
    return out


# -- the publisher (its own process) --------------------------------------------------------------


def publisher(port: int, cfg: dict[str, Any], out: mp.Queue) -> None:
    """Publish a run's messages with QoS 1 and report which ones the broker acknowledged."""
    import paho.mqtt.client as paho

    msgs = messages(cfg["samples"], cfg["per_message"], cfg["malformed"])
    lock = threading.Lock()
    pending: dict[int, int] = {}  # mid -> message index
    early: set[int] = set()  # mids acknowledged before publish() returned them
    acked = [False] * len(msgs)
    connected = threading.Event()

    def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        # paho holds its own lock here: never call into paho while holding ours
        with lock:
            k = pending.pop(mid, None)
            if k is None:
                early.add(mid)
            else:
                acked[k] = True

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cfg["client_id"])
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)  # no limit: a burst is queued in the client, never refused
    client.reconnect_delay_set(0.05, 0.5)
    client.on_publish = on_publish
    client.on_connect = lambda *_a: connected.set()
    client.connect_async("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not connected.wait(30):
        out.put({"error": f"publisher: no connection to 127.0.0.1:{port} within 30 s"})
        return

    def wait_acked(timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    return True
            time.sleep(0.002)
        return False

    out.put({"connected": True})
    wall0 = time.time()
    t0 = time.perf_counter()
    for k, (topic, payload, _key) in enumerate(msgs):
        mid = client.publish(topic, payload, qos=1).mid
        with lock:
            if mid in early:
                early.discard(mid)
                acked[k] = True
            else:
                pending[mid] = k
        if k + 1 == cfg["signal_at"]:
            out.put({"progress": k + 1})  # the checker kills the broker now, mid-stream
        if cfg["paced"] and (k + 1) % PACE == 0:
            wait_acked(120)
    handed_s = time.perf_counter() - t0
    all_acked = wait_acked(300)
    acked_s = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    out.put(
        {
            "messages": len(msgs),
            "acked": [k for k, a in enumerate(acked) if a],
            "all_acked": all_acked,
            "handed_s": handed_s,
            "acked_s": acked_s,
            "start": wall0,
        }
    )


# -- one run ------------------------------------------------------------------------------------


def stored_keys(
    store: DuckDBStore, twin: str, signals: list[tuple[str, str]]
) -> dict[tuple[str, str], set[int]]:
    """Per signal, the sample indices (ms since T0_MS) held by the store."""
    out = {}
    for node, sig in signals:
        ts = store.range(twin, node, sig)["timestamp"]
        ms = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1) - T0_MS
        out[(node, sig)] = set(ms.astype("int64").tolist())
    return out


def run(
    name: str,
    samples: int,
    per_message: int,
    *,
    malformed: bool,
    paced: bool,
    restart: bool,
    work: Path,
) -> dict[str, Any]:
    """One run on its own broker (fresh data folder: the broker's snapshot holds this run only)."""
    folder = work / name.replace(" ", "_")
    broker = MosquittoBroker(data_dir=folder / "broker").start()
    try:
        return _run(
            broker, name, samples, per_message, malformed=malformed, paced=paced, restart=restart, work=folder
        )
    finally:
        broker.close()


def _run(
    broker: MosquittoBroker,
    name: str,
    samples: int,
    per_message: int,
    *,
    malformed: bool,
    paced: bool,
    restart: bool,
    work: Path,
) -> dict[str, Any]:
    spec = load_spec(SPEC_PATH)
    signals = [(n.id, s.name) for n in spec.nodes for s in n.signals]
    store = DuckDBStore(work / "store.duckdb")
    ing = MqttIngestor(
        spec,
        store,
        broker.host,
        broker.port,
        client_id=f"bench-{name.replace(' ', '-')}",
        reconnect_max_s=0.5,
    ).start()
    msgs = messages(samples, per_message, malformed)  # the same list the publisher sends
    cfg = {
        "signal_at": int(len(msgs) * RESTART_AT) if restart else -1,
        "samples": samples,
        "per_message": per_message,
        "malformed": malformed,
        "paced": paced,
        "client_id": f"bench-pub-{name.replace(' ', '-')}",
    }
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=publisher, args=(broker.port, cfg, out))
    proc.start()
    hello = out.get(timeout=120)
    if "error" in hello:
        raise SystemExit(hello["error"])
    sent_samples = sum(m[2][3] for m in msgs)
    sent_bad = sum(1 for m in msgs if m[2][0] is None)
    at_kill = ""
    if restart:
        progress = out.get(timeout=300)
        broker.kill()  # SIGKILL, mid-stream
        at_kill = f"{progress['progress']} / {ing.stats.samples_stored}"
        time.sleep(RESTART_DOWN_S)
        broker.start()
    pub = out.get(timeout=1200)
    proc.join(60)
    ing.wait_until(lambda s: s.samples_stored + s.quarantined >= sent_samples + sent_bad, timeout_s=120)
    elapsed = time.time() - pub["start"]
    ing.wait_idle(quiet_s=0.5, timeout_s=30)  # redeliveries after a restart come on top
    stats = ing.stop()
    counts = store.counts(spec.name)
    have = stored_keys(store, spec.name, signals)
    store.close()
    acked = set(pub["acked"])
    acked_samples = acked_lost = 0
    for k, (_topic, _payload, (node, sig, first, count)) in enumerate(msgs):
        if node is None or k not in acked:
            continue
        acked_samples += count
        got = have[(node, sig)]
        acked_lost += sum(1 for i in range(first, first + count) if i not in got)
    stored = counts["samples"]
    return {
        "run": name,
        "samples/msg": per_message,
        "samples sent": sent_samples,
        "samples acked": acked_samples,
        "samples stored": stored,
        "lost": sent_samples - stored,
        "acked lost": acked_lost,
        "malformed sent": sent_bad,
        "quarantined": counts["quarantine"],
        "messages": pub["messages"],
        "seconds": elapsed,
        "samples/s": stored / elapsed,
        "msg/s": pub["messages"] / elapsed,
        "publish calls s": pub["handed_s"],
        "all acked s": pub["acked_s"],
        "at SIGKILL: msgs published / samples stored": at_kill,
        "ingest reconnects": stats.reconnects,
        "batches": stats.batches,
        "backpressure waits": stats.backpressure_waits,
        "queue high water": stats.queue_high_water,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paced-samples", type=int, default=400_000)
    ap.add_argument("--burst-samples", type=int, default=200_000)
    ap.add_argument("--restart-samples", type=int, default=200_000)
    ap.add_argument("--single-samples", type=int, default=10_000)
    add_record_flag(ap)
    args = ap.parse_args()
    if mosquitto_binary() is None:
        sys.exit("mosquitto is not installed (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="twinforge-bench-") as tmp:
        work = Path(tmp)
        rows = [
            run("paced", args.paced_samples, 100, malformed=True, paced=True, restart=False, work=work),
            run("burst", args.burst_samples, 100, malformed=True, paced=False, restart=False, work=work),
            run(
                "broker restart",
                args.restart_samples,
                100,
                malformed=False,
                paced=True,
                restart=True,
                work=work,
            ),
            run("single", args.single_samples, 1, malformed=False, paced=True, restart=False, work=work),
        ]
    by = {r["run"]: r for r in rows}
    headers = list(rows[0])
    table = markdown_table(headers, [[r[h] for h in headers] for r in rows])
    print(table)
    lost = sum(r["lost"] for r in rows)
    acked_lost = sum(r["acked lost"] for r in rows)
    malformed_missing = sum(r["malformed sent"] - r["quarantined"] for r in rows)
    rate, burst, single = by["paced"]["samples/s"], by["burst"]["samples/s"], by["single"]["msg/s"]
    goal = rate >= 20_000 and lost == 0 and acked_lost == 0
    verdict = (
        f"Goal (>= 20,000 samples/s sustained, nothing lost): **{'met' if goal else 'MISSED'}** — "
        f"{rate:,.0f} samples/s paced, {burst:,.0f} samples/s in the burst, {single:,.0f} messages/s with one "
        f"sample each; lost {lost} samples of {sum(r['samples sent'] for r in rows):,} sent, {acked_lost} "
        f"acknowledged samples lost (broker SIGKILL included); malformed messages not quarantined: "
        f"{malformed_missing}."
    )
    print(verdict)
    conf = mosquitto_config(1883, "/var/lib/twinforge-mosquitto")
    body = (
        "Publisher in its own process (paho, QoS 1, up to 1,000 messages in flight) → mosquitto 2 on "
        "loopback → `MqttIngestor` (paho, QoS 1, persistent session, PUBACK after the DuckDB commit) → "
        "DuckDB file store; each run has its own broker (fresh data folder), store and session. Rate = samples stored / time "
        "from the publisher's first message (after its connect) to the last sample committed.\n\n"
        f"- `paced`: 100 samples per message, the publisher waits for acknowledgements every {PACE} "
        "messages (headline rate);\n"
        "- `burst`: 100 samples per message, all handed to the MQTT client at once, no wait on any "
        "acknowledgement (`publish calls s`: time until the last `publish()` returned);\n"
        f"- `broker restart`: as `paced`; when the publisher has handed over {RESTART_AT:.0%} of its messages, "
        f"mosquitto is killed (SIGKILL) and restarted on its data folder {RESTART_DOWN_S:g} s later; publisher and ingestor "
        "reconnect by themselves;\n"
        "- `single`: one sample per message, paced.\n\n"
        f"`paced` and `burst` mix in one malformed message per {MALFORMED_EVERY:,} samples. Counts are in "
        "samples: `lost = samples sent − samples stored` (each sample has its own series and time, so it is "
        "stored at most once); `acked lost` = samples of messages the broker acknowledged that are not in "
        "the store, checked sample by sample; malformed messages are counted apart (`malformed sent` vs "
        "`quarantined`).\n\n"
        f"{table}\n\n{verdict}\n\nThe broker configuration used (`mosquitto_config`):\n\n```\n{conf}```\n"
    )
    record("ingest", "MQTT ingest into DuckDB", body)
    print(
        f"ingest samples_s={rate:.0f} burst_samples_s={burst:.0f} msg_s={single:.0f} lost={lost} "
        f"acked_lost={acked_lost} malformed_missing={malformed_missing}"
    )


if __name__ == "__main__":
    main()
