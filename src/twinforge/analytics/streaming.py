"""Streaming detection: feed samples or batches as they arrive, get alerts naming node and signal.

:class:`AnomalyMonitor` wraps a fitted detector. It keeps the rows of history the detector needs
(rolling windows), scores each new row, and runs an alarm state machine with hysteresis
(:class:`Hysteresis`): an alert is raised only after ``raise_after`` consecutive rows above the
threshold, and cleared only after ``clear_after`` consecutive rows below ``clear_ratio × threshold``,
so one noisy sample neither raises nor clears an alert. Each alert carries the signals' shares of
the score and the direction each of them moved (:attr:`Alert.moves`), so a diagnoser can name the
fault. A detector that skips missing data (``allows_missing``) may be streamed rows lacking a signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from twinforge.analytics.base import AnalyticsError, Detector, NotFittedError, as_frame
from twinforge.analytics.signals import SignalMap, SignalRef
from twinforge.spec import TwinSpec


@dataclass(frozen=True)
class Hysteresis:
    """Debounce of the alarm: raise after ``raise_after`` rows above the threshold in a row, clear after
    ``clear_after`` rows in a row below ``clear_ratio × threshold``."""

    raise_after: int = 3
    clear_after: int = 10
    clear_ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise AnalyticsError(
                f"raise_after and clear_after must be >= 1 row; got {self.raise_after}, {self.clear_after}"
            )
        if not 0.0 < self.clear_ratio <= 1.0:
            raise AnalyticsError(f"clear_ratio must be in (0, 1]; got {self.clear_ratio}")


class AlarmState:
    """The hysteresis state machine; ``step`` returns "raised", "cleared" or None."""

    def __init__(self, hysteresis: Hysteresis) -> None:
        self.hysteresis = hysteresis
        self.active = False
        self._run = 0

    def step(self, score: float, threshold: float) -> Literal["raised", "cleared"] | None:
        h = self.hysteresis
        if not self.active:
            self._run = self._run + 1 if score > threshold else 0
            if self._run >= h.raise_after:
                self.active, self._run = True, 0
                return "raised"
        else:
            self._run = self._run + 1 if score < h.clear_ratio * threshold else 0
            if self._run >= h.clear_after:
                self.active, self._run = False, 0
                return "cleared"
        return None


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True values ending at each position (0 where False)."""
    idx = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return np.where(flags, idx - last_false, 0)


def debounce(scores: np.ndarray, threshold: float, hysteresis: Hysteresis) -> np.ndarray:
    """The alarm state (0/1) of each row after hysteresis, exactly as :class:`AlarmState` (and so the
    streaming monitor) would have it; vectorised, it jumps from one state change to the next."""
    s = np.asarray(scores, dtype=float)
    n = len(s)
    out = np.zeros(n, dtype=int)
    runs = {
        False: (_run_lengths(s > threshold), hysteresis.raise_after),
        True: (_run_lengths(s < hysteresis.clear_ratio * threshold), hysteresis.clear_after),
    }
    active, start = False, 0  # the state machine's run counter restarts at ``start``
    while start < n:
        run, need = runs[active]
        pos = np.arange(start, n)
        hits = np.flatnonzero(np.minimum(run[start:], pos - start + 1) >= need)
        if not len(hits):
            out[start:] = int(active)
            break
        change = start + int(hits[0])
        out[start:change] = int(active)
        active = not active
        out[change] = int(active)
        start = change + 1
    return out


@dataclass
class Alert:
    """One alarm episode: where (the signal contributing most, and its node), when, how strong."""

    started: Any
    node: str
    signal: str
    score: float
    threshold: float
    contributions: list[tuple[SignalRef, float]]  # (signal, share of the score), largest first
    peak_score: float = 0.0
    ended: Any = None  # when the alert cleared (after ``clear_after`` quiet rows)
    quiet_since: Any = None  # first of those quiet rows: where the anomaly ended, known once cleared
    rows: int = 0
    #: the contributing signals (same order) with their mean signed movement over the episode's rows
    #: above the threshold, in the detector's units of normal variability (+ up, − down; NaN unknown)
    moves: list[tuple[SignalRef, float]] = field(default_factory=list)
    _accumulated: np.ndarray | None = field(default=None, repr=False)
    _moved_sum: np.ndarray | None = field(default=None, repr=False)
    _moved_rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def open(self) -> bool:
        return self.ended is None

    def direction(self, ref: SignalRef) -> str:
        """ "up", "down" or "" (unknown) for a contributing signal."""
        value = next((v for r, v in self.moves if r == ref), float("nan"))
        return "up" if value > 0 else "down" if value < 0 else ""

    def describe(self, top: int = 3) -> str:
        moved = dict(self.moves)
        parts = ", ".join(
            f"{ref} {share:.0%}" + (f" {_arrow(moved[ref])}" if np.isfinite(moved.get(ref, np.nan)) else "")
            for ref, share in self.contributions[:top]
        )
        state = "open" if self.open else f"until {self.ended}"
        return (
            f"{self.started}: anomaly at {self.node}.{self.signal} score {self.score:.3g} "
            f"(threshold {self.threshold:.3g}, peak {self.peak_score:.3g}, {state}); contributing: {parts}"
        )


def _arrow(value: float) -> str:
    return f"{'↑' if value > 0 else '↓'}{abs(value):.2g}σ"


@dataclass(frozen=True)
class AlertEvent:
    #: "moved": while the alert is open, another signal came to contribute most (a new fault that
    #: dominates the one that raised it); the alert now names that signal and its node
    kind: Literal["raised", "cleared", "moved"]
    at: Any
    alert: Alert


@dataclass(frozen=True)
class StreamUpdate:
    """What one call to :meth:`AnomalyMonitor.update` saw: the rows' scores, alarm states and events."""

    index: pd.Index
    scores: np.ndarray
    alarm: np.ndarray
    events: list[AlertEvent]


class AnomalyMonitor:
    """Feeds live samples to a fitted detector and raises debounced alerts naming node and signal.

    ``twin`` maps the detector's signal names to the twin's nodes (see :class:`SignalMap`); every
    signal must be known to the twin. Without a twin, alerts name the column only (node ``""``).
    """

    def __init__(
        self,
        detector: Detector,
        twin: TwinSpec | None = None,
        hysteresis: Hysteresis | None = None,
        top: int = 3,
    ) -> None:
        if not hasattr(detector, "signals_"):
            raise NotFittedError(
                "AnomalyMonitor needs a fitted detector; call detector.fit(normal_data) first"
            )
        self.detector = detector
        self.hysteresis = hysteresis or Hysteresis()
        self.top = top
        if twin is not None:
            mapping = SignalMap(twin).resolve(detector.signals_)
            self.refs = [mapping[s] for s in detector.signals_]
        else:
            self.refs = [SignalRef("", s) for s in detector.signals_]
        self.threshold = float(detector.threshold_)
        self._state = AlarmState(self.hysteresis)
        self._buffer: pd.DataFrame | None = None
        self._pending: list[np.ndarray] = []  # contributions of the rows above threshold before raising
        self._pending_dev: list[np.ndarray] = []  # and their signed deviations
        self._rows_seen = 0
        self._quiet_since: Any = None
        self.alerts: list[Alert] = []

    @property
    def active(self) -> Alert | None:
        return self.alerts[-1] if self.alerts and self.alerts[-1].open else None

    def _as_batch(self, data: Any, at: Any) -> pd.DataFrame:
        if isinstance(data, Mapping):
            frame = pd.DataFrame([dict(data)], index=[at if at is not None else self._rows_seen])
        elif isinstance(data, pd.Series):
            name = at if at is not None else (data.name if data.name is not None else self._rows_seen)
            frame = data.to_frame().T
            frame.index = [name]
        else:
            frame = as_frame(data, what="streamed data")
            if not isinstance(data, pd.DataFrame):
                frame.columns = self.detector.signals_[: frame.shape[1]]
                frame.index = pd.RangeIndex(self._rows_seen, self._rows_seen + len(frame))
        frame = frame.apply(pd.to_numeric, errors="coerce")
        missing = [s for s in self.detector.signals_ if s not in frame.columns]
        if missing and self.detector.allows_missing:  # scored on the signals it has
            frame = frame.reindex(columns=[*frame.columns, *missing])
        elif missing:
            raise AnalyticsError(
                f"streamed data lacks signal(s) {missing}; expected {self.detector.signals_}"
            )
        return frame

    def prime(self, history: Any) -> None:
        """Fill the history the detector needs (e.g. the end of the training data) without scoring it."""
        frame = self._as_batch(history, None)[self.detector.signals_]
        keep = self.detector.context_length
        self._buffer = frame.iloc[-keep:] if keep else None

    def update(self, data: Any, at: Any = None) -> StreamUpdate:
        """Score one sample (a dict or Series of signal values) or a batch (DataFrame) of new rows."""
        batch = self._as_batch(data, at)
        extra = [str(c) for c in batch.columns if str(c) not in self.detector.signals_]
        if extra:
            raise AnalyticsError(f"streamed data has signal(s) {extra} the detector was not fitted on")
        batch = batch[self.detector.signals_]
        context = batch if self._buffer is None else pd.concat([self._buffer, batch])
        scores = self.detector.score(context)[-len(batch) :]
        contributions: np.ndarray | None = None
        deviations: np.ndarray | None = None
        if (scores > self.threshold * self.hysteresis.clear_ratio).any() or self._state.active:
            contributions = np.nan_to_num(self.detector.contributions(context).to_numpy()[-len(batch) :])
            deviations = self.detector.deviations(context).to_numpy()[-len(batch) :]
        keep = self.detector.context_length
        self._buffer = context.iloc[-keep:] if keep else None
        alarm = np.zeros(len(batch), dtype=int)
        events: list[AlertEvent] = []
        for i, (when, score) in enumerate(zip(batch.index, scores, strict=True)):
            row_contrib = contributions[i] if contributions is not None else None
            row_dev = deviations[i] if deviations is not None else None
            if not self._state.active:
                if score > self.threshold and row_contrib is not None and row_dev is not None:
                    self._pending.append(row_contrib)
                    self._pending_dev.append(row_dev)
                else:
                    self._pending.clear()
                    self._pending_dev.clear()
            transition = self._state.step(float(score), self.threshold)
            if transition == "raised":
                events.append(AlertEvent("raised", when, self._raise(when, float(score))))
            elif transition == "cleared":
                alert = self.alerts[-1]
                alert.ended = when
                alert.quiet_since = self._quiet_since
                events.append(AlertEvent("cleared", when, alert))
            if self._state.active and score < self.hysteresis.clear_ratio * self.threshold:
                if self._quiet_since is None:
                    self._quiet_since = when
            else:
                self._quiet_since = None
            if self._state.active:
                alert = self.alerts[-1]
                alert.rows += 1
                alert.peak_score = max(alert.peak_score, float(score))
                if row_contrib is not None and transition != "raised":
                    alert._accumulated = alert._accumulated + row_contrib
                    if row_dev is not None and score > self.threshold:
                        self._add_moves(alert, row_dev[None, :])
                    alert.contributions = self._shares(alert._accumulated)
                    alert.moves = self._moves(alert)
                    if self._moved(alert):
                        events.append(AlertEvent("moved", when, alert))
            alarm[i] = int(self._state.active)
        self._rows_seen += len(batch)
        return StreamUpdate(batch.index, scores, alarm, events)

    def _moved(self, alert: Alert) -> bool:
        """Name the signal contributing most when it clearly took over (1.5 times the share of the
        one named so far), so that two signals of about equal weight do not swap back and forth."""
        top, top_share = alert.contributions[0]
        if (top.node, top.signal) == (alert.node, alert.signal):
            return False
        named = next(
            (
                share
                for ref, share in alert.contributions
                if (ref.node, ref.signal) == (alert.node, alert.signal)
            ),
            0.0,
        )
        if top_share < 1.5 * named:
            return False
        alert.node, alert.signal = top.node, top.signal
        return True

    def _shares(self, contributions: np.ndarray) -> list[tuple[SignalRef, float]]:
        total = float(contributions.sum())
        order = np.argsort(-contributions)[: max(self.top, 1)]
        return [(self.refs[j], float(contributions[j] / total) if total > 0 else 0.0) for j in order]

    @staticmethod
    def _add_moves(alert: Alert, deviations: np.ndarray) -> None:
        ok = np.isfinite(deviations)
        alert._moved_sum = alert._moved_sum + np.where(ok, deviations, 0.0).sum(axis=0)
        alert._moved_rows = alert._moved_rows + ok.sum(axis=0)

    def _moves(self, alert: Alert) -> list[tuple[SignalRef, float]]:
        index = {ref: j for j, ref in enumerate(self.refs)}
        out = []
        for ref, _share in alert.contributions:
            j = index[ref]
            n = alert._moved_rows[j] if alert._moved_rows is not None else 0
            out.append((ref, float(alert._moved_sum[j] / n) if n else float("nan")))
        return out

    def _raise(self, when: Any, score: float) -> Alert:
        accumulated = np.sum(self._pending, axis=0) if self._pending else np.zeros(len(self.refs))
        pending_dev = np.array(self._pending_dev) if self._pending_dev else np.zeros((0, len(self.refs)))
        self._pending.clear()
        self._pending_dev.clear()
        shares = self._shares(accumulated)
        top_ref = shares[0][0]
        alert = Alert(
            started=when,
            node=top_ref.node,
            signal=top_ref.signal,
            score=score,
            threshold=self.threshold,
            contributions=shares,
            peak_score=score,
            _accumulated=accumulated,
            _moved_sum=np.zeros(len(self.refs)),
            _moved_rows=np.zeros(len(self.refs)),
        )
        self._add_moves(alert, pending_dev)
        alert.moves = self._moves(alert)
        self.alerts.append(alert)
        return alert
