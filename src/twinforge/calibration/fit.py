"""Station parameters from an event log: process times, failures and repairs.

From the events of one station (see :mod:`twinforge.calibration.events`) come three samples:

- **process times** (``process_time``, seconds): for each job, ``finish - start`` minus the time the
  station was down in between, times the station's ``speed`` (a job takes ``process_time / speed``);
- **times to failure** (``mtbf``, operating hours): the station's busy time from a repair (or the
  start of the log) to the next failure, as the simulator's failure clock counts it; the time from
  the last repair to the end of the log is a right-censored value. With ``mcbf`` instead, the
  number of jobs finished in the same spans (cycles);
- **repair times** (``mttr``): from a failure's ``down`` to its ``up``. Outages (reason
  ``outage``) neither renew the failure clock nor count as repairs.

Process times need one server (a job's start and finish are paired in order); a station with
more servers and a log without job ids is refused with a clear error. Each sample is fitted by
maximum likelihood in every smooth catalogue family, plus uniform or triangular where the twin
already uses one (:func:`candidate_families`; :mod:`twinforge.calibration.distributions`); the
family with the lowest AIC is proposed, with its KS statistic and p-value, the AIC of the others,
and standard errors of its parameters and of its mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twinforge.calibration.distributions import SMOOTH, FamilyFit, fit_best, fit_moments
from twinforge.calibration.events import CalibrationError, check_event_log
from twinforge.calibration.result import CalibrationResult, Estimate
from twinforge.errors import did_you_mean
from twinforge.spec import units
from twinforge.spec.diff import _show_param
from twinforge.spec.models import TwinSpec

#: fewest values a distribution is fitted on
MIN_SAMPLES = 5
_SCALE_LIKE = {"mean", "std", "scale", "low", "mode", "high"}


@dataclass
class StationSamples:
    """What one station's events say (times in seconds)."""

    node: str
    process_times: np.ndarray
    ttf: np.ndarray  # operating seconds to each failure
    ttf_censored: np.ndarray
    cycles: np.ndarray  # jobs finished to each failure
    cycles_censored: np.ndarray
    ttr: np.ndarray
    span: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


def station_samples(log: pd.DataFrame, node: str, speed: float = 1.0) -> StationSamples:
    """The three samples of one station from a checked log (see the module docstring)."""
    rows = log[log["node"] == node]
    if rows.empty:
        nodes = sorted(pd.unique(log["node"]))
        raise CalibrationError(
            f"event log has no events of node {node!r}{did_you_mean(node, nodes)}; nodes in the log: {', '.join(nodes)}"
        )
    pts: list[float] = []
    ttf: list[float] = []
    cyc: list[float] = []
    ttr: list[float] = []
    down = False
    down_since = 0.0
    down_reason = "failure"
    job_start: float | None = None
    job_down = 0.0
    op = 0.0  # busy seconds since the last renewal
    busy_since: float | None = None
    cycles = 0
    failed = False  # between a failure and its repair
    t = float(rows["t"].iloc[0])
    for idx, ev, t, reason in zip(
        rows.index, rows["event"], rows["t"].to_numpy(float), rows["reason"], strict=True
    ):
        if ev == "start":
            if job_start is not None:
                raise CalibrationError(
                    f"event log row {idx + 1}: node {node!r} starts a job at {t:g} s while the job started at "
                    f"{job_start:g} s has not finished; process times need one server (or one log per server)"
                )
            if down:
                raise CalibrationError(
                    f"event log row {idx + 1}: node {node!r} starts a job while it is down"
                )
            job_start, job_down = t, 0.0
            busy_since = t
        elif ev == "finish":
            if job_start is None:
                continue  # a job that started before the log did: its length is unknown
            pts.append((t - job_start - job_down) * speed)
            if busy_since is not None:
                op += t - busy_since
            busy_since = None
            job_start = None
            if not failed:
                cycles += 1
        elif ev == "down":
            if down:
                continue  # nested stop: the first one counts
            down, down_since, down_reason = True, t, reason or "failure"
            if job_start is not None and busy_since is not None:
                op += t - busy_since
                busy_since = None
            if down_reason == "failure":
                ttf.append(op)
                cyc.append(float(cycles))
                failed = True
        elif ev == "up":
            if not down:
                continue
            down = False
            if job_start is not None:
                job_down += t - down_since
                busy_since = t
            if down_reason == "failure":
                ttr.append(t - down_since)
                op, cycles, failed = 0.0, 0, False
    if not failed:
        if busy_since is not None:
            op += t - busy_since
        ttf_c, cyc_c = np.array([op]), np.array([float(cycles)])
    else:
        ttf_c, cyc_c = np.zeros(0), np.zeros(0)
    return StationSamples(
        node=node,
        process_times=np.asarray(pts, dtype=float),
        ttf=np.asarray(ttf, dtype=float),
        ttf_censored=ttf_c[ttf_c > 0],
        cycles=np.asarray(cyc, dtype=float),
        cycles_censored=cyc_c[cyc_c > 0],
        ttr=np.asarray(ttr, dtype=float),
        span=(float(rows["t"].iloc[0]), t),
    )


def _stored_unit(twin: TwinSpec, node: str, name: str) -> str:
    p = twin.node(node).parameters.get(name)
    if p is not None and p.unit:
        return p.unit
    return twin.param_unit(node, name)


def _old(twin: TwinSpec, node: str, name: str, unit: str) -> tuple[str | None, float | None]:
    p = twin.node(node).parameters.get(name)
    text = _show_param(p) if p is not None else None
    mean = twin.get(node, name, unit) if twin.has_value(node, name) else None
    return text, mean


def _estimate_from_fit(
    twin: TwinSpec, node: str, name: str, data_unit: str, best: FamilyFit, fits: list[FamilyFit]
) -> Estimate:
    unit = _stored_unit(twin, node, name)
    f = units.conversion_factor(data_unit, unit)
    old, old_mean = _old(twin, node, name, unit)
    scale = np.array([f if k in _SCALE_LIKE else 1.0 for k in best.params])
    cov = best.cov * np.outer(scale, scale)
    return Estimate(
        node=node,
        parameter=name,
        unit=unit,
        method="mle",
        new_distribution=best.distribution(f),
        old=old,
        old_mean=old_mean,
        mean=best.mean * f,
        mean_se=best.mean_se * f,
        std=best.std * f,
        std_se=best.std_se * f,
        params={k: v * (f if k in _SCALE_LIKE else 1.0) for k, v in best.params.items()},
        params_se={k: v * (f if k in _SCALE_LIKE else 1.0) for k, v in best.se.items()},
        cov=cov,
        n=best.n + best.n_censored,
        gof={
            "family": best.family,
            "ks_stat": best.ks_stat,
            "ks_p": best.ks_p,
            "aic": best.aic,
            **({"censored": best.n_censored} if best.n_censored else {}),
        },
        candidates=[{"family": c.family, "aic": c.aic, "ks_stat": c.ks_stat, "ks_p": c.ks_p} for c in fits],
        note=best.note,
    )


def _moment_estimate(twin: TwinSpec, node: str, name: str, data_unit: str, x: np.ndarray) -> Estimate:
    """The baseline: the twin's own family, matched to the sample mean and std."""
    unit = _stored_unit(twin, node, name)
    f = units.conversion_factor(data_unit, unit)
    p = twin.node(node).parameters.get(name)
    family = p.distribution.type if p is not None and p.distribution is not None else "lognormal"
    if family in ("constant", "empirical"):
        family = "lognormal"
    d = fit_moments(family, x).scaled(f)
    old, old_mean = _old(twin, node, name, unit)
    n = len(x)
    return Estimate(
        node=node,
        parameter=name,
        unit=unit,
        method="moments",
        new_distribution=d,
        old=old,
        old_mean=old_mean,
        mean=d.mean(),
        mean_se=d.std() / math.sqrt(max(n, 1)),
        std=d.std(),
        n=n,
        gof={"family": family},
    )


def candidate_families(twin: TwinSpec, node: str, name: str) -> tuple[str, ...]:
    """The families tried for a parameter: every smooth family, and uniform or triangular only
    when the twin already uses it there. Their likelihood grows without bound as the support shrinks
    onto the data, so AIC favours them on small samples (a lognormal repair time fitted as a
    uniform on 50 values, seen in the benchmark): a bounded support is taken from the twin, not
    from the data."""
    p = twin.node(node).parameters.get(name)
    current = p.distribution.type if p is not None and p.distribution is not None else None
    return SMOOTH + ((current,) if current in ("uniform", "triangular") else ())


def calibrate_events(
    twin: TwinSpec,
    log: pd.DataFrame,
    nodes: list[str] | None = None,
    *,
    families: tuple[str, ...] | None = None,
    method: str = "mle",
) -> CalibrationResult:
    """Estimates of ``process_time``, ``mtbf`` (or ``mcbf``) and ``mttr`` of every station in the log
    (or of ``nodes``) by maximum likelihood (``method="moments"``: the moment-matching baseline)."""
    log = check_event_log(log, twin)
    in_log = list(pd.unique(log["node"]))
    targets = nodes if nodes is not None else in_log
    estimates: list[Estimate] = []
    notes: list[str] = []
    for node in targets:
        n = twin.node(node)  # unknown node: UnknownEntityError with a suggestion
        if n.kind != "station":
            raise CalibrationError(
                f"node {node!r} is a {n.kind}; event logs calibrate stations (process, failure and repair times)"
            )
        speed = twin.get(node, "speed") if twin.has_value(node, "speed") else 1.0
        servers = int(twin.get(node, "servers")) if twin.has_value(node, "servers") else 1
        if servers != 1:
            raise CalibrationError(
                f"node {node!r} has {servers} servers; process times from an event log need one server"
            )
        s = station_samples(log, node, speed)
        wanted: list[tuple[str, np.ndarray, np.ndarray, str]] = [
            ("process_time", s.process_times, np.zeros(0), "s")
        ]
        params = n.parameters
        if "mcbf" in params and "mtbf" not in params:
            wanted.append(("mcbf", s.cycles, s.cycles_censored, "cycle"))
        elif "mtbf" in params:
            wanted.append(("mtbf", s.ttf, s.ttf_censored, "s"))
        if "mttr" in params:
            wanted.append(("mttr", s.ttr, np.zeros(0), "s"))
        for name, x, cens, data_unit in wanted:
            x = x[np.isfinite(x)]
            if len(x) < MIN_SAMPLES:
                notes.append(f"{node}.{name}: {len(x)} values in the log (need {MIN_SAMPLES}); not estimated")
                continue
            if method == "moments":
                estimates.append(_moment_estimate(twin, node, name, data_unit, x))
                continue
            try:
                best, fits = fit_best(x, cens, families or candidate_families(twin, node, name))
            except ValueError as exc:
                notes.append(f"{node}.{name}: {exc}")
                continue
            estimates.append(_estimate_from_fit(twin, node, name, data_unit, best, fits))
    if not estimates:
        raise CalibrationError(
            "nothing to estimate: " + ("; ".join(notes) if notes else "the log has no usable station events")
        )
    return CalibrationResult(twin, estimates, notes)


__all__ = ["MIN_SAMPLES", "StationSamples", "calibrate_events", "station_samples"]
