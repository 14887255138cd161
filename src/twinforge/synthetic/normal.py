"""Normal behaviour fitted to recorded normal operation: sensor gains and a VAR(1) noise model.

The twin's simulator gives each signal its physical level (and its own small process noise). A
real plant's normal telemetry also wanders: slow temperature drifts, flow and vibration that move
together, fast electrical noise. :class:`NormalModel` captures that from a normal recording:

- ``gain``: a per-signal sensor calibration, ``recorded mean / simulated mean`` (a sensor's
  sensitivity or mounting, e.g. a second accelerometer that reads 1.26× the first);
- a first-order vector autoregression of the standardised noise, ``z_t = A z_{t-1} + e_t``,
  ``e_t ~ N(0, Q)``, with ``A = diag(a)``, ``a_j`` the recorded lag-1 autocorrelation of signal
  ``j`` (clipped to ±0.999), and ``Q_ij = C_ij (1 - a_i a_j)`` with ``C`` the recorded correlation
  matrix (projected onto the positive semi-definite matrices), so the stationary process has
  exactly the recorded correlations and lag-1 autocorrelations;
- ``scale``: the std of the noise added to each signal, ``sqrt(max(var_recorded - var_simulated,
  0.05 var_recorded))``, so that simulated process noise plus this noise has the recorded variance.

It lives in a twin's ``metadata.synthetic.normal`` (plain numbers, written by :meth:`to_metadata`),
and :func:`twinforge.synthetic.generate` adds it to every run of that twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from twinforge.synthetic.faults import SyntheticError

MAX_RADIUS = 0.999
MIN_NOISE_SHARE = 0.05


@dataclass
class NormalModel:
    columns: list[str]
    gain: np.ndarray  # per column
    scale: np.ndarray  # std of the added noise, per column
    A: np.ndarray  # VAR(1) matrix on the standardised noise
    chol: np.ndarray  # Cholesky factor of the innovation covariance

    def sample(self, n: int, rng: np.random.Generator, burn_in: int = 500) -> np.ndarray:
        """``n`` rows of noise (rows × columns, in signal units), started from the stationary regime."""
        k = len(self.columns)
        eps = rng.standard_normal((n + burn_in, k)) @ self.chol.T
        if np.count_nonzero(self.A - np.diag(np.diag(self.A))) == 0:  # diagonal: one filter per signal
            out = np.column_stack([lfilter([1.0], [1.0, -self.A[j, j]], eps[:, j]) for j in range(k)])[
                burn_in:
            ]
        else:
            z = np.zeros(k)
            out = np.empty((n, k))
            for i in range(n + burn_in):
                z = self.A @ z + eps[i]
                if i >= burn_in:
                    out[i - burn_in] = z
        return out * self.scale

    def apply(self, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        """Sensor gains and noise added to ``frame`` (in place); columns it does not know are left."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise SyntheticError(f"normal model: the twin's telemetry lacks column(s) {missing}")
        noise = self.sample(len(frame), rng)
        for j, col in enumerate(self.columns):
            frame[col] = frame[col].to_numpy() * self.gain[j] + noise[:, j]

    def to_metadata(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> list[Any]:
            return np.round(a, 6).tolist()

        return {
            "columns": list(self.columns),
            "gain": r(self.gain),
            "scale": r(self.scale),
            "A": r(self.A),
            "chol": r(self.chol),
        }

    @classmethod
    def from_metadata(cls, data: Any, where: str = "metadata.synthetic.normal") -> NormalModel:
        try:
            cols = [str(c) for c in data["columns"]]
            k = len(cols)
            model = cls(
                cols,
                np.asarray(data["gain"], dtype=float).reshape(k),
                np.asarray(data["scale"], dtype=float).reshape(k),
                np.asarray(data["A"], dtype=float).reshape(k, k),
                np.asarray(data["chol"], dtype=float).reshape(k, k),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SyntheticError(
                f"{where}: expected columns, gain, scale, A and chol (a {where.split('.')[-1]} model "
                f"written by NormalModel.to_metadata); {type(exc).__name__}: {exc}"
            ) from None
        if not all(np.isfinite(a).all() for a in (model.gain, model.scale, model.A, model.chol)):
            raise SyntheticError(f"{where}: values must be finite numbers")
        return model


def fit_normal_model(recorded: pd.DataFrame, simulated: pd.DataFrame) -> NormalModel:
    """Fit gains and the VAR(1) noise to a normal ``recorded`` frame, given the twin's ``simulated``
    normal run (same columns, without a normal model)."""
    cols = [c for c in recorded.columns if c in simulated.columns]
    missing = [c for c in recorded.columns if c not in simulated.columns]
    if missing:
        raise SyntheticError(f"fit: the twin has no signal(s) {missing} of the recording")
    rec = recorded[cols].to_numpy(dtype=float)
    sim = simulated[cols].to_numpy(dtype=float)
    if len(rec) < 50 or len(sim) < 50:
        raise SyntheticError("fit: need at least 50 rows of recording and of simulation")
    if not (np.isfinite(rec).all() and np.isfinite(sim).all()):
        raise SyntheticError("fit: the recording or the simulation has missing values")
    sim_mean = sim.mean(axis=0)
    gain = np.where(np.abs(sim_mean) > 1e-9, rec.mean(axis=0) / np.where(sim_mean == 0, 1, sim_mean), 1.0)
    var_rec = rec.var(axis=0)
    var_sim = (sim * gain).var(axis=0)
    scale = np.sqrt(np.maximum(var_rec - var_sim, MIN_NOISE_SHARE * var_rec))
    std = np.where(rec.std(axis=0) > 0, rec.std(axis=0), 1.0)
    z = (rec - rec.mean(axis=0)) / std
    # per-signal lag-1 autocorrelation ...
    a = np.clip([_lag1(z[:, j]) for j in range(z.shape[1])], -MAX_RADIUS, MAX_RADIUS)
    A = np.diag(a)
    # ... and innovations whose stationary covariance is the recorded correlation matrix C:
    # S = A S A' + Q with S = C gives Q_ij = C_ij (1 - a_i a_j); made positive semi-definite
    C = np.corrcoef(z, rowvar=False)
    C = np.where(np.isfinite(C), C, 0.0)
    np.fill_diagonal(C, 1.0)
    Q = _nearest_psd(C * (1.0 - np.outer(a, a)))
    stat = _stationary_cov(A, Q)
    d = np.sqrt(np.clip(np.diag(stat), 1e-12, None))
    return NormalModel(cols, gain, scale / d, A, np.linalg.cholesky(Q + 1e-12 * np.eye(len(cols))))


def _lag1(x: np.ndarray) -> float:
    x = x - x.mean()
    den = float(np.dot(x, x))
    return float(np.dot(x[1:], x[:-1]) / den) if den > 0 else 0.0


def _nearest_psd(M: np.ndarray, floor: float = 1e-9) -> np.ndarray:
    w, V = np.linalg.eigh((M + M.T) / 2)
    return (V * np.clip(w, floor, None)) @ V.T


def _stationary_cov(A: np.ndarray, Q: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_discrete_lyapunov

    return solve_discrete_lyapunov(A, Q)


__all__ = ["NormalModel", "fit_normal_model"]
