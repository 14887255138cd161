"""Remaining useful life (RUL) from run-to-failure histories.

Histories are long tables: one row per unit and cycle (or time step), a unit id column, a cycle
column and one column per signal. In training data each unit runs until it fails, so its RUL at a
cycle is ``last cycle - cycle``; the target is piecewise linear, capped at ``cap`` (125 cycles by
default): early in life the remaining life cannot be told from the signals, so it is held constant.

Every estimator has the same shape: ``fit(histories)``, ``predict(histories)`` → the RUL at each
unit's last observed cycle (a Series indexed by unit), ``score(histories, true_rul)`` → RMSE, and
``evaluate`` → RMSE and the PHM08 score.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinforge.analytics.base import AnalyticsError, NotFittedError
from twinforge.analytics.metrics import phm08_score, rmse


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


@dataclass(frozen=True)
class RULEvaluation:
    rmse: float
    phm08: float
    units: int


class RULEstimator(ABC):
    """Base of RUL models: column handling, signal selection, standardisation, evaluation."""

    def __init__(
        self,
        unit: str = "unit",
        cycle: str = "cycle",
        cap: float = 125.0,
        signals: Sequence[str] | None = None,
    ) -> None:
        self.unit = unit
        self.cycle = cycle
        self.cap = cap
        self.signals = list(signals) if signals is not None else None

    # -- input -----------------------------------------------------------------------------------
    def _check(self, histories: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        if not isinstance(histories, pd.DataFrame):
            raise AnalyticsError("RUL histories must be a DataFrame with unit, cycle and signal columns")
        _require_columns(histories, [self.unit, self.cycle], "histories")
        if fitting:
            candidates = self.signals or [c for c in histories.columns if c not in (self.unit, self.cycle)]
            _require_columns(histories, candidates, "histories")
            values = histories[candidates].astype(float)
            std = values.std()
            # signals that do not vary in training carry no information about wear
            self.signals_ = [c for c in candidates if std[c] > 1e-8 * max(1.0, abs(values[c].mean()))]
            if not self.signals_:
                raise AnalyticsError("no signal varies in the training histories")
            self.mean_ = values[self.signals_].mean().to_numpy()
            self.scale_ = values[self.signals_].std().to_numpy()
        elif not hasattr(self, "signals_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(histories) first")
        _require_columns(histories, self.signals_, "histories")
        frame = histories.sort_values([self.unit, self.cycle], kind="stable")
        if frame[self.signals_].isna().any().any():
            raise AnalyticsError("histories have missing signal values; fill or drop them first")
        return frame

    def _standardised(self, frame: pd.DataFrame) -> np.ndarray:
        return ((frame[self.signals_].to_numpy(dtype=float) - self.mean_) / self.scale_).astype(np.float32)

    # -- API -------------------------------------------------------------------------------------
    def fit(self, histories: pd.DataFrame) -> RULEstimator:
        """Learn from run-to-failure histories (each unit's last row is its failure)."""
        frame = self._check(histories, fitting=True)
        target = rul_targets(frame, self.unit, self.cycle, self.cap).to_numpy()
        self._fit(frame, target)
        return self

    def predict(self, histories: pd.DataFrame) -> pd.Series:
        """RUL at each unit's last observed cycle, indexed by unit (clipped to [0, cap])."""
        frame = self._check(histories, fitting=False)
        pred = np.clip(self._predict_last(frame), 0.0, self.cap)
        units = frame[self.unit].drop_duplicates().to_numpy()
        return pd.Series(pred, index=pd.Index(units, name=self.unit), name="rul")

    def score(self, histories: pd.DataFrame, true_rul: Any) -> float:
        """RMSE of the predicted RUL at each unit's last cycle (lower is better)."""
        return self.evaluate(histories, true_rul).rmse

    def evaluate(self, histories: pd.DataFrame, true_rul: Any) -> RULEvaluation:
        pred = self.predict(histories)
        truth = _align_truth(pred, true_rul)
        return RULEvaluation(rmse(truth, pred.to_numpy()), phm08_score(truth, pred.to_numpy()), len(pred))

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, target: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_last(self, frame: pd.DataFrame) -> np.ndarray: ...


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
    cycles; cycle count) fed to a scikit-learn regressor (default: histogram gradient boosting).

    ``smoothing_span``: signals are first smoothed per unit with a causal exponentially weighted
    mean of this span (0 = no smoothing). ``n_threads`` caps the OpenMP/BLAS threads during fit and
    predict (1 by default: on a shared machine more threads are often slower, and results are
    reproducible)."""

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
    ) -> None:
        super().__init__(unit, cycle, cap, signals)
        if any(int(w) < 2 for w in windows):
            raise AnalyticsError(f"windows must be >= 2 cycles; got {tuple(windows)}")
        self.windows = tuple(int(w) for w in windows)
        self.smoothing_span = smoothing_span
        self.regressor = regressor
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, histories: pd.DataFrame) -> WindowedRegressorRUL:
        import sklearn.ensemble  # noqa: F401  (load its OpenMP runtime so that the limit applies to it)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.n_threads):
            super().fit(histories)
        return self

    def predict(self, histories: pd.DataFrame) -> pd.Series:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.n_threads):
            return super().predict(histories)

    def _features(self, frame: pd.DataFrame, last_only: bool) -> np.ndarray:
        z = self._standardised(frame)
        if self.smoothing_span:
            smoothed = (
                pd.DataFrame(z)
                .groupby(frame[self.unit].to_numpy())
                .transform(lambda s: s.ewm(span=self.smoothing_span).mean())
            )
            z = smoothed.to_numpy(dtype=np.float32)
        cycles = frame[self.cycle].to_numpy()
        out = []
        bounds = np.flatnonzero(
            np.r_[True, frame[self.unit].to_numpy()[1:] != frame[self.unit].to_numpy()[:-1], True]
        )
        for a, b in itertools.pairwise(bounds):
            ends = np.array([b - a - 1]) if last_only else np.arange(b - a)
            out.append(window_features(z[a:b], cycles[a:b], ends, self.windows))
        return np.vstack(out)

    def _fit(self, frame: pd.DataFrame, target: np.ndarray) -> None:
        if self.regressor is None:
            from sklearn.ensemble import HistGradientBoostingRegressor

            model = HistGradientBoostingRegressor(
                max_iter=400,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                random_state=self.random_state,
            )
        else:
            model = self.regressor()
        self.model_ = model.fit(self._features(frame, last_only=False), target)

    def _predict_last(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self._features(frame, last_only=True))


class LastCycleLinearRUL(WindowedRegressorRUL):
    """Baseline: ridge regression on the standardised signals of the last cycle (no history)."""

    def __init__(
        self,
        unit: str = "unit",
        cycle: str = "cycle",
        cap: float = 125.0,
        signals: Sequence[str] | None = None,
    ) -> None:
        from sklearn.linear_model import Ridge

        super().__init__(
            windows=(), regressor=lambda: Ridge(alpha=1.0), unit=unit, cycle=cycle, cap=cap, signals=signals
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
