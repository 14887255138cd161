"""Detectors by name, as ``twinforge detect --method`` and the service's live monitors build them.

The default method, ``"shift"``, is :class:`MultivariateShiftDetector` with :data:`DEFAULT_SHIFT`:
Hotelling's T² of the rolling-mean shifts of every signal, two-sided, fault-agnostic. Its window,
threshold and hysteresis were chosen without any fault label, by ``benchmarks/skab.py``: the best F1
on sensor faults simulated with the twin's ``FaultInjector`` among configurations whose false-alarm
rate on held-out normal data is <= 10 % with 95 % confidence (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twinforge.analytics.streaming import Hysteresis

if TYPE_CHECKING:
    from twinforge.analytics import Detector
    from twinforge.analytics.detectors import MultivariateShiftDetector

METHODS = ("shift", "pca", "level", "iforest", "lof", "residual", "ensemble")
DEFAULT_METHOD = "shift"
DEFAULT_WINDOW = 30  # rolling-mean rows of the other methods


@dataclass(frozen=True)
class ShiftDefaults:
    """The label-free configuration of the default detector (window in rows, threshold in σ)."""

    window: int
    threshold: float
    hysteresis: Hysteresis

    def make(self, level_scale: Any = None, window: int | None = None) -> MultivariateShiftDetector:
        from twinforge.analytics.base import FixedThreshold
        from twinforge.analytics.detectors import MultivariateShiftDetector

        return MultivariateShiftDetector(
            window=window or self.window, level_scale=level_scale, threshold=FixedThreshold(self.threshold)
        )


#: chosen by ``benchmarks/skab.py`` (label-free selection); the benchmark says if a re-run differs
DEFAULT_SHIFT = ShiftDefaults(window=10, threshold=0.75, hysteresis=Hysteresis(3, 10, 0.8))


def default_window(method: str) -> int:
    """The window ``--method`` uses when none is given."""
    return DEFAULT_SHIFT.window if method == "shift" else DEFAULT_WINDOW


def default_hysteresis(method: str) -> Hysteresis:
    """The alarm debounce ``--method`` uses when none is given."""
    return DEFAULT_SHIFT.hysteresis if method == "shift" else Hysteresis()


def make_detector(method: str, window: int, quantile: float, level_scale=None) -> Detector:
    """The detector behind ``--method``: on rolling means over ``window`` rows when ``window > 1``.

    ``quantile`` sets the threshold of the methods that learn it from training scores; ``shift`` and
    ``level`` use fixed thresholds in σ (``shift``: :data:`DEFAULT_SHIFT`). ``level_scale``: how much
    each signal's normal level varies between runs, for ``shift`` and ``level``.
    """
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
    if method == "shift":
        return DEFAULT_SHIFT.make(level_scale, window=window)
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


__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_SHIFT",
    "METHODS",
    "ShiftDefaults",
    "default_hysteresis",
    "default_window",
    "make_detector",
]
