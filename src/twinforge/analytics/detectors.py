"""Anomaly detectors, all of one shape (see :class:`twinforge.analytics.base.Detector`).

- :class:`PCADetector`: Hotelling's T² and the squared prediction error Q (SPE) of a PCA model, with
  their statistical control limits and non-negative per-signal contributions.
- :class:`LevelShiftDetector`: how far each signal's recent level moved, in units of its normal
  level variability (within a run and, when known, between runs).
- :class:`MultivariateShiftDetector` (the default): Hotelling's T² of the rolling-mean shifts of all
  signals, two-sided, with a shrinkage covariance; skips missing data and says which signals it used.
- :class:`IsolationForestDetector`, :class:`LocalOutlierDetector`: scikit-learn's multivariate ML
  detectors on standardised signals.
- :class:`ResidualDetector`: observed vs twin-predicted values; the reference model is any callable
  (e.g. the twin's prediction), or a regression of each signal from the others fitted on normal data.
- :class:`EnsembleDetector`: the mean (or max) of member scores, each in units of its own threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from twinforge.analytics.base import (
    AnalyticsError,
    Detector,
    FalseAlarmThreshold,
    FixedThreshold,
    ThresholdRule,
    align_columns,
    as_frame,
)


def _standardiser(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.ones(values.shape[1])
    return mean, np.where(std > 0, std, 1.0)


# -- PCA T² + Q -----------------------------------------------------------------------------------


class PCADetector(Detector):
    """PCA monitoring with Hotelling's T² and Q (SPE).

    Signals are standardised with the training mean and standard deviation. ``n_components`` is a
    count, or a fraction of variance to explain (default 0.9); at least one component is left for Q
    when there are two signals or more. Control limits at ``confidence``: T² from the F distribution
    (new observations), Q from Jackson & Mudholkar (1979).

    ``statistic``: ``"t2"``, ``"q"``, or ``"combined"`` = max(T²/T²_limit, Q/Q_limit), i.e. the row
    is out of control when either chart is. The scores are in units of the control limits, so
    ``FixedThreshold(1.0)`` alarms exactly at the statistical limits.

    Contributions are reconstruction-based (Alcala & Qin, 2009): for Q, e_j² / (I - P Pᵀ)_jj; for
    T², (D z)_j² / D_jj with D = P Λ⁻¹ Pᵀ; each scaled by its limit. They name the faulty signal of a
    single-sensor fault instead of smearing it over the signals correlated with it.
    """

    def __init__(
        self,
        n_components: int | float = 0.9,
        statistic: Literal["combined", "t2", "q"] = "combined",
        confidence: float = 0.99,
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold)
        if statistic not in ("combined", "t2", "q"):
            raise AnalyticsError(f"statistic must be 'combined', 't2' or 'q'; got {statistic!r}")
        if not 0.5 < confidence < 1.0:
            raise AnalyticsError(f"confidence must be in (0.5, 1); got {confidence}")
        if isinstance(n_components, float) and not 0.0 < n_components <= 1.0:
            raise AnalyticsError(f"n_components as a fraction must be in (0, 1]; got {n_components}")
        if isinstance(n_components, int) and n_components < 1:
            raise AnalyticsError(f"n_components must be >= 1; got {n_components}")
        self.n_components = n_components
        self.statistic = statistic
        self.confidence = confidence

    def _fit(self, frame: pd.DataFrame) -> None:
        values = frame.to_numpy()
        n, p = values.shape
        self.mean_, self.scale_ = _standardiser(values)
        z = (values - self.mean_) / self.scale_
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        eig = singular**2 / (n - 1)
        eig_all = np.zeros(p)
        eig_all[: len(eig)] = eig
        max_a = max(1, min(p - 1, n - 2)) if p > 1 else 1
        if isinstance(self.n_components, float):
            ratio = np.cumsum(eig_all) / max(eig_all.sum(), 1e-300)
            a = int(np.searchsorted(ratio, self.n_components - 1e-12) + 1)
        else:
            a = int(self.n_components)
        a = max(1, min(a, max_a))
        # components with (numerically) zero variance cannot carry T²
        a = max(1, min(a, int((eig_all > 1e-12 * max(eig_all[0], 1e-300)).sum()) or 1))
        self.n_components_ = a
        self.components_ = vt[:a].T  # p × a loadings
        self.eigenvalues_ = eig_all
        lam = np.maximum(eig_all[:a], 1e-12)
        self._t2_root = self.components_ @ np.diag(lam**-0.5) @ self.components_.T
        self.t2_limit_ = self.t2_control_limit(n, a, self.confidence)
        self.q_limit_ = self.q_control_limit(eig_all[a:], self.confidence)

    @staticmethod
    def t2_control_limit(n: int, a: int, confidence: float) -> float:
        """T² limit for a new observation: a(n-1)(n+1) / (n(n-a)) · F(confidence; a, n-a)."""
        if n - a < 1:
            return float(stats.chi2.ppf(confidence, a))
        return float(a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(confidence, a, n - a))

    @staticmethod
    def q_control_limit(residual_eigenvalues: np.ndarray, confidence: float) -> float:
        """Jackson & Mudholkar's limit of Q from the eigenvalues of the discarded components."""
        lam = np.asarray(residual_eigenvalues, dtype=float)
        theta1, theta2, theta3 = lam.sum(), (lam**2).sum(), (lam**3).sum()
        if theta1 <= 1e-12 or theta2 <= 0:
            return 1e-12  # nothing left for Q: any residual is out of the model
        h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
        if abs(h0) < 1e-6:
            h0 = 1e-6
        c = stats.norm.ppf(confidence)
        inner = c * np.sqrt(2.0 * theta2 * h0**2) / theta1 + 1.0 + theta2 * h0 * (h0 - 1.0) / theta1**2
        return float(theta1 * max(inner, 1e-12) ** (1.0 / h0))

    def _parts(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        z = (frame.to_numpy() - self.mean_) / self.scale_
        t2_parts = z @ self._t2_root  # M is symmetric: row-wise M z
        residual = z - (z @ self.components_) @ self.components_.T
        return t2_parts, residual

    def t2(self, X: Any) -> np.ndarray:
        """Hotelling's T² of each row."""
        t2_parts, _ = self._parts(self._checked(X))
        return (t2_parts**2).sum(axis=1)

    def q(self, X: Any) -> np.ndarray:
        """Q (squared prediction error) of each row."""
        _, residual = self._parts(self._checked(X))
        return (residual**2).sum(axis=1)

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        t2_parts, residual = self._parts(frame)
        t2 = (t2_parts**2).sum(axis=1) / self.t2_limit_
        q = (residual**2).sum(axis=1) / self.q_limit_
        if self.statistic == "t2":
            return t2
        if self.statistic == "q":
            return q
        return np.maximum(t2, q)

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        # reconstruction-based contributions (Alcala & Qin, 2009): how much of each statistic goes
        # away when signal j alone is reconstructed; unlike plain squared residuals they do not
        # smear a fault of one sensor over the signals correlated with it
        z = (frame.to_numpy() - self.mean_) / self.scale_
        p = self.components_
        residual = z - (z @ p) @ p.T
        c_diag = np.maximum(1.0 - (p**2).sum(axis=1), 1e-12)  # diag(I - P Pᵀ)
        d = self._t2_root @ self._t2_root  # P Λ⁻¹ Pᵀ
        t2 = (z @ d) ** 2 / np.maximum(np.diag(d), 1e-12) / self.t2_limit_
        q = residual**2 / c_diag / self.q_limit_
        if self.statistic == "t2":
            return t2
        if self.statistic == "q":
            return q
        return t2 + q


# -- level shift ----------------------------------------------------------------------------------


class LevelShiftDetector(Detector):
    """Scores how far each signal's rolling mean moved from its training level.

    z_j(t) = (rolling mean_j(t) - training mean_j) / sqrt(within_j² + between_j²), where within_j is
    the standard deviation of the rolling mean over the training rows and between_j (``level_scale``)
    how much the normal level of signal j differs from run to run (see :meth:`level_scale_from_runs`).
    Slowly wandering signals (temperatures) thus need a larger move to alarm than steady ones.
    The score is ``max_j |z_j|`` (``aggregate="max"``) or the root mean square of z.
    ``direction="down"`` (or ``"up"``) scores only drops (rises) of the level, e.g. a fault that
    can only reduce a flow; the other direction counts as zero.
    """

    def __init__(
        self,
        window: int = 30,
        level_scale: dict[str, float] | pd.Series | None = None,
        aggregate: Literal["max", "rms"] = "max",
        direction: Literal["both", "up", "down"] = "both",
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold)
        if int(window) < 1:
            raise AnalyticsError(f"window must be >= 1 row; got {window}")
        if aggregate not in ("max", "rms"):
            raise AnalyticsError(f"aggregate must be 'max' or 'rms'; got {aggregate!r}")
        if direction not in ("both", "up", "down"):
            raise AnalyticsError(f"direction must be 'both', 'up' or 'down'; got {direction!r}")
        self.window = int(window)
        self.level_scale = level_scale
        self.aggregate = aggregate
        self.direction = direction
        self.context_length = self.window

    @staticmethod
    def level_scale_from_runs(runs: Sequence[Any]) -> pd.Series:
        """Standard deviation, across normal runs, of each signal's mean level (needs >= 2 runs)."""
        frames = [as_frame(r, what=f"run {i}") for i, r in enumerate(runs)]
        if len(frames) < 2:
            raise AnalyticsError(f"level variability between runs needs at least 2 runs; got {len(frames)}")
        means = pd.DataFrame([f.mean() for f in frames])
        if means.isna().any().any():
            missing = sorted(str(c) for c in means.columns[means.isna().any()])
            raise AnalyticsError(f"signal(s) {missing} are not in every run")
        return means.std(ddof=1)

    def _fit(self, frame: pd.DataFrame) -> None:
        self.reference_ = frame.mean().to_numpy()
        rolled = frame.rolling(self.window, min_periods=1).mean().to_numpy()
        settled = rolled[self.window - 1 :] if len(rolled) > self.window + 1 else rolled
        within = settled.std(axis=0, ddof=1)
        fallback = frame.to_numpy().std(axis=0, ddof=1) / np.sqrt(self.window)
        within = np.where(within > 0, within, fallback)
        between = np.zeros(len(self.signals_))
        if self.level_scale is not None:
            scale = pd.Series(self.level_scale, dtype=float)
            missing = [s for s in self.signals_ if s not in scale.index]
            if missing:
                raise AnalyticsError(f"level_scale has no value for signal(s) {missing}")
            between = scale[self.signals_].to_numpy()
        total = np.sqrt(within**2 + between**2)
        self.scale_ = np.where(total > 0, total, 1.0)

    def _z(self, frame: pd.DataFrame) -> np.ndarray:
        rolled = frame.rolling(self.window, min_periods=1).mean().to_numpy()
        z = (rolled - self.reference_) / self.scale_
        if self.direction == "up":
            return np.maximum(z, 0.0)
        if self.direction == "down":
            return np.minimum(z, 0.0)
        return z

    def shift(self, X: Any) -> pd.DataFrame:
        """The signed level shift z of each signal (rows × signals), in units of normal variability."""
        frame = self._checked(X)
        return pd.DataFrame(self._z(frame), index=frame.index, columns=self.signals_)

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        z = self._z(frame)
        if self.aggregate == "max":
            return np.abs(z).max(axis=1)
        return np.sqrt((z**2).mean(axis=1))

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        return self._z(frame) ** 2

    def _deviations(self, frame: pd.DataFrame) -> np.ndarray:
        rolled = frame.rolling(self.window, min_periods=1).mean().to_numpy()
        return (rolled - self.reference_) / self.scale_


# -- multivariate level shift (the default) -------------------------------------------------------


class MultivariateShiftDetector(Detector):
    """How far the signals' recent levels moved together, two-sided, over every usable signal.

    For each signal, d_j(t) = rolling mean_j(t) − training mean_j over the last ``window`` rows. The
    covariance of d under normal operation is the Ledoit–Wolf shrinkage estimate of the covariance of
    the rolling means over the training rows (within-run level variability, with the correlations
    between signals), plus the diagonal of ``level_scale``² (how much each signal's normal level
    differs from run to run; :meth:`LevelShiftDetector.level_scale_from_runs`). Without
    ``level_scale`` (one run only), the training part's own wander stands in for it: the range of its
    ``wander_window``-row rolling mean (0 = none), so a slowly drifting signal needs a larger move.

    ``combine="t2"``: Hotelling's T² = dᵀ Σ⁻¹ d over the signals available in the row, reported as the
    equivalent two-sided normal deviate (score 3 is as rare under χ²(k) as a 3σ move of one signal,
    whatever the number k of signals used), so the threshold means the same when a signal is missing.
    ``combine="max"``: the largest |d_j| / σ_j (a per-signal z, two-sided).

    Missing data never stops it: NaN cells and gaps are skipped by the rolling mean (a window needs
    ``min_coverage`` of its rows present), a signal absent from the data scored is left out of the
    row's statistic (the marginal of Σ), and signals unusable in training (mostly missing, or
    constant) are dropped at ``fit``: :attr:`signals_used_` and :attr:`signals_dropped_` (with the
    reason) say which. :meth:`coverage` says which signals each row's score used.

    Contributions: reconstruction-based for T² ((Σ⁻¹d)_j² / (Σ⁻¹)_jj; Alcala & Qin 2009), (d_j/σ_j)²
    for ``max``; :meth:`deviations` gives the signed d_j / σ_j (which way each signal moved).
    """

    allows_missing = True

    def __init__(
        self,
        window: int = 30,
        level_scale: dict[str, float] | pd.Series | None = None,
        combine: Literal["t2", "max"] = "t2",
        min_coverage: float = 0.5,
        wander_window: int = 60,
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold if threshold is not None else FixedThreshold(4.0))
        if int(wander_window) < 0:
            raise AnalyticsError(f"wander_window must be >= 0 rows; got {wander_window}")
        if int(window) < 1:
            raise AnalyticsError(f"window must be >= 1 row; got {window}")
        if combine not in ("t2", "max"):
            raise AnalyticsError(f"combine must be 't2' or 'max'; got {combine!r}")
        if not 0.0 < min_coverage <= 1.0:
            raise AnalyticsError(f"min_coverage must be in (0, 1]; got {min_coverage}")
        self.window = int(window)
        self.level_scale = level_scale
        self.combine = combine
        self.min_coverage = float(min_coverage)
        self.wander_window = int(wander_window)
        self.context_length = self.window

    @property
    def min_training_rows(self) -> int:
        return self.window + 10

    def _fit(self, frame: pd.DataFrame) -> None:
        values = frame.to_numpy()
        present = np.isfinite(values).mean(axis=0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            std = np.nanstd(values, axis=0)
        dropped: dict[str, str] = {}
        for j, name in enumerate(self.signals_):
            if present[j] < self.min_coverage:
                dropped[name] = (
                    f"{present[j]:.0%} of the training rows present (needs {self.min_coverage:.0%})"
                )
            elif not std[j] > 0:
                dropped[name] = "constant in the training data"
        used = [j for j, name in enumerate(self.signals_) if name not in dropped]
        if not used:
            raise AnalyticsError(
                f"no signal is usable for {type(self).__name__}: "
                + "; ".join(f"{k}: {v}" for k, v in dropped.items())
            )
        self.signals_dropped_ = dropped
        self.signals_used_ = [self.signals_[j] for j in used]
        self._used = np.array(used)
        sub = frame.iloc[:, used]
        self.reference_ = np.nanmean(sub.to_numpy(), axis=0)
        rolled = self._rolled(sub)
        settled = rolled[self.window - 1 :] if len(rolled) > self.window + 1 else rolled
        settled = settled[np.isfinite(settled).all(axis=1)]
        floor = (std[used] / np.sqrt(self.window)) ** 2
        if len(settled) >= 3:
            from sklearn.covariance import LedoitWolf

            within = LedoitWolf().fit(settled).covariance_
        else:
            within = np.diag(floor)
        diag = np.diag(within).copy()
        within[np.diag_indices_from(within)] = np.where(diag > 0, diag, floor)
        between = np.zeros(len(used))
        if self.level_scale is not None:
            scale = pd.Series(self.level_scale, dtype=float)
            missing = [s for s in self.signals_used_ if s not in scale.index]
            if missing:
                raise AnalyticsError(f"level_scale has no value for signal(s) {missing}")
            between = np.nan_to_num(scale[self.signals_used_].to_numpy())
        elif self.wander_window and len(sub) > self.wander_window:
            slow = sub.rolling(self.wander_window, min_periods=self.wander_window // 2 + 1).mean()
            between = np.nan_to_num((slow.max() - slow.min()).to_numpy())
        self.covariance_ = within + np.diag(between**2)
        self.scale_ = np.sqrt(np.diag(self.covariance_))

    def _rolled(self, sub: pd.DataFrame) -> np.ndarray:
        need = max(1, int(np.ceil(self.window * self.min_coverage)))
        return sub.rolling(self.window, min_periods=need).mean().to_numpy()

    def _d(self, frame: pd.DataFrame) -> np.ndarray:
        """Rolling-mean shift of each used signal (rows × used signals; NaN where not available)."""
        return self._rolled(frame.iloc[:, self._used]) - self.reference_

    def _patterns(self, d: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, available signals) groups: rows sharing the same set of available signals."""
        ok = np.isfinite(d)
        keys = ok @ (1 << np.arange(ok.shape[1], dtype=np.int64)) if ok.shape[1] < 63 else None
        if keys is None:
            keys = np.unique(ok, axis=0, return_inverse=True)[1].ravel()
        return [(np.flatnonzero(keys == k), ok[np.argmax(keys == k)]) for k in np.unique(keys)]

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        d = self._d(frame)
        out = np.zeros(len(frame))
        if self.combine == "max":
            z = np.abs(d) / self.scale_
            has = np.isfinite(z).any(axis=1)
            out[has] = np.nanmax(z[has], axis=1)
            return out
        for rows, avail in self._patterns(d):
            k = int(avail.sum())
            if k == 0:
                continue
            dm = d[np.ix_(rows, np.flatnonzero(avail))]
            precision = np.linalg.inv(self.covariance_[np.ix_(avail, avail)])
            t2 = np.einsum("ij,jk,ik->i", dm, precision, dm)
            # the two-sided normal deviate as rare as T² under chi²(k): Φ⁻¹(1 − sf/2)
            out[rows] = np.maximum(-special.ndtri_exp(stats.chi2.logsf(t2, k) - np.log(2.0)), 0.0)
        return out

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        d = self._d(frame)
        part = np.zeros_like(d)
        if self.combine == "max":
            part = np.nan_to_num((d / self.scale_) ** 2)
        else:
            for rows, avail in self._patterns(d):
                cols = np.flatnonzero(avail)
                if not len(cols):
                    continue
                precision = np.linalg.inv(self.covariance_[np.ix_(avail, avail)])
                g = d[np.ix_(rows, cols)] @ precision
                part[np.ix_(rows, cols)] = g**2 / np.diag(precision)
        out = np.zeros((len(frame), len(self.signals_)))
        out[:, self._used] = part
        return out

    def _deviations(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.full((len(frame), len(self.signals_)), np.nan)
        out[:, self._used] = self._d(frame) / self.scale_
        return out

    def coverage(self, X: Any) -> pd.DataFrame:
        """Which signals each row's score used (rows × signals, True = used)."""
        frame = self._checked(X)
        out = np.zeros((len(frame), len(self.signals_)), dtype=bool)
        out[:, self._used] = np.isfinite(self._d(frame))
        return pd.DataFrame(out, index=frame.index, columns=self.signals_)


# -- scikit-learn ML detectors --------------------------------------------------------------------


class _SklearnDetector(Detector):
    """Standardise with the training mean/std, then ``-score_samples`` of a scikit-learn estimator."""

    def _make(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, frame: pd.DataFrame) -> None:
        values = frame.to_numpy()
        self.mean_, self.scale_ = _standardiser(values)
        self.estimator_ = self._make()
        self.estimator_.fit((values - self.mean_) / self.scale_)

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        return -self.estimator_.score_samples((frame.to_numpy() - self.mean_) / self.scale_)


class IsolationForestDetector(_SklearnDetector):
    """scikit-learn's Isolation Forest (Liu et al. 2008). Contributions: squared robust z-scores."""

    def __init__(
        self,
        n_estimators: int = 200,
        max_samples: int | str = "auto",
        random_state: int = 0,
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold)
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def _make(self) -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.random_state
        )


class LocalOutlierDetector(_SklearnDetector):
    """scikit-learn's Local Outlier Factor in novelty mode. Scores of training rows are optimistic
    (each row is its own neighbour), so the default threshold is calibrated on held-out training
    rows (:class:`FalseAlarmThreshold`). Contributions: squared robust z-scores."""

    def __init__(self, n_neighbors: int = 20, threshold: ThresholdRule | None = None) -> None:
        super().__init__(threshold if threshold is not None else FalseAlarmThreshold(rate=0.01))
        self.n_neighbors = n_neighbors

    @property
    def min_training_rows(self) -> int:
        return self.n_neighbors + 2

    def _make(self) -> Any:
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True)


# -- twin residuals -------------------------------------------------------------------------------

ReferenceModel = Callable[[pd.DataFrame], "pd.DataFrame | np.ndarray"]


class ResidualDetector(Detector):
    """Scores observed minus expected values of each signal.

    ``reference``: a callable ``frame -> expected`` (same rows and columns, e.g. the twin's
    prediction of each signal). Without one, each signal is regressed on the others with
    ``regressor`` (default ridge regression) on the normal training data. Residuals are divided by
    their training standard deviation; the score is their root mean square (``aggregate="rms"``) or
    largest magnitude (``"max"``), contributions the squared standardised residuals.
    """

    def __init__(
        self,
        reference: ReferenceModel | None = None,
        regressor: Callable[[], Any] | None = None,
        aggregate: Literal["rms", "max"] = "rms",
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold)
        if aggregate not in ("rms", "max"):
            raise AnalyticsError(f"aggregate must be 'rms' or 'max'; got {aggregate!r}")
        self.reference = reference
        self.regressor = regressor
        self.aggregate = aggregate

    def _fit(self, frame: pd.DataFrame) -> None:
        if self.reference is None:
            if len(self.signals_) < 2:
                raise AnalyticsError(
                    "a ResidualDetector without a reference model predicts each signal from the others, "
                    "so it needs at least 2 signals; pass reference=... for a single signal"
                )
            from sklearn.linear_model import Ridge
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            make = self.regressor or (lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)))
            values = frame.to_numpy()
            self.models_ = []
            for j in range(values.shape[1]):
                others = np.delete(values, j, axis=1)
                self.models_.append(make().fit(others, values[:, j]))
        residual = self._residuals(frame)
        std = residual.std(axis=0, ddof=1)
        self.residual_scale_ = np.where(std > 0, std, 1.0)

    def expected(self, X: Any) -> pd.DataFrame:
        """The reference model's expected value of each signal."""
        frame = self._checked(X)
        return pd.DataFrame(self._expected(frame), index=frame.index, columns=self.signals_)

    def _expected(self, frame: pd.DataFrame) -> np.ndarray:
        if self.reference is not None:
            out = self.reference(frame)
            if isinstance(out, pd.DataFrame):
                out = align_columns(out, self.signals_, what="the reference model's prediction")
            arr = np.asarray(out, dtype=float)
            if arr.shape != frame.shape:
                raise AnalyticsError(
                    f"the reference model returned shape {arr.shape}; expected {frame.shape} "
                    "(one expected value per row and signal)"
                )
            return arr
        values = frame.to_numpy()
        return np.column_stack([m.predict(np.delete(values, j, axis=1)) for j, m in enumerate(self.models_)])

    def _residuals(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.to_numpy() - self._expected(frame)

    def _standardised(self, frame: pd.DataFrame) -> np.ndarray:
        return self._residuals(frame) / self.residual_scale_

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        r = self._standardised(frame)
        if self.aggregate == "max":
            return np.abs(r).max(axis=1)
        return np.sqrt((r**2).mean(axis=1))

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        return self._standardised(frame) ** 2


# -- ensembles ------------------------------------------------------------------------------------


class EnsembleDetector(Detector):
    """Combines detectors: each member's score is divided by its own threshold (1.0 = at its alarm
    level), then averaged (``combine="mean"``) or the largest taken (``"max"``)."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        combine: Literal["mean", "max"] = "mean",
        threshold: ThresholdRule | None = None,
    ) -> None:
        super().__init__(threshold)
        if not detectors:
            raise AnalyticsError("an ensemble needs at least one detector")
        if combine not in ("mean", "max"):
            raise AnalyticsError(f"combine must be 'mean' or 'max'; got {combine!r}")
        self.detectors = list(detectors)
        self.combine = combine
        self.context_length = max(d.context_length for d in self.detectors)

    @property
    def min_training_rows(self) -> int:
        return max(d.min_training_rows for d in self.detectors)

    def _fit(self, frame: pd.DataFrame) -> None:
        for d in self.detectors:
            d.fit(frame)
            if not d.threshold_ > 0:
                raise AnalyticsError(
                    f"{type(d).__name__} learnt a threshold of {d.threshold_:g}; ensemble members need "
                    "a positive threshold to put their scores on one scale"
                )

    def _member_scores(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([d.score(frame) / d.threshold_ for d in self.detectors])

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        s = self._member_scores(frame)
        return s.mean(axis=1) if self.combine == "mean" else s.max(axis=1)

    def _contributions(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.zeros(frame.shape)
        for d in self.detectors:
            c = d.contributions(frame).to_numpy()
            share = c / np.maximum(c.sum(axis=1, keepdims=True), 1e-300)
            total += share * (d.score(frame) / d.threshold_)[:, None]
        return total / len(self.detectors)
