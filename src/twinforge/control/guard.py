"""The guard: accept or reject a control proposal, with the evidence (see docs/guard.md).

:func:`judge` runs the checks in order and stops at the first that fails: the controller's code
(:mod:`twinforge.control.code`), the proposal against the twin
(:func:`twinforge.control.proposal.proposal_problems`), then the closed-loop Monte Carlo runs in a
sandboxed process (:mod:`twinforge.control.sandbox`) checked against the constraints
(:mod:`twinforge.control.constraints`). The :class:`Verdict` names the first violation (the
constraint, the scenario, the replication, the time and the value), carries the trace of that run,
and ranks the proposal against the twin's current control.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from twinforge.control.code import static_problems
from twinforge.control.constraints import parameter_value
from twinforge.control.proposal import (
    ControllerProposal,
    ScheduleProposal,
    SetpointProposal,
    proposal_problems,
)
from twinforge.control.sandbox import run_sandboxed
from twinforge.scenario.models import Setpoint
from twinforge.spec.io import dumps_spec
from twinforge.spec.models import TwinSpec

#: KPIs the comparison with the current control shows when the twin has them
RANKED_KPIS = ("energy", "cost", "throughput", "service_level", "downtime")


@dataclass
class Verdict:
    verdict: str  # accept | reject
    stage: str  # code | twin | run | constraints | passed
    reasons: list[str] = field(default_factory=list)
    violation: dict[str, Any] | None = None  # the first violation, with scenario and replication
    trace: dict[str, Any] | None = None  # the run of the first violation (or the nominal run)
    scenarios: list[dict[str, Any]] = field(default_factory=list)  # per scenario: proposal vs current
    kpis: list[dict[str, Any]] = field(default_factory=list)  # mean KPIs: proposal vs current
    runs: int = 0
    seconds: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def schedule_setpoints(twin: TwinSpec, schedule: ScheduleProposal) -> SetpointProposal | list[str]:
    """The setpoint changes a timetable means over the horizon: each block sets its value at its
    start and gives the twin's own value back at its end (repeated every ``repeat``); or what in
    it does not fit the twin."""
    problems, points = [], []
    repeats = 1 if schedule.repeat is None else max(1, math.ceil(schedule.horizon / schedule.repeat))
    for i, b in enumerate(schedule.blocks):
        node = twin.node(b.target) if twin.has_node(b.target) else None
        base = parameter_value(twin, node, b.parameter) if node is not None else None
        if node is None or base is None:
            problems.append(f"blocks[{i}]: the twin has no value of {b.target}.{b.parameter} to go back to")
            continue
        for k in range(repeats):
            shift = k * (schedule.repeat or 0.0)
            if b.start + shift >= schedule.horizon:
                break
            points.append(
                Setpoint(
                    target=b.target, parameter=b.parameter, value=b.value, unit=b.unit, at=b.start + shift
                )
            )
            if b.end is not None and b.end + shift < schedule.horizon:
                points.append(Setpoint(target=b.target, parameter=b.parameter, value=base, at=b.end + shift))
    if problems:
        return problems
    return SetpointProposal(
        name=schedule.name,
        description=schedule.description,
        limits=schedule.limits,
        horizon=schedule.horizon,
        setpoints=sorted(points, key=lambda p: p.at),
    )


def judge(
    twin: TwinSpec,
    proposal: SetpointProposal | ControllerProposal | ScheduleProposal,
    reps: int = 3,
    seed: int = 0,
) -> Verdict:
    """Accept or reject ``proposal`` on ``twin`` (``reps`` replications of each scenario)."""
    t0 = time.perf_counter()

    def done(v: Verdict) -> Verdict:
        v.seconds = round(time.perf_counter() - t0, 3)
        return v

    if isinstance(proposal, ScheduleProposal):
        converted = schedule_setpoints(twin, proposal)
        if isinstance(converted, list):
            return done(Verdict("reject", "twin", converted))
        proposal = converted

    if isinstance(proposal, ControllerProposal):
        problems = static_problems(proposal.code)
        if problems:
            return done(Verdict("reject", "code", problems))
    problems = proposal_problems(twin, proposal)
    if problems:
        return done(Verdict("reject", "twin", problems))
    data = proposal.model_dump(mode="json", exclude={"expect"})
    out = run_sandboxed(dumps_spec(twin), data, reps, seed)
    if "killed" in out:
        return done(Verdict("reject", "run", [out["killed"]]))
    if out.get("problems"):
        return done(
            Verdict("reject", "run" if "failed to load" in out["problems"][0] else "twin", out["problems"])
        )
    runs, base = out["runs"], out["baseline"]
    verdict = Verdict("accept", "passed", runs=len(runs) + len(base))
    verdict.scenarios = _by_scenario(runs, base)
    verdict.kpis = _kpis(runs, base)
    faulty = next((r for r in runs if r["fault"]), None)
    broken = next((r for r in runs if r["violations"]), None)
    if faulty is not None:
        verdict.verdict, verdict.stage = "reject", "run"
        verdict.reasons = [
            f"{faulty['fault']} (scenario {faulty['scenario']}, replication {faulty['replication']})"
        ]
        verdict.trace = faulty["trace"]
    elif broken is not None:
        first = broken["violations"][0]
        verdict.verdict, verdict.stage = "reject", "constraints"
        verdict.violation = {**first, "scenario": broken["scenario"], "replication": broken["replication"]}
        when = f" at {first['time_h']:.2f} h" if first["time_h"] is not None else ""
        value = f" (value {first['value']:g})" if first["value"] is not None else ""
        verdict.reasons = [
            f"{first['constraint']}: violated{when}{value} in scenario {broken['scenario']}, "
            f"replication {broken['replication']}"
        ]
        others = sorted({v["constraint"] for r in runs for v in r["violations"]} - {first["constraint"]})
        verdict.reasons += [f"also violated somewhere: {c}" for c in others]
        verdict.trace = broken["trace"]
    else:
        verdict.reasons = [
            f"no constraint was violated in {len(runs)} runs ({len(verdict.scenarios)} scenarios)"
        ]
        verdict.trace = next((r["trace"] for r in runs if r["scenario"] == "nominal"), None)
    return done(verdict)


def _by_scenario(runs: list[dict], base: list[dict]) -> list[dict[str, Any]]:
    out = []
    for name in dict.fromkeys(r["scenario"] for r in runs):
        mine = [r for r in runs if r["scenario"] == name]
        theirs = [r for r in base if r["scenario"] == name]
        out.append(
            {
                "scenario": name,
                "proposal_violations": sum(bool(r["violations"] or r["fault"]) for r in mine),
                "current_violations": sum(bool(r["violations"]) for r in theirs),
                "replications": len(mine),
            }
        )
    return out


def _kpis(runs: list[dict], base: list[dict]) -> list[dict[str, Any]]:
    nominal = [r for r in runs if r["scenario"] == "nominal" and not r["fault"]]
    current = [r for r in base if r["scenario"] == "nominal"]
    if not nominal or not current:
        return []
    out = []
    for name in nominal[0]["kpis"]:
        if name.split(".")[-1] not in RANKED_KPIS and not name.endswith("_level"):
            continue
        a = float(np.mean([r["kpis"][name] for r in nominal]))
        b = float(np.mean([r["kpis"].get(name, np.nan) for r in current]))
        out.append({"kpi": name, "proposal": round(a, 6), "current": round(b, 6)})
    return out


__all__ = ["Verdict", "judge"]
