"""Detectors by name, as ``twinforge detect --method`` and the service's live monitors build them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twinforge.analytics import Detector

METHODS = ("pca", "level", "iforest", "lof", "residual", "ensemble")


def make_detector(method: str, window: int, quantile: float, level_scale=None) -> Detector:
    """The detector behind ``--method``: on rolling means over ``window`` rows when ``window > 1``."""
    from twinforge.analytics import (
        EnsembleDetector,
        Featurized,
        FixedThreshold,
        IsolationForestDetector,
        LevelShiftDetector,
        LocalOutlierDetector,
        PCADetector,
        QuantileThreshold,
        ResidualDetector,
        RollingFeatures,
    )
    from twinforge.analytics.base import AnalyticsError

    if method not in METHODS:
        raise AnalyticsError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    rule = QuantileThreshold(q=quantile)
    if method == "level":
        return LevelShiftDetector(window=window, level_scale=level_scale, threshold=FixedThreshold(3.0))
    base = {
        "pca": lambda: PCADetector(threshold=rule),
        "iforest": lambda: IsolationForestDetector(n_estimators=100, threshold=rule),
        "lof": lambda: LocalOutlierDetector(),
        "residual": lambda: ResidualDetector(threshold=rule),
        "ensemble": lambda: EnsembleDetector(
            [PCADetector(threshold=rule), IsolationForestDetector(n_estimators=100, threshold=rule)],
            threshold=rule,
        ),
    }[method]()
    return Featurized(base, RollingFeatures(window)) if window > 1 else base


__all__ = ["METHODS", "make_detector"]
