"""A twin's live side while the service runs: ingest, current values, monitoring, alerts.

- :class:`LiveTwin` subscribes to the broker (QoS 1, persistent session) and writes the twin's
  telemetry into the store (:class:`~twinforge.data.MqttIngestor`); every stored batch updates the
  current values, is published to clients, and is scored.
- :class:`LiveMonitor` puts the signals on a regular grid (each signal's latest value at every
  step), fits a detector on the first rows (normal operation by assumption; the fit is said in the
  twin's status) and scores every later row; raised and cleared alerts name node, signal, score and
  the signals that contribute, are stored, and survive a restart.
- a drift monitor (:class:`~twinforge.calibration.DriftMonitor`, when the twin predicts some of
  its signals: pumps, tanks) compares the measured signals with the twin's predictions; a drift
  alert names the node and the parameter whose refit explains it, carries the proposed
  recalibration, and goes through the same store and event bus as the detector's alerts.
- every alert is enriched (:class:`~twinforge.app.enrich.AlertEnricher`), off the ingest thread: the likely fault named
  by a :class:`~twinforge.analytics.diagnosis.FaultDiagnoser` trained once per twin version on the
  twin's own synthetic faults (:class:`~twinforge.app.enrich.DiagnoserCache`, in a background thread; the twin's status
  says when it is not ready), the node's past work orders from the maintenance store, and the
  node's remaining life where a RUL model is bound to it (:class:`~twinforge.app.enrich.RemainingLifeModel`); these are
  stored with the alert and published as an ``enriched`` alert event.
- :class:`EmulatorFeed` publishes a twin's simulated telemetry on the wall clock, with a short
  backlog so monitoring can start at once, through a :class:`~twinforge.data.FaultInjector` so a
  demo or a test can make a sensor fail.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twinforge.app.enrich import (
    DRIFT_DIAGNOSIS,
    AlertEnricher,
    DiagnoserCache,
    DiagnosisSettings,
    RemainingLifeModel,
)
from twinforge.app.events import EventBus
from twinforge.data.emulator import FaultInjector, PlantEmulator, SensorFault, SimulatedTelemetry
from twinforge.data.model import from_us
from twinforge.data.mqtt import MqttIngestor
from twinforge.data.signals import SignalIndex
from twinforge.data.store import DuckDBStore, SampleBatch
from twinforge.spec import TwinSpec

log = logging.getLogger(__name__)


@dataclass
class MonitorSettings:
    """How live data is scored (``[serve.monitor]`` in ``twinforge.toml``)."""

    method: str = "pca"
    window: int = 10  # rolling-mean rows the detector sees
    quantile: float = 0.999  # threshold: this quantile of the warm-up scores
    step_s: float = 1.0  # grid step of the rows
    warmup_rows: int = 600  # rows of normal operation the detector is fitted on
    raise_after: int = 5
    clear_after: int = 20
    max_gap_steps: int = 120  # a longer silence restarts the grid instead of filling it
    margin: float = 1.2  # threshold: margin × the quantile of scores on warm-up rows not fitted on
    keep_rows: int = 3000  # last grid rows kept in memory for diagnosis and remaining life


@dataclass
class MonitorStatus:
    state: str = "warming up"  # warming up | monitoring | no signals | failed
    rows: int = 0
    fitted_at: float | None = None
    threshold: float | None = None
    last_score: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "rows": self.rows,
            "fitted_at": self.fitted_at,
            "threshold": self.threshold,
            "last_score": self.last_score
            if self.last_score is None or math.isfinite(self.last_score)
            else None,
            "detail": self.detail,
        }


class LiveMonitor:
    """Anomaly monitoring of one twin's live signals (see the module docstring)."""

    def __init__(self, spec: TwinSpec, settings: MonitorSettings | None = None) -> None:
        self.spec = spec
        self.settings = settings or MonitorSettings()
        self.columns = [f"{i.node}.{i.signal}" for i in SignalIndex(spec)]
        self.status = MonitorStatus(state="warming up" if self.columns else "no signals")
        self._values: dict[str, float] = {}
        self._next_t: float | None = None
        self._warm: list[list[float]] = []
        self._warm_t: list[float] = []
        self.monitor: Any = None  # AnomalyMonitor once fitted
        #: the last grid rows (time, values) kept for diagnosis and remaining life
        self._recent: deque[tuple[float, list[float]]] = deque(maxlen=self.settings.keep_rows)

    def feed(self, samples: list[tuple[str, float, float]]) -> list[Any]:
        """Add samples ``(column, t_s, value)``; the alert events (raised/moved/cleared) they cause."""
        if not self.columns or self.status.state == "failed":
            return []
        step = self.settings.step_s
        rows: list[list[float]] = []
        times: list[float] = []
        for col, t, v in sorted(samples, key=lambda x: x[1]):
            if col not in self._values and col not in self.columns:
                continue
            if self._next_t is None or t - self._next_t > self.settings.max_gap_steps * step:
                self._next_t = math.floor(t / step) * step + step
            while t >= self._next_t:
                if len(self._values) == len(self.columns):
                    rows.append([self._values[c] for c in self.columns])
                    times.append(self._next_t)
                self._next_t += step
            self._values[col] = v
        return self._rows(rows, times) if rows else []

    def recent(self) -> pd.DataFrame:
        """The last ``keep_rows`` grid rows (time index in UTC, one column per ``node.signal``)."""
        rows = list(self._recent)
        return pd.DataFrame(
            [r for _t, r in rows],
            columns=self.columns,
            index=pd.to_datetime([t for t, _r in rows], unit="s", utc=True),
            dtype=float,
        )

    def _rows(self, rows: list[list[float]], times: list[float]) -> list[Any]:
        self.status.rows += len(rows)
        self._recent.extend(zip(times, rows, strict=True))
        if self.monitor is None:
            self._warm += rows
            self._warm_t += times
            if len(self._warm) < self.settings.warmup_rows:
                self.status.detail = f"{len(self._warm)}/{self.settings.warmup_rows} rows of normal data"
                return []
            rows = self._warm[self.settings.warmup_rows :]
            times = self._warm_t[self.settings.warmup_rows :]
            self._fit(self._warm[: self.settings.warmup_rows], self._warm_t[: self.settings.warmup_rows])
            self._warm, self._warm_t = [], []
            if self.monitor is None or not rows:
                return []
        frame = pd.DataFrame(rows, columns=self.columns, index=pd.to_datetime(times, unit="s", utc=True))
        update = self.monitor.update(frame)
        if len(update.scores):
            self.status.last_score = float(update.scores[-1])
        return list(update.events)

    def _fit(self, rows: list[list[float]], times: list[float]) -> None:
        from twinforge.analytics import AnomalyMonitor, Hysteresis
        from twinforge.analytics.factory import make_detector

        s = self.settings
        frame = pd.DataFrame(rows, columns=self.columns, index=pd.to_datetime(times, unit="s", utc=True))
        # fit on the first two thirds; set the threshold on scores of the last third, which the
        # detector has not seen (in-sample scores are optimistic and would alarm on normal data)
        cut = max(2, (2 * len(frame)) // 3)
        try:
            detector = make_detector(s.method, s.window, s.quantile).fit(frame.iloc[:cut])
            held = np.asarray(detector.score(frame))[cut:]
            held = held[np.isfinite(held)]
            if len(held):
                detector.threshold_ = max(
                    float(detector.threshold_), s.margin * float(np.quantile(held, s.quantile))
                )
            if s.method == "pca":  # scores are in units of the statistical limits: never alarm below them
                detector.threshold_ = max(float(detector.threshold_), 1.0)
            self.monitor = AnomalyMonitor(detector, self.spec, Hysteresis(s.raise_after, s.clear_after, 0.8))
            self.monitor.prime(frame)
        except Exception as exc:  # a detector that cannot fit leaves the twin unmonitored, said so
            self.status.state, self.status.detail = "failed", f"detector could not be fitted: {exc}"
            log.warning("%s: %s", self.spec.name, self.status.detail)
            return
        self.status.state = "monitoring"
        self.status.fitted_at = time.time()
        self.status.threshold = float(detector.threshold_)
        self.status.detail = (
            f"{s.method} detector fitted on {len(rows)} rows from {frame.index[0]:%H:%M:%S} to "
            f"{frame.index[-1]:%H:%M:%S} UTC, assumed normal"
        )


def drift_monitor(spec: TwinSpec) -> Any:
    """A :class:`~twinforge.calibration.DriftMonitor` for the twin, or None when the twin predicts
    none of its signals (or cannot be simulated)."""
    from twinforge.calibration import DriftMonitor

    try:
        monitor = DriftMonitor(spec)
    except Exception as exc:  # a twin the simulator cannot build has no drift watch, said in the log
        log.info("%s: no drift monitor (%s)", spec.name, exc)
        return None
    return monitor if monitor.columns else None


# -- what an alert carries: the likely fault, past work orders, remaining life ---------------------------


@dataclass
class LiveTwin:
    """Ingest, current values and monitoring of one twin (see the module docstring)."""

    spec: TwinSpec
    store: DuckDBStore
    bus: EventBus
    host: str
    port: int
    settings: MonitorSettings = field(default_factory=MonitorSettings)
    client_id: str | None = None
    latest: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    ingestor: MqttIngestor | None = None
    monitor: LiveMonitor | None = None
    drift: Any = None  # calibration.DriftMonitor when the twin predicts some of its signals
    enricher: AlertEnricher | None = None  # what alerts carry: diagnosis, work orders, remaining life
    _series: dict[int, tuple[str, str]] = field(default_factory=dict)  # store series id -> (node, signal)
    _alert_ids: dict[int, int] = field(default_factory=dict)  # id(Alert) -> stored alert id
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[int, dict[str, Any]] = field(default_factory=dict)  # stored id -> alert awaiting diagnosis
    _worker: ThreadPoolExecutor | None = None  # enrichment, off the ingest thread

    def prepare(self) -> LiveTwin:
        """Series, monitor, drift monitor and the enrichment worker, without a broker (:meth:`start`
        calls it; tests may feed :meth:`ingest` directly)."""
        index = SignalIndex(self.spec)
        self._series = {
            self.store.series_id(self.spec.name, i.node, i.signal, i.unit or None): (i.node, i.signal)
            for i in index
        }
        self.monitor = LiveMonitor(self.spec, self.settings)
        self.drift = drift_monitor(self.spec)
        if self.enricher is not None:
            self._worker = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"twinforge-enrich-{self.spec.name}"
            )
        return self

    def start(self, wait_s: float | None = None) -> LiveTwin:
        self.prepare()
        self.ingestor = MqttIngestor(
            self.spec,
            self.store,
            self.host,
            self.port,
            client_id=self.client_id or f"twinforge-serve-{self.spec.name}",
        )
        self.ingestor.on_samples(self._on_samples)
        self.ingestor.start(wait_s=wait_s)
        return self

    def stop(self) -> None:
        if self.ingestor is not None:
            self.ingestor.stop()
            self.ingestor = None
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the enrichment queued so far is stored and published."""
        if self._worker is not None:
            self._worker.submit(lambda: None).result(timeout)

    def ingest(self, batch: SampleBatch) -> None:
        """Store a batch as the broker's ingestor would and handle it (values, monitoring, alerts)."""
        self.store.write_batch(batch)
        self._on_samples(batch)

    @property
    def connected(self) -> bool:
        return self.ingestor is not None and self.ingestor.connected

    def status(self) -> dict[str, Any]:
        stats = self.ingestor.stats.as_dict() if self.ingestor is not None else {}
        return {
            "connected": self.connected,
            "broker": f"{self.host}:{self.port}",
            "ingest": stats,
            "monitor": self.monitor.status.as_dict() if self.monitor else None,
            "drift": self.drift.status() if self.drift is not None else None,
            "diagnoser": self.enricher.diagnoser_status() if self.enricher is not None else None,
            "signals": len(self._series),
        }

    # -- the writer thread -------------------------------------------------------------------------
    def _on_samples(self, batch: SampleBatch) -> None:
        received = time.time()
        samples: list[list[Any]] = []
        feed: list[tuple[str, float, float]] = []
        with self._lock:
            for sid, ts_us, value, quality in zip(
                batch.sid, batch.ts_us, batch.value, batch.quality, strict=True
            ):
                key = self._series.get(sid)
                if key is None:
                    continue
                t = ts_us / 1e6
                if quality == 0:
                    old = self.latest.get(key)
                    if old is None or t >= old[0]:
                        self.latest[key] = (t, value)
                    feed.append((f"{key[0]}.{key[1]}", t, value))
                samples.append([key[0], key[1], t, value, quality])
        if samples:
            self.bus.publish("values", {"samples": samples, "received": received}, twin=self.spec.name)
        if self.monitor is not None and feed:
            was = self.monitor.status.state
            try:
                events = self.monitor.feed(feed)
            except Exception as exc:  # scoring must never stop ingest
                log.exception("monitor of %s failed", self.spec.name)
                self.monitor.status.state, self.monitor.status.detail = "failed", f"scoring failed: {exc}"
                events = []
            if self.monitor.status.state != was:
                self.bus.publish("status", {"monitor": self.monitor.status.as_dict()}, twin=self.spec.name)
            for ev in events:
                self._record(ev)
            self._diagnose_pending()
        if self.drift is not None and feed:
            self._feed_drift(feed)

    def _feed_drift(self, feed: list[tuple[str, float, float]]) -> None:
        """Drift of measured signals from the twin's predictions (see
        :mod:`twinforge.calibration.drift`); an alert goes through the same store and bus as the
        detector's, with the proposed recalibration."""
        try:
            alerts = self.drift.feed(feed)
        except Exception:  # drift scoring must never stop ingest
            log.exception("drift monitor of %s failed", self.spec.name)
            self.drift = None
            return
        for alert in alerts:
            started = pd.Timestamp(alert.t, unit="s", tz="UTC")
            contributions = [[alert.node, alert.signal, 1.0]]
            stored = self.store.write_alert(
                self.spec.name,
                {
                    "node": alert.node,
                    "signal": alert.signal,
                    "source": "drift",
                    "started": started,
                    "score": alert.score,
                    "peak_score": alert.score,
                    "threshold": alert.threshold,
                    "contributions": contributions,
                    "text": alert.describe(),
                    "diagnosis": DRIFT_DIAGNOSIS if self.enricher is not None else None,
                },
            )
            self.bus.publish(
                "alerts",
                {
                    "event": "raised",
                    "id": stored,
                    "node": alert.node,
                    "signal": alert.signal,
                    "source": "drift",
                    "score": alert.score,
                    "peak_score": alert.score,
                    "threshold": alert.threshold,
                    "contributions": contributions,
                    "started": started.isoformat(),
                    "ended": None,
                    "text": alert.describe(),
                    "proposal": alert.proposal.as_dict() if alert.proposal is not None else None,
                },
                twin=self.spec.name,
            )
            self._submit(self._enrich_raised, stored, alert.node, alert.signal)

    def _record(self, ev: Any) -> None:
        alert = ev.alert
        contributions = [[r.node, r.signal, round(share, 4)] for r, share in alert.contributions]
        diagnosis = None
        if self.enricher is not None and ev.kind == "raised":
            self.enricher.train()  # lazily, at the first alert: training is shorter than the window
            diagnosis = self.enricher.pending()
        if ev.kind == "raised":
            stored = self.store.write_alert(
                self.spec.name,
                {
                    "node": alert.node,
                    "signal": alert.signal,
                    "source": f"detector:{self.settings.method}",
                    "started": alert.started,
                    "score": alert.score,
                    "peak_score": alert.peak_score,
                    "threshold": alert.threshold,
                    "contributions": contributions,
                    "text": alert.describe(),
                    "diagnosis": diagnosis,
                },
            )
            self._alert_ids[id(alert)] = stored
            if self.enricher is not None:
                nodes = self.enricher.nodes(alert.node, alert.signal)
                self._pending[stored] = {"alert": alert, "nodes": nodes, "frame": None}
                self._submit(self._enrich_raised, stored, alert.node, alert.signal)
        else:
            ids = self._alert_ids
            stored = ids.get(id(alert)) if ev.kind == "moved" else ids.pop(id(alert), None)
            if stored is None:
                return
            if ev.kind == "moved" and self.enricher is not None:  # the work orders of the node it names now
                if stored in self._pending:
                    self._pending[stored]["nodes"] = self.enricher.nodes(alert.node, alert.signal)
                self._submit(self._enrich_raised, stored, alert.node, alert.signal)
            self.store.update_alert(
                stored,
                ended=alert.ended,
                peak_score=alert.peak_score,
                contributions=contributions,
                node=alert.node,
                signal=alert.signal,
                text=alert.describe(),
            )
        self.bus.publish(
            "alerts",
            {
                "event": ev.kind,
                "id": stored,
                "node": alert.node,
                "signal": alert.signal,
                "source": f"detector:{self.settings.method}",
                "score": alert.score,
                "peak_score": alert.peak_score,
                "threshold": alert.threshold,
                "contributions": contributions,
                "started": pd.Timestamp(alert.started).isoformat(),
                "ended": None if alert.ended is None else pd.Timestamp(alert.ended).isoformat(),
                **({"diagnosis": diagnosis} if diagnosis is not None else {}),
            },
            twin=self.spec.name,
        )

    # -- enrichment (on the worker thread) ---------------------------------------------------------
    def _submit(self, fn: Callable[..., None], *args: Any) -> Future[None] | None:
        if self._worker is None or self.enricher is None:
            return None

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # enrichment must never stop ingest or the alert
                log.exception("enriching an alert of %s failed", self.spec.name)

        return self._worker.submit(run)

    def _publish_enriched(self, stored: int, **parts: Any) -> None:
        self.store.update_alert(stored, **parts)
        self.bus.publish("alerts", {"event": "enriched", "id": stored, **parts}, twin=self.spec.name)

    def _enrich_raised(self, stored: int, node: str | None, signal: str | None) -> None:
        """Past work orders and remaining life of the alert's node, as soon as it is raised."""
        assert self.enricher is not None
        nodes = self.enricher.nodes(node, signal)
        frame = self.monitor.recent() if self.monitor is not None else pd.DataFrame()
        self._publish_enriched(
            stored,
            work_orders=self.enricher.work_orders(nodes),
            remaining_life=self.enricher.remaining_life(nodes, frame),
        )

    def _diagnose_pending(self) -> None:
        """Hand alerts that have their diagnosis window (or have cleared) to the worker; alerts wait
        while the diagnoser trains."""
        if not self._pending or self.enricher is None or self.monitor is None:
            return
        window = self.enricher.window
        times = None
        ready = self.enricher.diagnoser_status()["state"] != "training"
        for stored, item in list(self._pending.items()):
            alert = item["alert"]
            if item["frame"] is None:
                if times is None:
                    times = np.fromiter((t for t, _r in self.monitor._recent), dtype=float)
                rows = int((times >= pd.Timestamp(alert.started).timestamp() - 1e-6).sum())
                if rows < window and alert.ended is None:
                    continue
                item["frame"] = self.monitor.recent()
            if not ready:
                continue
            del self._pending[stored]
            self._submit(self._enrich_diagnosis, stored, alert, item["frame"], item["nodes"])

    def _enrich_diagnosis(self, stored: int, alert: Any, frame: pd.DataFrame, nodes: list[str]) -> None:
        """The likely fault; the work orders re-ranked by their closeness to it."""
        assert self.enricher is not None
        diagnosis = self.enricher.diagnose(alert, frame)
        if diagnosis is None:  # the diagnoser is training again (cannot happen once ready): retry
            self._pending[stored] = {"alert": alert, "nodes": nodes, "frame": frame}
            return
        parts: dict[str, Any] = {"diagnosis": diagnosis}
        if diagnosis.get("fault") not in (None, "unknown"):
            parts["work_orders"] = self.enricher.work_orders(nodes, diagnosis)
        self._publish_enriched(stored, **parts)

    def values(self) -> list[dict[str, Any]]:
        """The current value of each signal (time, value, age in seconds)."""
        now = time.time()
        with self._lock:
            items = sorted(self.latest.items())
        return [
            {
                "node": node,
                "signal": signal,
                "t": from_us(int(t * 1e6)).isoformat(),
                "value": value,
                "age_s": round(now - t, 3),
            }
            for (node, signal), (t, value) in items
        ]


class EmulatorFeed:
    """Publishes a twin's simulated telemetry to the broker on the wall clock, in a thread, with
    ``backlog_s`` of history first (so monitoring can fit at once) and a :class:`FaultInjector`."""

    def __init__(
        self,
        spec: TwinSpec,
        host: str,
        port: int,
        *,
        backlog_s: float = 360.0,
        seed: int = 0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.host, self.port = host, port
        start = time.time() - backlog_s
        self.faults = FaultInjector(SimulatedTelemetry(spec, None, start=start, seed=seed), spec, seed=seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_error = on_error or (lambda msg: log.error("%s", msg))
        self.error: str | None = None

    def start(self) -> EmulatorFeed:
        self._thread = threading.Thread(
            target=self._run, name=f"twinforge-emulator-{self.spec.name}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with PlantEmulator(self.spec, self.host, self.port, samples_per_message=20) as em:
                em.publish(self.faults, on_clock=True, stop=self._stop)
        except Exception as exc:
            self.error = f"emulator of {self.spec.name} stopped: {exc}"
            self.on_error(self.error)

    def inject(self, fault: SensorFault) -> SensorFault:
        return self.faults.inject(fault)

    def clear(self, node: str | None = None, signal: str | None = None) -> int:
        return self.faults.clear(node, signal)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


__all__ = [
    "AlertEnricher",
    "DiagnoserCache",
    "DiagnosisSettings",
    "EmulatorFeed",
    "LiveMonitor",
    "LiveTwin",
    "MonitorSettings",
    "MonitorStatus",
    "RemainingLifeModel",
    "drift_monitor",
]
