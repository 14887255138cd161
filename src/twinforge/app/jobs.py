"""Scenario runs as jobs: submitted, run in the background, followed, cancelled.

A job runs one of the twin's engines on a copy of the twin (the baseline, or a scenario in the
scenario language compared with it): ``simulate`` (replications with confidence intervals; paired
with common random numbers for a scenario), ``optimize`` (the min-cost flow plan), ``schedule``
(CP-SAT on orders given with the job), ``route`` (CVRP from the twin's depot) and ``warn`` (early
warning from a state). Results are JSON. Simulations report progress per chunk of replications
and stop at the next chunk when cancelled; the solvers run to their time limit.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twinforge.app.views import clean, records
from twinforge.errors import TwinforgeError
from twinforge.spec import TwinSpec

JobKind = Literal["simulate", "optimize", "schedule", "route", "warn", "guard"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobOptions(BaseModel):
    """Bounded run options (a served job cannot ask for unbounded work)."""

    model_config = ConfigDict(extra="forbid")

    reps: int = Field(10, ge=1, le=1000, description="simulate/warn: replications")
    horizon: str = Field("8 h", max_length=40, description="simulate/warn: simulated time, e.g. '8 h'")
    warmup: str = Field("0 s", max_length=40)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    time_limit: float = Field(10.0, gt=0, le=300, description="optimize/schedule/route: solver seconds")
    objective: Literal["makespan", "tardiness"] = "makespan"
    orders: dict[str, Any] | None = Field(None, description="schedule: the orders (jobs file content)")
    depot: str | None = Field(None, max_length=128)
    state: dict[str, dict[str, float]] | None = Field(None, description="warn: {node: {state: value}}")
    proposal: dict[str, Any] | None = Field(
        None, description="guard: a control proposal (setpoints or a controller, docs/guard.md)"
    )


class JobRequest(BaseModel):
    """What to run: the engine, an optional scenario (the scenario language) and options."""

    model_config = ConfigDict(extra="forbid")

    kind: JobKind
    scenario: dict[str, Any] | None = Field(
        None, description="A scenario: {name, interventions: [...]} in the scenario language"
    )
    options: JobOptions = Field(default_factory=JobOptions)


class JobCancelled(TwinforgeError):
    """The job was cancelled while it ran."""


@dataclass
class Job:
    id: str
    twin: str
    request: JobRequest
    status: JobStatus = "queued"
    progress: float = 0.0
    message: str = ""
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False

    def as_dict(self, with_result: bool = True) -> dict[str, Any]:
        out = {
            "id": self.id,
            "twin": self.twin,
            "kind": self.request.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "submitted": self.submitted,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "scenario": self.request.scenario,
        }
        if with_result:
            out["result"] = self.result
        return out


class JobManager:
    """Runs jobs on a small thread pool; keeps the last ``keep`` jobs."""

    def __init__(
        self,
        twin_of: Callable[[str], TwinSpec],
        notify: Callable[[Job], None] | None = None,
        workers: int = 1,
        keep: int = 200,
    ) -> None:
        self.twin_of = twin_of
        self.notify = notify or (lambda _job: None)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twinforge-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.keep = keep

    def submit(self, twin: str, request: JobRequest) -> Job:
        spec = self.twin_of(twin)  # an unknown twin fails here, before anything is queued
        scenario = _scenario(spec, request) if request.scenario is not None else None
        if request.kind == "guard":
            scenario = _proposal(request)  # a malformed proposal fails here, before anything is queued
        job = Job(uuid.uuid4().hex[:12], twin, request)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].status in ("queued", "running"):
                    break
                self._jobs.pop(oldest)
        self.notify(job)
        self._pool.submit(self._run, job, spec, scenario)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            from twinforge.errors import UnknownEntityError

            raise UnknownEntityError(f"no job {job_id!r}")
        return job

    def list(self, twin: str | None = None) -> list[Job]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in reversed(jobs) if twin is None or j.twin == twin]

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status in ("queued", "running"):
            job.cancel_requested = True
            if job.status == "queued":
                job.status, job.finished, job.message = "cancelled", time.time(), "cancelled before it ran"
                self.notify(job)
        return job

    def shutdown(self) -> None:
        for job in self.list():
            if job.status in ("queued", "running"):
                job.cancel_requested = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- running ------------------------------------------------------------------------------
    def _progress(self, job: Job) -> Callable[[int, int], None]:
        last = [0.0]

        def update(done: int, total: int) -> None:
            if job.cancel_requested:
                raise JobCancelled("cancelled")
            job.progress = done / max(1, total)
            if job.progress - last[0] >= 0.05 or done == total:
                last[0] = job.progress
                job.message = f"{done}/{total} replications"
                self.notify(job)

        return update

    def _run(self, job: Job, spec: TwinSpec, scenario: Any) -> None:
        if job.cancel_requested:
            return
        job.status, job.started = "running", time.time()
        self.notify(job)
        try:
            job.result = clean(
                _RUNNERS[job.request.kind](spec, scenario, job.request.options, self._progress(job))
            )
            job.status, job.progress, job.message = "done", 1.0, "done"
        except JobCancelled:
            job.status, job.message = "cancelled", "cancelled while running"
        except TwinforgeError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a bug must fail the job, not the service
            job.status, job.error = "failed", f"internal error: {exc!r}"
        job.finished = time.time()
        self.notify(job)


def _scenario(spec: TwinSpec, request: JobRequest) -> Any:
    """The request's scenario, checked against the twin now (bad scenarios fail at submit)."""
    from pydantic import ValidationError

    from twinforge.errors import IssueCollector
    from twinforge.scenario import Scenario, ScenarioError, apply_scenario
    from twinforge.spec.io import pydantic_issues

    data = dict(request.scenario or {})
    data.setdefault("name", "scenario")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        c = IssueCollector(file="scenario")
        pydantic_issues(exc, ("scenario",), c)
        raise ScenarioError(c.issues, summary="invalid scenario") from None
    if request.kind == "optimize":
        from twinforge.optimize.flow import prepare_scenario

        return prepare_scenario(spec, sc, file="scenario")
    return apply_scenario(spec, sc, file="scenario")


def _simulate(spec: TwinSpec, scenario: Any, o: JobOptions, progress: Callable[[int, int], None]) -> dict:
    from twinforge.sim import compare_scenario, run_replications

    common = {"reps": o.reps, "horizon": o.horizon, "warmup": o.warmup, "seed": o.seed, "progress": progress}
    if scenario is None:
        mc = run_replications(spec, **common)
        return {"baseline": records(mc.summary()), "events": mc.meta.get("sim_events")}
    cmp = compare_scenario(spec, scenario, **common)
    return {
        "scenario": scenario.scenario.name,
        "descriptions": list(scenario.descriptions),
        "baseline": records(cmp.baseline.summary()),
        "changed": records(cmp.scenario.summary()),
        "paired": records(cmp.paired),
    }


def _optimize(spec: TwinSpec, scenario: Any, o: JobOptions, _p: Callable[[int, int], None]) -> dict:
    from twinforge.optimize.flow import FlowOptions, InfeasibleFlowError, compare_plans, optimize_flow

    options = FlowOptions(time_limit=o.time_limit)
    try:
        baseline = optimize_flow(spec, None, options)
    except InfeasibleFlowError as exc:
        return {"feasible": False, "infeasible": exc.explanation.to_dict()}
    if scenario is None:
        return {"feasible": True, "plan": baseline.to_dict()}
    try:
        changed = optimize_flow(spec, scenario, options)
    except InfeasibleFlowError as exc:
        return {"feasible": False, "baseline": baseline.to_dict(), "infeasible": exc.explanation.to_dict()}
    return {
        "feasible": True,
        "baseline": baseline.to_dict(),
        "plan": changed.to_dict(),
        "comparison": compare_plans(baseline, changed, options.tolerance).to_dict(),
    }


def _schedule(spec: TwinSpec, _scenario: Any, o: JobOptions, _p: Callable[[int, int], None]) -> dict:
    from twinforge.optimize.orders import parse_jobs
    from twinforge.optimize.scheduling import best_dispatch, solve_schedule

    if not o.orders:
        raise TwinforgeError("a schedule job needs options.orders (the content of an orders file)")
    job_set = parse_jobs(o.orders, spec, file="options.orders")
    baseline = best_dispatch(job_set.jobs, objective=o.objective, time_unit=job_set.time_unit)
    result = solve_schedule(
        job_set.jobs, objective=o.objective, time_limit=o.time_limit, workers=1, time_unit=job_set.time_unit
    )
    return {"schedule": result.model_dump(mode="json"), "dispatch": baseline.model_dump(mode="json")}


def _route(spec: TwinSpec, _scenario: Any, o: JobOptions, _p: Callable[[int, int], None]) -> dict:
    from twinforge.optimize.routing import problem_from_twin, solve_routing

    problem = problem_from_twin(spec, o.depot)
    plan = solve_routing(problem, time_limit=o.time_limit, seed=o.seed)
    return {"plan": plan.model_dump(mode="json"), "notes": list(problem.notes)}


def _warn(spec: TwinSpec, scenario: Any, o: JobOptions, progress: Callable[[int, int], None]) -> dict:
    from twinforge.sim import early_warning

    result = early_warning(
        spec, o.state or {}, horizon=o.horizon, reps=o.reps, seed=o.seed, scenario=scenario, progress=progress
    )
    return {"horizon_h": result.horizon / 3600, "events": records(result.table)}


def _proposal(request: JobRequest) -> Any:
    from twinforge.control import parse_proposal

    if request.options.proposal is None:
        raise TwinforgeError("a guard job needs options.proposal (the content of a proposal file)")
    return parse_proposal(request.options.proposal, file="options.proposal")


def _guard(spec: TwinSpec, proposal: Any, o: JobOptions, _p: Callable[[int, int], None]) -> dict:
    from twinforge.control import judge

    return judge(spec, proposal, reps=min(o.reps, 20), seed=o.seed).as_dict()


_RUNNERS: dict[str, Callable[..., dict]] = {
    "guard": _guard,
    "simulate": _simulate,
    "optimize": _optimize,
    "schedule": _schedule,
    "route": _route,
    "warn": _warn,
}

__all__ = ["Job", "JobCancelled", "JobManager", "JobOptions", "JobRequest"]
