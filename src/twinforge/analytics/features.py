"""Causal rolling features (each row sees only itself and the rows before it) and a detector wrapper
that computes them before detection and maps contributions back to the original signals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from twinforge.analytics.base import AnalyticsError, Detector, QuantileThreshold, ThresholdRule, as_frame

STATS = ("mean", "std", "min", "max", "diff", "absdiff")


class RollingFeatures:
    """Trailing-window statistics of every signal, named ``"<signal>|<stat><window>"``.

    ``mean`` / ``std`` / ``min`` / ``max``: over the last ``window`` rows; ``diff``: change over the
    window (``x[t] - x[t-window]``); ``absdiff``: mean absolute one-step change over the window.
    The first rows use the part of the window available (no look-ahead, no dropped rows).
    """

    def __init__(self, window: int = 30, stats: Sequence[str] = ("mean",)) -> None:
        if int(window) < 1:
            raise AnalyticsError(f"rolling window must be >= 1 row; got {window}")
        unknown = [s for s in stats if s not in STATS]
        if unknown or not stats:
            raise AnalyticsError(f"unknown rolling statistic(s) {unknown}; expected some of {list(STATS)}")
        self.window = int(window)
        self.stats = tuple(stats)

    def source_of(self, feature: str) -> str:
        return feature.rsplit("|", 1)[0]

    def transform(self, X: Any) -> pd.DataFrame:
        frame = as_frame(X)
        roll = frame.rolling(self.window, min_periods=1)
        parts = []
        for stat in self.stats:
            if stat == "mean":
                part = roll.mean()
            elif stat == "std":
                part = frame.rolling(self.window, min_periods=2).std().fillna(0.0)
            elif stat == "min":
                part = roll.min()
            elif stat == "max":
                part = roll.max()
            elif stat == "diff":
                part = frame - frame.shift(self.window).fillna(frame.iloc[0])
            else:  # absdiff
                part = frame.diff().abs().fillna(0.0).rolling(self.window, min_periods=1).mean()
            part.columns = [f"{c}|{stat}{self.window}" for c in frame.columns]
            parts.append(part)
        return pd.concat(parts, axis=1)

    def __repr__(self) -> str:
        return f"RollingFeatures(window={self.window}, stats={self.stats!r})"


class Featurized(Detector):
    """A detector applied to rolling features of the signals; contributions summed back per signal.

    >>> Featurized(PCADetector(), RollingFeatures(window=20, stats=("mean", "std")))
    """

    def __init__(
        self,
        detector: Detector,
        features: RollingFeatures,
        threshold: ThresholdRule | None = None,
    ) -> None:
        # The inner detector's threshold rule is the one that matters unless one is given here.
        super().__init__(threshold if threshold is not None else detector.threshold)
        self.detector = detector
        self.features = features
        self.context_length = features.window + detector.context_length

    def _fit(self, frame: pd.DataFrame) -> None:
        feats = self.features.transform(frame).iloc[self.features.window - 1 :]
        if len(feats) < self.detector.min_training_rows:
            raise AnalyticsError(
                f"after the {self.features.window}-row warm-up of the rolling features only {len(feats)} "
                f"training rows are left; {type(self.detector).__name__} needs {self.detector.min_training_rows}"
            )
        # The wrapper learns the threshold (holding out calibration rows itself when its rule says so);
        # the inner detector is fitted on all the rows it is given, without a second hold-out.
        rule = self.detector.threshold
        self.detector.threshold = QuantileThreshold()
        try:
            self.detector.fit(feats)
        finally:
            self.detector.threshold = rule
        sources = [self.features.source_of(f) for f in self.detector.signals_]
        self._feature_source = np.array([self.signals_.index(s) for s in sources])

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.detector.score(self.features.transform(frame))

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        inner = self.detector.contributions(self.features.transform(frame)).to_numpy()
        out = np.zeros((len(frame), len(self.signals_)))
        for j, src in enumerate(self._feature_source):
            out[:, src] += inner[:, j]
        return out
