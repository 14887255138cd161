"""Replay a production schedule under breakdowns and process-time noise.

A schedule (for instance from twinforge.optimize's CP-SAT scheduler) is a list of operations
``(station, job, planned start, planned duration)``. Replaying it asks: if the plan is executed as
written — each station works through its operations in planned order, an operation starts no
earlier than planned, not before the station finished its previous operation, and not before the
job's previous operation (by planned start) finished — when does each job really finish?

Randomness, per replication:
- the realised duration is the planned one times a log-normal factor with mean 1 and coefficient
  of variation ``duration_cv`` (0: exact);
- stations fail as in the twin (``mtbf`` in operating time, ``mttr``): an operation interrupted
  by a failure resumes after the repair. Stations without a failure model never fail.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from twinforge.sim.errors import SimulationError
from twinforge.sim.kernel import Kernel
from twinforge.sim.plan import distribution, parse_duration
from twinforge.sim.streams import Streams
from twinforge.spec.distributions import LogNormal
from twinforge.spec.models import TwinSpec

Seconds = Annotated[float, BeforeValidator(lambda v: parse_duration(v, "time")), Field(ge=0)]


class ScheduledOperation(BaseModel):
    """One operation of a schedule; times in seconds or as quantities ('2 h')."""

    model_config = ConfigDict(extra="forbid")

    station: str
    job: str
    start: Seconds
    duration: Seconds


@dataclass
class ScheduleReplay:
    operations: pd.DataFrame  # replication, station, job, planned_start, planned_end, start, end, delay
    jobs: pd.DataFrame  # per job: planned end, mean end, delay mean / p90, probability late
    makespan: pd.DataFrame  # per replication: makespan (h)
    planned_makespan: float  # h

    def summary(self) -> dict[str, float]:
        m = self.makespan["makespan_h"].to_numpy()
        return {
            "planned_makespan_h": self.planned_makespan,
            "makespan_mean_h": float(m.mean()),
            "makespan_p90_h": float(np.quantile(m, 0.9)),
            "on_time_share": float(np.mean(m <= self.planned_makespan + 1e-9)),
        }


class _Machine:
    def __init__(self, kernel: Kernel, name: str, ttf: Any, ttr: Any) -> None:
        self.kernel = kernel
        self.name = name
        self.ttf = ttf
        self.ttr = ttr
        self.left = next(ttf) if ttf is not None else math.inf
        self.busy = False


def _replay_one(
    ops: list[ScheduledOperation], twin: TwinSpec | None, seed: int, rep: int, cv: float, failures: bool
) -> list[tuple[float, float]]:
    kernel = Kernel()
    streams = Streams(seed, rep)
    machines: dict[str, _Machine] = {}
    for op in ops:
        if op.station in machines:
            continue
        ttf = ttr = None
        if failures and twin is not None:
            node = twin.node(op.station)
            mtbf = distribution(twin, node, "mtbf") if "mtbf" in node.parameters else None
            if mtbf is not None:
                mttr = distribution(twin, node, "mttr")
                if mttr is None:
                    raise SimulationError(f"station {op.station!r} has mtbf but no mttr")
                ttf = streams.sampler(mtbf, op.station, "mtbf")
                ttr = streams.sampler(mttr, op.station, "mttr")
        machines[op.station] = _Machine(kernel, op.station, ttf, ttr)
    noise = {}
    if cv > 0:
        factor = LogNormal(mean=1.0, std=cv)
        noise = {s: streams.sampler(factor, s, "duration_noise") for s in machines}
    order = sorted(range(len(ops)), key=lambda i: (ops[i].start, i))
    by_station: dict[str, list[int]] = defaultdict(list)
    by_job: dict[str, list[int]] = defaultdict(list)
    for i in order:
        by_station[ops[i].station].append(i)
        by_job[ops[i].job].append(i)
    prev_on_job = {}
    for seq in by_job.values():
        for a, b in itertools.pairwise(seq):
            prev_on_job[b] = a
    done = [False] * len(ops)
    out = [(math.nan, math.nan)] * len(ops)
    pointer = dict.fromkeys(by_station, 0)

    def try_start(station: str) -> None:
        m = machines[station]
        if m.busy or pointer[station] >= len(by_station[station]):
            return
        i = by_station[station][pointer[station]]
        if i in prev_on_job and not done[prev_on_job[i]]:
            return
        op = ops[i]
        if kernel.now < op.start:
            kernel.at(op.start, lambda _: try_start(station))
            return
        m.busy = True
        pointer[station] += 1
        work = op.duration * (next(noise[station]) if station in noise else 1.0)
        out[i] = (kernel.now, math.nan)
        run(station, i, work)

    def run(station: str, i: int, work: float) -> None:
        m = machines[station]
        if m.left > work:
            m.left -= work
            kernel.after(work, lambda _: finish(station, i))
        else:
            done_work = m.left
            m.left = 0.0

            def repaired(_: Any) -> None:
                m.left = next(m.ttf)
                run(station, i, work - done_work)

            kernel.after(done_work + next(m.ttr), repaired)

    def finish(station: str, i: int) -> None:
        machines[station].busy = False
        done[i] = True
        out[i] = (out[i][0], kernel.now)
        try_start(station)
        for s in machines:
            if s != station:
                try_start(s)

    for s in machines:
        kernel.at(0.0, lambda _, s=s: try_start(s))
    kernel.run()
    if not all(done):
        stuck = [f"{ops[i].station}/{ops[i].job}" for i in range(len(ops)) if not done[i]]
        raise SimulationError(
            "the schedule cannot be executed in planned order (a job's operations wait on each other "
            f"across stations): {', '.join(stuck[:5])}"
        )
    return out


def replay_schedule(
    twin: TwinSpec | None,
    schedule: Sequence[ScheduledOperation | Mapping | tuple],
    *,
    reps: int = 100,
    seed: int = 0,
    duration_cv: float = 0.1,
    failures: bool = True,
    late_tolerance: float | str = 0.0,
) -> ScheduleReplay:
    """Replay ``schedule`` ``reps`` times; see the module docstring for the rules.

    ``schedule`` items are :class:`ScheduledOperation`, mappings with its fields, or tuples
    ``(station, job, planned_start, duration)``. A job is late when it ends more than
    ``late_tolerance`` after its planned end."""
    ops: list[ScheduledOperation] = []
    for k, item in enumerate(schedule):
        try:
            if isinstance(item, ScheduledOperation):
                ops.append(item)
            elif isinstance(item, tuple | list):
                station, job, start, duration = item
                ops.append(ScheduledOperation(station=station, job=str(job), start=start, duration=duration))
            else:
                ops.append(ScheduledOperation.model_validate(item))
        except Exception as exc:
            raise SimulationError(f"schedule[{k}]: {exc}") from None
    if not ops:
        raise SimulationError("the schedule is empty")
    if reps < 1:
        raise SimulationError("reps must be >= 1")
    if duration_cv < 0:
        raise SimulationError("duration_cv must be >= 0")
    if twin is not None:
        for k, op in enumerate(ops):
            node = twin.node(op.station)  # raises with a suggestion
            if node.kind != "station":
                raise SimulationError(f"schedule[{k}]: {op.station!r} is a {node.kind}, not a station")
    tol = parse_duration(late_tolerance, "late_tolerance")
    rows = []
    for r in range(reps):
        for op, (start, end) in zip(ops, _replay_one(ops, twin, seed, r, duration_cv, failures), strict=True):
            rows.append((r, op.station, op.job, op.start, op.start + op.duration, start, end))
    df = pd.DataFrame(
        rows, columns=["replication", "station", "job", "planned_start", "planned_end", "start", "end"]
    )
    df["delay"] = df["end"] - df["planned_end"]
    jobs_end = df.groupby(["replication", "job"], sort=False).agg(
        end=("end", "max"), planned_end=("planned_end", "max")
    )
    jobs = (
        jobs_end.assign(delay=jobs_end["end"] - jobs_end["planned_end"])
        .groupby("job", sort=False)
        .agg(
            planned_end_h=("planned_end", lambda x: x.iloc[0] / 3600),
            end_mean_h=("end", lambda x: x.mean() / 3600),
            delay_mean_h=("delay", lambda x: x.mean() / 3600),
            delay_p90_h=("delay", lambda x: np.quantile(x, 0.9) / 3600),
            late_probability=("delay", lambda x: float(np.mean(x > tol + 1e-9))),
        )
        .reset_index()
    )
    makespan = df.groupby("replication")["end"].max().rename("makespan_h").div(3600).reset_index()
    planned = max(op.start + op.duration for op in ops) / 3600
    return ScheduleReplay(df, jobs, makespan, planned)
