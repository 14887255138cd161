"""Production scheduling: job-shop and flow-shop scheduling of jobs on stations with OR-Tools CP-SAT.

A :class:`Job` is a sequence of :class:`Operation` s, each on one station for a duration. The
solver (:func:`solve_schedule`) places every operation so that

- the operations of a job run in their order (or overlap under lot streaming, see below),
- each station runs one operation at a time, with a changeover (``setup``) between operations of
  different products,
- no job starts before its release time,

and minimises the makespan or the total weighted tardiness against due dates. It reports the
proven lower bound and the gap, so a user knows how far from optimal a time-limited plan can be.

Lot streaming: a job with ``transfer_batch = q`` moves between stations in batches of ``q`` items
(each operation then carries its ``items``), so the next station starts as soon as the first batch
is done instead of waiting for the whole job; this is how orders flow through a production line.

:func:`dispatch_schedule` builds schedules with priority dispatching rules (SPT, MWKR, EDD, ...),
a baseline and the default warm start of the solver. :func:`check_schedule` verifies any schedule
independently of the solver. :func:`planned_operations` and :func:`replay` are the hook for
simulation: a simulator replays the plan's per-station sequences under breakdowns and noisy
process times (see ``docs/optimize.md``).

Times are plain numbers in the unit the jobs use (``time_unit`` is a label carried along). CP-SAT
works on integers: times that are multiples of 0.001 units are exact, others are rounded up to the
next 0.001.
"""

from __future__ import annotations

import graphlib
import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twinforge.errors import TwinforgeError

Objective = Literal["makespan", "tardiness"]
ShopKind = Literal["job", "flow", "permutation"]
OBJECTIVES: tuple[str, ...] = ("makespan", "tardiness")
SHOP_KINDS: tuple[str, ...] = ("job", "flow", "permutation")
#: Priority dispatching rules of :func:`dispatch_schedule`.
DISPATCH_RULES: tuple[str, ...] = ("SPT", "LPT", "MWKR", "LWKR", "MOR", "EDD", "MDD", "FIFO")

_MAX_DECIMALS = 3  # times are exact up to 0.001 time units


class ScheduleError(TwinforgeError):
    """Scheduling input that cannot be scheduled, or a solve that found no schedule."""


# -- input model ---------------------------------------------------------------------------------


class Operation(BaseModel):
    """One step of a job: ``duration`` time units on ``station`` (optionally for a ``product``).

    Shorthand on input: ``[station, duration]`` or ``[station, duration, product]``.
    """

    model_config = ConfigDict(extra="forbid")

    station: str = Field(min_length=1)
    duration: float = Field(ge=0, allow_inf_nan=False)
    product: str | None = None
    setup: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="Changeover time needed on the station before this operation when the previous "
        "operation there was of another product",
    )
    items: int | None = Field(
        default=None, ge=1, description="Items processed (needed for lot streaming, see Job.transfer_batch)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if not 2 <= len(data) <= 3:
                raise ValueError("an operation is [station, duration] or [station, duration, product]")
            out: dict[str, Any] = {"station": data[0], "duration": data[1]}
            if len(data) == 3:
                out["product"] = data[2]
            return out
        return data


class Job(BaseModel):
    """A job (order): operations in route order, release time, due date and tardiness weight."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    operations: list[Operation] = Field(min_length=1)
    release: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    due: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    transfer_batch: int | None = Field(
        default=None,
        ge=1,
        description="Items moved between stations at once (lot streaming); None moves the whole job",
    )

    @model_validator(mode="after")
    def _items_for_streaming(self) -> Job:
        if self.transfer_batch is not None:
            missing = [i for i, op in enumerate(self.operations) if op.items is None]
            if missing:
                raise ValueError(
                    f"transfer_batch needs 'items' on every operation; missing on operation(s) {missing}"
                )
        return self

    @property
    def total_work(self) -> float:
        return sum(op.duration for op in self.operations)


# -- result model --------------------------------------------------------------------------------


class ScheduledOperation(BaseModel):
    """An operation placed in time: job, position in the job's route, station, start and end.

    The station is busy with the operation from ``start`` to ``end``. ``work`` is the processing
    time inside that interval; under lot streaming the interval can be longer than the work, when
    the station processes the job's items at the pace they arrive from upstream.
    """

    job: str
    index: int
    station: str
    start: float
    end: float
    work: float | None = None  # None: end - start
    setup: float = 0.0  # changeover done on the station just before ``start``
    product: str | None = None

    @property
    def duration(self) -> float:
        """Time the station is occupied (end - start)."""
        return self.end - self.start

    @property
    def processing(self) -> float:
        return self.work if self.work is not None else self.end - self.start


class JobOutcome(BaseModel):
    job: str
    release: float
    due: float | None
    weight: float
    completion: float
    tardiness: float


class Schedule(BaseModel):
    """A schedule with its quality: objective, proven lower bound and gap, status and solve time.

    ``status`` is ``OPTIMAL`` when the solver proved no better schedule exists, ``FEASIBLE``
    otherwise (time limit reached, heuristic or replayed schedules). ``bound`` is a proven lower
    bound of the objective (``None`` when nothing was proven) and ``gap`` is
    ``(objective - bound) / objective`` (0 when both are 0).
    """

    operations: list[ScheduledOperation]
    jobs: list[JobOutcome]
    objective: Objective
    objective_value: float
    makespan: float
    total_tardiness: float
    weighted_tardiness: float
    status: Literal["OPTIMAL", "FEASIBLE"]
    bound: float | None = None
    gap: float | None = None
    solve_time: float = 0.0
    solver: str
    time_unit: str | None = None
    warm_start: str | None = None
    progress: list[tuple[float, float]] = Field(
        default_factory=list, description="(seconds, objective) of each improving solution found"
    )

    @property
    def optimal(self) -> bool:
        return self.status == "OPTIMAL"

    def stations(self) -> list[str]:
        """Stations in route order (a station before those that follow it in some job's route),
        ties and job shops with cycles by first use."""
        first_use = list(dict.fromkeys(op.station for op in self.operations))
        follows: dict[str, set[str]] = {s: set() for s in first_use}
        by_job: dict[str, list[ScheduledOperation]] = {}
        for op in self.operations:
            by_job.setdefault(op.job, []).append(op)
        for ops in by_job.values():
            ops.sort(key=lambda o: o.index)
            for a, b in itertools.pairwise(ops):
                if a.station != b.station:
                    follows[b.station].add(a.station)
        sorter = graphlib.TopologicalSorter(follows)
        try:
            sorter.prepare()
        except graphlib.CycleError:
            return first_use
        rank = {s: i for i, s in enumerate(first_use)}
        out: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=rank.__getitem__)
            out.extend(ready)
            sorter.done(*ready)
        return out

    def by_station(self) -> dict[str, list[ScheduledOperation]]:
        """Each station's operations in processing order."""
        out: dict[str, list[ScheduledOperation]] = {s: [] for s in self.stations()}
        for op in sorted(self.operations, key=lambda o: (o.start, o.end, o.job, o.index)):
            out[op.station].append(op)
        return out

    def operation(self, job: str, index: int) -> ScheduledOperation:
        for op in self.operations:
            if op.job == job and op.index == index:
                return op
        raise ScheduleError(f"schedule has no operation {index} of job {job!r}")

    def outcome(self, job: str) -> JobOutcome:
        for o in self.jobs:
            if o.job == job:
                return o
        raise ScheduleError(f"schedule has no job {job!r}")


# -- checks --------------------------------------------------------------------------------------


def validate_jobs(jobs: Sequence[Job], shop: ShopKind = "job") -> None:
    """Raise :class:`ScheduleError` listing every problem of a job list (ids, routes, shop kind)."""
    problems: list[str] = []
    if not jobs:
        problems.append("no jobs to schedule")
    seen: set[str] = set()
    for j in jobs:
        if j.id in seen:
            problems.append(f"job id {j.id!r} appears more than once")
        seen.add(j.id)
    if shop not in SHOP_KINDS:
        problems.append(f"unknown shop kind {shop!r}; expected one of {', '.join(SHOP_KINDS)}")
    elif shop in ("flow", "permutation") and jobs:
        route0 = [op.station for op in jobs[0].operations]
        if len(set(route0)) != len(route0):
            problems.append(f"a {shop} shop visits each station once; job {jobs[0].id!r} repeats a station")
        for j in jobs[1:]:
            route = [op.station for op in j.operations]
            if route != route0:
                problems.append(
                    f"a {shop} shop needs every job on the same route; job {j.id!r} has "
                    f"{' → '.join(route)}, job {jobs[0].id!r} has {' → '.join(route0)}"
                )
    if problems:
        raise ScheduleError("cannot schedule these jobs:\n" + "\n".join(f"  - {p}" for p in problems))


def _lags(job: Job, k: int, dur_prev: float, dur_next: float) -> tuple[float, float] | None:
    """Lot-streaming lags between operation k-1 and k: (start lag, end lag), None without streaming.

    With items moving in batches of q, operation k may start once the first batch of k-1 is done
    (start lag: q items of k-1's work) and ends at least one batch of its own work after k-1 ends
    (end lag). With the operation's interval free to stretch to the pace of arrivals, these two
    constraints are exact for a line with ample buffers: the completion times of a job's items at
    a station are a convex function of the item number, so only the first and last batch bind.
    """
    if job.transfer_batch is None:
        return None
    a, b = job.operations[k - 1], job.operations[k]
    assert a.items is not None and b.items is not None
    qa, qb = min(job.transfer_batch, a.items), min(job.transfer_batch, b.items)
    return dur_prev * qa / a.items, dur_next * qb / b.items


def check_schedule(
    jobs: Sequence[Job], schedule: Schedule, *, tolerance: float = 1e-6, shop: ShopKind = "job"
) -> list[str]:
    """Every violated rule of ``schedule`` for ``jobs`` (empty when the schedule is feasible).

    Independent of the solver: checks that every operation is scheduled once on its station with
    its duration, the route order (with lot-streaming lags), release times, one operation at a time
    per station with changeovers between products, and (``shop="permutation"``) the same job order
    on every station. ``tolerance`` is relative to the makespan, plus 0.001 units for rounding.
    """
    tol = tolerance * max(1.0, abs(schedule.makespan)) + 10.0**-_MAX_DECIMALS
    out: list[str] = []
    placed = {(op.job, op.index): op for op in schedule.operations}
    if len(placed) != len(schedule.operations):
        out.append("an operation is scheduled more than once")
    expected = {(j.id, k) for j in jobs for k in range(len(j.operations))}
    for key in sorted(expected - placed.keys()):
        out.append(f"operation {key[1]} of job {key[0]!r} is not scheduled")
    for key in sorted(placed.keys() - expected):
        out.append(f"scheduled operation {key[1]} of job {key[0]!r} is not in the jobs")
    for j in jobs:
        for k, op in enumerate(j.operations):
            s = placed.get((j.id, k))
            if s is None:
                continue
            if s.station != op.station:
                out.append(f"{j.id}[{k}] runs on {s.station!r}, its route says {op.station!r}")
            if j.transfer_batch is None and abs((s.end - s.start) - op.duration) > tol:
                out.append(f"{j.id}[{k}] lasts {s.end - s.start:g}, its duration is {op.duration:g}")
            elif j.transfer_batch is not None and (s.end - s.start) < op.duration - tol:
                out.append(f"{j.id}[{k}] lasts {s.end - s.start:g}, shorter than its work {op.duration:g}")
            if k == 0 and s.start < j.release - tol:
                out.append(f"{j.id} starts at {s.start:g} before its release {j.release:g}")
            if k > 0 and (prev := placed.get((j.id, k - 1))) is not None:
                lags = _lags(j, k, j.operations[k - 1].duration, op.duration)
                if lags is None:
                    if s.start < prev.end - tol:
                        out.append(
                            f"{j.id}[{k}] starts at {s.start:g} before {j.id}[{k - 1}] ends at {prev.end:g}"
                        )
                else:
                    if s.start < prev.start + lags[0] - tol:
                        out.append(
                            f"{j.id}[{k}] starts before the first transfer batch of {j.id}[{k - 1}] is done"
                        )
                    if s.end < prev.end + lags[1] - tol:
                        out.append(
                            f"{j.id}[{k}] ends before the last transfer batch of {j.id}[{k - 1}] is done"
                        )
    op_of = {(j.id, k): op for j in jobs for k, op in enumerate(j.operations)}
    for station, ops in schedule.by_station().items():
        for a, b in itertools.pairwise(ops):
            spec_b = op_of.get((b.job, b.index))
            spec_a = op_of.get((a.job, a.index))
            setup = 0.0
            if spec_a is not None and spec_b is not None and spec_a.product != spec_b.product:
                setup = spec_b.setup
            if b.start < a.end + setup - tol:
                what = f" plus changeover {setup:g}" if setup else ""
                out.append(
                    f"{station}: {b.job}[{b.index}] starts at {b.start:g} before {a.job}[{a.index}] "
                    f"ends at {a.end:g}{what}"
                )
    if shop == "permutation":
        orders = {s: [o.job for o in ops] for s, ops in schedule.by_station().items()}
        distinct = {tuple(v) for v in orders.values()}
        if len(distinct) > 1:
            out.append("permutation shop: the job order differs between stations")
    return out


# -- helpers shared by the solver, the heuristic and replay ---------------------------------------


def _outcomes(jobs: Sequence[Job], ops: list[ScheduledOperation]) -> list[JobOutcome]:
    ends: dict[str, float] = {}
    for op in ops:
        ends[op.job] = max(ends.get(op.job, -math.inf), op.end)
    out = []
    for j in jobs:
        c = ends.get(j.id, j.release)
        tard = max(0.0, c - j.due) if j.due is not None else 0.0
        out.append(
            JobOutcome(job=j.id, release=j.release, due=j.due, weight=j.weight, completion=c, tardiness=tard)
        )
    return out


def _objective_of(objective: Objective, makespan: float, weighted_tardiness: float) -> float:
    return makespan if objective == "makespan" else weighted_tardiness


def _build(
    jobs: Sequence[Job],
    ops: list[ScheduledOperation],
    objective: Objective,
    **extra: Any,
) -> Schedule:
    outcomes = _outcomes(jobs, ops)
    makespan = max((o.completion for o in outcomes), default=0.0)
    total_t = sum(o.tardiness for o in outcomes)
    weighted_t = sum(o.weight * o.tardiness for o in outcomes)
    ops = sorted(ops, key=lambda o: (o.start, o.station, o.job, o.index))
    return Schedule(
        operations=ops,
        jobs=outcomes,
        objective=objective,
        objective_value=_objective_of(objective, makespan, weighted_t),
        makespan=makespan,
        total_tardiness=total_t,
        weighted_tardiness=weighted_t,
        **extra,
    )


def _gap(value: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    if abs(value) < 1e-9:
        return 0.0
    return max(0.0, (value - bound) / abs(value))


# -- dispatching heuristic -----------------------------------------------------------------------


def dispatch_schedule(
    jobs: Sequence[Job],
    rule: str = "MWKR",
    *,
    objective: Objective = "makespan",
    time_unit: str | None = None,
) -> Schedule:
    """A schedule built by a priority dispatching rule (Giffler–Thompson active schedules).

    At each step the operation that can finish first fixes a station; among the operations that
    could start on that station before then, ``rule`` picks one: ``SPT``/``LPT`` (shortest/longest
    operation), ``MWKR``/``LWKR`` (most/least work remaining in the job), ``MOR`` (most operations
    remaining), ``EDD`` (earliest due date), ``MDD`` (modified due date), ``FIFO`` (earliest ready).
    Fast and never optimal by design: a baseline, and the solver's warm start.
    """
    rule = rule.upper()
    if rule not in DISPATCH_RULES:
        raise ScheduleError(f"unknown dispatching rule {rule!r}; expected one of {', '.join(DISPATCH_RULES)}")
    validate_jobs(jobs)
    started = time.perf_counter()
    nxt = {j.id: 0 for j in jobs}
    remaining = {j.id: j.total_work for j in jobs}
    placed: dict[tuple[str, int], ScheduledOperation] = {}
    station_free: dict[str, float] = {}
    station_product: dict[str, str | None] = {}
    order = {j.id: i for i, j in enumerate(jobs)}
    by_id = {j.id: j for j in jobs}

    def earliest(j: Job) -> tuple[float, float, float]:
        """Earliest start and end of the job's next operation and the changeover it needs."""
        k = nxt[j.id]
        op = j.operations[k]
        ready, min_end = (j.release, 0.0) if k == 0 else _after_predecessor(j, k, placed, op.duration)
        changes = op.station in station_product and station_product[op.station] != op.product
        setup = op.setup if changes else 0.0
        start = max(ready, station_free.get(op.station, 0.0) + setup)
        return start, max(start + op.duration, min_end), setup

    def priority(j: Job, est: float) -> tuple[float, ...]:
        op = j.operations[nxt[j.id]]
        due = j.due if j.due is not None else math.inf
        key = {
            "SPT": op.duration,
            "LPT": -op.duration,
            "MWKR": -remaining[j.id],
            "LWKR": remaining[j.id],
            "MOR": -(len(j.operations) - nxt[j.id]),
            "EDD": due,
            "MDD": max(due, est + remaining[j.id]),
            "FIFO": est,
        }[rule]
        return (key, order[j.id])

    total = sum(len(j.operations) for j in jobs)
    for _ in range(total):
        open_jobs = [j for j in jobs if nxt[j.id] < len(j.operations)]
        ests = {j.id: earliest(j) for j in open_jobs}
        best = min(open_jobs, key=lambda j: (ests[j.id][1], order[j.id]))
        finish = ests[best.id][1]
        station = best.operations[nxt[best.id]].station
        conflict = [
            j
            for j in open_jobs
            if j.operations[nxt[j.id]].station == station and (ests[j.id][0] < finish or j is best)
        ]
        chosen = by_id[min(conflict, key=lambda j: priority(j, ests[j.id][0])).id]
        k = nxt[chosen.id]
        op = chosen.operations[k]
        start, end, setup = ests[chosen.id]
        placed[(chosen.id, k)] = ScheduledOperation(
            job=chosen.id,
            index=k,
            station=op.station,
            start=start,
            end=end,
            work=op.duration,
            setup=setup,
            product=op.product,
        )
        station_free[op.station] = end
        station_product[op.station] = op.product
        remaining[chosen.id] -= op.duration
        nxt[chosen.id] += 1
    return _build(
        jobs,
        list(placed.values()),
        objective,
        status="FEASIBLE",
        solver=f"dispatch:{rule}",
        time_unit=time_unit,
        solve_time=time.perf_counter() - started,
    )


def _after_predecessor(
    j: Job, k: int, placed: Mapping[tuple[str, int], ScheduledOperation], work: float
) -> tuple[float, float]:
    """Earliest start and earliest end of operation k of job j that its placed predecessor allows."""
    prev = placed[(j.id, k - 1)]
    lags = _lags(j, k, prev.processing, work)
    if lags is None:
        return prev.end, -math.inf
    return prev.start + lags[0], prev.end + lags[1]


def best_dispatch(
    jobs: Sequence[Job],
    *,
    objective: Objective = "makespan",
    rules: Iterable[str] = DISPATCH_RULES,
    time_unit: str | None = None,
) -> Schedule:
    """The best schedule over several dispatching rules for ``objective`` (ties: smaller makespan)."""
    results = [dispatch_schedule(jobs, r, objective=objective, time_unit=time_unit) for r in rules]
    if not results:
        raise ScheduleError("best_dispatch needs at least one rule")
    return min(results, key=lambda s: (s.objective_value, s.makespan))


# -- replay hook for simulation ------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedOperation:
    """One line of a plan as a simulator replays it.

    ``position`` is the operation's place in its station's sequence (0 first); ``duration`` is the
    planned processing time (work), which a simulator replaces by a sampled one. A simulator keeps
    each station's sequence, starts an operation when the station is free (plus ``setup`` when the
    product changes), the job's previous operation allows it and — for ``policy="planned"`` — not
    before ``planned_start``; it then draws the real duration (noise) and adds breakdowns.
    """

    station: str
    job: str
    index: int
    position: int
    planned_start: float
    duration: float
    setup: float
    product: str | None


def planned_operations(schedule: Schedule) -> list[PlannedOperation]:
    """The plan as per-station sequences: sorted by station (first appearance) then position."""
    out = []
    for station, ops in schedule.by_station().items():
        for pos, op in enumerate(ops):
            out.append(
                PlannedOperation(
                    station=station,
                    job=op.job,
                    index=op.index,
                    position=pos,
                    planned_start=op.start,
                    duration=op.processing,
                    setup=op.setup,
                    product=op.product,
                )
            )
    return out


DurationSource = Mapping[tuple[str, int], float] | Callable[[PlannedOperation], float]


def replay(
    schedule: Schedule,
    jobs: Sequence[Job],
    durations: DurationSource | None = None,
    *,
    policy: Literal["planned", "asap"] = "asap",
    objective: Objective | None = None,
) -> Schedule:
    """Execute a plan with actual durations, keeping each station's sequence (right/left shift).

    The reference semantics of replaying a plan: ``durations`` gives the realised duration of
    each operation — a mapping ``(job, index) -> duration`` or a function of the
    :class:`PlannedOperation` (e.g. drawing from the twin's process-time distribution); by
    default (and for operations the mapping lacks) the jobs' own durations. ``policy="asap"`` starts each operation as soon as its station,
    its job and its release allow; ``"planned"`` additionally never before its planned start.
    Replaying a solver's schedule with its own durations under ``"planned"`` reproduces it. The
    simulator does the same with breakdowns added.
    """
    plan = planned_operations(schedule)
    by_key = {(p.job, p.index): p for p in plan}
    job_by_id = {j.id: j for j in jobs}
    for key in by_key:
        if key[0] not in job_by_id or key[1] >= len(job_by_id[key[0]].operations):
            raise ScheduleError(f"plan has operation {key[1]} of job {key[0]!r}, which the jobs do not have")

    def actual(p: PlannedOperation) -> float:
        nominal = job_by_id[p.job].operations[p.index].duration
        if durations is None:
            return nominal
        if callable(durations):
            value = float(durations(p))
        else:
            value = float(durations.get((p.job, p.index), nominal))
        if not math.isfinite(value) or value < 0:
            raise ScheduleError(f"realised duration of {p.job}[{p.index}] must be >= 0, got {value}")
        return value

    sequences: dict[str, list[PlannedOperation]] = {}
    for p in plan:
        sequences.setdefault(p.station, []).append(p)
    station_pos = {s: 0 for s in sequences}
    station_free: dict[str, float] = {}
    station_product: dict[str, str | None] = {}
    job_pos = {j.id: 0 for j in jobs}
    placed: dict[tuple[str, int], ScheduledOperation] = {}
    pending = len(plan)
    while pending:
        progressed = False
        for station, seq in sequences.items():
            while station_pos[station] < len(seq):
                p = seq[station_pos[station]]
                if job_pos[p.job] != p.index:
                    break
                job = job_by_id[p.job]
                op = job.operations[p.index]
                dur = actual(p)
                ready, min_end = (
                    (job.release, -math.inf)
                    if p.index == 0
                    else _after_predecessor(job, p.index, placed, dur)
                )
                setup = (
                    op.setup if station in station_product and station_product[station] != op.product else 0.0
                )
                start = max(ready, station_free.get(station, -math.inf) + setup, 0.0)
                if policy == "planned":
                    start = max(start, p.planned_start)
                end = max(start + dur, min_end)
                placed[(p.job, p.index)] = ScheduledOperation(
                    job=p.job,
                    index=p.index,
                    station=station,
                    start=start,
                    end=end,
                    work=dur,
                    setup=setup,
                    product=op.product,
                )
                station_free[station] = end
                station_product[station] = op.product
                station_pos[station] += 1
                job_pos[p.job] += 1
                pending -= 1
                progressed = True
        if not progressed:
            raise ScheduleError(
                "cannot replay the plan: the station sequences and the job routes wait on each other "
                "(the plan is not a feasible schedule of these jobs)"
            )
    return _build(
        jobs,
        list(placed.values()),
        objective or schedule.objective,
        status="FEASIBLE",
        solver="replay",
        time_unit=schedule.time_unit,
    )


# -- CP-SAT model ---------------------------------------------------------------------------------


def _decimals_needed(values: Iterable[float]) -> tuple[int, bool]:
    """Smallest power of ten scale making every value integral (exact flag False when rounded)."""
    vals = [v for v in values if v]
    for k in range(_MAX_DECIMALS + 1):
        s = 10**k
        if all(abs(v * s - round(v * s)) <= 1e-9 * max(1.0, abs(v * s)) for v in vals):
            return s, True
    return 10**_MAX_DECIMALS, False


def _ticks_up(value: float, scale: int) -> int:
    x = value * scale
    r = round(x)
    return r if abs(x - r) <= 1e-9 * max(1.0, abs(x)) else math.ceil(x)


def _ticks_down(value: float, scale: int) -> int:
    x = value * scale
    r = round(x)
    return r if abs(x - r) <= 1e-9 * max(1.0, abs(x)) else math.floor(x)


def default_workers() -> int:
    """Search workers for CP-SAT: one per core, at least 2, at most 8."""
    return max(2, min(8, os.cpu_count() or 2))


def solve_schedule(
    jobs: Sequence[Job],
    *,
    objective: Objective = "makespan",
    shop: ShopKind = "job",
    time_limit: float = 10.0,
    workers: int | None = None,
    warm_start: Schedule | str | None = "dispatch",
    seed: int = 0,
    time_unit: str | None = None,
    log: bool = False,
) -> Schedule:
    """Schedule ``jobs`` with OR-Tools CP-SAT and report the proven bound and gap.

    ``objective``: ``"makespan"`` (finish everything as early as possible) or ``"tardiness"``
    (total weighted tardiness against due dates; jobs without a due date are never late).
    ``shop``: ``"job"`` (each job its own route), ``"flow"`` (all jobs on the same route, checked)
    or ``"permutation"`` (flow shop where jobs keep one order on every station, as on a line where
    orders cannot overtake). ``time_limit`` in seconds of wall time; ``workers`` parallel search
    workers (default :func:`default_workers`). ``warm_start``: a previous :class:`Schedule` (its
    start times are given to the solver as hints, operations matched by job id and position), a
    dispatching rule name, ``"dispatch"`` (the best rule for the objective) or ``None``. ``seed``
    makes runs with one worker repeatable.

    The returned schedule is left-shifted (each operation as early as its station sequence allows),
    which never worsens the objective.
    """
    from ortools.sat.python import cp_model

    if objective not in OBJECTIVES:
        raise ScheduleError(f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    if not (time_limit > 0 and math.isfinite(time_limit)):
        raise ScheduleError(f"time_limit must be a positive number of seconds, got {time_limit}")
    if workers is not None and workers < 1:
        raise ScheduleError(f"workers must be at least 1, got {workers}")
    validate_jobs(jobs, shop)
    if objective == "tardiness" and all(j.due is None for j in jobs):
        raise ScheduleError("objective 'tardiness' needs due dates; no job has one")
    started = time.perf_counter()

    # warm start -------------------------------------------------------------------------------
    hint: Schedule | None = None
    warm_label: str | None = None
    if isinstance(warm_start, Schedule):
        hint, warm_label = warm_start, f"previous schedule ({warm_start.solver})"
    elif isinstance(warm_start, str):
        if warm_start.lower() == "dispatch":
            hint = best_dispatch(jobs, objective=objective, time_unit=time_unit)
        else:
            hint = dispatch_schedule(jobs, warm_start, objective=objective, time_unit=time_unit)
        if shop == "permutation" and check_schedule(jobs, hint, shop="permutation"):
            hint = _permutation_hint(jobs, hint, objective, time_unit)
        warm_label = hint.solver
    elif warm_start is not None:
        raise ScheduleError(
            f"warm_start must be a Schedule, a rule name, 'dispatch' or None, got {warm_start!r}"
        )

    # integer time scale -------------------------------------------------------------------------
    all_values = [v for j in jobs for op in j.operations for v in (op.duration, op.setup)]
    all_values += [j.release for j in jobs] + [j.due for j in jobs if j.due is not None]
    scale, _exact = _decimals_needed(all_values)
    dur = {(j.id, k): _ticks_up(op.duration, scale) for j in jobs for k, op in enumerate(j.operations)}
    setup = {(j.id, k): _ticks_up(op.setup, scale) for j in jobs for k, op in enumerate(j.operations)}
    release = {j.id: _ticks_up(j.release, scale) for j in jobs}
    horizon = max(release.values()) + sum(dur.values()) + sum(setup.values())
    if horizon >= 2**50:
        raise ScheduleError("the schedule horizon is too long for the solver; use a coarser time unit")

    m = cp_model.CpModel()
    starts: dict[tuple[str, int], Any] = {}
    ends: dict[tuple[str, int], Any] = {}
    intervals_at: dict[str, list[tuple[tuple[str, int], Any]]] = {}
    sizes: dict[tuple[str, int], Any] = {}  # variable lengths of stretchable (lot-streamed) operations
    for j in jobs:
        for k, op in enumerate(j.operations):
            key = (j.id, k)
            s = m.new_int_var(release[j.id], horizon, f"s_{j.id}_{k}")
            e = m.new_int_var(release[j.id], horizon, f"e_{j.id}_{k}")
            if j.transfer_batch is None:
                iv = m.new_interval_var(s, dur[key], e, f"i_{j.id}_{k}")
            else:  # the station may process the items at the pace they arrive: the interval stretches
                size = m.new_int_var(dur[key], horizon, f"d_{j.id}_{k}")
                iv = m.new_interval_var(s, size, e, f"i_{j.id}_{k}")
                sizes[key] = size
            starts[key], ends[key] = s, e
            intervals_at.setdefault(op.station, []).append((key, iv))
            if k > 0:
                prev = (j.id, k - 1)
                lags = _lags(j, k, dur[prev] / scale, dur[key] / scale)
                if lags is None:
                    m.add(s >= ends[prev])
                else:
                    m.add(s >= starts[prev] + _ticks_up(lags[0], scale))
                    m.add(e >= ends[prev] + _ticks_up(lags[1], scale))

    op_of = {(j.id, k): op for j in jobs for k, op in enumerate(j.operations)}
    for _station, items in intervals_at.items():
        m.add_no_overlap([iv for _, iv in items])
        needs_setup = (
            any(setup[key] > 0 for key, _ in items) and len({op_of[key].product for key, _ in items}) > 1
        )
        if needs_setup and len(items) > 1:
            _add_changeovers(m, [key for key, _ in items], starts, ends, setup, op_of)

    order_vars: list[tuple[str, str, Any]] = []  # (a, b, literal "a before b") of a permutation shop
    if shop == "permutation":
        ids = [j.id for j in jobs]
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                before = m.new_bool_var(f"p_{ids[a]}_{ids[b]}")
                order_vars.append((ids[a], ids[b], before))
                for k in range(len(jobs[0].operations)):
                    ka, kb = (ids[a], k), (ids[b], k)
                    m.add(starts[kb] >= ends[ka]).only_enforce_if(before)
                    m.add(starts[ka] >= ends[kb]).only_enforce_if(~before)

    completion = {j.id: ends[(j.id, len(j.operations) - 1)] for j in jobs}
    makespan = m.new_int_var(0, horizon, "makespan")
    m.add_max_equality(makespan, list(completion.values()))
    weight_scale = 1
    tardiness_vars: dict[str, tuple[Any, int]] = {}
    if objective == "makespan":
        m.minimize(makespan)
        obj_scale = scale
    else:
        weight_scale, _ = _decimals_needed([j.weight for j in jobs])
        terms = []
        for j in jobs:
            if j.due is None or j.weight == 0:
                continue
            tard = m.new_int_var(0, horizon, f"t_{j.id}")
            due_ticks = _ticks_down(j.due, scale)
            m.add_max_equality(tard, [0, completion[j.id] - due_ticks])
            tardiness_vars[j.id] = (tard, due_ticks)
            terms.append(round(j.weight * weight_scale) * tard)
        m.minimize(sum(terms))
        obj_scale = scale * weight_scale

    if hint is not None:
        hinted = _add_hints(
            m, hint, starts, ends, sizes, dur, op_of, scale, makespan, tardiness_vars, order_vars
        )
        warm_label = f"{warm_label}: {hinted}/{len(starts)} operations hinted"

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = float(time_limit)
    p.num_workers = int(workers or default_workers())
    p.random_seed = int(seed)
    p.log_search_progress = bool(log)
    # Disjunctive reasoning that pays off on scheduling (tuned in benchmarks/jobshop.py).
    p.use_strong_propagation_in_disjunctive = True
    p.use_dynamic_precedence_in_disjunctive = True

    progress: list[tuple[float, float]] = []

    class _Progress(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            progress.append((time.perf_counter() - started, self.objective_value / obj_scale))

    status = solver.solve(m, _Progress())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            raise ScheduleError("the jobs cannot be scheduled (the model is infeasible)")
        if status == cp_model.MODEL_INVALID:
            raise ScheduleError(f"internal error: invalid CP-SAT model: {m.validate()}")
        raise ScheduleError(
            f"no schedule found within the time limit of {time_limit:g} s; raise --time-limit or give a warm start"
        )
    raw = [
        ScheduledOperation(
            job=j.id,
            index=k,
            station=op.station,
            start=solver.value(starts[(j.id, k)]) / scale,
            end=solver.value(ends[(j.id, k)]) / scale,
            work=op.duration,
            product=op.product,
        )
        for j in jobs
        for k, op in enumerate(j.operations)
    ]
    found = _build(jobs, raw, objective, status="FEASIBLE", solver="cp-sat", time_unit=time_unit)
    compact = replay(found, jobs, policy="asap", objective=objective)
    if compact.objective_value > found.objective_value + 1e-9:  # cannot happen for regular objectives
        compact = found
    is_optimal = status == cp_model.OPTIMAL
    bound = solver.best_objective_bound / obj_scale
    value = compact.objective_value
    if is_optimal:
        bound = value
    return compact.model_copy(
        update={
            "status": "OPTIMAL" if is_optimal else "FEASIBLE",
            "bound": bound,
            "gap": _gap(value, bound),
            "solve_time": time.perf_counter() - started,
            "solver": f"cp-sat ({p.num_workers} workers)",
            "warm_start": warm_label,
            "progress": progress,
        }
    )


def _add_hints(
    m: Any,
    hint: Schedule,
    starts: Mapping[tuple[str, int], Any],
    ends: Mapping[tuple[str, int], Any],
    sizes: Mapping[tuple[str, int], Any],
    dur: Mapping[tuple[str, int], int],
    op_of: Mapping[tuple[str, int], Operation],
    scale: int,
    makespan: Any,
    tardiness_vars: Mapping[str, tuple[Any, int]],
    order_vars: Sequence[tuple[str, str, Any]],
) -> int:
    """Give the solver the hint's start times (matched by job id, position and station); when the
    hint covers every operation, also the derived variables, so that CP-SAT sees a complete hint
    and starts from it. Returns the number of operations hinted."""
    start_ticks: dict[tuple[str, int], int] = {}
    for op in hint.operations:
        key = (op.job, op.index)
        if key in starts and op_of[key].station == op.station:
            start_ticks[key] = _ticks_up(op.start, scale)
    end_ticks: dict[tuple[str, int], int] = {}
    for op in hint.operations:
        key = (op.job, op.index)
        if key in start_ticks:
            stretched = max(start_ticks[key] + dur[key], _ticks_up(op.end, scale))
            end_ticks[key] = stretched if key in sizes else start_ticks[key] + dur[key]
    for key, value in start_ticks.items():
        m.add_hint(starts[key], value)
        m.add_hint(ends[key], end_ticks[key])
        if key in sizes:
            m.add_hint(sizes[key], end_ticks[key] - value)
    if len(start_ticks) == len(starts):
        finish: dict[str, int] = {}
        for (job, _k), value in end_ticks.items():
            finish[job] = max(finish.get(job, 0), value)
        m.add_hint(makespan, max(finish.values()))
        for job, (var, due_ticks) in tardiness_vars.items():
            m.add_hint(var, max(0, finish[job] - due_ticks))
        for a, b, lit in order_vars:
            m.add_hint(lit, start_ticks[(a, 0)] <= start_ticks[(b, 0)])
    return len(start_ticks)


def _add_changeovers(
    m: Any,
    keys: list[tuple[str, int]],
    starts: Mapping[tuple[str, int], Any],
    ends: Mapping[tuple[str, int], Any],
    setup: Mapping[tuple[str, int], int],
    op_of: Mapping[tuple[str, int], Operation],
) -> None:
    """Sequence-dependent changeovers on one station: a circuit over its operations (node 0 is the
    station's idle state); when b directly follows a of another product, b starts after a's end
    plus b's setup."""
    arcs: list[tuple[int, int, Any]] = []
    for i, a in enumerate(keys, start=1):
        arcs.append((0, i, m.new_bool_var("")))
        arcs.append((i, 0, m.new_bool_var("")))
        for jdx, b in enumerate(keys, start=1):
            if a == b:
                continue
            lit = m.new_bool_var("")
            arcs.append((i, jdx, lit))
            gap = setup[b] if op_of[a].product != op_of[b].product else 0
            m.add(starts[b] >= ends[a] + gap).only_enforce_if(lit)
    m.add_circuit(arcs)


def _permutation_hint(
    jobs: Sequence[Job], hint: Schedule, objective: Objective, time_unit: str | None
) -> Schedule:
    """Turn a hint into a permutation schedule: jobs in order of their first start on every station."""
    first = {o.job: o.start for o in hint.operations if o.index == 0}
    order = sorted(jobs, key=lambda j: (first.get(j.id, math.inf), j.id))
    # a placeholder plan whose only content is the order (start = rank); replay computes the times
    seeded = [
        ScheduledOperation(
            job=j.id, index=k, station=op.station, start=float(rank), end=float(rank), product=op.product
        )
        for rank, j in enumerate(order)
        for k, op in enumerate(j.operations)
    ]
    plan = _build(jobs, seeded, objective, status="FEASIBLE", solver=hint.solver, time_unit=time_unit)
    return replay(plan, jobs, policy="asap", objective=objective).model_copy(
        update={"solver": f"{hint.solver} (permutation)"}
    )


def replay_in_simulator(
    twin: Any,
    schedule: Schedule,
    *,
    reps: int = 100,
    duration_cv: float = 0.1,
    failures: bool = True,
    seed: int = 0,
) -> Any:
    """Execute an optimised schedule in the simulator (:func:`twinforge.sim.replay_schedule`)
    ``reps`` times, with log-normal process-time noise and the twin's own breakdowns, to see how
    the plan holds up. Times are converted from the schedule's ``time_unit`` (minutes when unset)."""
    from twinforge.sim import ScheduledOperation, replay_schedule
    from twinforge.spec import units

    planned = planned_operations(schedule)
    by_job: dict[str, list[PlannedOperation]] = {}
    for p in planned:
        by_job.setdefault(p.job, []).append(p)
    for job, ops in by_job.items():
        ops.sort(key=lambda p: p.planned_start)
        for a, b in itertools.pairwise(ops):
            if b.planned_start - b.setup < a.planned_start + a.duration - 1e-9:
                raise ScheduleError(
                    f"job {job!r} is on {a.station} and {b.station} at the same time (items move one at a time, "
                    "lot streaming); the simulator replays whole-order transfers only: plan with "
                    "'transfer_batch: null' to replay it"
                )
    scale = units.conversion_factor(schedule.time_unit or "min", "s")
    ops = [
        ScheduledOperation(
            station=p.station,
            job=p.job,
            start=(p.planned_start - p.setup) * scale,
            duration=(p.duration + p.setup) * scale,
        )
        for p in planned
    ]
    return replay_schedule(twin, ops, reps=reps, seed=seed, duration_cv=duration_cv, failures=failures)
