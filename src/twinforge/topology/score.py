"""The statistics behind a proposed edge: lagged cross-correlation, conditional (partial)
correlation, a lead/lag direction score, name and unit similarity, and the calibrated confidence.

Rules, stated up front:

- **Series.** Every signal is first differenced (a level, a counter or a trend becomes its change per
  sample), then robustly standardised (median and scaled MAD; the standard deviation when the MAD is
  0, as for mostly-still counters) and clipped to ±6. Missing values stay missing: every statistic
  uses the rows where all the series it needs are present (pairwise-complete), so gaps never get
  filled with invented numbers.
- **Lagged correlation.** ``R[k][i, j] = corr(x_i(t), x_j(t + k))`` for ``k = 0..max_lag``: a peak at
  ``k > 0`` means ``i`` leads ``j``. The pair's strength is the peak ``|r|`` over ``-max_lag..max_lag``.
- **Conditional test.** A link ``i - j`` that is only indirect (``A -> B -> C`` seen as ``A - C``)
  loses its correlation once the intermediate is accounted for. For each pair the strongest common
  neighbours (up to ``max_condition`` of them, each aligned at its own best lag to ``i``) are
  regressed out, singly and together; the pair keeps the *smallest* absolute partial correlation
  (the PC algorithm's rule: one separating set is enough).
- **Direction.** ``lead = (sum_{k>0} r(k)^2 - sum_{k<0} r(k)^2) / sum_{k!=0} r(k)^2`` in ``[-1, 1]``:
  how much more of the lagged association points from ``i`` to ``j`` than back.
- **Confidence.** A logistic model (Platt scaling) over five features: the strength of the peak
  correlation and of the conditional (partial) correlation (``atanh |r|``, which does not grow with
  the length of the data), the significance of the partial correlation (its Fisher ``z`` capped at
  10, divided by 10), the cosine similarity of the signals' name embeddings and the compatibility of
  their units. Its weights are fitted on
  labelled data by :func:`fit_calibration` (``benchmarks/topology.py`` fits them on its training
  split and prints them); :data:`DEFAULT_CALIBRATION` holds the ones fitted there. The confidence of
  a *directed* edge is ``P(link) * P(direction)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twinforge.errors import UnitError
from twinforge.spec import units

CLIP = 6.0
FEATURES = ("peak", "partial", "significance", "name_similarity", "unit_compatibility")
Z_CAP = 10.0


# -- series ------------------------------------------------------------------------------------
def prepare(values: np.ndarray, difference: bool = True) -> np.ndarray:
    """Differenced, robustly standardised, clipped columns of a ``(T, n)`` array (NaN kept)."""
    x = np.asarray(values, dtype=np.float64)
    if difference:
        x = x[1:] - x[:-1]
    out = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        col = x[:, j]
        ok = np.isfinite(col)
        if ok.sum() < 3:
            continue
        med = float(np.median(col[ok]))
        scale = 1.4826 * float(np.median(np.abs(col[ok] - med)))
        if scale <= 1e-12:
            med = float(np.mean(col[ok]))
            scale = float(np.std(col[ok]))
        if scale <= 1e-12:
            continue  # constant: no evidence either way
        out[:, j] = np.clip((col - med) / scale, -CLIP, CLIP)
    return out


def lagged_correlations(z: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """``R[k, i, j] = corr(z_i(t), z_j(t+k))`` and the number of rows used, for ``k = 0..max_lag``
    (pairwise-complete rows)."""
    t, n = z.shape
    mask = np.isfinite(z).astype(np.float64)
    z0 = np.where(mask > 0, z, 0.0)
    r = np.zeros((max_lag + 1, n, n))
    cnt = np.zeros((max_lag + 1, n, n))
    for k in range(max_lag + 1):
        if t - k < 3:
            break
        a, b = z0[: t - k], z0[k:]
        ma, mb = mask[: t - k], mask[k:]
        nn = ma.T @ mb
        sab = a.T @ b
        sa = a.T @ mb
        sb = ma.T @ b
        saa = (a * a).T @ mb
        sbb = ma.T @ (b * b)
        num = nn * sab - sa * sb
        den = np.sqrt(np.clip(nn * saa - sa * sa, 0, None) * np.clip(nn * sbb - sb * sb, 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            rk = np.where((den > 0) & (nn >= 10), num / den, 0.0)
        r[k] = np.clip(rk, -0.999999, 0.999999)
        cnt[k] = nn
    return r, cnt


def pair_profile(r: np.ndarray, i: int, j: int) -> np.ndarray:
    """``corr(x_i(t), x_j(t+k))`` for ``k = -L..L`` (index ``k + L``)."""
    pos = r[:, i, j]
    neg = r[1:, j, i][::-1]
    return np.concatenate([neg, pos])


def lead_score(profile: np.ndarray) -> float:
    """How much of the lagged association points forward (i leads j): in ``[-1, 1]``."""
    lags = len(profile) // 2
    fwd = float(np.sum(profile[lags + 1 :] ** 2))
    back = float(np.sum(profile[:lags] ** 2))
    total = fwd + back
    return 0.0 if total <= 1e-12 else (fwd - back) / total


def fisher_z(r: float, n: float) -> float:
    """Fisher ``z`` statistic of a correlation from ``n`` rows (0 when too few rows)."""
    if n <= 4:
        return 0.0
    return float(math.atanh(min(abs(r), 0.999999)) * math.sqrt(n - 3))


def shifted(z: np.ndarray, col: int, lag: int, length: int, base: int) -> np.ndarray:
    """``z_col(t + lag)`` for ``t = base .. base + length - 1`` (NaN outside the data)."""
    out = np.full(length, np.nan)
    start = base + lag
    lo, hi = max(start, 0), min(start + length, z.shape[0])
    if hi > lo:
        out[lo - start : hi - start] = z[lo:hi, col]
    return out


def partial_correlation(a: np.ndarray, b: np.ndarray, cond: Sequence[np.ndarray]) -> tuple[float, int]:
    """Correlation of ``a`` and ``b`` after regressing both on ``cond`` (complete rows only)."""
    cols = [a, b, *cond]
    ok = np.all(np.isfinite(np.column_stack(cols)), axis=1)
    n = int(ok.sum())
    if n < 10 + len(cond):
        return 0.0, n
    aa, bb = a[ok], b[ok]
    if cond:
        x = np.column_stack([np.ones(n), *[c[ok] for c in cond]])
        coef_a, *_ = np.linalg.lstsq(x, aa, rcond=None)
        coef_b, *_ = np.linalg.lstsq(x, bb, rcond=None)
        aa = aa - x @ coef_a
        bb = bb - x @ coef_b
    sa, sb = float(np.std(aa)), float(np.std(bb))
    if sa <= 1e-12 or sb <= 1e-12:
        return 0.0, n
    return float(np.clip(np.mean((aa - aa.mean()) * (bb - bb.mean())) / (sa * sb), -1, 1)), n


def best_lag(r: np.ndarray, i: int, j: int) -> tuple[int, float]:
    """The lag ``k`` (``-L..L``) of the strongest ``corr(x_i(t), x_j(t+k))`` and that correlation."""
    prof = pair_profile(r, i, j)
    idx = int(np.argmax(np.abs(prof)))
    return idx - (len(prof) // 2), float(prof[idx])


def conditional_strength(
    z: np.ndarray, r: np.ndarray, i: int, j: int, lag: int, max_condition: int = 3
) -> tuple[float, int, list[int]]:
    """Smallest ``|partial corr|`` of ``x_i(t)`` and ``x_j(t+lag)`` over conditioning sets of up to
    ``max_condition`` signals, drawn (as the PC algorithm does) from the strongest neighbours of
    ``i`` and of ``j`` (two each) and the strongest common neighbour; each conditioning signal enters
    at its best lag to ``i`` and at its best lag to ``j``. Also the rows used and the separating set."""
    n = z.shape[1]
    length = z.shape[0]
    a = z[:, i]
    b = shifted(z, j, lag, length, 0)
    peak = np.max(np.abs(r), axis=0)
    sym = np.maximum(peak, peak.T)
    others = [m for m in range(n) if m not in (i, j) and sym[i, m] + sym[j, m] > 0]
    by_i = sorted(others, key=lambda m: -sym[i, m])[:2]
    by_j = sorted(others, key=lambda m: -sym[j, m])[:2]
    common = sorted(others, key=lambda m: -min(sym[i, m], sym[j, m]))[:1]
    cands = list(dict.fromkeys([*common, *by_i, *by_j]))
    aligned: dict[int, list[np.ndarray]] = {}
    for m in cands:
        li = best_lag(r, i, m)[0]
        lj = lag - best_lag(r, m, j)[0]
        aligned[m] = [shifted(z, m, li, length, 0)]
        if lj != li:
            aligned[m].append(shifted(z, m, lj, length, 0))
    best, rows = partial_correlation(a, b, [])
    best = abs(best)
    sep: list[int] = []
    for size in range(1, min(max_condition, len(cands)) + 1):
        for subset in itertools.combinations(cands, size):
            pc, used = partial_correlation(a, b, [col for m in subset for col in aligned[m]])
            if abs(pc) < best:
                best, rows, sep = abs(pc), used, list(subset)
    return best, rows, sep


# -- names and units ---------------------------------------------------------------------------
def unit_compatibility(unit_a: str | None, unit_b: str | None) -> float:
    """1 when both units measure the same dimension, 0 when they differ, 0.5 when one is unknown."""
    if not unit_a or not unit_b:
        return 0.5
    try:
        return 1.0 if units.compatible(unit_a, unit_b) else 0.0
    except UnitError:
        return 0.5


def name_similarity(texts: Sequence[str], embed: object | None = None) -> np.ndarray:
    """Cosine similarity of the texts' sentence embeddings (local MiniLM by default)."""
    if embed is None:
        embed = _default_embedder().embed
    vectors = np.asarray(embed(list(texts)), dtype=np.float64)  # type: ignore[operator]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1.0)
    return np.clip(vectors @ vectors.T, -1.0, 1.0)


_EMBEDDER: object | None = None


def _default_embedder():  # -> Embedder
    global _EMBEDDER
    if _EMBEDDER is None:
        from twinforge.ai.embeddings import LocalOnnxEmbedder

        _EMBEDDER = LocalOnnxEmbedder()
    return _EMBEDDER


# -- calibration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """``P(link) = sigmoid(intercept + sum(weights * features))`` over :data:`FEATURES`."""

    weights: tuple[float, ...]
    intercept: float
    source: str = ""

    def probability(self, features: np.ndarray) -> np.ndarray:
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        logit = self.intercept + f @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))


def fit_calibration(features: np.ndarray, labels: np.ndarray, source: str = "") -> Calibration:
    """Platt scaling: a logistic regression of the link labels (1 true edge, 0 not) on the features."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=int)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs both true and false pairs")
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit(np.asarray(features, dtype=np.float64), y)
    w = tuple(float(v) for v in model.coef_[0])
    return Calibration(weights=w, intercept=float(model.intercept_[0]), source=source)  # type: ignore[arg-type]


#: Fitted by ``benchmarks/topology.py`` on its training split (printed on its first line; see
#: docs/topology.md). Refit with :func:`fit_calibration` on labelled data of your own plants.
DEFAULT_CALIBRATION = Calibration(
    weights=(1.2008, 1.2228, 2.2213, 0.5544, -0.0001),
    intercept=-2.3124,
    source="benchmarks/topology.py: seed 0 of the bottling line, no noise, no missing data",
)


def direction_probability(lead: float, gain: float = 3.0) -> float:
    """``P(i -> j)`` from the lead score: ``sigmoid(gain * lead)``."""
    return float(1.0 / (1.0 + math.exp(-gain * lead)))
