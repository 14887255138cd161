"""Enriching an alert off the ingest thread: the likely fault, the node's past work orders, its
remaining life.

- :class:`DiagnoserCache` trains one :class:`~twinforge.analytics.diagnosis.FaultDiagnoser` per twin
  version on the twin's own synthetic faults, in a background thread; the twin's status says when
  it is not ready.
- :class:`RemainingLifeModel` binds a RUL estimator to a node's live signals.
- :class:`AlertEnricher` runs on a worker per twin: it stores and publishes the diagnosis, the
  matching work orders from the maintenance store and the remaining life with the alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twinforge.data.signals import SignalIndex
from twinforge.data.store import DuckDBStore
from twinforge.spec import TwinSpec

log = logging.getLogger(__name__)


@dataclass
class DiagnosisSettings:
    """How the diagnoser of a twin is trained (``[serve.diagnosis]``)."""

    seeds: int = 3  # synthetic seeds: per seed 2 normal runs and one run of every applicable fault
    duration_s: float = 1200.0  # length of each synthetic run
    window: int = 60  # rows from the alert's start the diagnosis looks at (as in training)


#: a drift alert is named by the twin's parameter whose refit explains it, not by a fault class
DRIFT_DIAGNOSIS = {
    "state": "not applicable",
    "fault": None,
    "detail": "drift from the twin's prediction: the alert names the parameter whose refit explains it",
}


class DiagnoserCache:
    """A :class:`~twinforge.analytics.diagnosis.FaultDiagnoser` per twin version, trained once on the
    twin's own synthetic faults (:func:`~twinforge.analytics.diagnosis.train_diagnoser`) in a
    background thread, so ingest never waits for it. :meth:`status` says whether it is ready."""

    def __init__(self, settings: DiagnosisSettings | None = None) -> None:
        self.settings = settings or DiagnosisSettings()
        self._lock = threading.Lock()
        # (twin, version) -> {"state", "detail", "diagnoser", "columns", "thread"}
        self._entries: dict[tuple[str, int], dict[str, Any]] = {}

    def ensure(self, spec: TwinSpec, version: int) -> None:
        """Start training the diagnoser of this twin version unless it is trained or training."""
        key = (spec.name, version)
        with self._lock:
            if key in self._entries:
                return
            entry: dict[str, Any] = {
                "state": "training",
                "detail": f"training on synthetic faults of {spec.name} v{version} "
                f"({self.settings.seeds} seed(s))",
                "diagnoser": None,
                "columns": {},
                "since": time.time(),
            }
            self._entries[key] = entry
        thread = threading.Thread(
            target=self._train,
            args=(spec, version, entry),
            name=f"twinforge-diagnoser-{spec.name}",
            daemon=True,
        )
        entry["thread"] = thread
        thread.start()

    def _train(self, spec: TwinSpec, version: int, entry: dict[str, Any]) -> None:
        from twinforge.analytics.diagnosis import train_diagnoser
        from twinforge.synthetic.faults import TwinSignals

        s = self.settings
        started = time.time()
        try:
            signals = TwinSignals(spec)
            diagnoser = train_diagnoser(spec, range(s.seeds), duration_s=s.duration_s, window=s.window)
        except Exception as exc:  # a twin without synthetic faults has no diagnosis, said in its status
            with self._lock:
                entry.update(state="unavailable", detail=f"no diagnoser for {spec.name}: {exc}")
            log.info("%s: %s", spec.name, entry["detail"])
            return
        with self._lock:
            entry.update(
                state="ready",
                diagnoser=diagnoser,
                columns={f"{n}.{sig}": c for c, n, sig, *_ in signals.refs},
                step_s=min(r[5] for r in signals.refs),
                detail=(
                    f"trained on {diagnoser.training_windows_} synthetic windows of {spec.name} v{version} "
                    f"({len(diagnoser.classes_)} classes: {', '.join(diagnoser.classes_)}) in "
                    f"{time.time() - started:.1f} s"
                ),
            )

    def get(self, name: str, version: int) -> tuple[Any, dict[str, str], float] | None:
        """The trained diagnoser, its column map (live ``node.signal`` -> its signal) and the row
        step (s) it was trained on, or None."""
        with self._lock:
            entry = self._entries.get((name, version))
            if entry is None or entry["state"] != "ready":
                return None
            return entry["diagnoser"], entry["columns"], entry["step_s"]

    def status(self, name: str, version: int) -> dict[str, Any]:
        with self._lock:
            entry = self._entries.get((name, version))
            if entry is None:
                return {
                    "state": "not started",
                    "detail": "the diagnoser trains on the twin's synthetic faults at its first alert",
                }
            return {"state": entry["state"], "detail": entry["detail"], "version": version}

    def wait(self, name: str, version: int, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the training of this twin version to end; its status."""
        with self._lock:
            entry = self._entries.get((name, version))
        if entry is not None and entry.get("thread") is not None:
            entry["thread"].join(timeout)
        return self.status(name, version)


def _on_step(frame: pd.DataFrame, start: Any, step_s: float) -> pd.DataFrame:
    """The monitor's grid rows on the step the diagnoser was trained on: every k-th row, keeping the
    alert's start (a finer grid holds each signal's latest value, so this is the coarser grid)."""
    if len(frame) < 2:
        return frame
    have = float(np.median((frame.index[1:] - frame.index[:-1]).total_seconds()))
    ratio = step_s / have
    if abs(ratio - 1) < 0.01:
        return frame
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 0.01:
        raise ValueError(
            f"the monitor's rows are {have:g} s apart and the diagnoser was trained on {step_s:g} s rows; "
            "set monitor.step_s to the twin's fastest signal period"
        )
    pos = frame.index.get_loc(start)
    return frame.iloc[pos % k :: k]


@dataclass
class RemainingLifeModel:
    """The hook for remaining useful life: a fitted RUL estimator of :mod:`twinforge.analytics.rul`
    (anything with ``predict_interval(histories)``) bound to a node's live signals.

    The live grid rows the monitor keeps are averaged over ``cycle_s`` seconds per cycle, the
    columns named in ``signals`` (live ``node.signal`` -> the estimator's signal name) are renamed,
    and they are given to the estimator as one unit (the node) with cycles 1, 2, ...; the answer is
    in the estimator's cycles and in hours (cycles × ``cycle_s``)."""

    estimator: Any
    signals: dict[str, str]
    cycle_s: float = 60.0
    unit: str = "cycles"

    def predict(self, node: str, frame: pd.DataFrame) -> dict[str, Any]:
        missing = [c for c in self.signals if c not in frame.columns]
        if missing:
            raise ValueError(f"the RUL model of {node} needs live signals the twin lacks: {missing}")
        per_cycle = frame[list(self.signals)].resample(pd.Timedelta(seconds=self.cycle_s)).mean().dropna()
        if per_cycle.empty:
            raise ValueError(f"no complete {self.cycle_s:g} s cycle of live data for {node} yet")
        history = per_cycle.rename(columns=self.signals).reset_index(drop=True)
        history.insert(0, "cycle", np.arange(1, len(history) + 1))
        history.insert(0, "unit", node)
        table = self.estimator.predict_interval(history)
        row = table.iloc[-1]
        coverage = getattr(self.estimator, "coverage", None)
        return {
            "state": "done",
            "node": node,
            "rul": round(float(row["rul"]), 3),
            "lower": round(float(row["lower"]), 3),
            "upper": round(float(row["upper"]), 3),
            "unit": self.unit,
            "hours": round(float(row["rul"]) * self.cycle_s / 3600.0, 3),
            "coverage": coverage,
            "cycles_seen": len(history),
            "model": type(self.estimator).__name__,
        }


class AlertEnricher:
    """What an alert of one twin carries beyond where and how much (see the module docstring).

    ``work_orders``: the ``k`` past work orders of the alert's node (and of the node its sensor
    observes) in the maintenance store, the newest first, then, once the fault is named, the closest
    in meaning to the diagnosis. ``rul_models``: node -> :class:`RemainingLifeModel` (shared with
    the workspace, so a model bound later applies to later alerts)."""

    def __init__(
        self,
        spec: TwinSpec,
        store: DuckDBStore,
        *,
        version: int = 1,
        diagnosers: DiagnoserCache | None = None,
        rul_models: dict[str, RemainingLifeModel] | None = None,
        k: int = 3,
        embedder: Callable[[], Any] | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.version = version
        self.diagnosers = diagnosers
        self.rul_models = rul_models if rul_models is not None else {}
        self.k = k
        self._embedder = embedder
        self._index = SignalIndex(spec)

    @property
    def window(self) -> int:
        return self.diagnosers.settings.window if self.diagnosers is not None else 60

    def nodes(self, node: str | None, signal: str | None) -> list[str]:
        """The alert's node and the node its signal observes (a sensor's equipment)."""
        out = [node] if node else []
        info = self._index.get(node, signal) if node and signal else None
        if info is not None and info.target_node and info.target_node not in out:
            out.append(info.target_node)
        return out

    def train(self) -> None:
        """Start training the twin's diagnoser in the background (once per twin version)."""
        if self.diagnosers is not None:
            self.diagnosers.ensure(self.spec, self.version)

    def diagnoser_status(self) -> dict[str, Any]:
        if self.diagnosers is None:
            return {"state": "off", "detail": "no diagnoser configured"}
        return self.diagnosers.status(self.spec.name, self.version)

    def pending(self) -> dict[str, Any]:
        """The diagnosis of an alert just raised: waiting for its rows, or why there is none yet."""
        st = self.diagnoser_status()
        if st["state"] in ("off", "unavailable"):
            return {"state": "unavailable", "fault": "unknown", "detail": st["detail"]}
        waiting = f"waiting for {self.window} rows from the alert's start"
        if st["state"] != "ready":
            waiting += f"; diagnoser not ready ({st['detail']})"
        return {"state": "pending", "fault": None, "detail": waiting}

    def diagnose(self, alert: Any, frame: pd.DataFrame) -> dict[str, Any] | None:
        """The likely fault of ``alert`` from the monitor's rows; None while the diagnoser trains."""
        if self.diagnosers is None:
            return {"state": "unavailable", "fault": "unknown", "detail": "no diagnoser configured"}
        st = self.diagnosers.status(self.spec.name, self.version)
        if st["state"] == "unavailable":
            return {"state": "unavailable", "fault": "unknown", "detail": st["detail"]}
        got = self.diagnosers.get(self.spec.name, self.version)
        if got is None:
            return None
        diagnoser, columns, step_s = got
        from twinforge.synthetic.faults import FAULT_NAMES

        try:
            renamed = _on_step(frame.rename(columns=columns), alert.started, step_s)
            pos = renamed.index.get_loc(alert.started)
            rows = len(renamed) - pos
            d = diagnoser.diagnose_alert(alert, renamed)
        except Exception as exc:  # rows lost or signals missing: said, not raised
            return {"state": "unavailable", "fault": "unknown", "detail": f"cannot diagnose: {exc}"}
        top = sorted(d.probabilities.items(), key=lambda kv: -kv[1])[:3]
        return {
            "state": "done",
            "fault": d.fault,
            "name": FAULT_NAMES.get(d.fault, d.fault),
            "probability": round(d.probability, 4),
            "probabilities": {k: round(v, 4) for k, v in top},
            "reason": d.reason,
            "signals": [[sig, round(z, 2)] for sig, z in d.signals[:3]],
            "rows": min(rows, diagnoser.window),
            "diagnoser": f"{self.spec.name} v{self.version}, {diagnoser.training_windows_} synthetic windows",
        }

    def work_orders(self, nodes: list[str], diagnosis: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``k`` past work orders of ``nodes``: closest to the named fault, else the newest."""
        from twinforge.maintenance.logs import node_orders
        from twinforge.synthetic.faults import FAULT_NAMES

        text = None
        if diagnosis and diagnosis.get("state") == "done" and diagnosis.get("fault") not in (None, "unknown"):
            text = FAULT_NAMES.get(diagnosis["fault"], diagnosis["fault"])
        try:
            orders, how = node_orders(self.store, self.spec.name, nodes, k=self.k)
        except Exception as exc:  # the maintenance store must never stop an alert
            log.warning("work orders of %s %s: %s", self.spec.name, nodes, exc)
            return {"orders": [], "ranked": f"work orders unavailable: {exc}", "nodes": nodes}
        if orders and text:  # closest in meaning to the named fault, when they have embeddings
            try:
                embedder = self._embedder() if self._embedder is not None else None
                orders, how = node_orders(
                    self.store, self.spec.name, nodes, text=text, k=self.k, embedder=embedder
                )
            except Exception as exc:  # no embedder: the newest stay, and the reason is said
                log.warning("ranking work orders of %s by %r: %s", self.spec.name, text, exc)
                how += f" (not ranked by meaning: {exc})"
        return {"orders": orders, "ranked": how, "nodes": nodes}

    def remaining_life(self, nodes: list[str], frame: pd.DataFrame) -> dict[str, Any]:
        """The remaining life of the first of ``nodes`` with a RUL model, or "no RUL model"."""
        for node in nodes:
            model = self.rul_models.get(node)
            if model is None:
                continue
            try:
                return model.predict(node, frame)
            except Exception as exc:  # a model that cannot predict yet is said, not raised
                return {"state": "unavailable", "node": node, "detail": str(exc)}
        return {"state": "none", "detail": "no RUL model for " + (" or ".join(nodes) or "this alert")}
