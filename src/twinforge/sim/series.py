"""Recorded state trajectories.

A trajectory is a list of segments; segment ``i`` starts at ``t[i]`` and, until ``t[i+1]``,
``value(t) = c + (v0 - c) exp(-k (t - t[i])) + s (t - t[i])``. That one form covers step
changes (buffer levels, status: ``k = s = 0``), linear ramps (tank levels: ``s``) and first-order
relaxation (temperatures: ``k = 1/tau``) exactly, so sampled telemetry and time averages are
computed afterwards, vectorised, without sampling events in the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class StateRecorder:
    """Observer that appends a segment whenever its component reports a change."""

    __slots__ = ("c", "component", "k", "s", "state", "t", "v0")

    def __init__(self, component, state: str) -> None:
        self.component = component
        self.state = state
        self.t: list[float] = []
        self.v0: list[float] = []
        self.c: list[float] = []
        self.k: list[float] = []
        self.s: list[float] = []

    def update(self, component=None) -> None:
        now = self.component.kernel.now
        v0, c, k, s = self.component.state_segment(self.state)
        t = self.t
        if t and t[-1] == now:
            self.v0[-1], self.c[-1], self.k[-1], self.s[-1] = v0, c, k, s
            return
        if t and self.k[-1] == 0.0 and self.s[-1] == 0.0 and k == 0.0 and s == 0.0 and self.v0[-1] == v0:
            return  # unchanged step
        t.append(now)
        self.v0.append(v0)
        self.c.append(c)
        self.k.append(k)
        self.s.append(s)

    def series(self, end: float, name: str = "") -> Series:
        return Series(
            name,
            np.asarray(self.t, dtype=float),
            np.asarray(self.v0, dtype=float),
            np.asarray(self.c, dtype=float),
            np.asarray(self.k, dtype=float),
            np.asarray(self.s, dtype=float),
            float(end),
        )

    def prune(self, before: float) -> None:
        """Drop segments that ended before ``before`` (keeps the one in force)."""
        t = self.t
        i = int(np.searchsorted(np.asarray(t), before, side="right")) - 1
        if i > 0:
            del t[:i], self.v0[:i], self.c[:i], self.k[:i], self.s[:i]


class CounterRecorder:
    """A step series fed directly with values (model-level series such as WIP)."""

    __slots__ = ("t", "v")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.v: list[float] = []

    def add(self, t: float, v: float) -> None:
        if self.t and self.t[-1] == t:
            self.v[-1] = v
        else:
            self.t.append(t)
            self.v.append(v)

    def series(self, end: float, name: str = "") -> Series:
        t = np.asarray(self.t, dtype=float)
        v = np.asarray(self.v, dtype=float)
        z = np.zeros_like(t)
        return Series(name, t, v, v.copy(), z, z.copy(), float(end))


@dataclass
class Series:
    """A recorded trajectory from ``t[0]`` to ``end``."""

    name: str
    t: np.ndarray
    v0: np.ndarray
    c: np.ndarray
    k: np.ndarray
    s: np.ndarray
    end: float

    def __len__(self) -> int:
        return len(self.t)

    def window(self, start: float, end: float | None = None) -> Series:
        """The part of the series inside ``[start, end]`` (re-anchored at ``start``)."""
        end = self.end if end is None else min(end, self.end)
        if len(self.t) == 0 or start <= self.t[0]:
            keep = self.t < end
            return Series(
                self.name, self.t[keep], self.v0[keep], self.c[keep], self.k[keep], self.s[keep], end
            )
        i0 = int(np.searchsorted(self.t, start, side="right")) - 1
        shift = start - self.t[i0]
        v_start = float(self.at(np.array([start]))[0])
        t = np.concatenate([[start], self.t[i0 + 1 :]])
        v0 = np.concatenate([[v_start], self.v0[i0 + 1 :]])
        c = np.concatenate([[self.c[i0] + self.s[i0] * shift], self.c[i0 + 1 :]])
        k = self.k[i0:]
        s = self.s[i0:]
        keep = t < end
        return Series(self.name, t[keep], v0[keep], c[keep], k[keep], s[keep], end)

    def at(self, times: np.ndarray) -> np.ndarray:
        """Values at ``times`` (NaN before the first segment)."""
        times = np.asarray(times, dtype=float)
        idx = np.searchsorted(self.t, times, side="right") - 1
        out = np.full(times.shape, np.nan)
        ok = idx >= 0
        i = idx[ok]
        d = times[ok] - self.t[i]
        c, k = self.c[i], self.k[i]
        out[ok] = c + (self.v0[i] - c) * np.exp(-k * d) + self.s[i] * d
        return out

    def _durations(self) -> np.ndarray:
        return np.diff(np.append(self.t, self.end))

    def integral(self) -> float:
        if len(self.t) == 0:
            return float("nan")
        d = self._durations()
        k = self.k
        with np.errstate(divide="ignore", invalid="ignore"):
            relax = np.where(k > 0, (1 - np.exp(-k * d)) / np.where(k > 0, k, 1.0), d)
        return float(np.sum(self.c * d + (self.v0 - self.c) * relax + self.s * d * d / 2))

    def mean(self) -> float:
        """Time-weighted mean."""
        span = self.end - self.t[0] if len(self.t) else 0.0
        return self.integral() / span if span > 0 else float("nan")

    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        d = self._durations()
        last = self.c + (self.v0 - self.c) * np.exp(-self.k * d) + self.s * d
        return self.v0, last

    def max(self) -> float:
        # every segment is monotone, so extremes are at segment ends
        a, b = self._ends()
        return float(max(a.max(), b.max())) if len(a) else float("nan")

    def min(self) -> float:
        a, b = self._ends()
        return float(min(a.min(), b.min())) if len(a) else float("nan")

    def last(self) -> float:
        return float(self._ends()[1][-1]) if len(self.t) else float("nan")

    def dense(self, points: int = 20001) -> tuple[np.ndarray, np.ndarray]:
        """Values on a uniform grid (for statistics without closed forms)."""
        grid = np.linspace(self.t[0], self.end, points)
        return grid, self.at(grid)

    def share_above(self, threshold: float) -> float:
        """Share of time the value is above ``threshold`` (exact for step series)."""
        if len(self.t) == 0:
            return float("nan")
        if not self.k.any() and not self.s.any():
            d = self._durations()
            return float(d[self.v0 > threshold].sum() / d.sum()) if d.sum() > 0 else float("nan")
        _, v = self.dense()
        return float(np.mean(v > threshold))

    def quantile(self, q: float) -> float:
        """Time-weighted quantile (exact for step series)."""
        if len(self.t) == 0:
            return float("nan")
        if not self.k.any() and not self.s.any():
            d = self._durations()
            order = np.argsort(self.v0, kind="stable")
            cum = np.cumsum(d[order]) / d.sum()
            return float(self.v0[order][np.searchsorted(cum, q, side="left").clip(0, len(cum) - 1)])
        _, v = self.dense()
        return float(np.quantile(v, q))

    def std(self) -> float:
        if len(self.t) == 0:
            return float("nan")
        _, v = self.dense()
        return float(np.std(v))

    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Change points and the value at each."""
        return self.t.copy(), self.v0.copy()
