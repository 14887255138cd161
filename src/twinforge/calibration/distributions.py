"""Maximum-likelihood fits of the catalogue's distribution families, with right censoring.

Each family is fitted in the twin's own parametrisation (exponential: mean; normal and lognormal:
mean and std of the variable; gamma and weibull: shape and scale; uniform: low, high; triangular:
low, mode, high), so standard errors are those of the numbers a twin file holds. Smooth families
are fitted by minimising the negative log-likelihood (observed values contribute ``log f``,
right-censored ones ``log S``) over log-parameters with L-BFGS-B; standard errors come from the
inverse of the numerical Hessian (observed information) at the optimum. Uniform and triangular
(likelihoods with moving support) use their order-statistic estimators and a bootstrap for their
standard errors. Goodness of fit: AIC for choosing the family, and the Kolmogorov–Smirnov
statistic and p-value on the uncensored values (with estimated parameters the p-value is
optimistic: a Lilliefors-type caveat).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from twinforge.spec.distributions import (
    Distribution,
    Exponential,
    Gamma,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    Weibull,
)

SMOOTH = ("exponential", "normal", "lognormal", "gamma", "weibull")
FAMILIES = (*SMOOTH, "uniform", "triangular")
BOOTSTRAP_REPS = 40


@dataclass
class FamilyFit:
    """One family fitted to one sample (values in the unit of the data)."""

    family: str
    params: dict[str, float]
    se: dict[str, float]
    cov: np.ndarray
    nll: float
    aic: float
    ks_stat: float
    ks_p: float
    n: int
    n_censored: int
    mean: float
    mean_se: float
    std: float
    std_se: float
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def distribution(self, factor: float = 1.0) -> Distribution:
        """The fitted distribution, of ``factor * X`` (a unit change)."""
        return _make(self.family, self.params).scaled(factor)

    def as_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "params": {k: _r(v) for k, v in self.params.items()},
            "se": {k: _r(v) for k, v in self.se.items()},
            "aic": _r(self.aic),
            "ks_stat": _r(self.ks_stat),
            "ks_p": _r(self.ks_p),
            "n": self.n,
            "n_censored": self.n_censored,
        }


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(f"{x:.6g}")


def _make(family: str, p: dict[str, float]) -> Distribution:
    match family:
        case "exponential":
            return Exponential(mean=p["mean"])
        case "normal":
            return Normal(mean=p["mean"], std=p["std"])
        case "lognormal":
            return LogNormal(mean=p["mean"], std=p["std"])
        case "gamma":
            return Gamma(shape=p["shape"], scale=p["scale"])
        case "weibull":
            return Weibull(shape=p["shape"], scale=p["scale"])
        case "uniform":
            return Uniform(low=p["low"], high=p["high"])
        case "triangular":
            return Triangular(low=p["low"], mode=p["mode"], high=p["high"])
    raise ValueError(f"unknown family {family!r}")


def frozen(family: str, p: dict[str, float]):  # -> scipy frozen distribution
    match family:
        case "exponential":
            return stats.expon(scale=p["mean"])
        case "normal":
            return stats.norm(p["mean"], p["std"])
        case "lognormal":
            s2 = math.log1p((p["std"] / p["mean"]) ** 2)
            return stats.lognorm(s=math.sqrt(s2), scale=math.exp(math.log(p["mean"]) - s2 / 2))
        case "gamma":
            return stats.gamma(p["shape"], scale=p["scale"])
        case "weibull":
            return stats.weibull_min(p["shape"], scale=p["scale"])
        case "uniform":
            return stats.uniform(p["low"], p["high"] - p["low"])
        case "triangular":
            w = p["high"] - p["low"]
            return stats.triang((p["mode"] - p["low"]) / w if w > 0 else 0.5, loc=p["low"], scale=w)
    raise ValueError(f"unknown family {family!r}")


_NAMES = {
    "exponential": ("mean",),
    "normal": ("mean", "std"),
    "lognormal": ("mean", "std"),
    "gamma": ("shape", "scale"),
    "weibull": ("shape", "scale"),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
}


def _start(family: str, x: np.ndarray) -> dict[str, float]:
    m, s = float(np.mean(x)), float(np.std(x, ddof=1)) if len(x) > 1 else float(np.mean(x)) / 2
    s = max(s, 1e-6 * max(abs(m), 1.0))
    match family:
        case "exponential":
            return {"mean": m}
        case "normal" | "lognormal":
            return {"mean": m, "std": s}
        case "gamma":
            k = (m / s) ** 2
            return {"shape": k, "scale": m / k}
        case "weibull":
            return weibull_mle(x)
    raise ValueError(family)


def weibull_mle(x: np.ndarray, censored: np.ndarray | None = None) -> dict[str, float]:
    """Weibull MLE with right censoring: the profile equation in the shape ``k``,
    ``sum t^k ln t / sum t^k - 1/k - mean(ln x) = 0`` over all times ``t`` (failures ``x`` and
    censored), solved by bracketing; then ``scale = (sum t^k / r)^(1/k)``."""
    c = np.asarray(censored if censored is not None else [], dtype=float)
    t = np.concatenate([x, c[c > 0]])
    lt = np.log(t / t.max())  # scaled for stability
    mean_lx = float(np.mean(np.log(x / t.max())))

    def g(k: float) -> float:
        w = np.exp(k * lt)
        return float(np.sum(w * lt) / np.sum(w)) - 1.0 / k - mean_lx

    lo, hi = 0.02, 1.0
    while g(hi) < 0 and hi < 1e4:
        hi *= 2
    k = optimize.brentq(g, lo, hi, xtol=1e-12) if g(lo) < 0 < g(hi) else 1.0
    scale = t.max() * float(np.sum(np.exp(k * lt)) / len(x)) ** (1.0 / k)
    return {"shape": float(k), "scale": float(scale)}


def _moments(family: str, p: dict[str, float]) -> tuple[float, float]:
    d = _make(family, p)
    return d.mean(), d.std()


def _logpdf_logsf(
    family: str, p: dict[str, float], x: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log density of ``x`` and log survival of ``c`` (numpy, in the twin's parametrisation)."""
    match family:
        case "exponential":
            m = p["mean"]
            return -math.log(m) - x / m, -c / m
        case "normal":
            m, s = p["mean"], p["std"]
            z = (x - m) / s
            return -0.5 * z * z - math.log(s) - 0.5 * math.log(2 * math.pi), stats.norm.logsf((c - m) / s)
        case "lognormal":
            s2 = math.log1p((p["std"] / p["mean"]) ** 2)
            mu, s = math.log(p["mean"]) - s2 / 2, math.sqrt(s2)
            lx = np.log(x)
            z = (lx - mu) / s
            return -0.5 * z * z - lx - math.log(s) - 0.5 * math.log(2 * math.pi), stats.norm.logsf(
                (np.log(np.maximum(c, 1e-300)) - mu) / s
            )
        case "gamma":
            k, th = p["shape"], p["scale"]
            lp = (k - 1) * np.log(x) - x / th - special.gammaln(k) - k * math.log(th)
            return lp, np.log(special.gammaincc(k, c / th)) if len(c) else c
        case "weibull":
            k, lam = p["shape"], p["scale"]
            r = x / lam
            return math.log(k / lam) + (k - 1) * np.log(r) - r**k, -((c / lam) ** k)
    raise ValueError(family)


def _nll_fn(family: str, x: np.ndarray, c: np.ndarray) -> Callable[[np.ndarray], float]:
    names = _NAMES[family]

    def nll(v: np.ndarray) -> float:
        p = dict(zip(names, (float(a) for a in v), strict=True))
        if any(not math.isfinite(a) or a <= 0 for k, a in p.items() if k != "mean" or family != "normal"):
            return math.inf
        with np.errstate(all="ignore"):
            lp, ls = _logpdf_logsf(family, p, x, c)
            total = -float(np.sum(lp)) - float(np.sum(ls))
        return total if math.isfinite(total) else math.inf

    return nll


def _hessian(f: Callable[[np.ndarray], float], v: np.ndarray) -> np.ndarray:
    k = len(v)
    h = 1e-4 * np.maximum(np.abs(v), 1e-8)
    out = np.zeros((k, k))
    f0 = f(v)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        out[i, i] = (f(v + ei) - 2 * f0 + f(v - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            val = (f(v + ei + ej) - f(v + ei - ej) - f(v - ei + ej) + f(v - ei - ej)) / (4 * h[i] * h[j])
            out[i, j] = out[j, i] = val
    return out


def _ks(family: str, p: dict[str, float], x: np.ndarray) -> tuple[float, float]:
    if len(x) < 2:
        return math.nan, math.nan
    res = stats.kstest(x, frozen(family, p).cdf)
    return float(res.statistic), float(res.pvalue)


def _moment_se(family: str, p: dict[str, float], cov: np.ndarray) -> tuple[float, float]:
    """Standard errors of the mean and std of the distribution (delta method)."""
    names = _NAMES[family]
    v = np.array([p[k] for k in names])
    grads = np.zeros((2, len(v)))
    for i in range(len(v)):
        h = 1e-6 * max(abs(v[i]), 1e-9)
        up, dn = v.copy(), v.copy()
        up[i] += h
        dn[i] -= h
        try:
            mu = _moments(family, dict(zip(names, up, strict=True)))
            md = _moments(family, dict(zip(names, dn, strict=True)))
        except ValueError:
            return math.nan, math.nan
        grads[:, i] = (np.array(mu) - np.array(md)) / (2 * h)
    var = np.einsum("ij,jk,ik->i", grads, cov, grads)
    return tuple(float(math.sqrt(a)) if a >= 0 else math.nan for a in var)  # type: ignore[return-value]


def _finish(
    family: str,
    p: dict[str, float],
    cov: np.ndarray,
    nll: float,
    x: np.ndarray,
    c: np.ndarray,
    note: str = "",
) -> FamilyFit:
    names = _NAMES[family]
    se = {k: float(math.sqrt(cov[i, i])) if cov[i, i] >= 0 else math.nan for i, k in enumerate(names)}
    mean, std = _moments(family, p)
    mean_se, std_se = _moment_se(family, p, cov)
    ks_stat, ks_p = _ks(family, p, x)
    return FamilyFit(
        family=family,
        params=p,
        se=se,
        cov=cov,
        nll=nll,
        aic=2 * len(names) + 2 * nll,
        ks_stat=ks_stat,
        ks_p=ks_p,
        n=len(x),
        n_censored=len(c),
        mean=mean,
        mean_se=mean_se,
        std=std,
        std_se=std_se,
        note=note,
    )


def _closed_form(family: str, x: np.ndarray, p0: dict[str, float]) -> dict[str, float]:
    """The MLE where it has a closed form or a fast solver (uncensored data): a start the optimiser
    only polishes."""
    match family:
        case "exponential":
            return {"mean": float(np.mean(x))}
        case "normal":
            return {"mean": float(np.mean(x)), "std": float(np.std(x))}
        case "lognormal":
            lx = np.log(x)
            mu, s2 = float(np.mean(lx)), float(np.var(lx))
            m = math.exp(mu + s2 / 2)
            return {"mean": m, "std": m * math.sqrt(math.expm1(s2))}
        case "gamma":
            k, _, th = stats.gamma.fit(x, floc=0)
            return {"shape": float(k), "scale": float(th)}
        case "weibull":
            return weibull_mle(x)
    return p0


def fit_smooth(family: str, x: np.ndarray, censored: np.ndarray | None = None) -> FamilyFit | None:
    """MLE of a smooth family; None when the family cannot describe the data (e.g. values <= 0
    for a positive family)."""
    c = np.asarray(censored if censored is not None else [], dtype=float)
    x = np.asarray(x, dtype=float)
    if family != "normal" and (np.any(x <= 0) or np.any(c < 0)):
        return None
    names = _NAMES[family]
    p0 = weibull_mle(x, c) if family == "weibull" else _start(family, x)
    nll = _nll_fn(family, x, c)
    positive = [not (family == "normal" and k == "mean") for k in names]

    def to_v(u: np.ndarray) -> np.ndarray:
        return np.array([math.exp(a) if pos else a for a, pos in zip(u, positive, strict=True)])

    u0 = np.array([math.log(p0[k]) if pos else p0[k] for k, pos in zip(names, positive, strict=True)])
    if not len(c):  # uncensored: the closed form (or scipy's MLE solver) is the optimum
        p0 = _closed_form(family, x, p0)
        v = np.array([p0[k] for k in names])
    else:
        res = optimize.minimize(
            lambda u: nll(to_v(u)),
            u0,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000},
        )
        v = to_v(res.x) if res.fun <= nll(to_v(u0)) else to_v(u0)
    best = nll(v)
    if not math.isfinite(best):
        return None
    p = dict(zip(names, (float(a) for a in v), strict=True))
    try:
        hess = _hessian(nll, v)
        cov = np.linalg.inv(hess)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
            raise np.linalg.LinAlgError
        note = ""
    except np.linalg.LinAlgError:
        cov = np.full((len(names), len(names)), np.nan)
        note = "information matrix not invertible: no standard errors"
    return _finish(family, p, cov, best, x, c, note)


def _uniform(x: np.ndarray) -> dict[str, float]:
    n = len(x)
    lo, hi = float(x.min()), float(x.max())
    pad = (hi - lo) / max(n - 1, 1)  # unbiased: E[min] = low + range/(n+1)
    return {"low": lo - pad, "high": hi + pad}


def _triangular(x: np.ndarray) -> dict[str, float]:
    """Low and high from the extremes (as for the uniform); the mode by maximum likelihood, on the
    values binned into 4000 bins (exact enough, and fast on large samples)."""
    n = len(x)
    lo, hi = float(x.min()), float(x.max())
    pad = (hi - lo) / max(n - 1, 1)
    lo, hi = lo - pad, hi + pad
    w = hi - lo
    if w <= 0:
        return {"low": lo, "mode": lo, "high": hi}
    counts, edges = np.histogram((x - lo) / w, bins=4000, range=(0.0, 1.0))
    keep = counts > 0
    z, k = ((edges[:-1] + edges[1:]) / 2)[keep], counts[keep]

    def nll(cm: float) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.log(2 * z / cm) if cm > 0 else np.full(z.shape, -np.inf)
            right = np.log(2 * (1 - z) / (1 - cm)) if cm < 1 else np.full(z.shape, -np.inf)
            ll = np.where(z < cm, left, right)
        total = -float(np.sum(k * ll))
        return total if math.isfinite(total) else 1e300

    grid = np.linspace(0.0, 1.0, 201)
    vals = [nll(g) for g in grid]
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, 200)]
    res = optimize.minimize_scalar(nll, bounds=(a, b), method="bounded", options={"xatol": 1e-6})
    cm = float(res.x) if res.fun <= vals[i] else float(grid[i])
    return {"low": lo, "mode": lo + cm * w, "high": hi}


def fit_bounded(family: str, x: np.ndarray, rng: np.random.Generator | None = None) -> FamilyFit | None:
    """Uniform or triangular (no censoring): order-statistic estimators, bootstrap standard errors."""
    x = np.asarray(x, dtype=float)
    if len(x) < 3:
        return None
    est = _uniform if family == "uniform" else _triangular
    p = est(x)
    rng = rng or np.random.default_rng(0)
    boot = np.array([list(est(rng.choice(x, len(x))).values()) for _ in range(BOOTSTRAP_REPS)], dtype=float)
    cov = np.atleast_2d(np.cov(boot, rowvar=False))
    f = frozen(family, p)
    ll = f.logpdf(x)
    nll = -float(np.sum(ll)) if np.all(np.isfinite(ll)) else math.inf
    return _finish(
        family, p, cov, nll, x, np.zeros(0), f"standard errors from {BOOTSTRAP_REPS} bootstrap resamples"
    )


def fit_family(family: str, x: np.ndarray, censored: np.ndarray | None = None) -> FamilyFit | None:
    if family in SMOOTH:
        return fit_smooth(family, x, censored)
    if censored is not None and len(censored):
        return None  # bounded families are fitted on complete data only
    return fit_bounded(family, x)


def fit_best(
    x: np.ndarray, censored: np.ndarray | None = None, families: tuple[str, ...] = FAMILIES
) -> tuple[FamilyFit, list[FamilyFit]]:
    """Every family that fits, and the one with the lowest AIC."""
    fits = [f for fam in families if (f := fit_family(fam, x, censored)) is not None and math.isfinite(f.aic)]
    if not fits:
        raise ValueError("no distribution family could be fitted")
    fits.sort(key=lambda f: f.aic)
    return fits[0], fits


def fit_moments(family: str, x: np.ndarray) -> Distribution:
    """Method of moments in ``family`` (sample mean and std; censoring ignored): the baseline."""
    m = float(np.mean(x))
    s = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    match family:
        case "exponential":
            return Exponential(mean=m)
        case "normal":
            return Normal(mean=m, std=s)
        case "lognormal":
            return LogNormal(mean=m, std=s)
        case "gamma" | "erlang":
            k = (m / s) ** 2 if s > 0 else 1e6
            return Gamma(shape=k, scale=m / k)
        case "weibull":
            cv = s / m if m > 0 else 1.0
            shape = optimize.brentq(
                lambda k: math.sqrt(max(math.gamma(1 + 2 / k) / math.gamma(1 + 1 / k) ** 2 - 1, 0)) - cv,
                0.05,
                200,
            )
            return Weibull(shape=shape, scale=m / math.gamma(1 + 1 / shape))
        case "uniform":
            h = math.sqrt(3) * s
            return Uniform(low=m - h, high=m + h)
        case "triangular":
            h = math.sqrt(6) * s
            return Triangular(low=m - h, mode=m, high=m + h)
    return LogNormal(mean=m, std=s) if m > 0 else Normal(mean=m, std=s)


__all__ = [
    "FAMILIES",
    "FamilyFit",
    "fit_best",
    "fit_bounded",
    "fit_family",
    "fit_moments",
    "fit_smooth",
    "frozen",
]
