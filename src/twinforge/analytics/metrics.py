"""Point-wise detection metrics (SKAB's F1, FAR, MAR) and RUL metrics (RMSE, PHM08 score)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twinforge.analytics.base import AnalyticsError


@dataclass(frozen=True)
class DetectionCounts:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0

    @property
    def far(self) -> float:
        """False alarm rate FP / (FP + TN)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate FN / (FN + TP)."""
        return self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn)


def detection_counts(labels: np.ndarray, predictions: np.ndarray) -> DetectionCounts:
    y = np.asarray(labels).astype(int).ravel()
    p = np.asarray(predictions).astype(int).ravel()
    if y.shape != p.shape:
        raise AnalyticsError(f"labels ({y.shape[0]}) and predictions ({p.shape[0]}) differ in length")
    return DetectionCounts(
        tp=int(((y == 1) & (p == 1)).sum()),
        fp=int(((y == 0) & (p == 1)).sum()),
        tn=int(((y == 0) & (p == 0)).sum()),
        fn=int(((y == 1) & (p == 0)).sum()),
    )


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def phm08_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """PHM08 asymmetric score: sum of exp(-d/13)-1 for early (d<0), exp(d/10)-1 for late predictions,
    d = predicted - true. Lower is better; late predictions cost more."""
    t, p = _pair(y_true, y_pred)
    d = p - t
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if t.shape != p.shape or t.size == 0:
        raise AnalyticsError(f"need equally long, non-empty truth and predictions; got {t.size} and {p.size}")
    return t, p
