"""Probability distributions for stochastic parameters.

Every distribution is pydantic data (``type`` discriminates) and knows its mean, standard
deviation, how to rescale itself (so that "process time +20%" keeps the shape) and how to draw
samples from an explicit :class:`numpy.random.Generator`. Parameters are in the unit of the
parameter that carries the distribution.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def mean(self) -> float:
        raise NotImplementedError

    def std(self) -> float:
        raise NotImplementedError

    def scaled(self, factor: float) -> Distribution:
        """The distribution of ``factor * X``."""
        raise NotImplementedError

    def with_mean(self, mean: float) -> Distribution:
        """Same shape (coefficient of variation), new mean."""
        current = self.mean()
        if current == 0:
            raise ValueError("cannot rescale a distribution whose mean is zero")
        return self.scaled(mean / current)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def describe(self) -> str:
        args = ", ".join(
            f"{k}={v:g}" for k, v in self.model_dump(exclude={"type"}).items() if isinstance(v, float | int)
        )
        return f"{self.type}({args})"  # type: ignore[attr-defined]


class Constant(_Dist):
    type: Literal["constant"] = "constant"
    value: float

    def mean(self) -> float:
        return self.value

    def std(self) -> float:
        return 0.0

    def scaled(self, factor: float) -> Constant:
        return Constant(value=self.value * factor)

    def sample(self, rng, size=None):
        return self.value if size is None else np.full(size, self.value)

    def support(self):
        return (self.value, self.value)


class Exponential(_Dist):
    type: Literal["exponential"] = "exponential"
    mean_: float = Field(alias="mean", gt=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def std(self) -> float:
        return self.mean_

    def scaled(self, factor: float) -> Exponential:
        return Exponential(mean=self.mean_ * factor)

    def sample(self, rng, size=None):
        return rng.exponential(self.mean_, size)

    def support(self):
        return (0.0, math.inf)

    def describe(self) -> str:
        return f"exponential(mean={self.mean_:g})"


class Normal(_Dist):
    """Normal distribution; simulations truncate draws of non-negative quantities at zero."""

    type: Literal["normal"] = "normal"
    mean_: float = Field(alias="mean")
    std_: float = Field(alias="std", ge=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def std(self) -> float:
        return self.std_

    def scaled(self, factor: float) -> Normal:
        return Normal(mean=self.mean_ * factor, std=self.std_ * abs(factor))

    def sample(self, rng, size=None):
        return rng.normal(self.mean_, self.std_, size)

    def describe(self) -> str:
        return f"normal(mean={self.mean_:g}, std={self.std_:g})"


class LogNormal(_Dist):
    """Log-normal given by the mean and standard deviation of the variable itself (not its log)."""

    type: Literal["lognormal"] = "lognormal"
    mean_: float = Field(alias="mean", gt=0)
    std_: float = Field(alias="std", ge=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def std(self) -> float:
        return self.std_

    def log_params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.std_ / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    def scaled(self, factor: float) -> LogNormal:
        return LogNormal(mean=self.mean_ * factor, std=self.std_ * abs(factor))

    def sample(self, rng, size=None):
        mu, sigma = self.log_params()
        return rng.lognormal(mu, sigma, size)

    def support(self):
        return (0.0, math.inf)

    def describe(self) -> str:
        return f"lognormal(mean={self.mean_:g}, std={self.std_:g})"


class Uniform(_Dist):
    type: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"uniform needs low <= high, found low={self.low}, high={self.high}")
        return self

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def scaled(self, factor: float) -> Uniform:
        a, b = sorted((self.low * factor, self.high * factor))
        return Uniform(low=a, high=b)

    def sample(self, rng, size=None):
        return rng.uniform(self.low, self.high, size)

    def support(self):
        return (self.low, self.high)


class Triangular(_Dist):
    type: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError(
                f"triangular needs low <= mode <= high, found {self.low}, {self.mode}, {self.high}"
            )
        return self

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def std(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18)

    def scaled(self, factor: float) -> Triangular:
        vals = sorted((self.low * factor, self.mode * factor, self.high * factor))
        return Triangular(low=vals[0], mode=vals[1], high=vals[2])

    def sample(self, rng, size=None):
        if self.low == self.high:
            return self.low if size is None else np.full(size, self.low)
        return rng.triangular(self.low, self.mode, self.high, size)

    def support(self):
        return (self.low, self.high)


class Gamma(_Dist):
    type: Literal["gamma"] = "gamma"
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    def mean(self) -> float:
        return self.shape * self.scale

    def std(self) -> float:
        return math.sqrt(self.shape) * self.scale

    def scaled(self, factor: float) -> Gamma:
        return Gamma(shape=self.shape, scale=self.scale * factor)

    def sample(self, rng, size=None):
        return rng.gamma(self.shape, self.scale, size)

    def support(self):
        return (0.0, math.inf)


class Erlang(_Dist):
    type: Literal["erlang"] = "erlang"
    k: int = Field(ge=1)
    mean_: float = Field(alias="mean", gt=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def std(self) -> float:
        return self.mean_ / math.sqrt(self.k)

    def scaled(self, factor: float) -> Erlang:
        return Erlang(k=self.k, mean=self.mean_ * factor)

    def sample(self, rng, size=None):
        return rng.gamma(self.k, self.mean_ / self.k, size)

    def support(self):
        return (0.0, math.inf)

    def describe(self) -> str:
        return f"erlang(k={self.k}, mean={self.mean_:g})"


class Weibull(_Dist):
    type: Literal["weibull"] = "weibull"
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    def std(self) -> float:
        g1 = math.gamma(1 + 1 / self.shape)
        g2 = math.gamma(1 + 2 / self.shape)
        return self.scale * math.sqrt(max(g2 - g1 * g1, 0.0))

    def scaled(self, factor: float) -> Weibull:
        return Weibull(shape=self.shape, scale=self.scale * factor)

    def sample(self, rng, size=None):
        return self.scale * rng.weibull(self.shape, size)

    def support(self):
        return (0.0, math.inf)


class Empirical(_Dist):
    """Resample observed values with equal probability."""

    type: Literal["empirical"] = "empirical"
    values: list[float] = Field(min_length=1)

    def mean(self) -> float:
        return float(np.mean(self.values))

    def std(self) -> float:
        return float(np.std(self.values))

    def scaled(self, factor: float) -> Empirical:
        return Empirical(values=[v * factor for v in self.values])

    def sample(self, rng, size=None):
        return rng.choice(np.asarray(self.values, dtype=float), size)

    def support(self):
        return (min(self.values), max(self.values))

    def describe(self) -> str:
        return f"empirical(n={len(self.values)}, mean={self.mean():g})"


Distribution = Annotated[
    Constant | Exponential | Normal | LogNormal | Uniform | Triangular | Gamma | Erlang | Weibull | Empirical,
    Field(discriminator="type"),
]

DISTRIBUTION_TYPES = (
    "constant",
    "exponential",
    "normal",
    "lognormal",
    "uniform",
    "triangular",
    "gamma",
    "erlang",
    "weibull",
    "empirical",
)
