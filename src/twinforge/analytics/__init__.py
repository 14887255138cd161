"""Analytics on twin data: anomaly detection (batch and streaming) and remaining useful life.

Every detector has one shape — ``fit(X)`` on normal data, ``score(X)`` → anomaly scores,
``predict(X)`` → 0/1 against a threshold learnt in ``fit``, ``contributions(X)`` → per-signal
shares — where ``X`` is a wide DataFrame (one column per signal, time index) or a 2-D array.
RUL estimators share ``fit(histories)`` / ``predict(histories)`` / ``score(histories, true_rul)``.
"""

from twinforge.analytics.base import (
    AnalyticsError,
    Detector,
    FalseAlarmThreshold,
    FixedThreshold,
    NotFittedError,
    QuantileThreshold,
    ThresholdRule,
)
from twinforge.analytics.detectors import (
    EnsembleDetector,
    IsolationForestDetector,
    LevelShiftDetector,
    LocalOutlierDetector,
    MultivariateShiftDetector,
    PCADetector,
    ResidualDetector,
)
from twinforge.analytics.features import Featurized, RollingFeatures
from twinforge.analytics.metrics import DetectionCounts, detection_counts, phm08_score, rmse
from twinforge.analytics.rul import (
    ConformalBands,
    LastCycleLinearRUL,
    OperatingConditions,
    RULEstimator,
    RULEvaluation,
    WindowedRegressorRUL,
    conformal_bands,
    rul_targets,
)
from twinforge.analytics.signals import SignalMap, SignalRef, UnknownSignalError
from twinforge.analytics.streaming import (
    Alert,
    AlertEvent,
    AnomalyMonitor,
    Hysteresis,
    StreamUpdate,
    debounce,
)
from twinforge.analytics.tables import SignalTable, read_table, signal_table

__all__ = [
    "Alert",
    "AlertEvent",
    "AnalyticsError",
    "AnomalyMonitor",
    "ConformalBands",
    "DetectionCounts",
    "Detector",
    "EnsembleDetector",
    "FalseAlarmThreshold",
    "Featurized",
    "FixedThreshold",
    "Hysteresis",
    "IsolationForestDetector",
    "LastCycleLinearRUL",
    "LevelShiftDetector",
    "LocalOutlierDetector",
    "MultivariateShiftDetector",
    "NotFittedError",
    "OperatingConditions",
    "PCADetector",
    "QuantileThreshold",
    "RULEstimator",
    "RULEvaluation",
    "ResidualDetector",
    "RollingFeatures",
    "SignalMap",
    "SignalRef",
    "SignalTable",
    "StreamUpdate",
    "ThresholdRule",
    "UnknownSignalError",
    "WindowedRegressorRUL",
    "conformal_bands",
    "debounce",
    "detection_counts",
    "phm08_score",
    "read_table",
    "rmse",
    "rul_targets",
    "signal_table",
]
