"""Drift: the synced twin's predictions against measured signals, and which parameter explains it.

For every signal whose value the twin predicts from its parameters and setpoints (pump flow,
pressure, current, voltage, power, vibration and acceleration; a tank's level, through its rate of
change), :class:`DriftMonitor` keeps a residual ``measured - predicted``. Rules, stated up front:

- **predictions** come from the simulator's own components (a model of the twin at its current
  setpoints, read in steady state), so they are what a simulation of the twin would show;
- **standardisation**: residuals are averaged over blocks of ``block_s`` seconds; the block mean is
  divided by its standard error, from the residual spread and lag-1 autocorrelation seen in the
  first ``warmup_blocks`` blocks (the spread only: an offset present from the start is drift too);
- **detection**: a two-sided CUSUM per signal on the standardised block means (slack ``k``, alarm
  at ``h``); while a pump's measured flow is below 5 % of the prediction (failed, dry, switched
  off) the samples of its path are left out: a stop is not drift;
- **attribution**: when a signal alarms, each candidate parameter (the pump's ``flow_rate``,
  ``head`` and ``power``, the openings of valves on its path, the ``outflow_rate`` of tanks it
  fills or drains) is refitted alone, by least squares over the ``confirm_blocks`` blocks from the
  alarm on (the alert waits for them, so the refit sees the changed plant only), on every signal of
  that path; the one that leaves the smallest residual is named in the alert, with the share of
  the residual it explains and a recalibration diff (old → new) to review.

:func:`event_drift` does the same for stations from an event log: a CUSUM of the standardised
process, failure and repair times against the twin's distributions, and a refit of the drifting
parameter on the recent events.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from twinforge.calibration.events import CalibrationError, check_event_log
from twinforge.calibration.result import Estimate
from twinforge.data.signals import SignalIndex
from twinforge.spec.diff import _show_param
from twinforge.spec.models import TwinSpec

PUMP_STATES = ("flow", "pressure", "current", "voltage", "power", "vibration", "acceleration")
PUMP_PARAMS = ("flow_rate", "head", "power")


@dataclass
class DriftAlert:
    """A drift found on one signal, with the parameter whose refit explains it."""

    node: str  # sensor node of the signal
    signal: str
    observes: str  # "node.state"
    t: float  # seconds (the block end at which it alarmed)
    score: float  # the CUSUM statistic
    threshold: float
    direction: str  # "up" | "down"
    target: str | None  # node whose parameter explains it
    parameter: str | None
    explained: float  # share of the residual sum of squares the refit removes (0..1)
    proposal: Estimate | None
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        head = f"drift on {self.node}.{self.signal} ({self.observes}, reading {self.direction})"
        if self.proposal is None:
            return head + ": no parameter refit explains it"
        p = self.proposal
        return (
            f"{head}: explained by {p.node}.{p.parameter} {p.old} -> {p.new} "
            f"({self.explained:.0%} of the residual)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "signal": self.signal,
            "observes": self.observes,
            "t": self.t,
            "score": self.score,
            "threshold": self.threshold,
            "direction": self.direction,
            "target": self.target,
            "parameter": self.parameter,
            "explained": self.explained,
            "proposal": self.proposal.as_dict() if self.proposal else None,
            "candidates": self.candidates,
            "text": self.describe(),
        }


# -- predictions --------------------------------------------------------------------------------


def predict_states(twin: TwinSpec) -> dict[tuple[str, str], float]:
    """What the twin predicts at its current parameters and setpoints: every pump state of
    :data:`PUMP_STATES` and every tank's ``level_rate`` (m^3/h), from the simulator's components."""
    from twinforge.sim.model import Model, RunOptions
    from twinforge.sim.plan import compile_twin

    model = Model(compile_twin(twin), 0, 0, RunOptions(horizon=0.0))
    model.start()
    out: dict[tuple[str, str], float] = {}
    for nid, comp in model.components.items():
        if comp.kind == "pump":
            for s in PUMP_STATES:
                out[(nid, s)] = float(comp.state_value(s))
        elif comp.kind == "tank":
            out[(nid, "level_rate")] = float(comp.rate) * 3600.0
    return out


def _paths(twin: TwinSpec) -> list[Any]:
    from twinforge.sim.plan import compile_twin

    return compile_twin(twin).pumps


@dataclass
class _Channel:
    key: tuple[str, str]  # sensor node, signal
    target: tuple[str, str]  # observed node, state ("level" for tanks)
    pump: str | None  # pump whose path it is on
    blocks: deque = field(default_factory=lambda: deque(maxlen=120))  # (t_end, mean residual, mean measured)
    acc: list[float] = field(default_factory=list)
    acc_y: list[float] = field(default_factory=list)
    block_end: float | None = None
    last: tuple[float, float] | None = None  # tanks: previous (t, level)
    warm: list[float] = field(default_factory=list)  # warm-up residual samples
    scale: float | None = None  # standard error of a block mean
    s_hi: float = 0.0
    s_lo: float = 0.0
    alarmed: bool = False
    pending: tuple[float, float, str] | None = None  # alarm: (block end, score, direction)
    after: int = 0  # blocks closed since the alarm


class DriftMonitor:
    """CUSUM drift detection with attribution (see the module docstring). Feed samples
    ``(column "node.signal", t seconds, value)`` in the signal's unit."""

    def __init__(
        self,
        twin: TwinSpec,
        *,
        block_s: float = 60.0,
        warmup_blocks: int = 20,
        k: float = 0.5,
        h: float = 12.0,
        window_blocks: int = 10,
        confirm_blocks: int = 5,
    ) -> None:
        self.twin = twin
        self.block_s, self.warmup_blocks, self.k, self.h = block_s, warmup_blocks, k, h
        self.window_blocks = window_blocks
        self.confirm_blocks = confirm_blocks
        self.pred = predict_states(twin)
        self.paths = {p.pump: p for p in _paths(twin)}
        self.channels: dict[str, _Channel] = {}
        self._units: dict[str, float] = {}
        for info in SignalIndex(twin):
            node, state = info.target_node, info.target_state
            kind = twin.node(node).kind
            pump = None
            if kind == "pump" and (state in PUMP_STATES or state.startswith("acceleration")):
                pump = node
            elif kind == "tank" and state == "level":
                pump = next(
                    (p.pump for p in self.paths.values() if node in (p.suction_tank, p.discharge_tank)), None
                )
            else:
                continue
            col = f"{info.node}.{info.signal}"
            from twinforge.spec import units

            factor = 1.0
            if info.unit and info.state_unit and info.unit != info.state_unit:
                factor = units.conversion_factor(info.unit, info.state_unit)
            self._units[col] = factor
            self.channels[col] = _Channel((info.node, info.signal), (node, state), pump)
        self.alerts: list[DriftAlert] = []
        self._running: dict[str | None, bool] = {}

    @property
    def columns(self) -> list[str]:
        return list(self.channels)

    def _predicted(self, ch: _Channel, pred: dict[tuple[str, str], float] | None = None) -> float:
        pred = pred or self.pred
        node, state = ch.target
        if state == "level":
            return pred[(node, "level_rate")]
        base = "acceleration" if state.startswith("acceleration") else state
        return pred[(node, base)]

    def status(self) -> dict[str, Any]:
        return {
            "signals": len(self.channels),
            "warming_up": sum(1 for c in self.channels.values() if c.scale is None),
            "cusum": {col: round(max(c.s_hi, c.s_lo), 3) for col, c in self.channels.items()},
            "alerts": len(self.alerts),
        }

    def feed(self, samples: list[tuple[str, float, float]]) -> list[DriftAlert]:
        out: list[DriftAlert] = []
        for col, t, v in sorted(samples, key=lambda x: x[1]):
            ch = self.channels.get(col)
            if ch is None or not math.isfinite(v):
                continue
            value = v * self._units[col]
            if ch.target[1] == "level":
                prev, ch.last = ch.last, (t, value)
                if prev is None or t <= prev[0]:
                    continue
                y = (value - prev[1]) / ((t - prev[0]) / 3600.0)
            else:
                y = value
                if ch.target[1] == "flow":
                    self._running[ch.pump] = y >= 0.05 * self._predicted(ch)
            if not self._running.get(ch.pump, True):
                continue  # pump stopped (failed, dry or switched off): not drift
            if ch.block_end is None:
                ch.block_end = math.floor(t / self.block_s) * self.block_s + self.block_s
            while t >= ch.block_end:
                alert = self._close_block(col, ch)
                if alert is not None:
                    out.append(alert)
                ch.block_end += self.block_s
            r = y - self._predicted(ch)
            ch.acc.append(r)
            ch.acc_y.append(y)
            if ch.scale is None:
                ch.warm.append(r)
        self.alerts += out
        return out

    def _close_block(self, col: str, ch: _Channel) -> DriftAlert | None:
        if not ch.acc:
            return None
        m = len(ch.acc)
        mean_r = float(np.mean(ch.acc))
        ch.blocks.append((ch.block_end, mean_r, float(np.mean(ch.acc_y)), m))
        ch.acc, ch.acc_y = [], []
        if ch.scale is None:
            if len(ch.blocks) < self.warmup_blocks:
                return None
            w = np.asarray(ch.warm)
            sd = float(np.std(w, ddof=1)) if len(w) > 2 else 0.0
            rho = (
                float(np.corrcoef(w[:-1] - w.mean(), w[1:] - w.mean())[0, 1])
                if len(w) > 3 and sd > 0
                else 0.0
            )
            rho = min(max(rho if math.isfinite(rho) else 0.0, 0.0), 0.99)
            per_block = len(w) / len(ch.blocks)
            floor = 1e-6 * max(abs(self._predicted(ch)), 1.0)
            ch.scale = max(sd * math.sqrt((1 + rho) / (1 - rho) / max(per_block, 1.0)), floor)
            ch.warm = []
            for _, r, _, _ in ch.blocks:  # score the warm-up blocks too
                self._cusum(ch, r)
        else:
            self._cusum(ch, mean_r)
        score = max(ch.s_hi, ch.s_lo)
        if ch.pending is not None:
            ch.after += 1
            if ch.after >= self.confirm_blocks:
                t_alarm, s_alarm, direction = ch.pending
                ch.pending = None
                return self._attribute(col, ch, s_alarm, direction, t_alarm - self.block_s)
            return None
        if score > self.h and not ch.alarmed:
            ch.alarmed = True
            ch.pending = (float(ch.block_end or 0.0), score, "up" if ch.s_hi >= ch.s_lo else "down")
            ch.after = 0
            if self.confirm_blocks <= 0:
                ch.pending = None
                return self._attribute(
                    col,
                    ch,
                    score,
                    "up" if ch.s_hi >= ch.s_lo else "down",
                    float(ch.block_end or 0.0) - self.block_s,
                )
            return None
        if ch.alarmed and score == 0.0:
            ch.alarmed = False
        return None

    def _cusum(self, ch: _Channel, r: float) -> None:
        z = r / ch.scale  # type: ignore[operator]
        ch.s_hi = max(0.0, ch.s_hi + z - self.k)
        ch.s_lo = max(0.0, ch.s_lo - z - self.k)

    # -- attribution --------------------------------------------------------------------------
    def _candidates(self, ch: _Channel) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        node, state = ch.target
        pump = ch.pump
        if pump is not None:
            pnode = self.twin.node(pump)
            out += [(pump, p) for p in PUMP_PARAMS if p in pnode.parameters or self.twin.has_value(pump, p)]
            path = self.paths[pump]
            out += [(v, "opening") for v in path.suction_valves + path.discharge_valves]
            for tank in (path.suction_tank, path.discharge_tank):
                if tank is not None and (tank, "outflow_rate") not in out:
                    out.append((tank, "outflow_rate"))
        if state == "level" and (node, "outflow_rate") not in out:
            out.append((node, "outflow_rate"))
        return out

    def _related(self, ch: _Channel) -> list[_Channel]:
        if ch.pump is None:
            return [ch]
        return [c for c in self.channels.values() if c.pump == ch.pump and c.scale is not None and c.blocks]

    def _recent(self, c: _Channel, since: float) -> list[tuple]:
        """Blocks after ``since`` (the block before the alarm): at most ``window_blocks``, at least one."""
        blocks = [b for b in c.blocks if b[0] > since]
        return (blocks or list(c.blocks)[-1:])[-self.window_blocks :]

    def _sse(self, chans: list[_Channel], pred: dict[tuple[str, str], float], since: float) -> float:
        total = 0.0
        for c in chans:
            p = self._predicted(c, pred)
            for _, _, y, _ in self._recent(c, since):
                total += ((y - p) / c.scale) ** 2  # type: ignore[operator]
        return total

    def _attribute(self, col: str, ch: _Channel, score: float, direction: str, since: float) -> DriftAlert:
        chans = self._related(ch)
        base = self._sse(chans, self.pred, since)
        tried: list[dict[str, Any]] = []
        best: tuple[float, str, str, float] | None = None
        for node, param in self._candidates(ch):
            old = self.twin.get(node, param) if self.twin.has_value(node, param) else None
            if old is None:
                continue
            hi_bound = 1.0 if param == "opening" else (old * 5 if old > 0 else 1.0)
            lo_bound = 0.0 if param in ("opening", "outflow_rate") else old * 0.2

            def sse(value: float, node: str = node, param: str = param) -> float:
                twin = self.twin.copy_deep()
                twin.node(node).parameters[param] = _with_value(twin, node, param, value)
                try:
                    return self._sse(chans, predict_states(twin), since)
                except Exception:
                    return math.inf

            res = optimize.minimize_scalar(
                sse,
                bounds=(lo_bound, hi_bound),
                method="bounded",
                options={"xatol": 1e-4 * max(abs(old), 1e-3)},
            )
            tried.append({"node": node, "parameter": param, "value": float(res.x), "sse": float(res.fun)})
            if best is None or res.fun < best[0]:
                best = (float(res.fun), node, param, float(res.x))
        proposal = None
        explained = 0.0
        target = parameter = None
        if best is not None and base > 0 and best[0] < base:
            sse_best, target, parameter, value = best
            explained = 1.0 - sse_best / base
            p = self.twin.node(target).parameters.get(parameter)
            unit = (p.unit if p is not None and p.unit else self.twin.param_unit(target, parameter)) or ""
            from twinforge.spec import units

            cat = self.twin.param_unit(target, parameter)
            shown = units.convert(value, cat or None, unit or None) if cat and unit else value
            proposal = Estimate(
                node=target,
                parameter=parameter,
                unit=unit,
                method="least squares (drift refit)",
                new_value=shown,
                old=_show_param(p) if p is not None else None,
                old_mean=self.twin.get(target, parameter, unit or None),
                mean=shown,
                mean_se=math.nan,
                n=sum(len(self._recent(c, since)) for c in chans),
                gof={"explained": explained},
            )
        return DriftAlert(
            node=ch.key[0],
            signal=ch.key[1],
            observes=f"{ch.target[0]}.{ch.target[1]}",
            t=since + self.block_s,
            score=score,
            threshold=self.h,
            direction=direction,
            target=target,
            parameter=parameter,
            explained=explained,
            proposal=proposal,
            candidates=sorted(tried, key=lambda d: d["sse"]),
        )


def _with_value(twin: TwinSpec, node: str, param: str, value: float) -> Any:
    from twinforge.spec.models import Parameter

    unit = twin.param_unit(node, param) or None
    return Parameter(value=value, unit=unit)


# -- stations, from an event log ---------------------------------------------------------------------


def event_drift(
    twin: TwinSpec, log: pd.DataFrame, *, k: float = 0.5, h: float = 12.0, window: int = 200
) -> list[DriftAlert]:
    """Drift of station process times against the twin, from an event log: a CUSUM per station on
    the process times standardised by the twin's distribution (mean and std), and, when it alarms,
    a refit of ``process_time`` on the last ``window`` jobs as the proposed recalibration."""
    from twinforge.calibration.fit import calibrate_events, station_samples

    log = check_event_log(log, twin)
    alerts: list[DriftAlert] = []
    for node in pd.unique(log["node"]):
        n = twin.node(node)
        if n.kind != "station":
            continue
        speed = twin.get(node, "speed") if twin.has_value(node, "speed") else 1.0
        x = station_samples(log, node, speed).process_times
        p = n.parameters.get("process_time")
        if p is None or p.distribution is None or len(x) < 10:
            continue
        unit = p.unit or twin.param_unit(node, "process_time")
        from twinforge.spec import units

        f = units.conversion_factor(unit, "s")
        mean, std = p.distribution.mean() * f, p.distribution.std() * f
        if std <= 0:
            continue
        s_hi = s_lo = 0.0
        for i, xi in enumerate(x):
            z = (xi - mean) / std
            s_hi, s_lo = max(0.0, s_hi + z - k), max(0.0, s_lo - z - k)
            if max(s_hi, s_lo) > h:
                recent = log[log["node"] == node]
                finishes = np.flatnonzero((recent["event"] == "finish").to_numpy())
                cut = finishes[max(0, min(i + window, len(finishes) - 1) - window)] if len(finishes) else 0
                tail = recent.iloc[max(cut - 1, 0) :]
                tail = tail.iloc[int(np.argmax((tail["event"] == "start").to_numpy())) :]
                try:
                    est = calibrate_events(twin, tail, [node]).estimate(node, "process_time")
                except CalibrationError:
                    est = None
                alerts.append(
                    DriftAlert(
                        node=node,
                        signal="process_time",
                        observes=f"{node}.process_time",
                        t=float(i),
                        score=max(s_hi, s_lo),
                        threshold=h,
                        direction="up" if s_hi >= s_lo else "down",
                        target=node,
                        parameter="process_time",
                        explained=math.nan,
                        proposal=est,
                    )
                )
                break
    return alerts


__all__ = ["DriftAlert", "DriftMonitor", "event_drift", "predict_states"]
