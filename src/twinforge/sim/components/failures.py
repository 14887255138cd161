"""Failure models shared by components.

- :class:`OperatingClock`: failures after a random *operating* time (``mtbf``): the clock runs only
  while the asset runs and keeps its remaining time across stops. Stations use their own exact
  per-item reservation of the same clock (see :mod:`twinforge.sim.components.station`).
- :class:`StateHazard`: failures driven by state, with hazard
  ``lambda(t) = base * exp(k_T (T(t) - T_amb)) * (1 + k_w wear(t))``. Failure times are sampled
  exactly by *thinning* (Lewis & Shedler): candidates come from a Poisson process with a rate
  ``lambda_max`` that bounds ``lambda`` until the next re-plan, and a candidate at ``t`` is
  accepted with probability ``lambda(t) / lambda_max``. Temperature is bounded by the larger of the
  current temperature and the hottest asymptote of the thermal model; wear is bounded by the
  current wear plus a margin, and the plan is renewed when wear passes the margin. Because the
  dominating process is memoryless, re-planning at any moment keeps the sampling exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twinforge.sim.kernel import Kernel


class OperatingClock:
    """Time to failure counted in operating time; ``start``/``stop`` as the asset runs."""

    __slots__ = ("_epoch", "_fail", "_kernel", "_since", "_ttf", "left", "running")

    def __init__(self, kernel: Kernel, ttf: Iterator[float], on_fail: Callable[[], None]) -> None:
        self._kernel = kernel
        self._ttf = ttf
        self._fail = on_fail
        self.left = next(ttf)
        self.running = False
        self._since = 0.0
        self._epoch = 0

    def renew(self, age: float = 0.0) -> None:
        self.left = max(next(self._ttf) - age, 0.0)
        if self.running:
            self._epoch += 1
            self._since = self._kernel.now
            self._kernel.after(self.left, self._fire, self._epoch)

    def start(self) -> None:
        if self.running:
            return
        self.running = True
        self._since = self._kernel.now
        self._epoch += 1
        self._kernel.after(self.left, self._fire, self._epoch)

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self.left = max(self.left - (self._kernel.now - self._since), 0.0)
        self._epoch += 1

    def _fire(self, epoch: int) -> None:
        if epoch != self._epoch or not self.running:
            return
        self.running = False
        self.left = 0.0
        self._epoch += 1
        self._fail()


class StateHazard:
    """Thinning sampler of a state-driven failure hazard for one asset."""

    __slots__ = (
        "_epoch",
        "_exp",
        "_kernel",
        "_uni",
        "active",
        "ambient",
        "base",
        "k_temp",
        "k_wear",
        "lam_max",
        "on_fail",
        "temp_bound",
        "temperature",
        "wear",
        "wear_bound",
    )

    def __init__(
        self,
        kernel: Kernel,
        base: float,
        k_temp: float,
        k_wear: float,
        ambient: float,
        temperature: Callable[[float], float],
        temp_bound: Callable[[float], float],
        wear: Callable[[], float],
        exponentials: Iterator[float],
        uniforms: Iterator[float],
        on_fail: Callable[[], None],
    ) -> None:
        self._kernel = kernel
        self.base = base
        self.k_temp = k_temp
        self.k_wear = k_wear
        self.ambient = ambient
        self.temperature = temperature
        self.temp_bound = temp_bound
        self.wear = wear
        self._exp = exponentials
        self._uni = uniforms
        self.on_fail = on_fail
        self.active = False
        self._epoch = 0
        self.lam_max = 0.0
        self.wear_bound = math.inf

    def rate(self, t: float) -> float:
        lam = self.base
        if self.k_temp:
            lam *= math.exp(self.k_temp * (self.temperature(t) - self.ambient))
        if self.k_wear:
            lam *= 1.0 + self.k_wear * self.wear()
        return lam

    def plan(self) -> None:
        """(Re)start sampling from now with a fresh bound."""
        self.active = True
        self._epoch += 1
        now = self._kernel.now
        lam = self.base
        if self.k_temp:
            lam *= math.exp(self.k_temp * (self.temp_bound(now) - self.ambient))
        if self.k_wear:
            w = self.wear()
            # margin: the bound is at most 5% above the current wear factor
            margin = 0.05 * (1.0 + self.k_wear * w) / self.k_wear
            self.wear_bound = w + margin
            lam *= 1.0 + self.k_wear * self.wear_bound
        else:
            self.wear_bound = math.inf
        self.lam_max = lam
        if lam > 0:
            self._kernel.after(next(self._exp) / lam, self._candidate, self._epoch)

    def stop(self) -> None:
        self.active = False
        self._epoch += 1

    def wear_changed(self, wear: float) -> None:
        if self.active and wear > self.wear_bound:
            self.plan()

    def _candidate(self, epoch: int) -> None:
        if epoch != self._epoch or not self.active:
            return
        now = self._kernel.now
        if next(self._uni) * self.lam_max <= self.rate(now):
            self.stop()
            self.on_fail()
        else:
            self._kernel.after(next(self._exp) / self.lam_max, self._candidate, self._epoch)
