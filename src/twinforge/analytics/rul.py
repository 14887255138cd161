"""Remaining useful life (RUL) from run-to-failure histories, with an interval on every prediction.

Histories are long tables: one row per unit and cycle (or time step), a unit id column, a cycle
column, optionally operating-setting columns, and one column per signal. In training data each unit
runs until it fails, so its RUL at a cycle is ``last cycle - cycle``; the target is piecewise
linear, capped at ``cap`` (125 cycles by default): early in life the remaining life cannot be told
from the signals, so it is held constant.

Operating conditions. Units that run at several operating points (altitude, Mach number, throttle:
C-MAPSS FD002/FD004) show sensor levels set mostly by the operating point, which hides the slow
wear. :class:`OperatingConditions` finds the discrete operating conditions in the setting columns
(k-means; the number of conditions is the one with the best silhouette, one condition when no
clustering is clearly separated), and each signal is standardised per condition with training
statistics. On single-condition data this is the ordinary standardisation.

Intervals. ``fit`` also cross-validates the model over units (folds grouped by unit) and keeps the
out-of-fold residuals; ``predict_interval`` gives split-conformal bounds from their quantiles, per
band of predicted RUL (the error is larger mid-life than near the cap or near failure), for the
nominal ``coverage`` (0.9 by default) of the capped RUL.

Every estimator has the same shape: ``fit(histories)``, ``predict(histories)`` → the RUL at each
unit's last observed cycle (a Series indexed by unit), ``predict_interval(histories)`` → the RUL with
its lower and upper bounds, ``score(histories, true_rul)`` → RMSE, and ``evaluate`` → RMSE, the
PHM08 score and the interval's coverage and mean width.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinforge.analytics.base import AnalyticsError, NotFittedError
from twinforge.analytics.metrics import phm08_score, rmse

#: column-name prefixes taken as operating settings when ``settings="auto"``
SETTING_PREFIXES = ("setting", "op_setting", "operating_setting")


def rul_targets(
    histories: pd.DataFrame, unit: str = "unit", cycle: str = "cycle", cap: float | None = 125
) -> pd.Series:
    """Piecewise-linear RUL of every row of run-to-failure histories: min(cap, last cycle - cycle)."""
    _require_columns(histories, [unit, cycle], "histories")
    last = histories.groupby(unit)[cycle].transform("max")
    target = (last - histories[cycle]).astype(float)
    return target.clip(upper=cap) if cap is not None else target


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalyticsError(
            f"{what} lacks column(s) {missing}; columns are {[str(c) for c in frame.columns]}"
        )


# -- operating conditions -------------------------------------------------------------------------


class OperatingConditions:
    """Discrete operating conditions found in operating-setting values by k-means.

    Each setting is scaled by its standard deviation (settings that do not vary are ignored). For
    k = 2 .. ``max_conditions`` k-means is run on a seeded sample of at most ``sample`` rows and
    scored by its silhouette (on 1,000 of them); the best k is kept if its silhouette reaches
    ``min_silhouette`` (distinct operating points give silhouettes near 1, noise around one point
    about 0.3–0.4), else there is one condition. ``assign`` gives each row the nearest condition."""

    def __init__(
        self,
        max_conditions: int = 10,
        min_silhouette: float = 0.8,
        sample: int = 3000,
        random_state: int = 0,
    ) -> None:
        if max_conditions < 1:
            raise AnalyticsError(f"max_conditions must be >= 1; got {max_conditions}")
        self.max_conditions = int(max_conditions)
        self.min_silhouette = float(min_silhouette)
        self.sample = int(sample)
        self.random_state = random_state

    def fit(self, settings: np.ndarray) -> OperatingConditions:
        x = np.asarray(settings, dtype=float)
        if x.ndim != 2 or not len(x):
            raise AnalyticsError(f"operating settings must be a non-empty 2-D table; got shape {x.shape}")
        if not np.isfinite(x).all():
            raise AnalyticsError("operating settings have missing or infinite values")
        std = x.std(axis=0)
        self.columns_ = np.flatnonzero(std > 1e-12 * np.maximum(1.0, np.abs(x.mean(axis=0))))
        self.offset_ = x.mean(axis=0)[self.columns_]
        self.scale_ = std[self.columns_]
        self.silhouettes_: dict[int, float] = {}
        self.centers_ = np.zeros((1, len(self.columns_)))
        if len(self.columns_) and self.max_conditions > 1:
            from sklearn.cluster import KMeans
            from sklearn.metrics import silhouette_score
            from threadpoolctl import threadpool_limits

            z = self._scaled(x)
            if len(z) > self.sample:  # a seeded sample is plenty to place the centres and to score them
                z = z[np.random.default_rng(self.random_state).choice(len(z), self.sample, replace=False)]
            distinct = len(np.unique(np.round(z, 6), axis=0))
            best: tuple[float, Any] | None = None
            scored = min(len(z), 1000)  # silhouette is quadratic in the rows it scores
            with threadpool_limits(limits=1):  # tiny problems: threads only cost on a busy machine
                for k in range(2, min(self.max_conditions, distinct) + 1):
                    km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(z)
                    if len(np.unique(km.labels_[:scored])) < 2:
                        continue
                    sil = float(silhouette_score(z[:scored], km.labels_[:scored]))
                    self.silhouettes_[k] = sil
                    if best is None or sil > best[0]:
                        best = (sil, km)
            if best is not None and best[0] >= self.min_silhouette:
                order = np.lexsort(best[1].cluster_centers_.T[::-1])  # stable numbering: sorted centres
                self.centers_ = best[1].cluster_centers_[order]
        self.n_conditions_ = len(self.centers_)
        return self

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float)[:, self.columns_] - self.offset_) / self.scale_

    def assign(self, settings: np.ndarray) -> np.ndarray:
        """The condition (0 .. n_conditions_-1) nearest to each row of settings."""
        if not hasattr(self, "centers_"):
            raise NotFittedError("OperatingConditions is not fitted yet; call fit(settings) first")
        x = np.asarray(settings, dtype=float)
        if self.n_conditions_ == 1:
            return np.zeros(len(x), dtype=int)
        if not np.isfinite(x).all():
            raise AnalyticsError("operating settings have missing or infinite values")
        return self.distances(x).argmin(axis=1)

    def distances(self, settings: np.ndarray) -> np.ndarray:
        """Distance (in standard deviations of the training settings) of each row to each condition."""
        z = self._scaled(np.asarray(settings, dtype=float))
        return np.sqrt(((z[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2))

    def outliers(self, settings: np.ndarray) -> np.ndarray:
        """Rows farther than half the smallest distance between two conditions from every condition:
        operating points that training never saw (none with a single condition)."""
        if self.n_conditions_ == 1:
            return np.zeros(len(settings), dtype=bool)
        gaps = np.sqrt(((self.centers_[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2))
        return self.distances(settings).min(axis=1) > 0.5 * gaps[gaps > 0].min()


# -- estimators -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RULEvaluation:
    rmse: float
    phm08: float
    units: int
    coverage: float | None = None  # share of units whose true RUL lies in the interval
    mean_width: float | None = None  # mean width of the interval, cycles


class RULEstimator(ABC):
    """Base of RUL models: column handling, operating conditions, signal selection, per-condition
    standardisation, split-conformal intervals, evaluation.

    ``settings``: the operating-setting columns; ``"auto"`` takes the columns whose names start with
    ``setting``/``op_setting``/``operating_setting`` (none: one condition), ``None`` or ``()`` means
    no settings. Setting columns are not used as signals. ``coverage``: nominal coverage of the
    prediction intervals (``None``: no intervals, faster fit); they come from out-of-fold residuals
    of ``calibration_folds`` folds grouped by unit."""

    def __init__(
        self,
        unit: str = "unit",
        cycle: str = "cycle",
        cap: float = 125.0,
        signals: Sequence[str] | None = None,
        settings: Sequence[str] | str | None = "auto",
        max_conditions: int = 10,
        coverage: float | None = 0.9,
        calibration_folds: int = 4,
        random_state: int = 0,
    ) -> None:
        self.unit = unit
        self.cycle = cycle
        self.cap = cap
        self.signals = list(signals) if signals is not None else None
        if isinstance(settings, str) and settings != "auto":
            raise AnalyticsError(f"settings must be 'auto', None or a list of column names; got {settings!r}")
        self.settings = settings if settings == "auto" else list(settings or [])
        self.max_conditions = max_conditions
        if coverage is not None and not 0 < coverage < 1:
            raise AnalyticsError(f"coverage must be between 0 and 1 (exclusive); got {coverage}")
        self.coverage = coverage
        if calibration_folds < 2:
            raise AnalyticsError(f"calibration_folds must be >= 2; got {calibration_folds}")
        self.calibration_folds = int(calibration_folds)
        self.random_state = random_state

    # -- input -----------------------------------------------------------------------------------
    def _setting_columns(self, histories: pd.DataFrame) -> list[str]:
        if self.settings == "auto":
            return [
                str(c)
                for c in histories.columns
                if c not in (self.unit, self.cycle) and str(c).lower().startswith(SETTING_PREFIXES)
            ]
        return list(self.settings)

    def _check(self, histories: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        if not isinstance(histories, pd.DataFrame):
            raise AnalyticsError("RUL histories must be a DataFrame with unit, cycle and signal columns")
        _require_columns(histories, [self.unit, self.cycle], "histories")
        if fitting:
            settings = self._setting_columns(histories)
            _require_columns(histories, settings, "histories (operating settings)")
            candidates = self.signals or [
                c for c in histories.columns if c not in (self.unit, self.cycle, *settings)
            ]
            _require_columns(histories, candidates, "histories")
            try:
                values = histories[candidates].astype(float)
                setting_values = histories[settings].to_numpy(dtype=float)
            except (TypeError, ValueError) as exc:
                raise AnalyticsError(f"histories have non-numeric signal or setting values ({exc})") from None
            if values.isna().any().any():
                raise AnalyticsError("histories have missing signal values; fill or drop them first")
            self.settings_ = settings
            self.conditions_ = OperatingConditions(self.max_conditions, random_state=self.random_state)
            self.conditions_.fit(setting_values if settings else np.zeros((len(histories), 0)))
            labels = self.conditions_.assign(setting_values)
            self._fit_scaling(values, labels)
        elif not hasattr(self, "signals_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(histories) first")
        _require_columns(histories, [*self.signals_, *self.settings_], "histories")
        frame = histories.sort_values([self.unit, self.cycle], kind="stable")
        if frame[self.signals_].isna().any().any():
            raise AnalyticsError("histories have missing signal values; fill or drop them first")
        return frame

    def _fit_scaling(self, values: pd.DataFrame, labels: np.ndarray) -> None:
        """Per-condition mean and standard deviation of each signal; signals that do not vary within
        the conditions carry no information about wear and are dropped."""
        x = values.to_numpy(dtype=float)
        k = self.conditions_.n_conditions_
        mean = np.zeros((k, x.shape[1]))
        std = np.zeros((k, x.shape[1]))
        counts = np.zeros(k)
        for c in range(k):
            rows = x[labels == c]
            counts[c] = len(rows)
            if len(rows):  # sample standard deviation, as pandas; 0 for a single row
                mean[c], std[c] = rows.mean(axis=0), rows.std(axis=0, ddof=1 if len(rows) > 1 else 0)
        pooled = np.sqrt((counts[:, None] * std**2).sum(axis=0) / counts.sum())
        level = np.abs(x.mean(axis=0))
        keep = pooled > 1e-8 * np.maximum(1.0, level)
        self.signals_ = [c for c, k_ in zip(values.columns, keep, strict=True) if k_]
        if not self.signals_:
            raise AnalyticsError(
                "no signal varies in the training histories"
                + (" within an operating condition" if k > 1 else "")
            )
        mean, std = mean[:, keep], std[:, keep]
        # a signal constant within one condition says nothing there: its standardised value is 0
        flat = std <= 1e-8 * np.maximum(1.0, np.abs(mean))
        self.mean_ = mean
        self.scale_ = np.where(flat, np.inf, std)
        self.condition_rows_ = counts.astype(int)

    def _conditions(self, frame: pd.DataFrame, refuse_unseen: bool = False) -> np.ndarray:
        """The operating condition of each row; with ``refuse_unseen`` (new data), an error for rows
        far from every training condition."""
        if not self.settings_:
            return np.zeros(len(frame), dtype=int)
        settings = frame[self.settings_].to_numpy(dtype=float)
        labels = self.conditions_.assign(settings)
        far = self.conditions_.outliers(settings) if refuse_unseen else np.zeros(len(frame), dtype=bool)
        if far.any():
            first = frame.iloc[int(np.flatnonzero(far)[0])]
            raise AnalyticsError(
                f"{int(far.sum())} row(s) run at operating settings unlike any of the "
                f"{self.n_conditions} training conditions, first: {self.unit} {first[self.unit]}, "
                f"{self.cycle} {first[self.cycle]}, " + ", ".join(f"{c}={first[c]:g}" for c in self.settings_)
            )
        return labels

    def _standardised(self, frame: pd.DataFrame, labels: np.ndarray | None = None) -> np.ndarray:
        """Signals standardised with the training mean and deviation of each row's condition."""
        labels = self._conditions(frame) if labels is None else labels
        x = frame[self.signals_].to_numpy(dtype=float)
        return ((x - self.mean_[labels]) / self.scale_[labels]).astype(np.float32)

    @property
    def n_conditions(self) -> int:
        """The number of operating conditions found in the training settings."""
        if not hasattr(self, "conditions_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(histories) first")
        return int(self.conditions_.n_conditions_)

    # -- API -------------------------------------------------------------------------------------
    def fit(self, histories: pd.DataFrame) -> RULEstimator:
        """Learn from run-to-failure histories (each unit's last row is its failure); with
        ``coverage``, also calibrate the intervals on out-of-fold residuals grouped by unit."""
        frame = self._check(histories, fitting=True)
        target = rul_targets(frame, self.unit, self.cycle, self.cap).to_numpy()
        units = frame[self.unit].to_numpy()
        self.interval_ = None
        self.oof_predictions_ = None
        if self.coverage is not None and pd.unique(units).size >= 2:
            oof = np.clip(self._cross_predict(frame, target, units), 0.0, self.cap)
            self.oof_predictions_ = pd.DataFrame(
                {self.unit: units, self.cycle: frame[self.cycle].to_numpy(), "rul": target, "predicted": oof}
            )
            self.interval_ = conformal_bands(target - oof, oof, self.coverage)
        self._fit(frame, target)
        return self

    def predict(self, histories: pd.DataFrame) -> pd.Series:
        """RUL at each unit's last observed cycle, indexed by unit (clipped to [0, cap])."""
        frame = self._check(histories, fitting=False)
        pred = np.clip(self._predict_last(frame), 0.0, self.cap)
        units = frame[self.unit].drop_duplicates().to_numpy()
        return pd.Series(pred, index=pd.Index(units, name=self.unit), name="rul")

    def predict_interval(self, histories: pd.DataFrame) -> pd.DataFrame:
        """RUL at each unit's last observed cycle with the bounds of its ``coverage`` interval:
        columns ``rul``, ``lower``, ``upper``, indexed by unit. The interval is for min(cap, RUL)."""
        pred = self.predict(histories)
        if self.interval_ is None:
            raise AnalyticsError(
                f"{type(self).__name__} has no intervals: fit it with coverage set (e.g. 0.9) on "
                "histories of at least 2 units"
            )
        lower, upper = self.interval_.bounds(pred.to_numpy(), self.cap)
        return pd.DataFrame({"rul": pred.to_numpy(), "lower": lower, "upper": upper}, index=pred.index)

    def score(self, histories: pd.DataFrame, true_rul: Any) -> float:
        """RMSE of the predicted RUL at each unit's last cycle (lower is better)."""
        return self.evaluate(histories, true_rul).rmse

    def evaluate(self, histories: pd.DataFrame, true_rul: Any) -> RULEvaluation:
        """RMSE and PHM08 score at each unit's last cycle; with intervals, the share of units whose
        ``true_rul`` lies in its interval and the interval's mean width."""
        if getattr(self, "interval_", None) is None:
            pred = self.predict(histories)
            truth = _align_truth(pred, true_rul)
            return RULEvaluation(rmse(truth, pred.to_numpy()), phm08_score(truth, pred.to_numpy()), len(pred))
        table = self.predict_interval(histories)
        pred = table["rul"]
        truth = _align_truth(pred, true_rul)
        inside = (truth >= table["lower"].to_numpy()) & (truth <= table["upper"].to_numpy())
        return RULEvaluation(
            rmse(truth, pred.to_numpy()),
            phm08_score(truth, pred.to_numpy()),
            len(pred),
            float(inside.mean()),
            float((table["upper"] - table["lower"]).mean()),
        )

    def _cross_predict(self, frame: pd.DataFrame, target: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Out-of-fold prediction at every row: folds of whole units, seeded."""
        names = pd.unique(units)
        folds = min(self.calibration_folds, len(names))
        order = np.random.default_rng(self.random_state).permutation(len(names))
        fold_of = dict(zip(names[order], np.arange(len(names)) % folds, strict=True))
        fold = np.array([fold_of[u] for u in units])
        return self._cross_predict_rows(frame, target, fold, folds)

    @abstractmethod
    def _cross_predict_rows(
        self, frame: pd.DataFrame, target: np.ndarray, fold: np.ndarray, folds: int
    ) -> np.ndarray: ...

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, target: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_last(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ConformalBands:
    """Split-conformal offsets per band of predicted RUL: a prediction in band b has the interval
    [pred + low[b], pred + high[b]]. ``edges`` are the inner band edges (predicted RUL)."""

    edges: np.ndarray
    low: np.ndarray
    high: np.ndarray
    coverage: float
    residuals: int

    def bounds(self, pred: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
        band = np.searchsorted(self.edges, pred, side="right")
        return np.clip(pred + self.low[band], 0.0, cap), np.clip(pred + self.high[band], 0.0, cap)


def conformal_bands(
    residuals: np.ndarray, predicted: np.ndarray, coverage: float, bands: int = 5, min_per_band: int = 50
) -> ConformalBands:
    """Offsets that hold ``coverage`` of ``residuals`` (true - predicted) in each of up to ``bands``
    bands of equal count of ``predicted``: the (1-coverage)/2 and (1+coverage)/2 conformal quantiles
    (finite-sample corrected: rank ceil((n+1)q), clipped to n)."""
    r = np.asarray(residuals, dtype=float)
    p = np.asarray(predicted, dtype=float)
    n_bands = max(1, min(bands, len(r) // min_per_band))
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bands + 1)[1:-1])) if n_bands > 1 else np.array([])
    band = np.searchsorted(edges, p, side="right")
    alpha = 1.0 - coverage
    low, high = [], []
    for b in range(len(edges) + 1):
        rb = np.sort(r[band == b]) if (band == b).any() else np.sort(r)
        n = len(rb)
        lo_rank = max(1, math.floor((n + 1) * alpha / 2))
        hi_rank = min(n, math.ceil((n + 1) * (1 - alpha / 2)))
        low.append(rb[lo_rank - 1])
        high.append(rb[hi_rank - 1])
    return ConformalBands(edges, np.array(low), np.array(high), coverage, len(r))


def _align_truth(pred: pd.Series, true_rul: Any) -> np.ndarray:
    if isinstance(true_rul, pd.Series) and not isinstance(true_rul.index, pd.RangeIndex):
        missing = [u for u in pred.index if u not in true_rul.index]
        if missing:
            raise AnalyticsError(f"no true RUL for unit(s) {missing[:10]}")
        return true_rul.loc[pred.index].to_numpy(dtype=float)
    truth = np.asarray(true_rul, dtype=float).ravel()
    if len(truth) != len(pred):
        raise AnalyticsError(f"{len(truth)} true RUL values for {len(pred)} units")
    return truth


# -- windowed features + a regressor --------------------------------------------------------------


def window_features(
    z: np.ndarray, cycles: np.ndarray, ends: np.ndarray, windows: Sequence[int]
) -> np.ndarray:
    """Features of the history ending at each row in ``ends`` of one unit's standardised signals ``z``:
    last value, and for each window the mean, standard deviation and least-squares slope, plus the
    cycle number."""
    feats = []
    csum = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
    csq = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(z**2, axis=0)])
    t = np.arange(len(z), dtype=float)[:, None]
    ct = np.vstack([np.zeros((1, 1)), np.cumsum(t, axis=0)])
    ctt = np.vstack([np.zeros((1, 1)), np.cumsum(t**2, axis=0)])
    ctz = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(t * z, axis=0)])
    e = ends + 1
    feats.append(z[ends])
    for w in windows:
        s = np.maximum(e - w, 0)
        n = (e - s)[:, None].astype(float)
        sz, szz = csum[e] - csum[s], csq[e] - csq[s]
        st, stt, stz = ct[e] - ct[s], ctt[e] - ctt[s], ctz[e] - ctz[s]
        mean = sz / n
        var = np.maximum(szz / n - mean**2, 0.0)
        denom = stt - st**2 / n
        slope = np.where(denom > 1e-9, (stz - st * sz / n) / np.where(denom > 1e-9, denom, 1.0), 0.0)
        feats += [mean, np.sqrt(var), slope]
    feats.append(cycles[ends][:, None].astype(float))
    return np.hstack(feats)


class WindowedRegressorRUL(RULEstimator):
    """Summary features of the recent history (last value; mean, std and slope over ``windows``
    cycles; cycle count) of the per-condition standardised signals, fed to a scikit-learn regressor
    (default: histogram gradient boosting).

    ``smoothing_span``: signals are first smoothed per unit with a causal exponentially weighted
    mean of this span (0 = no smoothing). ``condition_history``: with several operating conditions,
    add the number of cycles the unit has spent in each condition so far. ``n_threads`` caps the
    OpenMP/BLAS threads during fit and predict (1 by default: on a shared machine more threads are
    often slower, and results are reproducible). See :class:`RULEstimator` for ``settings``,
    ``coverage`` and ``calibration_folds``."""

    def __init__(
        self,
        windows: Sequence[int] = (10, 30, 60),
        smoothing_span: float = 0.0,
        regressor: Callable[[], Any] | None = None,
        unit: str = "unit",
        cycle: str = "cycle",
        cap: float = 125.0,
        signals: Sequence[str] | None = None,
        random_state: int = 0,
        n_threads: int | None = 1,
        settings: Sequence[str] | str | None = "auto",
        condition_history: bool = True,
        max_conditions: int = 10,
        coverage: float | None = 0.9,
        calibration_folds: int = 4,
    ) -> None:
        super().__init__(
            unit, cycle, cap, signals, settings, max_conditions, coverage, calibration_folds, random_state
        )
        if any(int(w) < 2 for w in windows):
            raise AnalyticsError(f"windows must be >= 2 cycles; got {tuple(windows)}")
        if smoothing_span < 0:
            raise AnalyticsError(f"smoothing_span must be >= 0; got {smoothing_span}")
        self.windows = tuple(int(w) for w in windows)
        self.smoothing_span = smoothing_span
        self.regressor = regressor
        self.condition_history = condition_history
        self.n_threads = n_threads

    def fit(self, histories: pd.DataFrame) -> WindowedRegressorRUL:
        import sklearn.ensemble  # noqa: F401  (load its OpenMP runtime so that the limit applies to it)
        from threadpoolctl import threadpool_limits

        try:
            with threadpool_limits(limits=self.n_threads):
                super().fit(histories)
        finally:
            self._train_cache = None
        return self

    def predict(self, histories: pd.DataFrame) -> pd.Series:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.n_threads):
            return super().predict(histories)

    def _features(self, frame: pd.DataFrame, last_only: bool) -> np.ndarray:
        labels = self._conditions(frame, refuse_unseen=last_only)  # last_only: new data to predict
        z = self._standardised(frame, labels)
        unit_ids = frame[self.unit].to_numpy()
        if self.smoothing_span:
            smoothed = (
                pd.DataFrame(z).groupby(unit_ids).transform(lambda s: s.ewm(span=self.smoothing_span).mean())
            )
            z = smoothed.to_numpy(dtype=np.float32)
        history = None
        if self.condition_history and self.n_conditions > 1:
            onehot = np.eye(self.n_conditions, dtype=float)[labels]
            history = pd.DataFrame(onehot).groupby(unit_ids).cumsum().to_numpy()
        cycles = frame[self.cycle].to_numpy()
        out = []
        bounds = np.flatnonzero(np.r_[True, unit_ids[1:] != unit_ids[:-1], True])
        for a, b in itertools.pairwise(bounds):
            ends = np.array([b - a - 1]) if last_only else np.arange(b - a)
            feats = window_features(z[a:b], cycles[a:b], ends, self.windows)
            if history is not None:
                feats = np.hstack([feats, history[a:b][ends]])
            out.append(feats)
        return np.vstack(out)

    def _make_regressor(self) -> Any:
        if self.regressor is not None:
            return self.regressor()
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=400,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            random_state=self.random_state,
        )

    def _training_features(self, frame: pd.DataFrame) -> np.ndarray:
        """Features of every training row, computed once per fit (cross-validation reuses them)."""
        cache = getattr(self, "_train_cache", None)
        if cache is not None and cache[0] is frame:
            return cache[1]
        x = self._features(frame, last_only=False)
        self._train_cache = (frame, x)
        return x

    def _cross_predict_rows(
        self, frame: pd.DataFrame, target: np.ndarray, fold: np.ndarray, folds: int
    ) -> np.ndarray:
        x = self._training_features(frame)
        out = np.empty(len(target))
        for f in range(folds):
            held = fold == f
            out[held] = self._make_regressor().fit(x[~held], target[~held]).predict(x[held])
        return out

    def _fit(self, frame: pd.DataFrame, target: np.ndarray) -> None:
        self.model_ = self._make_regressor().fit(self._training_features(frame), target)

    def _predict_last(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self._features(frame, last_only=True))


class LastCycleLinearRUL(WindowedRegressorRUL):
    """Baseline: ridge regression on the (per-condition) standardised signals of the last cycle and
    the cycle count (no history)."""

    def __init__(
        self,
        unit: str = "unit",
        cycle: str = "cycle",
        cap: float = 125.0,
        signals: Sequence[str] | None = None,
        settings: Sequence[str] | str | None = "auto",
        coverage: float | None = 0.9,
        calibration_folds: int = 4,
    ) -> None:
        from sklearn.linear_model import Ridge

        super().__init__(
            windows=(),
            regressor=lambda: Ridge(alpha=1.0),
            unit=unit,
            cycle=cycle,
            cap=cap,
            signals=signals,
            settings=settings,
            condition_history=False,
            coverage=coverage,
            calibration_folds=calibration_folds,
        )


CMAPSS_COLUMNS = ["unit", "cycle", "setting1", "setting2", "setting3"] + [f"sensor{i}" for i in range(1, 22)]


def read_histories(path: str | Path, cmapss: bool = False) -> pd.DataFrame:
    """Histories from a file: NASA C-MAPSS format (space separated, no header, 26 columns; gzip ok)
    with ``cmapss=True``, else a CSV/Parquet table with ``unit`` and ``cycle`` columns."""
    from twinforge.analytics.tables import read_table

    path = Path(path)
    if not path.is_file():
        raise AnalyticsError(f"histories file {str(path)!r} does not exist")
    if not cmapss:
        return read_table(path)
    try:
        frame = pd.read_csv(path, sep=r"\s+", header=None)
    except (OSError, ValueError) as exc:
        raise AnalyticsError(f"cannot read {str(path)!r}: {exc}") from None
    if frame.shape[1] != len(CMAPSS_COLUMNS):
        raise AnalyticsError(
            f"{str(path)!r} has {frame.shape[1]} columns; C-MAPSS files have {len(CMAPSS_COLUMNS)} "
            "(unit, cycle, 3 settings, 21 sensors)"
        )
    frame.columns = CMAPSS_COLUMNS
    return frame
