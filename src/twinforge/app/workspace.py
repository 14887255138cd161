"""The workspace: everything a running twinforge holds, and every operation its faces offer.

The CLI, the HTTP API and the web app are thin faces over this class: they parse their input,
call one method, and render what it returns (plain JSON-ready data). It holds

- the twins (:class:`~twinforge.app.twins.TwinRegistry`: load, validate, versions with diffs);
- the store (:class:`~twinforge.data.DuckDBStore`): telemetry, alerts, the AI audit log;
- live ingest and monitoring per twin (:class:`~twinforge.app.live.LiveTwin`) when a broker is set,
  and in demo mode an emulator per twin (:class:`~twinforge.app.live.EmulatorFeed`); alerts carry
  the likely fault (a diagnoser per twin version, :class:`~twinforge.app.enrich.DiagnoserCache`), the
  node's past work orders and, where a RUL model is bound (:meth:`Workspace.set_rul_model`), its
  remaining life;
- scenario jobs (:class:`~twinforge.app.jobs.JobManager`) and early warning on a schedule;
- one asker per twin (:class:`~twinforge.copilot.TwinAsker`);
- the live event bus (:class:`~twinforge.app.events.EventBus`) and the API keys.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from twinforge.app.enrich import AlertEnricher, DiagnoserCache, DiagnosisSettings, RemainingLifeModel
from twinforge.app.events import EventBus
from twinforge.app.jobs import Job, JobManager, JobRequest
from twinforge.app.keys import KeyRing
from twinforge.app.live import EmulatorFeed, LiveTwin, MonitorSettings
from twinforge.app.twins import TwinRegistry
from twinforge.app.views import clean, graph, node_detail, records, signals_of, twin_summary
from twinforge.config import register_section
from twinforge.data.emulator import SensorFault
from twinforge.data.store import DuckDBStore
from twinforge.errors import TwinforgeError, UnknownEntityError

log = logging.getLogger(__name__)


class MonitorConfig(BaseModel):
    """The settable part of :class:`~twinforge.app.live.MonitorSettings`, with bounds (its defaults)."""

    model_config = ConfigDict(extra="forbid")

    method: str = MonitorSettings.method
    window: int = Field(MonitorSettings.window, ge=1, le=1000)
    quantile: float = Field(MonitorSettings.quantile, gt=0.5, lt=1.0)
    step_s: float = Field(MonitorSettings.step_s, gt=0, le=3600)
    warmup_rows: int = Field(MonitorSettings.warmup_rows, ge=20, le=1_000_000)
    raise_after: int = Field(MonitorSettings.raise_after, ge=1)
    clear_after: int = Field(MonitorSettings.clear_after, ge=1)


class DiagnosisConfig(BaseModel):
    """How each twin's fault diagnoser is trained on its own synthetic faults (its defaults)."""

    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(DiagnosisSettings.seeds, ge=1, le=50)
    duration_s: float = Field(DiagnosisSettings.duration_s, ge=300, le=86400)
    window: int = Field(DiagnosisSettings.window, ge=5, le=600)


class ServeSettings(BaseModel):
    """``[serve]`` in ``twinforge.toml`` (env ``TWINFORGE_SERVE_*``)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8750, ge=1, le=65535)
    #: twin files or folders of twin files (none: the bundled example twins)
    twins: list[str] = Field(default_factory=list)
    #: twins the demo's emulated plants feed (none of them served, or an empty list: every simulated
    #: twin with signals)
    emulate: list[str] = Field(default_factory=lambda: ["bottling-line", "pump-station"])
    #: the workspace folder: twin versions, API keys
    workspace: str = ".twinforge"
    #: MQTT broker "host:port" for live data (none: no live data unless --demo)
    broker: str | None = None
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    #: the fault diagnoser each alert is named by
    diagnosis: DiagnosisConfig = Field(default_factory=DiagnosisConfig)
    #: past work orders an alert carries (most similar to its diagnosis, else the newest)
    alert_work_orders: int = Field(3, ge=0, le=20)
    #: early warning from the synced state every so many seconds (0: off)
    warn_every_s: float = Field(300.0, ge=0)
    warn_reps: int = Field(50, ge=1, le=1000)
    warn_horizon: str = "8 h"
    job_workers: int = Field(1, ge=1, le=16)
    max_body_bytes: int = Field(2_000_000, ge=1024)
    #: requests per minute per API key (or per client address without keys)
    rate_limit_per_min: int = Field(30_000, ge=1)
    cors_origins: list[str] = Field(default_factory=list)


register_section("serve", ServeSettings)


class Workspace:
    """See the module docstring. Use as a context manager, or :meth:`start` / :meth:`close`."""

    def __init__(
        self,
        settings: ServeSettings | None = None,
        *,
        store: DuckDBStore | str | None = None,
        llm: Any = None,
        embedder: Any = None,
    ) -> None:
        self.settings = settings or ServeSettings()
        self.root = Path(self.settings.workspace)
        self.bus = EventBus()
        self.twins = TwinRegistry(self.root / "versions")
        if isinstance(store, DuckDBStore):
            self.store = store
        else:
            from twinforge.data.store import resolve_store_path

            path = resolve_store_path(store)
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.store = DuckDBStore(path)
        self.keys = KeyRing(self.root / "keys.json")
        self.jobs = JobManager(self.twins.get, self._job_event, workers=self.settings.job_workers)
        self.live: dict[str, LiveTwin] = {}
        self.feeds: dict[str, EmulatorFeed] = {}
        self.warnings: dict[str, dict[str, Any]] = {}
        self._askers: dict[tuple[str, int], Any] = {}
        self._cache: dict[tuple, tuple[Any, Any]] = {}
        self._llm = llm
        self._embedder = embedder
        self.diagnosers = DiagnoserCache(DiagnosisSettings(**self.settings.diagnosis.model_dump()))
        #: twin -> node -> the RUL model bound to it (see :meth:`set_rul_model`)
        self.rul_models: dict[str, dict[str, RemainingLifeModel]] = {}
        self._stop = threading.Event()
        self._warner: threading.Thread | None = None
        self.started = time.time()
        self.broker: str | None = self.settings.broker
        from twinforge.examples import examples_dir

        for source in self.settings.twins or [str(examples_dir())]:
            p = Path(source)
            if p.is_dir():
                self.twins.load_dir(p)
            else:
                self.twins.load_file(p)

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_live(self, broker: str | None = None, wait_s: float | None = None) -> list[str]:
        """Ingest and monitor every twin with signals from ``broker`` ("host:port"); the twins."""
        from twinforge.data.mqtt import parse_broker

        self.broker = broker or self.broker
        if self.broker is None:
            return []
        host, port = parse_broker(self.broker)
        settings = MonitorSettings(**self.settings.monitor.model_dump())
        started = []
        for name in self.twins.names():
            spec = self.twins.get(name)
            if name in self.live or not signals_of(spec):
                continue
            live = LiveTwin(spec, self.store, self.bus, host, port, settings, enricher=self.enricher(name))
            self.live[name] = live.start(wait_s=wait_s)
            started.append(name)
        if self.settings.warn_every_s > 0 and self._warner is None:
            self._warner = threading.Thread(target=self._warn_loop, name="twinforge-warn", daemon=True)
            self._warner.start()
        return started

    def enricher(self, name: str) -> AlertEnricher:
        """What the twin's alerts are enriched with: its diagnoser (trained in the background for its
        current version), its past work orders in this store, its bound RUL models."""
        return AlertEnricher(
            self.twins.get(name),
            self.store,
            version=self.twins.version(name).number,
            diagnosers=self.diagnosers,
            rul_models=self.rul_models.setdefault(name, {}),
            k=self.settings.alert_work_orders,
            embedder=lambda: self.embedder,
        )

    @property
    def embedder(self) -> Any:
        """The text embedder (audited into this workspace's store; built on first use), for ranking
        work orders by their closeness to a diagnosis."""
        if self._embedder is None:
            from twinforge.ai import get_embedder
            from twinforge.config import load_settings

            overrides = {"store": {"path": self.store.path}} if self.store.path != ":memory:" else {}
            self._embedder = get_embedder(load_settings(**overrides))
        return self._embedder

    def set_rul_model(self, name: str, node: str, model: RemainingLifeModel | None) -> dict[str, Any]:
        """Bind a remaining-useful-life model to a node of the twin (None: unbind); later alerts of
        that node (or of the sensors observing it) carry its remaining life with the interval."""
        spec = self.twins.get(name)
        if not spec.has_node(node):
            raise UnknownEntityError(f"twin {name!r} has no node {node!r}")
        models = self.rul_models.setdefault(name, {})
        if model is None:
            models.pop(node, None)
        else:
            models[node] = model
        return {"twin": name, "rul_models": sorted(models)}

    def start_emulators(self, names: list[str] | None = None, backlog_s: float | None = None) -> list[str]:
        """Publish simulated telemetry of ``names`` (default, or when none of them is served: every
        simulated twin with signals)."""
        from twinforge.data.mqtt import parse_broker
        from twinforge.plan.schema import engine_of

        if self.broker is None:
            raise TwinforgeError("emulators need a broker; start live data first")
        host, port = parse_broker(self.broker)
        backlog = (
            backlog_s
            if backlog_s is not None
            else self.settings.monitor.warmup_rows * 1.2 * self.settings.monitor.step_s
        )
        out = []
        served = self.twins.names()
        for name in [n for n in names or [] if n in served] or served:
            spec = self.twins.get(name)
            if name in self.feeds or not signals_of(spec) or engine_of(spec) != "simulate":
                continue
            self.feeds[name] = EmulatorFeed(spec, host, port, backlog_s=backlog).start()
            out.append(name)
        return out

    def close(self) -> None:
        self._stop.set()
        for feed in self.feeds.values():
            feed.stop()
        for live in self.live.values():
            live.stop()
        self.jobs.shutdown()
        self.store.close()

    # -- twins ------------------------------------------------------------------------------------
    def twin_list(self) -> list[dict[str, Any]]:
        return [twin_summary(self.twins.get(n), self.twins.version(n).number) for n in self.twins.names()]

    def twin(self, name: str) -> dict[str, Any]:
        spec = self.twins.get(name)
        v = self.twins.version(name)
        return {
            **twin_summary(spec, v.number),
            "spec": spec.model_dump(mode="json", exclude_none=True),
            "text": v.text,
            "live": self.live[name].status() if name in self.live else None,
        }

    def _cached(self, key: tuple, version: Any, compute: Any) -> Any:
        """``compute()``, reused while ``version`` stays the same (reads outnumber changes)."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._cache[key] = (version, value)
        return value

    def graph(self, name: str) -> dict[str, Any]:
        version = self.twins.version(name).number
        spec = self.twins.get(name)
        out = self._cached(("graph", name), version, lambda: graph(spec))
        out = {**out, "nodes": [dict(n) for n in out["nodes"]]}
        alerted = {a["node"] for a in self.alerts(name, open_only=True, limit=100)}
        live = self.live.get(name)
        fresh: set[str] = set()
        if live is not None:
            from twinforge.data.signals import SignalIndex

            index = self._cached(("signal-index", name), version, lambda: SignalIndex(spec))
            for node, signal in list(live.latest):
                info = index.get(node, signal)
                fresh |= {node, info.target_node} if info is not None else {node}
        for n in out["nodes"]:
            n["status"] = "alert" if n["id"] in alerted else ("live" if n["id"] in fresh else "idle")
        return out

    def node(self, name: str, node_id: str) -> dict[str, Any]:
        spec = self.twins.get(name)
        if not spec.has_node(node_id):
            raise UnknownEntityError(f"twin {name!r} has no node {node_id!r}")
        return node_detail(spec, node_id)

    def validate(self, text: str, fmt: str = "yaml") -> dict[str, Any]:
        """Check a twin text without keeping it: ok, the twin's name, and every issue."""
        from twinforge.app.twins import issue_dict
        from twinforge.errors import SpecError
        from twinforge.spec.validate import validate_spec

        try:
            spec = self.twins.check(text, fmt)
        except SpecError as exc:
            return {
                "ok": False,
                "errors": [issue_dict(i) for i in exc.issues if i.severity == "error"],
                "warnings": [issue_dict(i) for i in exc.issues if i.severity != "error"],
            }
        warnings = [i for i in validate_spec(spec) if i.severity == "warning"]
        return {"ok": True, "name": spec.name, "errors": [], "warnings": [issue_dict(i) for i in warnings]}

    def put_twin(self, name: str, text: str, fmt: str = "yaml") -> dict[str, Any]:
        """Accept a new version of a twin (validated first; raises SpecError with every issue)."""
        version, changes = self.twins.put(name, text, fmt)
        self.bus.publish(
            "twins", {"event": "version", "version": version.number, "changes": len(changes)}, twin=name
        )
        return {"name": name, "version": version.number, "created": version.created, "changes": changes}

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [v.summary() for v in self.twins.versions(name)]

    def diff(self, name: str, a: int, b: int | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "from": a,
            "to": b or self.twins.version(name).number,
            "changes": self.twins.diff(name, a, b),
        }

    # -- signals ------------------------------------------------------------------------------------
    def signals(self, name: str) -> list[dict[str, Any]]:
        """Every signal of the twin with its latest stored value, age and freshness."""
        from twinforge.data.sync import signal_statuses

        spec = self.twins.get(name)
        out = []
        for st in signal_statuses(spec, self.store):
            out.append(
                {
                    "node": st.node,
                    "signal": st.signal,
                    "observes": st.observes,
                    "unit": st.unit,
                    "value": clean(st.value),
                    "timestamp": clean(st.timestamp),
                    "age_s": clean(st.age_s),
                    "period_s": st.period_s,
                    "status": st.status,
                }
            )
        return out

    def latest(self, name: str) -> list[dict[str, Any]]:
        """Current values from the live feed (fast: from memory), else from the store."""
        live = self.live.get(name)
        if live is not None and live.latest:
            return live.values()
        return [
            {
                "node": s["node"],
                "signal": s["signal"],
                "t": s["timestamp"],
                "value": s["value"],
                "age_s": s["age_s"],
            }
            for s in self.signals(name)
            if s["value"] is not None
        ]

    def signal_range(
        self, name: str, node: str, signal: str, start: Any = None, end: Any = None, limit: int = 10_000
    ) -> dict[str, Any]:
        from twinforge.data.signals import SignalIndex

        spec = self.twins.get(name)
        SignalIndex(spec).lookup(node, signal)
        frame = self.store.range(name, node, signal, start, end)
        if len(frame) > limit:
            frame = frame.iloc[-limit:]
        return {
            "node": node,
            "signal": signal,
            "t": [clean(t) for t in frame["timestamp"]] if not frame.empty else [],
            "value": [clean(v) for v in frame["value"]] if not frame.empty else [],
        }

    def resample(
        self,
        name: str,
        every: str,
        agg: str = "mean",
        start: Any = None,
        end: Any = None,
        signals: list[str] | None = None,
    ) -> dict[str, Any]:
        frame = self.store.resample(name, every, agg, start, end, signals)
        return {
            "every": every,
            "agg": agg,
            "rows": records(frame.reset_index() if frame.index.name else frame),
        }

    def state(self, name: str) -> dict[str, Any]:
        from twinforge.data.sync import sync_state

        return clean(sync_state(self.twins.get(name), self.store).as_dict())

    # -- calibration and drift ----------------------------------------------------------------------
    def calibrate(self, name: str, nodes: list[str] | None = None) -> dict[str, Any]:
        """Fit the twin's parameters to the stored station events and telemetry: the proposed
        diff (old -> new with units, uncertainty, goodness of fit), not applied."""
        from twinforge.calibration import calibrate_store

        return clean(calibrate_store(self.store, self.twins.get(name), nodes).to_data())

    def drift(self, name: str) -> dict[str, Any]:
        """The drift monitor of a live twin: its state and the drift alerts with their proposed
        recalibrations."""
        self.twins.get(name)
        live = self.live.get(name)
        monitor = live.drift if live is not None else None
        if monitor is None:
            return {"twin": name, "monitoring": False, "alerts": []}
        return clean(
            {
                "twin": name,
                "monitoring": True,
                **monitor.status(),
                "alerts": [a.as_dict() for a in monitor.alerts],
            }
        )

    # -- alerts -------------------------------------------------------------------------------------
    def alerts(
        self, twin: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[dict[str, Any]]:
        if twin is not None:
            self.twins.get(twin)
        return self._cached(
            ("alerts", twin, open_only, limit),
            self.store.alerts_version,
            lambda: records(self.store.alerts(twin, open_only=open_only, limit=limit)),
        )

    def alert(self, alert_id: int) -> dict[str, Any]:
        """One alert, with its diagnosis, past work orders and remaining life."""
        rows = records(self.store.alerts(alert_id=alert_id, limit=1))
        if not rows:
            raise UnknownEntityError(f"no alert {alert_id}")
        return rows[0]

    def ack(self, alert_id: int, by: str) -> dict[str, Any]:
        if not self.store.ack_alert(alert_id, by):
            raise UnknownEntityError(f"no alert {alert_id}")
        row = records(self.store.alerts(alert_id=alert_id, limit=1))[0]
        self.bus.publish("alerts", {"event": "acked", "id": alert_id, "by": by}, twin=row["twin"])
        return row

    # -- faults (emulated plants only) -----------------------------------------------------------------
    def inject_fault(self, name: str, fault: SensorFault) -> dict[str, Any]:
        feed = self.feeds.get(name)
        if feed is None:
            raise TwinforgeError(
                f"twin {name!r} has no emulator running; faults are injected into emulated telemetry"
            )
        feed.inject(fault)
        return {"twin": name, "active": [f.model_dump() for f in feed.faults.active()]}

    def clear_faults(self, name: str, node: str | None = None, signal: str | None = None) -> dict[str, Any]:
        feed = self.feeds.get(name)
        if feed is None:
            raise TwinforgeError(f"twin {name!r} has no emulator running")
        cleared = feed.clear(node, signal)
        return {"twin": name, "cleared": cleared, "active": [f.model_dump() for f in feed.faults.active()]}

    # -- jobs ---------------------------------------------------------------------------------------
    def submit(self, name: str, request: JobRequest) -> dict[str, Any]:
        return self.jobs.submit(name, request).as_dict()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.jobs.get(job_id).as_dict()

    def job_list(self, twin: str | None = None) -> list[dict[str, Any]]:
        return [j.as_dict(with_result=False) for j in self.jobs.list(twin)]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.jobs.cancel(job_id).as_dict(with_result=False)

    def _job_event(self, job: Job) -> None:
        self.bus.publish("jobs", job.as_dict(with_result=False), twin=job.twin)

    # -- asking -------------------------------------------------------------------------------------
    @property
    def llm(self) -> Any:
        """The language model, audited into this workspace's store (built on first use)."""
        if self._llm is None:
            from twinforge.ai import get_llm
            from twinforge.config import load_settings

            overrides = {"store": {"path": self.store.path}} if self.store.path != ":memory:" else {}
            self._llm = get_llm(load_settings(**overrides))
        return self._llm

    def asker(self, name: str) -> Any:
        from twinforge.copilot.ask import TwinAsker

        spec = self.twins.get(name)
        key = (name, self.twins.version(name).number)
        asker = self._askers.get(key)
        if asker is None:
            asker = TwinAsker(spec, llm=self.llm)
            self._askers = {k: v for k, v in self._askers.items() if k[0] != name}
            self._askers[key] = asker
        return asker

    def _live_state(self, name: str) -> dict[str, dict[str, float]] | None:
        if name not in self.live:
            return None
        try:
            from twinforge.data.sync import sync_state

            values = sync_state(self.twins.get(name), self.store).values(include_stale=False)
            return values or None
        except TwinforgeError:
            return None

    def examples(self, name: str, k: int = 8) -> list[str]:
        """Questions the twin answers, generated from the twin itself (one per family)."""
        seen: set[str] = set()
        out = []
        for e in self.asker(name).examples:
            if e.family not in seen:
                seen.add(e.family)
                out.append(e.question)
            if len(out) >= k:
                break
        return out

    def ask(self, name: str, question: str) -> dict[str, Any]:
        """The twin's answer: the plan, the interventions, the values it computed, or why not."""
        asker = self.asker(name)
        asker.state = self._live_state(name)  # the state synced now, not when the asker was made
        result = asker.ask(question)
        return clean(result.as_dict())

    # -- audit --------------------------------------------------------------------------------------
    def audit(self, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        from twinforge.ai.audit import AuditLog

        path = Path(self.store.path) if self.store.path != ":memory:" else None
        if path is None:
            return []
        entries = AuditLog(path).entries(limit=limit, kind=kind)
        return [
            clean(
                {
                    "id": e.id,
                    "ts": e.ts.isoformat() if e.ts else None,
                    "kind": e.kind,
                    "provider": e.provider,
                    "model": e.model,
                    "prompt": e.prompt,
                    "response": e.response,
                    "prompt_tokens": e.prompt_tokens,
                    "completion_tokens": e.completion_tokens,
                    "latency_s": e.latency_s,
                    "outcome": e.outcome,
                    "error": e.error,
                    "redacted": e.redacted,
                }
            )
            for e in entries
        ]

    # -- early warning -----------------------------------------------------------------------------------
    def warn_now(self, name: str) -> dict[str, Any]:
        """Early warning for the twin from its synced live state (probability and time of events)."""
        from twinforge.data.sync import sync_state
        from twinforge.sim import early_warning

        spec = self.twins.get(name)
        state = sync_state(spec, self.store)
        result = early_warning(
            spec,
            state.values(include_stale=False),
            horizon=self.settings.warn_horizon,
            reps=self.settings.warn_reps,
        )
        out = {"at": time.time(), "horizon_h": result.horizon / 3600, "events": records(result.table)}
        self.warnings[name] = out
        self.bus.publish("warnings", out, twin=name)
        return out

    def _warn_loop(self) -> None:
        from twinforge.plan.schema import engine_of

        while not self._stop.wait(self.settings.warn_every_s):
            for name in list(self.live):
                if engine_of(self.twins.get(name)) != "simulate":
                    continue
                try:
                    self.warn_now(name)
                except Exception as exc:  # a failed warning run is reported, never fatal
                    log.warning("early warning of %s failed: %s", name, exc)
                    self.warnings[name] = {"at": time.time(), "error": str(exc)}

    # -- the whole service ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "uptime_s": round(time.time() - self.started, 1),
            "twins": self.twins.names(),
            "broker": self.broker,
            "live": {n: lv.status() for n, lv in self.live.items()},
            "emulators": {
                n: {"faults": [f.model_dump() for f in fd.faults.active()], "error": fd.error}
                for n, fd in self.feeds.items()
            },
            "jobs": {
                s: sum(1 for j in self.jobs.list() if j.status == s)
                for s in ("queued", "running", "done", "failed", "cancelled")
            },
            "subscribers": self.bus.subscribers,
            "auth": "api keys" if self.keys.enabled else "open (loopback only)",
        }


__all__ = ["DiagnosisConfig", "MonitorConfig", "ServeSettings", "Workspace"]
