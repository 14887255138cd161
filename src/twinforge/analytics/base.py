"""The one shape every anomaly detector has: ``fit(X)``, ``score(X)``, ``predict(X)``, ``contributions(X)``.

``X`` is a wide :class:`pandas.DataFrame` (one column per signal, rows in time order, usually a
time index) or a 2-D :class:`numpy.ndarray` (columns then get the names ``x0, x1, ...``). Scores
are "higher is more anomalous"; ``predict`` compares them with a threshold that ``fit`` learns
from the training scores with a :class:`ThresholdRule`.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twinforge.errors import TwinforgeError


class AnalyticsError(TwinforgeError):
    """Input that an analytics estimator cannot use: wrong shape, missing columns, NaNs, too few rows."""


class NotFittedError(AnalyticsError):
    """An estimator was used before ``fit``."""


# -- input checking -------------------------------------------------------------------------------


def as_frame(X: Any, *, what: str = "X", allow_nan: bool = False) -> pd.DataFrame:
    """A numeric wide DataFrame from a DataFrame or a 2-D array; a clear error for anything else.

    ``allow_nan``: missing values (NaN, and infinities, which become NaN) are kept, for detectors
    that skip them (:attr:`Detector.allows_missing`); otherwise they are an error naming the columns.
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise AnalyticsError(f"{what} must be 2-D (rows × signals); got an array of shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if frame.shape[1] == 0:
        raise AnalyticsError(f"{what} has no columns; expected one column per signal")
    bad = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise AnalyticsError(f"{what} has non-numeric column(s) {bad}; expected numbers only")
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise AnalyticsError(f"{what} has duplicated column(s) {dup}")
    values = frame.to_numpy(dtype=float)
    if allow_nan:
        return frame.astype(float).replace([np.inf, -np.inf], np.nan)
    if not np.isfinite(values).all():
        rows, cols = np.nonzero(~np.isfinite(values))
        col_names = sorted({str(frame.columns[c]) for c in cols})
        raise AnalyticsError(
            f"{what} has {len(rows)} missing or infinite value(s) in column(s) {col_names} "
            f"(first at row {rows[0]}); fill or drop them first (e.g. DataFrame.ffill())"
        )
    return frame.astype(float)


def align_columns(
    frame: pd.DataFrame, signals: list[str], *, what: str = "X", allow_missing: bool = False
) -> pd.DataFrame:
    """``frame`` with exactly the fitted ``signals`` in the fitted order; a clear error otherwise.

    ``allow_missing``: a fitted signal absent from ``frame`` becomes a column of NaN (a detector that
    skips missing values then scores on the signals it has); extra columns are still an error.
    """
    cols = [str(c) for c in frame.columns]
    missing = [s for s in signals if s not in cols]
    extra = [c for c in cols if c not in signals]
    if allow_missing and missing and not extra:
        frame = frame.copy()
        frame.columns = cols
        for s in missing:
            frame[s] = np.nan
        return frame[signals]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise AnalyticsError(
            f"{what} does not have the signals the estimator was fitted on: {'; '.join(parts)} "
            f"(expected {signals})"
        )
    frame = frame.copy()
    frame.columns = cols
    return frame[signals]


# -- thresholds -----------------------------------------------------------------------------------


class ThresholdRule(ABC):
    """How a detector turns its training scores into the alarm threshold."""

    #: Fraction of the training rows held out to calibrate the threshold (0: use the training scores).
    calibration_fraction: float = 0.0

    @abstractmethod
    def threshold(self, scores: np.ndarray) -> float: ...


@dataclass(frozen=True)
class QuantileThreshold(ThresholdRule):
    """``margin × quantile(training scores, q)``: e.g. the training maximum (q=1) plus 20 %."""

    q: float = 0.99
    margin: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.q <= 1.0:
            raise AnalyticsError(f"quantile q must be in (0, 1]; got {self.q}")
        if self.margin <= 0:
            raise AnalyticsError(f"margin must be > 0; got {self.margin}")

    def threshold(self, scores: np.ndarray) -> float:
        return float(self.margin * np.quantile(scores, self.q))


@dataclass(frozen=True)
class FalseAlarmThreshold(ThresholdRule):
    """A calibrated false-alarm rate (split conformal): the detector is fitted on the first part of the
    training rows, and the threshold is the ``1 - rate`` quantile of its scores on the held-out last
    part, so that about ``rate`` of normal rows score above it."""

    rate: float = 0.01
    calibration_fraction: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise AnalyticsError(f"false-alarm rate must be in (0, 1); got {self.rate}")
        if not 0.05 <= self.calibration_fraction <= 0.9:
            raise AnalyticsError(
                f"calibration_fraction must be in [0.05, 0.9]; got {self.calibration_fraction}"
            )

    def threshold(self, scores: np.ndarray) -> float:
        n = len(scores)
        # conformal quantile: the ceil((n+1)(1-rate))-th smallest calibration score
        k = min(n, math.ceil((n + 1) * (1.0 - self.rate)))
        return float(np.sort(scores)[k - 1])


@dataclass(frozen=True)
class FixedThreshold(ThresholdRule):
    """A threshold given in score units (e.g. 1.0 for scores already normalised by control limits)."""

    value: float

    def threshold(self, scores: np.ndarray) -> float:
        return float(self.value)


# -- the estimator shape --------------------------------------------------------------------------


class Detector(ABC):
    """Base of every anomaly detector.

    Subclasses implement ``_fit(frame)``, ``_score(frame)`` and optionally ``_contributions(frame)``;
    this class checks inputs, learns the threshold, and keeps the signal names.
    """

    #: Rows of history a score needs (rolling windows); streaming keeps this many rows of context.
    context_length: int = 0

    #: True for detectors that skip missing values (NaN cells, gaps, an absent signal) and score on the
    #: signals they have; the others refuse them with an error naming the columns.
    allows_missing: bool = False

    def __init__(self, threshold: ThresholdRule | None = None) -> None:
        self.threshold = threshold if threshold is not None else QuantileThreshold()

    # subclasses --------------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, frame: pd.DataFrame) -> None: ...

    @abstractmethod
    def _score(self, frame: pd.DataFrame) -> np.ndarray: ...

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Non-negative per-signal contributions, rows × signals. Default: squared robust z-scores."""
        z = (frame.to_numpy() - self._center) / self._spread
        return z**2

    def _deviations(self, frame: pd.DataFrame) -> np.ndarray:
        """Signed movement of each signal, rows × signals (positive = up). Default: robust z-scores of
        the raw values against the training median and MAD."""
        return (frame.to_numpy() - self._center) / self._spread

    @property
    def min_training_rows(self) -> int:
        return max(3, self.context_length + 3)

    # public API --------------------------------------------------------------------------------
    def fit(self, X: Any) -> Detector:
        frame = as_frame(X, what="training data", allow_nan=self.allows_missing)
        if len(frame) < self.min_training_rows:
            raise AnalyticsError(
                f"{type(self).__name__} needs at least {self.min_training_rows} training rows; got {len(frame)}"
            )
        self.signals_ = [str(c) for c in frame.columns]
        frame.columns = self.signals_
        values = frame.to_numpy()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a tolerant detector
            self._center = np.nan_to_num(np.nanmedian(values, axis=0))
            spread = np.nan_to_num(np.nanmedian(np.abs(values - self._center), axis=0) * 1.4826)
            std = np.nan_to_num(np.nanstd(values, axis=0))
        self._spread = np.where(spread > 0, spread, np.where(std > 0, std, 1.0))
        rule = self.threshold
        n_cal = round(len(frame) * rule.calibration_fraction)
        if n_cal:
            if len(frame) - n_cal < self.min_training_rows or n_cal < 10:
                raise AnalyticsError(
                    f"{len(frame)} training rows are too few to hold out {rule.calibration_fraction:.0%} "
                    "for threshold calibration"
                )
            self._fit(frame.iloc[:-n_cal])
            # score the calibration part with its history so rolling features are complete
            start = max(0, len(frame) - n_cal - self.context_length)
            cal_scores = self._score(frame.iloc[start:])[-n_cal:]
            self.threshold_ = rule.threshold(cal_scores)
        else:
            self._fit(frame)
            scores = self._score(frame)[self.context_length :]
            self.threshold_ = rule.threshold(scores if len(scores) else self._score(frame))
        self.training_rows_ = len(frame)
        return self

    def _checked(self, X: Any) -> pd.DataFrame:
        if not hasattr(self, "signals_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) on normal data first")
        frame = as_frame(X, allow_nan=self.allows_missing)
        return align_columns(frame, self.signals_, allow_missing=self.allows_missing)

    def score(self, X: Any) -> np.ndarray:
        """Anomaly score of each row (higher = more anomalous)."""
        frame = self._checked(X)
        return np.asarray(self._score(frame), dtype=float)

    def predict(self, X: Any) -> np.ndarray:
        """1 where the score exceeds the learnt threshold, else 0."""
        return (self.score(X) > self.threshold_).astype(int)

    def contributions(self, X: Any) -> pd.DataFrame:
        """How much each signal contributes to each row's score (non-negative, rows × signals)."""
        frame = self._checked(X)
        values = np.asarray(self._contributions(frame), dtype=float)
        return pd.DataFrame(values, index=frame.index, columns=self.signals_)

    def deviations(self, X: Any) -> pd.DataFrame:
        """Signed movement of each signal (rows × signals, positive = up, in the detector's units of
        normal variability): with :meth:`contributions`, which signals moved and in which direction."""
        frame = self._checked(X)
        values = np.asarray(self._deviations(frame), dtype=float)
        return pd.DataFrame(values, index=frame.index, columns=self.signals_)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names if hasattr(self, n)}
