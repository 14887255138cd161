"""Monte Carlo: replications, confidence intervals, scenario comparison with common random numbers.

Replication ``r`` of a run with seed ``s`` draws every random number from streams keyed by
``(s, r, node, purpose)`` (see :mod:`twinforge.sim.streams`), so its results do not depend on which
worker ran it: the same seed gives identical tables on one core, on a process pool or on Ray. A
baseline and a scenario run with the same seed share their streams — common random numbers — and
their difference is estimated from the paired replications.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from twinforge.scenario import AppliedScenario, Scenario
from twinforge.sim.errors import SimulationError
from twinforge.sim.expressions import check_kpi_names, series_names
from twinforge.sim.model import ReplicationResult, RunOptions, run_replication
from twinforge.sim.plan import ModelPlan, compile_twin, parse_duration
from twinforge.spec.models import TwinSpec

BACKENDS = ("local", "ray")
#: Built-in KPI names a user KPI may not take.
RESERVED_KPIS = frozenset({"throughput", "wip", "cycle_time", "output"})
KPI_COLUMNS = ["replication", "kpi", "node", "metric", "value", "unit"]


# -- statistics ------------------------------------------------------------------------------------


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std, low, high) of a t confidence interval for the mean."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return (mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return (mean, std, mean - half, mean + half)


def summarise(kpis: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per KPI: mean, std, t confidence interval, n (replications with a value)."""
    rows = []
    for (kpi, node, metric, unit), group in kpis.groupby(["kpi", "node", "metric", "unit"], sort=False):
        mean, std, lo, hi = t_interval(group["value"].to_numpy(), confidence)
        rows.append(
            {
                "kpi": kpi,
                "node": node,
                "metric": metric,
                "unit": unit,
                "mean": mean,
                "std": std,
                "ci_low": lo,
                "ci_high": hi,
                "n": int(group["value"].notna().sum()),
            }
        )
    return pd.DataFrame(rows)


# -- results ---------------------------------------------------------------------------------------


@dataclass
class MonteCarloResult:
    """KPIs of every replication (tidy), optional series / telemetry / event times, and run facts."""

    kpis: pd.DataFrame
    series: pd.DataFrame | None = None  # replication, series, t, value (change points)
    telemetry: pd.DataFrame | None = None  # replication, node, signal, t, value
    events: pd.DataFrame | None = None  # replication, event, time_h (NaN: did not happen)
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        return summarise(self.kpis, confidence)

    def values(self, kpi: str) -> np.ndarray:
        """Values of one KPI by replication."""
        sel = self.kpis[self.kpis["kpi"] == kpi]
        if sel.empty:
            known = sorted(self.kpis["kpi"].unique())
            raise SimulationError(
                f"no KPI {kpi!r}; known: {', '.join(known[:30])}{' ...' if len(known) > 30 else ''}"
            )
        return sel.sort_values("replication")["value"].to_numpy(dtype=float)

    def kpi(self, kpi: str, confidence: float = 0.95) -> dict[str, float]:
        mean, std, lo, hi = t_interval(self.values(kpi), confidence)
        return {"mean": mean, "std": std, "ci_low": lo, "ci_high": hi}


@dataclass
class Comparison:
    """Baseline vs scenario over the same replications (common random numbers)."""

    baseline: MonteCarloResult
    scenario: MonteCarloResult
    paired: pd.DataFrame  # one row per KPI

    def row(self, kpi: str) -> dict[str, Any]:
        sel = self.paired[self.paired["kpi"] == kpi]
        if sel.empty:
            raise SimulationError(f"no KPI {kpi!r} in the comparison")
        return sel.iloc[0].to_dict()


def paired_comparison(base: pd.DataFrame, scen: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Paired differences scenario - baseline per KPI, with the variance reduction of common random
    numbers: ``(var(base) + var(scenario)) / var(difference)``, the factor by which pairing shrinks
    the variance of the estimated difference compared with independent runs of the same size."""
    keys = ["replication", "kpi", "node", "metric", "unit"]
    merged = base[[*keys, "value"]].merge(scen[[*keys, "value"]], on=keys, suffixes=("_base", "_scen"))
    rows = []
    for (kpi, node, metric, unit), g in merged.groupby(["kpi", "node", "metric", "unit"], sort=False):
        b = g["value_base"].to_numpy(dtype=float)
        s = g["value_scen"].to_numpy(dtype=float)
        ok = ~(np.isnan(b) | np.isnan(s))
        b, s = b[ok], s[ok]
        d = s - b
        mean_d, std_d, lo, hi = t_interval(d, confidence)
        n = len(d)
        var_ind = float(np.var(b, ddof=1) + np.var(s, ddof=1)) if n > 1 else math.nan
        var_d = float(np.var(d, ddof=1)) if n > 1 else math.nan
        if n > 1 and var_d > 0:
            reduction = var_ind / var_d
        elif n > 1 and var_ind > 0:
            reduction = math.inf
        else:
            reduction = math.nan
        mean_b = float(b.mean()) if n else math.nan
        rows.append(
            {
                "kpi": kpi,
                "node": node,
                "metric": metric,
                "unit": unit,
                "baseline": mean_b,
                "scenario": float(s.mean()) if n else math.nan,
                "difference": mean_d,
                "ci_low": lo,
                "ci_high": hi,
                "std_difference": std_d,
                "relative_change": mean_d / mean_b if n and mean_b not in (0.0,) else math.nan,
                "variance_reduction": reduction,
                "n": n,
            }
        )
    return pd.DataFrame(rows)


# -- work units ------------------------------------------------------------------------------------


@dataclass
class Task:
    """What a worker needs: plans (baseline and optional scenario), seed, options, replications."""

    plans: list[ModelPlan]
    seed: int
    options: RunOptions
    keep_detail: int  # replications below this index return series / telemetry


def _run_chunk(task: Task, replications: list[int]) -> list[tuple[int, int, ReplicationResult]]:
    out = []
    for r in replications:
        for p, plan in enumerate(task.plans):
            opts = task.options
            if r >= task.keep_detail and opts.telemetry:
                opts = RunOptions(**{**opts.__dict__, "telemetry": False})
            res = run_replication(plan, task.seed, r, opts)
            if r >= task.keep_detail:
                res.series = {}
                res.telemetry = None
            out.append((p, r, res))
    return out


def _chunks(reps: int, workers: int, fine: bool = False) -> list[list[int]]:
    """Replications split into chunks; ``fine`` (a progress callback listens) keeps chunks small
    so progress moves and a cancel stops soon. Results do not depend on the chunking."""
    if reps <= 0:
        return []
    size = max(1, min(5 if fine else 50, math.ceil(reps / (workers * 8))))
    return [list(range(i, min(i + size, reps))) for i in range(0, reps, size)]


#: progress: a terminal bar (True), nothing (False), or ``callback(done, total)`` after each chunk of
#: replications; a callback that raises stops the run there (how a served job is cancelled).
Progress = bool | Callable[[int, int], None]


class _Progress:
    def __init__(self, enabled: Progress, total: int, label: str) -> None:
        self.enabled = bool(enabled)
        self.progress = None
        self.callback = enabled if callable(enabled) else None
        self.total, self.done = total, 0
        if enabled is True:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(label, total=total)

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress.advance(self.task, n)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _execute(
    task: Task, reps: int, backend: str, workers: int, progress: Progress, label: str
) -> list[tuple[int, int, ReplicationResult]]:
    if backend not in BACKENDS:
        raise SimulationError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if workers < 1:
        raise SimulationError(f"workers must be >= 1, found {workers}")
    chunks = _chunks(reps, workers, fine=callable(progress))
    bar = _Progress(progress, reps, label)
    results: list[tuple[int, int, ReplicationResult]] = []
    try:
        if backend == "ray":
            results = _execute_ray(task, chunks, workers, bar)
        elif workers == 1 or len(chunks) == 1:
            for chunk in chunks:
                results += _run_chunk(task, chunk)
                bar.advance(len(chunk))
        else:
            results = _execute_pool(task, chunks, workers, bar)
    finally:
        bar.close()
    results.sort(key=lambda x: (x[0], x[1]))
    return results


def _execute_pool(task: Task, chunks: list[list[int]], workers: int, bar: _Progress) -> list:
    import multiprocessing as mp
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork is fastest and needs no `if __name__ == "__main__"` guard in scripts, but is unsafe once
    # other threads exist (e.g. after ray.init()); then a fork server is used.
    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        ctx = mp.get_context("fork")
    else:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["twinforge.sim"])
    results: list = []
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx) as pool:
        futures = {pool.submit(_run_chunk, task, chunk): len(chunk) for chunk in chunks}
        for fut in as_completed(futures):
            results += fut.result()
            bar.advance(futures[fut])
    return results


def _execute_ray(task: Task, chunks: list[list[int]], workers: int, bar: _Progress) -> list:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency
        raise SimulationError("the ray backend needs the 'ray' package") from exc
    if not ray.is_initialized():
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            configure_logging=False,
        )
    remote = ray.remote(num_cpus=1)(_run_chunk)
    task_ref = ray.put(task)
    queue = list(chunks)
    pending: dict[Any, int] = {}
    results: list = []
    while queue or pending:
        while queue and len(pending) < workers:
            chunk = queue.pop(0)
            pending[remote.remote(task_ref, chunk)] = len(chunk)
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            results += ray.get(ref)
            bar.advance(pending.pop(ref))
    return results


# -- entry points ----------------------------------------------------------------------------------


def _plan(twin: TwinSpec | ModelPlan, scenario: AppliedScenario | Scenario | None = None) -> ModelPlan:
    if isinstance(twin, ModelPlan):
        if scenario is not None:
            raise SimulationError("pass a TwinSpec (not a compiled plan) together with a scenario")
        return twin
    if not isinstance(twin, TwinSpec):
        raise SimulationError(f"expected a TwinSpec or a ModelPlan, found {type(twin).__name__}")
    return compile_twin(twin, scenario)


def _options(
    plan: ModelPlan,
    horizon: float,
    warmup: float,
    kpis: Mapping[str, str] | None,
    record: Iterable[str],
    telemetry: bool,
    state: Mapping[str, Mapping[str, Any]] | None,
    events: Sequence[Any] | None,
    day_elapsed: float,
) -> RunOptions:
    record = tuple(record)
    user = dict(kpis or {})
    needed = list(dict.fromkeys(record))
    if user:
        check_kpi_names(user, reserved=RESERVED_KPIS)
        for text in user.values():
            for name in sorted(series_names(text)):
                if name == "wip" or "." in name:
                    if name not in needed:
                        needed.append(name)
    return RunOptions(
        horizon=horizon,
        warmup=warmup,
        record=tuple(needed),
        returned=tuple(dict.fromkeys(record)),
        telemetry=telemetry,
        kpis=user,
        state=state,
        day_offset=day_elapsed,
        events=list(events or []),
        stop_when_all_events=bool(events),
    )


def _assemble(results: list[tuple[int, int, ReplicationResult]], which: int, meta: dict) -> MonteCarloResult:
    rows: list[tuple] = []
    series_parts = []
    tele_parts = []
    event_rows = []
    events = 0
    reps = 0
    why: dict[str, dict[str, int]] = {}  # user KPI -> reason -> replications
    for p, r, res in results:
        if p != which:
            continue
        reps += 1
        events += res.sim_events
        for name, reason in res.kpi_notes.items():
            why.setdefault(name, {}).setdefault(reason, 0)
            why[name][reason] += 1
        rows.extend((r, *row) for row in res.kpis)
        for name, s in res.series.items():
            t, v = s.steps()
            series_parts.append(pd.DataFrame({"replication": r, "series": name, "t": t, "value": v}))
        if res.telemetry is not None:
            tele_parts.append(res.telemetry.assign(replication=r))
        for name, t in res.events.items():
            event_rows.append((r, name, t / 3600.0))
    kpis = pd.DataFrame(rows, columns=KPI_COLUMNS)
    series = pd.concat(series_parts, ignore_index=True) if series_parts else None
    telemetry = None
    if tele_parts:
        telemetry = pd.concat(tele_parts, ignore_index=True)[["replication", "node", "signal", "t", "value"]]
    ev = pd.DataFrame(event_rows, columns=["replication", "event", "time_h"]) if event_rows else None
    notes = {
        name: "; ".join(f"{reason} ({n} of {reps} replications)" for reason, n in reasons.items())
        for name, reasons in why.items()
    }
    return MonteCarloResult(
        kpis=kpis,
        series=series,
        telemetry=telemetry,
        events=ev,
        meta={**meta, "sim_events": events, "kpi_notes": notes},
    )


def run_replications(
    twin: TwinSpec | ModelPlan,
    *,
    reps: int = 10,
    horizon: float | str = "1 week",
    seed: int = 0,
    scenario: AppliedScenario | Scenario | None = None,
    warmup: float | str = 0.0,
    kpis: Mapping[str, str] | None = None,
    record: Iterable[str] = (),
    telemetry: bool = False,
    detail_reps: int = 1,
    state: Mapping[str, Mapping[str, Any]] | None = None,
    events: Sequence[Any] | None = None,
    day_elapsed: float | str = 0.0,
    backend: str = "local",
    workers: int = 1,
    progress: Progress = False,
) -> MonteCarloResult:
    """Run ``reps`` independent replications of ``horizon`` and collect KPIs.

    ``warmup`` is discarded from the statistics; ``kpis`` adds user KPIs (name: expression);
    ``record`` names series to return (``"node.state"`` or ``"wip"``) and ``telemetry`` asks for
    sampled sensor data — both only for the first ``detail_reps`` replications (telemetry is off by
    default: it costs time). ``state`` starts every replication from a given state. ``backend``
    ``"local"`` uses a process pool of ``workers`` processes (in this process when 1); ``"ray"``
    submits to a Ray cluster (``ray.init()`` first to choose one; a local one is started
    otherwise). The same ``seed`` gives identical results with any backend and worker count."""
    if reps < 1:
        raise SimulationError(f"reps must be >= 1, found {reps}")
    h = parse_duration(horizon, "horizon")
    w = parse_duration(warmup, "warm-up")
    if h <= 0:
        raise SimulationError("horizon must be positive")
    plan = _plan(twin, scenario)
    options = _options(
        plan, h, w, kpis, record, telemetry, state, events, parse_duration(day_elapsed, "day_elapsed")
    )
    task = Task([plan], int(seed), options, keep_detail=detail_reps)
    started = time.perf_counter()
    results = _execute(task, reps, backend, workers, progress, f"simulating {plan.twin}")
    meta = _meta(plan, reps, seed, h, w, backend, workers, time.perf_counter() - started)
    return _assemble(results, 0, meta)


def compare_scenario(
    twin: TwinSpec,
    scenario: AppliedScenario | Scenario,
    *,
    reps: int = 10,
    horizon: float | str = "1 week",
    seed: int = 0,
    warmup: float | str = 0.0,
    kpis: Mapping[str, str] | None = None,
    state: Mapping[str, Mapping[str, Any]] | None = None,
    backend: str = "local",
    workers: int = 1,
    confidence: float = 0.95,
    progress: Progress = False,
) -> Comparison:
    """Baseline and scenario over the same ``reps`` replications with common random numbers;
    :attr:`Comparison.paired` holds mean difference, its CI and the variance reduction."""
    if reps < 2:
        raise SimulationError("a paired comparison needs at least 2 replications")
    h = parse_duration(horizon, "horizon")
    w = parse_duration(warmup, "warm-up")
    base_plan = _plan(twin)
    scen_plan = _plan(twin, scenario)
    options = _options(base_plan, h, w, kpis, (), False, state, None, 0.0)
    task = Task([base_plan, scen_plan], int(seed), options, keep_detail=0)
    started = time.perf_counter()
    results = _execute(task, reps, backend, workers, progress, f"comparing {scen_plan.scenario}")
    meta = _meta(base_plan, reps, seed, h, w, backend, workers, time.perf_counter() - started)
    base = _assemble(results, 0, meta)
    scen = _assemble(results, 1, {**meta, "scenario": scen_plan.scenario})
    return Comparison(base, scen, paired_comparison(base.kpis, scen.kpis, confidence))


def _meta(
    plan: ModelPlan, reps: int, seed: int, h: float, w: float, backend: str, workers: int, wall: float
) -> dict:
    return {
        "twin": plan.twin,
        "scenario": plan.scenario,
        "reps": reps,
        "seed": seed,
        "horizon_s": h,
        "warmup_s": w,
        "backend": backend,
        "workers": workers,
        "wall_s": wall,
        "cpus": os.cpu_count(),
    }


def simulate(
    twin: TwinSpec | ModelPlan,
    *,
    horizon: float | str = "1 day",
    seed: int = 0,
    replication: int = 0,
    scenario: AppliedScenario | Scenario | None = None,
    warmup: float | str = 0.0,
    kpis: Mapping[str, str] | None = None,
    record: Iterable[str] = (),
    telemetry: bool = False,
    state: Mapping[str, Mapping[str, Any]] | None = None,
) -> MonteCarloResult:
    """One replication, with series and telemetry when asked (a thin wrapper of
    :func:`run_replications` for exploring a twin)."""
    h = parse_duration(horizon, "horizon")
    w = parse_duration(warmup, "warm-up")
    plan = _plan(twin, scenario)
    options = _options(plan, h, w, kpis, record, telemetry, state, None, 0.0)
    started = time.perf_counter()
    res = run_replication(plan, int(seed), replication, options)
    meta = _meta(plan, 1, seed, h, w, "local", 1, time.perf_counter() - started)
    return _assemble([(0, replication, res)], 0, meta)
