"""A plant emulator: publishes a twin's sensor telemetry to MQTT, as a real gateway would.

The emulator takes any :class:`TelemetrySource` — an iterable of :class:`TelemetrySample`
``(node, signal, timestamp, value)`` in time order. Three sources ship:

- :class:`SimulatedTelemetry`: the twin's own simulation (``twinforge.sim``) — sensors sample the
  simulated states with their noise, period and measuring range; the default;
- :class:`ReplaySource` replays a recorded file or DataFrame through a :class:`FileMapping`
  (e.g. SKAB's CSV files onto ``examples/pump_station.yaml``), optionally shifted to "now";
- :class:`InitialStateTelemetry`: every signal reads the initial value of the state it observes
  plus Gaussian noise of the signal's ``noise_std`` — a steady plant, for twins the simulator
  cannot run and for tests that need exact, simple values.

:class:`FaultInjector` wraps any source and applies sensor faults (offset, gain, stuck, drift,
noise, spikes) started and cleared while it streams: how a demo or a test makes an alert happen.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
import paho.mqtt.client as paho
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from twinforge.data.errors import BrokerError
from twinforge.data.files import FileMapping, _parse_times
from twinforge.data.model import UnitConverter, now_us
from twinforge.data.mqtt import MqttMapping
from twinforge.data.signals import SignalIndex
from twinforge.spec import TwinSpec


class TelemetrySample(NamedTuple):
    """One reading: the sensor node, its signal, the time (epoch seconds, UTC), the value in the
    signal's unit."""

    node: str
    signal: str
    timestamp: float
    value: float


@runtime_checkable
class TelemetrySource(Protocol):
    """Anything that yields telemetry samples in time order (the seam for ``twinforge.sim``)."""

    def __iter__(self) -> Iterator[TelemetrySample]: ...


class ReplaySource:
    """Replays recorded telemetry through a file mapping (values converted to the twin's units).

    ``start_at`` / ``end_at`` (epoch seconds) shift all times so the recording starts / ends
    then (e.g. ``end_at=time.time()`` makes an old recording look live). Cells that are empty or
    not numbers are skipped and counted in :attr:`skipped`.
    """

    def __init__(
        self,
        spec: TwinSpec,
        frame: pd.DataFrame,
        mapping: FileMapping,
        *,
        start_at: float | None = None,
        end_at: float | None = None,
        rows: int | None = None,
    ) -> None:
        if start_at is not None and end_at is not None:
            raise ValueError("give start_at or end_at, not both")
        resolved = mapping.resolve(spec)
        frame = frame.iloc[:rows] if rows is not None else frame
        ts = _parse_times(frame[mapping.timestamp.column], mapping.timestamp)
        ok_time = ts != np.iinfo(np.int64).min
        seconds = ts.astype(np.float64) / 1e6
        shift = 0.0
        if ok_time.any():
            if start_at is not None:
                shift = start_at - seconds[ok_time].min()
            elif end_at is not None:
                shift = end_at - seconds[ok_time].max()
        self.skipped = int((~ok_time).sum()) * len(resolved)
        self._columns = []
        for rc in resolved:
            num = pd.to_numeric(frame[rc.column], errors="coerce").to_numpy(dtype=np.float64)
            good = ok_time & np.isfinite(num)
            self.skipped += int((ok_time & ~np.isfinite(num)).sum())
            self._columns.append((rc.info.node, rc.info.signal, good, rc.convert.array(num)))
        self._times = seconds + shift
        self._order = np.argsort(self._times, kind="stable")

    @classmethod
    def from_file(cls, spec: TwinSpec, path: str | Path, mapping: FileMapping, **kw: object) -> ReplaySource:
        p = Path(path)
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            sep = mapping.delimiter or None
            frame = pd.read_csv(p, sep=sep, engine="python" if sep is None else "c", dtype=str)
        return cls(spec, frame, mapping, **kw)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(sum(int(good.sum()) for _n, _s, good, _v in self._columns))

    def __iter__(self) -> Iterator[TelemetrySample]:
        for i in self._order:
            t = float(self._times[i])
            for node, signal, good, values in self._columns:
                if good[i]:
                    yield TelemetrySample(node, signal, t, float(values[i]))


class SimulatedTelemetry:
    """The twin's simulated sensor telemetry (:func:`twinforge.sim.iter_telemetry`), with the
    simulated clock mapped onto wall-clock time from ``start`` (default: now). ``duration_s`` None
    streams for ever. ``scenario`` / ``state`` are passed to the simulator (e.g. an outage, or a
    starting state synced from live data)."""

    def __init__(
        self,
        spec: TwinSpec,
        duration_s: float | None,
        *,
        start: float | None = None,
        seed: int = 0,
        scenario: object = None,
        state: object = None,
    ) -> None:
        self.spec = spec
        self.duration_s = duration_s
        self.start = time.time() if start is None else start
        self.seed = seed
        self.scenario = scenario
        self.state = state

    def __iter__(self) -> Iterator[TelemetrySample]:
        from twinforge.sim import iter_telemetry

        for s in iter_telemetry(
            self.spec, horizon=self.duration_s, seed=self.seed, scenario=self.scenario, state=self.state
        ):
            yield TelemetrySample(s.node, s.signal, self.start + float(s.t), float(s.value))


class InitialStateTelemetry:
    """A steady plant: each signal of the twin reads the initial value of the state it observes (spec ``state.initial``, else the catalogue's, else 0),
    converted to the signal's unit, plus ``N(0, noise_std)``, clipped to the signal's measuring
    range, once per sampling period.

    Deterministic for a given ``seed``. ``start`` defaults to now.
    """

    def __init__(
        self,
        spec: TwinSpec,
        duration_s: float,
        *,
        start: float | None = None,
        seed: int = 0,
        signals: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        self.index = SignalIndex(spec)
        wanted = set(signals) if signals is not None else None
        self.infos = [i for i in self.index if wanted is None or i.key in wanted]
        self.duration_s = duration_s
        self.start = time.time() if start is None else start
        self.seed = seed

    def __iter__(self) -> Iterator[TelemetrySample]:
        rng = np.random.default_rng(self.seed)
        streams = []
        for k, info in enumerate(self.infos):
            base = info.state_initial if info.state_initial is not None else 0.0
            level = UnitConverter(info.state_unit, info.unit)(base) if info.state_unit != info.unit else base
            n = int(np.floor(self.duration_s / info.period_s + 1e-9))
            times = self.start + np.arange(n) * info.period_s
            noise = rng.normal(0.0, info.noise_std, n) if info.noise_std > 0 else np.zeros(n)
            if info.range is not None:  # an instrument reads within its measuring range
                noise = np.clip(level + noise, info.range[0], info.range[1]) - level
            streams.append(_stream(times, noise, k, info.node, info.signal, level))
        for t, _k, node, signal, value in heapq.merge(*streams):
            yield TelemetrySample(node, signal, t, value)


def _stream(
    times: np.ndarray, noise: np.ndarray, k: int, node: str, signal: str, level: float
) -> Iterator[tuple[float, int, str, str, float]]:
    for t, e in zip(times, noise, strict=True):
        yield float(t), k, node, signal, float(level + e)


FaultKind = Literal["offset", "gain", "stuck", "drift", "noise", "spike"]


class SensorFault(BaseModel):
    """A fault of one signal: ``offset`` adds ``magnitude``; ``gain`` multiplies by it; ``stuck``
    holds the last value read before the fault; ``drift`` adds ``magnitude`` per minute since the
    fault began; ``noise`` adds Gaussian noise of std ``magnitude``; ``spike`` adds ``magnitude``
    to one sample in ten."""

    model_config = ConfigDict(extra="forbid")

    node: str = Field(max_length=128)
    signal: str = Field(max_length=128)
    kind: FaultKind = "offset"
    magnitude: float = Field(0.0, allow_inf_nan=False)


class FaultInjector:
    """A telemetry source with sensor faults applied to it; faults can be injected and cleared
    from another thread while it streams (thread-safe)."""

    def __init__(self, source: Iterable[TelemetrySample], spec: TwinSpec, seed: int = 0) -> None:
        self.source = source
        self.index = SignalIndex(spec)
        self._faults: dict[tuple[str, str], tuple[SensorFault, float | None]] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(seed)
        self._count = 0

    def inject(self, fault: SensorFault) -> SensorFault:
        """Start ``fault`` (replacing any fault of the same signal); an unknown signal is an error."""
        self.index.lookup(fault.node, fault.signal, where="fault")
        with self._lock:
            self._faults[(fault.node, fault.signal)] = (fault, None)
        return fault

    def clear(self, node: str | None = None, signal: str | None = None) -> int:
        """Stop the faults of ``node``/``signal`` (all when not given); how many were stopped."""
        with self._lock:
            keys = [
                k
                for k in self._faults
                if (node is None or k[0] == node) and (signal is None or k[1] == signal)
            ]
            for k in keys:
                del self._faults[k]
        return len(keys)

    def active(self) -> list[SensorFault]:
        with self._lock:
            return [f for f, _ in self._faults.values()]

    def __iter__(self) -> Iterator[TelemetrySample]:
        for s in self.source:
            key = (s.node, s.signal)
            with self._lock:
                entry = self._faults.get(key)
                if entry is not None and entry[1] is None:
                    entry = (entry[0], s.timestamp)
                    self._faults[key] = entry
            if entry is None:
                self._last[key] = s.value
                yield s
                continue
            fault, since = entry
            self._last.setdefault(key, s.value)  # stuck from the first sample: it holds that one
            yield s._replace(value=self._apply(fault, s, since or s.timestamp))

    def _apply(self, fault: SensorFault, s: TelemetrySample, since: float) -> float:
        m = fault.magnitude
        if fault.kind == "offset":
            return s.value + m
        if fault.kind == "gain":
            return s.value * m
        if fault.kind == "stuck":
            return self._last.get((s.node, s.signal), s.value)
        if fault.kind == "drift":
            return s.value + m * (s.timestamp - since) / 60.0
        if fault.kind == "noise":
            return s.value + float(self._rng.normal(0.0, abs(m)))
        self._count += 1
        return s.value + (m if self._count % 10 == 0 else 0.0)  # spike


@dataclass
class PublishReport:
    samples: int = 0
    messages: int = 0
    raw_messages: int = 0
    seconds: float = 0.0


class PlantEmulator:
    """Publishes telemetry samples to an MQTT broker with QoS 1 (and waits for the broker's acks).

    ``samples_per_message`` > 1 sends batched payloads (``{"samples": [...]}``), grouping
    consecutive samples of the same topic, as gateways do. Topics come from the twin's topic
    mapping (default ``twinforge/<twin>/{node}/{signal}``).
    """

    def __init__(
        self,
        spec: TwinSpec,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        mapping: MqttMapping | None = None,
        samples_per_message: int = 1,
        qos: int = 1,
        client_id: str | None = None,
        protocol: str = "3.1.1",
        max_inflight: int = 1000,
    ) -> None:
        self.spec = spec
        self.host, self.port = host, port
        self.mapping = mapping or MqttMapping.default(spec)
        self.samples_per_message = max(1, int(samples_per_message))
        self.qos = qos
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"twinforge-emulator-{uuid.uuid4().hex[:10]}",
            protocol=paho.MQTTv5 if protocol == "5" else paho.MQTTv311,
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 2)  # type: ignore[arg-type]
        self._connected = threading.Event()
        self._acked = 0
        self._sent = 0
        self._lock = threading.Lock()
        self._topics: dict[tuple[str, str], tuple[str, bool]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self._connected.clear()
        self.client.on_publish = self._on_publish
        self._started = False

    def _on_connect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not getattr(reason, "is_failure", False):
            self._connected.set()

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self._acked += 1

    def connect(self, timeout_s: float = 10.0) -> PlantEmulator:
        if not self._started:
            self.client.connect_async(self.host, self.port, keepalive=30)
            self.client.loop_start()
            self._started = True
        if not self._connected.wait(timeout_s):
            raise BrokerError(
                f"emulator: no connection to MQTT broker {self.host}:{self.port} within {timeout_s:g} s"
            )
        return self

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False

    def __enter__(self) -> PlantEmulator:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _topic(self, node: str, signal: str) -> tuple[str, bool]:
        key = (node, signal)
        hit = self._topics.get(key)
        if hit is None:
            hit = self.mapping.topic_for(node, signal)
            self._topics[key] = hit
        return hit

    def _send(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=self.qos)
        with self._lock:
            self._sent += 1

    def publish(
        self,
        source: Iterable[TelemetrySample],
        *,
        speed: float | None = None,
        wait_s: float = 60.0,
        on_clock: bool = False,
        stop: threading.Event | None = None,
    ) -> PublishReport:
        """Publish every sample of ``source``. ``speed``: None = as fast as possible, 1.0 = real
        time, 10 = ten times faster. ``on_clock``: publish each sample when the wall clock reaches
        its timestamp (samples stamped in the past, a backlog, go at once). ``stop``: an event that
        ends publishing early. Returns when the broker acknowledged every message."""
        if not self._started:
            self.connect()
        report = PublishReport()
        t_start = time.monotonic()
        buffers: dict[str, list[dict[str, object]]] = {}
        t0_data: float | None = None

        def flush(topic: str) -> None:
            items = buffers.pop(topic, [])
            if not items:
                return
            body = items[0] if len(items) == 1 else {"samples": items}
            self._send(topic, json.dumps(body, separators=(",", ":")).encode())
            report.messages += 1

        for sample in source:
            if stop is not None and stop.is_set():
                break
            if on_clock:
                delay = sample.timestamp - time.time()
                if delay > 0:
                    for topic in list(buffers):
                        flush(topic)
                    if stop is not None:
                        if stop.wait(delay):
                            break
                    else:
                        time.sleep(delay)
            elif speed is not None:
                if t0_data is None:
                    t0_data = sample.timestamp
                due = t_start + (sample.timestamp - t0_data) / speed
                delay = due - time.monotonic()
                if delay > 0:
                    for topic in list(buffers):
                        flush(topic)
                    time.sleep(delay)
            topic, named = self._topic(sample.node, sample.signal)
            item: dict[str, object] = {"ts": round(sample.timestamp, 6), "value": sample.value}
            if named:
                item["signal"] = sample.signal
            buf = buffers.setdefault(topic, [])
            buf.append(item)
            report.samples += 1
            if len(buf) >= self.samples_per_message:
                flush(topic)
        for topic in list(buffers):
            flush(topic)
        self.wait_acked(wait_s)
        report.seconds = time.monotonic() - t_start
        return report

    def publish_raw(self, topic: str, payload: bytes | str, wait_s: float | None = 10.0) -> None:
        """Publish any payload as is (for malformed-message tests and demos); ``wait_s=None``
        returns without waiting for the broker's acknowledgement."""
        if not self._started:
            self.connect()
        self._send(topic, payload.encode() if isinstance(payload, str) else payload)
        if wait_s is not None:
            self.wait_acked(wait_s)

    def wait_acked(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker acknowledged every message sent (paho resends after reconnects)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._acked >= self._sent:
                    return
            time.sleep(0.005)
        raise BrokerError(
            f"emulator: broker acknowledged {self._acked} of {self._sent} messages within {timeout_s:g} s"
        )

    @property
    def sent(self) -> int:
        return self._sent


def now_s() -> float:
    return now_us() / 1e6
