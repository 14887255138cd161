"""First-order thermal model with the exact solution between events.

``dT/dt = q - (T - T_amb) / tau`` where ``q`` (K/s) is the heating while the asset works. Between
two events ``q`` is constant, so ``T(t) = T_inf + (T0 - T_inf) exp(-(t - t0) / tau)`` with
``T_inf = T_amb + q tau``: no numerical integration, no error, one ``exp`` per change of ``q``.
"""

from __future__ import annotations

import math


class FirstOrderThermal:
    __slots__ = ("ambient", "t0", "t_inf", "tau", "temp0")

    def __init__(self, ambient: float, tau: float, initial: float, now: float = 0.0) -> None:
        self.ambient = ambient
        self.tau = tau
        self.t0 = now
        self.temp0 = initial
        self.t_inf = ambient

    def value(self, t: float) -> float:
        dt = t - self.t0
        if dt <= 0.0:
            return self.temp0
        return self.t_inf + (self.temp0 - self.t_inf) * math.exp(-dt / self.tau)

    def drive(self, now: float, heating: float) -> None:
        """From ``now`` on, heat at ``heating`` K/s."""
        if now > self.t0:
            self.temp0 = self.value(now)
            self.t0 = now
        self.t_inf = self.ambient + heating * self.tau

    def set(self, now: float, temperature: float) -> None:
        self.temp0 = temperature
        self.t0 = now

    def segment(self, now: float) -> tuple[float, float, float, float]:
        return (self.value(now), self.t_inf, 1.0 / self.tau, 0.0)

    def bound(self, now: float, max_heating: float) -> float:
        """An upper bound of the temperature from ``now`` on, whatever the heating (<= max)."""
        return max(self.value(now), self.ambient + max_heating * self.tau, self.t_inf)
