"""Fault diagnosis: name the likely fault of a window of signals, trained on synthetic faults.

A :class:`FaultDiagnoser` compares a window of signals (by default 60 rows) with a reference window
of normal operation before it, and describes each signal by four numbers that do not depend on its
unit or operating point (``σ``: the signal's std in the reference, floored at 0.1 % of its level):

- ``shift``: ``(mean(window) - mean(reference)) / σ``;
- ``spread``: ``log(std(window) / σ)``;
- ``roughness``: ``log(std(diff(window)) / std(diff(reference)))`` (a stuck sensor is very rough-less);
- ``trend``: the least-squares slope over the window times its length, ``/ σ``.

Shift and trend are compressed as ``sign(z) log(1 + |z|)``. The same four numbers of the most and
the second most shifted signal (whichever they are), how many signals moved by more than 2σ and 5σ,
and the smallest roughness are appended, so that "one signal changed" looks alike on any signal. An extremely randomised trees
classifier (scikit-learn) learns the fault class (a kind of :mod:`twinforge.synthetic.faults`, or
``normal``) from labelled windows, usually from :func:`train_diagnoser` (synthetic runs of a twin).

A diagnosis names the most probable class with its probability, or ``unknown`` when

- no class reaches ``min_probability`` (the candidates disagree), or
- the window is unlike every training window: its distance to the nearest one (features
  standardised) exceeds ``novelty_margin`` times the 99th percentile of the training windows'
  nearest-neighbour distances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twinforge.analytics.base import AnalyticsError, NotFittedError, align_columns, as_frame

WINDOW = 60
REFERENCE_ROWS = 300
FEATURES = ("shift", "spread", "roughness", "trend")
_EPS = 1e-12


def _slog(z: np.ndarray) -> np.ndarray:
    return np.sign(z) * np.log1p(np.abs(z))


def _assemble(shift: np.ndarray, spread: np.ndarray, rough: np.ndarray, trend: np.ndarray) -> np.ndarray:
    """Rows × features from per-signal arrays (rows × signals)."""
    n, k = shift.shape
    per = np.stack([_slog(shift), spread, rough, _slog(trend)], axis=2)  # rows × signals × 4
    order = np.argsort(-np.abs(shift), axis=1)[:, :2]
    top = np.take_along_axis(per, order[:, :, None], axis=1)
    if top.shape[1] < 2:
        top = np.concatenate([top, np.zeros((n, 2 - top.shape[1], 4))], axis=1)
    moved = np.log1p(np.stack([(np.abs(shift) > 2).sum(axis=1), (np.abs(shift) > 5).sum(axis=1)], axis=1))
    return np.concatenate(
        [per.reshape(n, 4 * k), top.reshape(n, 8), moved, per[:, :, 2].min(axis=1, keepdims=True)], axis=1
    )


def _reference_stats(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = r.mean(axis=0)
    sigma = np.maximum(r.std(axis=0), np.maximum(1e-3 * np.abs(mu), 1e-9))
    return mu, sigma, np.diff(r, axis=0).std(axis=0)


def rolling_features(frame: Any, reference: Any, window: int = WINDOW) -> np.ndarray:
    """:func:`window_features` of the trailing ``window`` rows at every row of ``frame`` (rows ×
    features; the first ``window - 1`` rows are NaN), computed with running sums."""
    x = as_frame(frame, what="frame").to_numpy(dtype=float)
    r = as_frame(reference, what="reference").to_numpy(dtype=float)
    if x.shape[1] != r.shape[1]:
        raise AnalyticsError(f"frame has {x.shape[1]} signal(s) but the reference {r.shape[1]}")
    if window < 5 or len(r) < 10:
        raise AnalyticsError(
            f"need a window of at least 5 rows and 10 reference rows; got {window}, {len(r)}"
        )
    mu, sigma, dr = _reference_stats(r)
    n, k = x.shape
    out = np.full((n, 4 * k + 11), np.nan)
    if n < window:
        return out
    xc = x - mu  # centred for numerical stability

    def run(a: np.ndarray, w: int) -> np.ndarray:  # sums of w consecutive rows, ending at each row
        c = np.vstack([np.zeros((1, a.shape[1])), np.cumsum(a, axis=0)])
        return c[w:] - c[:-w]

    s1 = run(xc, window)
    s2 = run(xc**2, window)
    mean = s1 / window
    std = np.sqrt(np.clip(s2 / window - mean**2, 0.0, None))
    d = np.diff(xc, axis=0)
    m = window - 1
    ds1, ds2 = run(d, m), run(d**2, m)
    dstd = np.sqrt(np.clip(ds2 / m - (ds1 / m) ** 2, 0.0, None))
    g = np.arange(n, dtype=float)[:, None]
    sgy = run(g * xc, window)
    start = g[window - 1 :] - (window - 1)
    sxy = sgy - start * s1 - (window - 1) / 2.0 * s1  # sum of (i - mean of i) * y over the window
    sxx = window * (window**2 - 1) / 12.0
    shift = mean / sigma
    spread = np.log((std + 1e-3 * sigma) / sigma)
    rough = np.log((dstd + 1e-3 * sigma) / (dr + 1e-3 * sigma))
    trend = (sxy / sxx) * window / sigma
    out[window - 1 :] = _assemble(shift, spread, rough, trend)
    return out


def window_features(window: Any, reference: Any) -> np.ndarray:
    """The four features of every signal (signal-major: s1 shift, s1 spread, ..., s2 shift, ...),
    then those of the two most shifted signals, the counts of moved signals and the least roughness."""
    w = as_frame(window, what="window").to_numpy(dtype=float)
    r = as_frame(reference, what="reference").to_numpy(dtype=float)
    if w.shape[1] != r.shape[1]:
        raise AnalyticsError(
            f"window has {w.shape[1]} signal(s) but the reference {r.shape[1]}; they must be the same"
        )
    if len(w) < 5 or len(r) < 10:
        raise AnalyticsError(f"need at least 5 window rows and 10 reference rows; got {len(w)} and {len(r)}")
    mu, sigma, dr = _reference_stats(r)
    shift = (w.mean(axis=0) - mu) / sigma
    spread = np.log((w.std(axis=0) + 1e-3 * sigma) / sigma)
    dw = np.diff(w, axis=0).std(axis=0)
    rough = np.log((dw + 1e-3 * sigma) / (dr + 1e-3 * sigma))
    x = np.arange(len(w), dtype=float)
    x -= x.mean()
    slope = (x @ (w - w.mean(axis=0))) / float(x @ x)
    trend = slope * len(w) / sigma
    return _assemble(shift[None], spread[None], rough[None], trend[None])[0]


@dataclass
class Diagnosis:
    """The likely fault of a window: a fault kind, ``normal`` or ``unknown``."""

    fault: str
    probability: float
    probabilities: dict[str, float]
    reason: str
    signals: list[tuple[str, float]] = field(default_factory=list)  # most shifted signals, shift in σ

    def describe(self) -> str:
        top = ", ".join(f"{s} {z:+.1f}σ" for s, z in self.signals[:3])
        return f"{self.fault} (p={self.probability:.2f}): {self.reason}; most changed: {top}"


class FaultDiagnoser:
    """Names the fault class of a window of signals; see the module's documentation."""

    def __init__(
        self,
        *,
        window: int = WINDOW,
        min_probability: float = 0.4,
        novelty_margin: float = 3.0,
        n_estimators: int = 200,
        random_state: int = 0,
    ) -> None:
        if not 0.0 <= min_probability < 1.0:
            raise AnalyticsError(f"min_probability must be in [0, 1); got {min_probability}")
        if novelty_margin <= 0:
            raise AnalyticsError(f"novelty_margin must be > 0; got {novelty_margin}")
        if window < 5:
            raise AnalyticsError(f"window must be at least 5 rows; got {window}")
        self.window = window
        self.min_probability = min_probability
        self.novelty_margin = novelty_margin
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, examples: Iterable[tuple[Any, Any, str]]) -> FaultDiagnoser:
        """Learn from ``(reference, window, label)`` triples (frames with the same signals)."""
        from sklearn.ensemble import ExtraTreesClassifier
        from sklearn.neighbors import NearestNeighbors

        X, y, signals = [], [], None
        for ref, win, label in examples:
            frame = as_frame(win, what="window")
            cols = [str(c) for c in frame.columns]
            if signals is None:
                signals = cols
            elif cols != signals:
                raise AnalyticsError(f"training windows have different signals: {cols} vs {signals}")
            X.append(window_features(frame, align_columns(as_frame(ref, what="reference"), signals)))
            y.append(str(label))
        if signals is None or len(set(y)) < 2:
            raise AnalyticsError("a diagnoser needs training windows of at least two classes")
        self.signals_ = signals
        Xa = np.asarray(X)
        self._mean = Xa.mean(axis=0)
        self._std = np.where(Xa.std(axis=0) > 0, Xa.std(axis=0), 1.0)
        Z = (Xa - self._mean) / self._std
        self._clf = ExtraTreesClassifier(
            n_estimators=self.n_estimators,
            random_state=self.random_state,
            n_jobs=1,
            class_weight="balanced",
        ).fit(Xa, np.asarray(y))
        self.classes_ = [str(c) for c in self._clf.classes_]
        self._nn = NearestNeighbors(n_neighbors=2).fit(Z)
        dist, _ = self._nn.kneighbors(Z)
        self.novelty_distance_ = float(np.quantile(dist[:, 1], 0.99)) * self.novelty_margin
        self.training_windows_ = len(y)
        return self

    def _check(self) -> None:
        if not hasattr(self, "signals_"):
            raise NotFittedError("FaultDiagnoser is not fitted yet; call fit(...) or train_diagnoser(twin)")

    def probabilities(self, window: Any, reference: Any) -> dict[str, float]:
        self._check()
        x = self._features(window, reference)
        return dict(zip(self.classes_, self._clf.predict_proba(x[None, :])[0].tolist(), strict=True))

    def _features(self, window: Any, reference: Any) -> np.ndarray:
        win = align_columns(as_frame(window, what="window"), self.signals_, what="window")
        ref = align_columns(as_frame(reference, what="reference"), self.signals_, what="reference")
        return window_features(win, ref)

    def diagnose(self, window: Any, reference: Any) -> Diagnosis:
        """The likely fault of ``window`` (rows after the change) against ``reference`` (normal rows)."""
        self._check()
        x = self._features(window, reference)
        proba = self._clf.predict_proba(x[None, :])[0]
        probs = {c: float(p) for c, p in zip(self.classes_, proba, strict=True)}
        best = int(np.argmax(proba))
        k = len(self.signals_)
        shifts = np.sign(x[0 : 4 * k : 4]) * np.expm1(np.abs(x[0 : 4 * k : 4]))
        order = np.argsort(-np.abs(shifts))
        signals = [(self.signals_[i], float(shifts[i])) for i in order]
        dist = float(self._nn.kneighbors(((x - self._mean) / self._std)[None, :], n_neighbors=1)[0][0, 0])
        if dist > self.novelty_distance_:
            return Diagnosis(
                "unknown",
                float(proba[best]),
                probs,
                f"unlike every training window (distance {dist:.2f} > {self.novelty_distance_:.2f}); "
                f"closest class {self.classes_[best]}",
                signals,
            )
        if proba[best] < self.min_probability:
            return Diagnosis(
                "unknown",
                float(proba[best]),
                probs,
                f"no class reaches p={self.min_probability:.2f} (best {self.classes_[best]})",
                signals,
            )
        return Diagnosis(self.classes_[best], float(proba[best]), probs, "most probable class", signals)

    def diagnose_alert(self, alert: Any, frame: pd.DataFrame, reference: Any = None) -> Diagnosis:
        """Diagnose a monitor's alert: the ``window`` rows of ``frame`` from the alert's start, against
        ``reference`` (default: the rows of ``frame`` before the alert)."""
        if alert.started not in frame.index:
            raise AnalyticsError(f"alert start {alert.started!r} is not a row of the frame given")
        pos = frame.index.get_loc(alert.started)
        if not isinstance(pos, int):
            raise AnalyticsError(f"alert start {alert.started!r} is not a unique row of the frame given")
        ref = frame.iloc[max(0, pos - REFERENCE_ROWS) : pos] if reference is None else reference
        return self.diagnose(frame.iloc[pos : pos + self.window], ref)

    def accuracy(self, examples: Sequence[tuple[Any, Any, str]]) -> tuple[float, pd.DataFrame]:
        """Share of examples named correctly ("unknown" counts as wrong) and the confusion table."""
        truth, named = [], []
        for ref, win, label in examples:
            truth.append(str(label))
            named.append(self.diagnose(win, ref).fault)
        table = pd.crosstab(pd.Series(truth, name="true"), pd.Series(named, name="named"))
        return float(np.mean(np.asarray(truth) == np.asarray(named))), table


# -- training on a twin's synthetic faults ------------------------------------------------------------


def run_windows(
    runs: Iterable[Any], *, window: int = WINDOW, reference_rows: int = REFERENCE_ROWS, per_run: int = 3
) -> list[tuple[pd.DataFrame, pd.DataFrame, str]]:
    """``(reference, window, label)`` examples from labelled runs (``frame``, ``anomaly``, ``label``,
    ``fault.onset_s``/``ramp_s``): the reference is each run's first ``reference_rows`` rows; a fault
    run gives ``per_run`` windows from the onset to the end, a normal run windows after the reference."""
    out = []
    for run in runs:
        frame = run.frame
        n = len(frame)
        t = frame.index.to_numpy(dtype=float)
        if run.fault is None:
            first = reference_rows
        else:
            first = int(np.searchsorted(t, run.fault.onset_s))
            if first < reference_rows:
                raise AnalyticsError(
                    f"fault onset at row {first} is inside the {reference_rows}-row reference of the run"
                )
        last = n - window
        if last < first:
            continue
        starts = np.unique(np.linspace(first, last, per_run).round().astype(int))
        ref = frame.iloc[:reference_rows]
        out += [(ref, frame.iloc[s : s + window], run.label) for s in starts]
    return out


def train_diagnoser(
    twin: Any,
    seeds: Sequence[int] = range(6),
    *,
    duration_s: float = 1200.0,
    window: int = WINDOW,
    **kw: Any,
) -> FaultDiagnoser:
    """A diagnoser trained on synthetic runs of ``twin``: per seed a normal run and one run of every
    fault the twin can have (:func:`twinforge.synthetic.fault_runs`)."""
    from twinforge.synthetic import fault_runs

    runs = list(fault_runs(twin, seeds, duration_s=duration_s, normal_runs=2))
    return FaultDiagnoser(window=window, **kw).fit(run_windows(runs, window=window))


__all__ = [
    "FEATURES",
    "Diagnosis",
    "FaultDiagnoser",
    "rolling_features",
    "run_windows",
    "train_diagnoser",
    "window_features",
]
