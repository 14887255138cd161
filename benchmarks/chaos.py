"""Chaos runs: does ingest lose acknowledged data, jam, or crash when things go wrong?

Ingest part (real mosquitto on loopback with twinforge's configuration, ``MqttIngestor`` writing a
DuckDB file store, QoS 1 with a persistent session), 5 runs of each scenario:

- ``broker SIGKILL``: telemetry flows, the broker is killed with SIGKILL mid-stream and restarted on
  its data folder; publisher and ingestor reconnect by themselves.
- ``ingestor SIGKILL``: ``twinforge ingest-mqtt`` runs in its own process and is killed with SIGKILL
  mid-stream; a new ingestor resumes the session on the same store.
- ``poison``: good messages interleaved with poison (µs/ms timestamps where seconds belong, 1e300,
  NaN, Infinity, strings, deep nesting, a 1 MB binary blob); the ingestor is restarted half-way.
- ``burst``: thousands of messages published without waiting on acknowledgements (up to 1000 in
  flight), the ingestor live.

Counted per scenario: ``lost`` = samples the broker acknowledged to the publisher that are not in
the store; ``jammed`` = runs after which good data published last (a probe) was not stored;
``crashed`` = runs with a traceback (an exception logged by twinforge, an error in the run, or one in
the ingest process's output) or a hang (a wait that timed out). Other chaos parts plug in as
modules with a ``measure()`` function: ``benchmarks.chaos_pii`` (PII redaction recall/precision)
and ``benchmarks.chaos_inputs`` (hostile inputs: runs, crashed); each returns ``rows`` for its table.

Last line: ``chaos runs=<n> lost=<n> jammed=<n> crashed=<n> pii_recall=<%> pii_precision=<%>``.
``--record`` writes the ``chaos`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as paho

from benchmarks._record import add_record_flag, markdown_table, record
from twinforge.data import DuckDBStore, MosquittoBroker, MqttIngestor
from twinforge.data.brokers import mosquitto_binary
from twinforge.examples import examples_dir
from twinforge.spec import load_spec

RUNS = 5
SPEC_PATH = examples_dir() / "pump_station.yaml"
NODE, SIGNAL = "current_meter", "Current"
TOPIC = f"twinforge/pump-station/{NODE}/{SIGNAL}"
T0 = 1_700_000_000  # epoch seconds of the first sample; every run has its own second range
WAIT_S = 60.0  # longest wait for anything; reaching it counts as a hang
RUN_LIMIT_S = 300.0  # a run still going after this long hangs
_PROCESSES: list[Any] = []  # brokers and ingest processes, killed if a run hangs
#: mosquitto_config overrides (``--autosave-seconds``: the periodic autosave twinforge used before)
BROKER_CONFIG: dict[str, Any] = {}

POISON = [
    json.dumps({"ts": T0 * 1_000_000, "value": 1.0}).encode(),  # µs where seconds belong
    json.dumps({"ts": T0 * 1000, "value": 1.0}).encode(),  # ms where seconds belong
    json.dumps({"ts_ms": T0 * 1_000_000, "value": 1.0}).encode(),  # µs where ms belong
    json.dumps({"ts": 1e300, "value": 1.0}).encode(),
    b'{"ts": 1700000000, "value": NaN}',
    b'{"ts": 1700000000, "value": Infinity}',
    b'{"ts": 1700000000, "value": "high"}',
    b'{"ts": "99999-01-01", "value": 1}',
    b"[" * 50_000 + b"]" * 50_000,
    b"\xff" * 1_000_000,
]


# -- plumbing ------------------------------------------------------------------------------------


class Publisher:
    """A QoS 1 publisher that knows which samples the broker acknowledged (per message id).

    paho calls ``on_publish`` holding its own lock, so this class never holds its lock while
    calling into paho: an acknowledgement that overtakes the bookkeeping is parked in ``_early``.
    """

    def __init__(self, host: str, port: int, client_id: str, inflight: int = 100) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, list[int]] = {}  # mid -> sample times (s) of that message
        self._early: set[int] = set()  # mids acknowledged before publish() recorded them
        self.acked: set[int] = set()
        self.sent_messages = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_publish = self._on_publish
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with self._lock:
            if mid in self._pending:
                self.acked.update(self._pending.pop(mid))
            else:
                self._early.add(mid)

    def _send(self, topic: str, payload: bytes | str, times: list[int]) -> None:
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._lock:
            self.sent_messages += 1
            if mid in self._early:
                self._early.discard(mid)
                self.acked.update(times)
            else:
                self._pending[mid] = times

    def publish(self, times: list[int], topic: str = TOPIC) -> None:
        """One message holding one sample per time (value: seconds mod 20, within range)."""
        self._send(topic, json.dumps({"samples": [{"ts": t, "value": float(t % 20)} for t in times]}), times)

    def publish_raw(self, payload: bytes, topic: str = TOPIC) -> None:
        self._send(topic, payload, [])

    def wait_acked(self, timeout_s: float = WAIT_S) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Watch:
    """Counts tracebacks twinforge logs (``log.exception``) while a run goes on."""

    def __init__(self) -> None:
        self.tracebacks: list[str] = []
        self._handler = logging.Handler(logging.ERROR)
        self._handler.emit = self._emit  # type: ignore[method-assign]

    def _emit(self, rec: logging.LogRecord) -> None:
        if rec.exc_info:
            self.tracebacks.append(f"{rec.name}: {rec.getMessage()}")

    def __enter__(self) -> Watch:
        logging.getLogger("twinforge").addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("twinforge").removeHandler(self._handler)


def stored_times(store: DuckDBStore) -> set[int]:
    frame = store.range("pump-station", NODE, SIGNAL)
    return {int(t.timestamp()) for t in frame["timestamp"]}


def wait_for(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def probe(pub: Publisher, store: DuckDBStore, start: int) -> bool:
    """Good data published after the chaos: stored (True) or not (ingest jammed)."""
    times = list(range(start, start + 5))
    pub.publish(times)
    pub.wait_acked(10)
    return wait_for(lambda: set(times) <= stored_times(store), 15)


def chunks(times: list[int], per_message: int) -> Iterator[list[int]]:
    for i in range(0, len(times), per_message):
        yield times[i : i + per_message]


class Run:
    """Tally of one run, folded into the scenario's row."""

    def __init__(self) -> None:
        self.acked = self.stored = self.quarantined = self.lost = 0
        self.jammed = self.crashed = False
        self.notes: list[str] = []

    def settle(self, pub: Publisher, store: DuckDBStore, extra: set[int] | None = None) -> None:
        """Wait until every acknowledged sample is stored (or the wait runs out), then count."""
        acked = pub.acked | (extra or set())
        if not wait_for(lambda: acked <= stored_times(store), 30):
            self.notes.append("not all acknowledged samples arrived within 30 s")
        have = stored_times(store)
        self.acked, self.stored = len(acked), len(have)
        self.lost = len(acked - have)
        self.quarantined = store.counts()["quarantine"]


def scenario(name: str, body: Callable[[Path, int, Run], None], work: Path) -> dict[str, Any]:
    """Run ``body`` RUNS times (fresh broker folder and store each time) and tally one row."""
    row: dict[str, Any] = dict.fromkeys(("acked", "stored", "quarantined", "lost", "jammed", "crashed"), 0)
    notes: list[str] = []
    t0 = time.perf_counter()
    for run in range(RUNS):
        folder = work / f"{name.replace(' ', '_')}-{run}"
        folder.mkdir()
        tally = Run()
        with Watch() as watch:
            errors: list[BaseException] = []

            def guarded(
                folder: Path = folder, run: int = run, tally: Run = tally, errors: list = errors
            ) -> None:
                try:
                    body(folder, run, tally)
                except Exception as exc:  # a bug, or a wait that ran out: a crash
                    errors.append(exc)

            worker = threading.Thread(target=guarded, name=f"chaos-{name}-{run}", daemon=True)
            worker.start()
            worker.join(RUN_LIMIT_S)
            if worker.is_alive():  # a hang: free what the run holds and go on
                tally.crashed = True
                tally.notes.append(f"run {run}: hung for {RUN_LIMIT_S:g} s")
                for proc in _PROCESSES:
                    with contextlib.suppress(Exception):
                        proc.kill()
            elif errors:
                tally.crashed = True
                tally.notes.append(f"run {run}: {type(errors[0]).__name__}: {errors[0]}")
        if watch.tracebacks:
            tally.crashed = True
            tally.notes.append(f"run {run}: traceback logged: {watch.tracebacks[0]}")
        for key in ("acked", "stored", "quarantined", "lost"):
            row[key] += getattr(tally, key)
        row["jammed"] += int(tally.jammed)
        row["crashed"] += int(tally.crashed)
        notes += [f"run {run}: {n}" if not n.startswith("run ") else n for n in tally.notes]
    return {
        "part": "ingest",
        "scenario": name,
        "runs": RUNS,
        **row,
        "seconds": round(time.perf_counter() - t0, 1),
        "notes": "; ".join(notes) or "-",
    }


def _read_lines(stream: Any, out: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        out.put(line)


def _broker(folder: Path) -> MosquittoBroker:
    broker = MosquittoBroker(data_dir=folder / "broker", **BROKER_CONFIG).start()
    _PROCESSES.append(broker)
    return broker


def _ingestor(spec: Any, store: DuckDBStore, broker: MosquittoBroker, **kw: Any) -> MqttIngestor:
    return MqttIngestor(spec, store, broker.host, broker.port, client_id="chaos-ingest", **kw)


# -- scenarios -----------------------------------------------------------------------------------


def broker_sigkill(work: Path) -> dict[str, Any]:
    spec = load_spec(SPEC_PATH)

    def body(folder: Path, run: int, tally: Run) -> None:
        base = T0 + run * 100_000
        broker = _broker(folder)
        store = DuckDBStore(folder / "store.duckdb")
        ing = _ingestor(spec, store, broker, reconnect_max_s=0.5).start()
        pub = Publisher(broker.host, broker.port, f"chaos-pub-{run}")
        try:
            times = list(range(base, base + 2000))
            messages = list(chunks(times, 5))
            kill_at = random.Random(run).randint(len(messages) // 4, 3 * len(messages) // 4)
            for i, msg in enumerate(messages):
                pub.publish(msg)
                if i == kill_at:
                    broker.kill()  # SIGKILL, mid-stream
                    time.sleep(0.3)
                    broker.start()
                time.sleep(0.002)
            if not pub.wait_acked():
                tally.notes.append("publisher: not every message acknowledged (counted only the acked)")
            tally.settle(pub, store)
            tally.jammed = not probe(pub, store, base + 50_000)
        finally:
            pub.close()
            ing.stop()
            store.close()
            broker.close()

    return scenario("broker SIGKILL", body, work)


def ingestor_sigkill(work: Path) -> dict[str, Any]:
    spec = load_spec(SPEC_PATH)

    def body(folder: Path, run: int, tally: Run) -> None:
        base = T0 + run * 100_000
        broker = _broker(folder)
        path = folder / "store.duckdb"
        with DuckDBStore(path) as store:  # the persistent session exists before publishing
            _ingestor(spec, store, broker).start().stop()
        cmd = [sys.executable, "-m", "twinforge", "ingest-mqtt", str(SPEC_PATH), "-b", broker.address]
        cmd += ["--store", str(path), "--client-id", "chaos-ingest", "--duration", "300"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        _PROCESSES.append(proc)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
        pub = Publisher(broker.host, broker.port, f"chaos-pub-{run}")
        store = None
        try:
            if "ingesting" not in lines.get(timeout=WAIT_S):
                raise RuntimeError("ingest process did not start")
            times = list(range(base, base + 2000))
            messages = list(chunks(times, 5))
            kill_at = random.Random(run).randint(len(messages) // 4, 3 * len(messages) // 4)
            for i, msg in enumerate(messages):
                pub.publish(msg)
                if i == kill_at:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(WAIT_S)
                time.sleep(0.002)
            if not pub.wait_acked():
                tally.notes.append("publisher: not every message acknowledged")
            output = "".join(lines.queue)
            if "Traceback" in output:
                tally.crashed = True
                tally.notes.append("traceback in the ingest process output")
            store = DuckDBStore(path)
            with _ingestor(spec, store, broker):
                tally.settle(pub, store)
                tally.jammed = not probe(pub, store, base + 50_000)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            pub.close()
            if store is not None:
                store.close()
            broker.close()

    return scenario("ingestor SIGKILL", body, work)


def poison(work: Path) -> dict[str, Any]:
    spec = load_spec(SPEC_PATH)

    def body(folder: Path, run: int, tally: Run) -> None:
        base = T0 + run * 100_000
        broker = _broker(folder)
        store = DuckDBStore(folder / "store.duckdb")
        pub = Publisher(broker.host, broker.port, f"chaos-pub-{run}")
        sent_poison = 0
        try:
            for half in range(2):  # the ingestor restarts between the halves, poison waiting for it
                with _ingestor(spec, store, broker) as ing:
                    for i in range(200):
                        t = base + half * 1000 + i
                        pub.publish([t])
                        if i % 10 == 0:
                            pub.publish_raw(POISON[(sent_poison + run) % len(POISON)])
                            sent_poison += 1
                    pub.wait_acked()
                    wait_for(lambda n=200 * (half + 1): len(stored_times(store)) >= n, 30)
                    ing.wait_idle()
                if half == 0:  # poison queued while the ingestor is away
                    for k in range(3):
                        pub.publish_raw(POISON[k])
                        sent_poison += 1
                    pub.wait_acked()
            with _ingestor(spec, store, broker):
                tally.settle(pub, store)
                tally.jammed = not probe(pub, store, base + 50_000)
            if tally.quarantined < sent_poison:
                tally.notes.append(
                    f"{sent_poison - tally.quarantined} poison message(s) neither stored nor quarantined"
                )
                tally.lost += sent_poison - tally.quarantined
            elif tally.quarantined > sent_poison:
                tally.notes.append(
                    f"{tally.quarantined - sent_poison} poison message(s) quarantined twice (redelivered)"
                )
        finally:
            pub.close()
            store.close()
            broker.close()

    return scenario("poison", body, work)


def burst(work: Path) -> dict[str, Any]:
    spec = load_spec(SPEC_PATH)

    def body(folder: Path, run: int, tally: Run) -> None:
        base = T0 + run * 100_000
        broker = _broker(folder)
        store = DuckDBStore(folder / "store.duckdb")
        pub = Publisher(broker.host, broker.port, f"chaos-pub-{run}", inflight=1000)
        try:
            with _ingestor(spec, store, broker):
                times = list(range(base, base + 20_000))
                for msg in chunks(times, 10):  # no waiting: up to 1000 in flight, paho queues the rest
                    pub.publish(msg)
                if not pub.wait_acked():
                    tally.notes.append("publisher: not every message acknowledged")
                tally.settle(pub, store)
                tally.jammed = not probe(pub, store, base + 50_000)
        finally:
            pub.close()
            store.close()
            broker.close()

    return scenario("burst (no ack wait)", body, work)


INGEST_SCENARIOS: list[Callable[[Path], dict[str, Any]]] = [broker_sigkill, ingestor_sigkill, poison, burst]


# -- other parts ---------------------------------------------------------------------------------


def optional_part(module: str) -> tuple[dict[str, Any] | None, str | None]:
    """``measure()`` of ``benchmarks.<module>`` if that part exists: (result, error)."""
    try:
        measure = importlib.import_module(f"benchmarks.{module}").measure
    except ImportError:
        return None, None
    try:
        return measure(), None
    except Exception as exc:  # the part crashed: counted, the other parts still report
        return None, f"{module}: {type(exc).__name__}: {exc}"


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "nan"
    return "nan" if math.isnan(v) else f"{v:.1f}"


def table_of(rows: list[dict[str, Any]]) -> str:
    headers: list[str] = []
    for r in rows:
        headers += [k for k in r if k not in headers]
    return markdown_table(headers, [[r.get(h, "") for h in headers] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_record_flag(ap)
    ap.add_argument("--skip-ingest", action="store_true", help="only the other parts (no mosquitto needed)")
    ap.add_argument(
        "--only",
        choices=[fn.__name__ for fn in INGEST_SCENARIOS],
        action="append",
        help="ingest scenario(s) to run",
    )
    ap.add_argument(
        "--autosave-seconds",
        type=int,
        help="broker saves every N s instead of on every change (what twinforge used before: 60), for comparison",
    )
    args = ap.parse_args()
    if args.autosave_seconds is not None:
        BROKER_CONFIG.update(autosave_on_changes=False, autosave_interval=args.autosave_seconds)
    logging.basicConfig(level=logging.CRITICAL)  # twinforge's reconnect warnings are expected here
    ingest_rows: list[dict[str, Any]] = []
    if not args.skip_ingest:
        if mosquitto_binary() is None:
            sys.exit("mosquitto is not installed (apt-get install mosquitto)")
        with tempfile.TemporaryDirectory(prefix="twinforge-chaos-") as tmp:
            for fn in INGEST_SCENARIOS:
                if args.only and fn.__name__ not in args.only:
                    continue
                ingest_rows.append(fn(Path(tmp)))
                print(
                    f"  {ingest_rows[-1]['scenario']}: done in {ingest_rows[-1]['seconds']} s",
                    file=sys.stderr,
                )
    runs = sum(r["runs"] for r in ingest_rows)
    lost = sum(r["lost"] for r in ingest_rows)
    jammed = sum(r["jammed"] for r in ingest_rows)
    crashed = sum(r["crashed"] for r in ingest_rows)
    tables = []
    if ingest_rows:
        tables.append(("Ingest", table_of(ingest_rows)))
    errors = []
    inputs, err = optional_part("chaos_inputs")
    if err:
        errors.append(err)
        crashed += 1
    if inputs is not None:
        runs += int(inputs.get("runs", 0))
        crashed += int(inputs.get("crashed", 0))
        if inputs.get("rows"):
            tables.append(("Hostile inputs", table_of(list(inputs["rows"]))))
    pii, err = optional_part("chaos_pii")
    if err:
        errors.append(err)
        crashed += 1
    recall = pii.get("recall") if pii else float("nan")
    precision = pii.get("precision") if pii else float("nan")
    if pii and pii.get("rows"):
        tables.append(("PII redaction", table_of(list(pii["rows"]))))
    text = "\n\n".join(f"{title}:\n\n{tbl}" for title, tbl in tables)
    print(text)
    for e in errors:
        print(f"part failed: {e}")
    headline = (
        f"chaos runs={runs} lost={lost} jammed={jammed} crashed={crashed} "
        f"pii_recall={_pct(recall)} pii_precision={_pct(precision)}"
    )
    if args.record:
        body = (
            "Ingest: real mosquitto on loopback with twinforge's configuration (`mosquitto_config`: "
            "snapshot on every change), `MqttIngestor` (QoS 1, persistent session, PUBACK after the DuckDB "
            f"commit) into a DuckDB file; {RUNS} runs per scenario, each with a fresh broker folder and store. "
            "`lost` = samples the broker acknowledged to the publisher that are not stored; `jammed` = runs "
            "after which good data published last was not stored; `crashed` = runs with a traceback or a hang. "
            "See the module doc of `benchmarks/chaos.py` for each scenario.\n\n"
            f"{text}\n\n" + "".join(f"Part failed: {e}\n\n" for e in errors) + f"`{headline}`\n"
        )
        record("chaos", "Chaos runs", body)
    print(headline)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
