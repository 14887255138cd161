"""Closed-loop runs: the twin simulated with a proposal in charge, in nominal and stress scenarios.

One run is one replication of one scenario (:class:`Stress`). The simulation advances one
controller period at a time (:meth:`twinforge.sim.model.Model.advance`); at each step the
controller reads the observed states (in their catalogue units, with the scenario's sensor noise
or drop-out), and what it returns is checked (known setpoints, finite numbers within bounds)
before it is applied. The recorded signals are then checked against the constraints
(:mod:`twinforge.control.constraints`).

This module runs inside the sandbox process (:mod:`twinforge.control.sandbox`): every result is
plain data.
"""

from __future__ import annotations

import math
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.control.constraints import Constraint, constraints_for, first_violation, parameter_value
from twinforge.control.proposal import ControllerProposal, SetpointProposal, proposal_problems
from twinforge.scenario.models import Outage, ScaleParameter, Scenario, Setpoint
from twinforge.sim.model import Model, RunOptions
from twinforge.sim.plan import compile_twin, internal_unit
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import TwinSpec

#: CPU seconds one controller call may take before it is stopped
CALL_CPU_S = 1.0
#: CPU seconds a proposal's calls may take in all
TOTAL_CPU_S = 30.0
#: average CPU seconds per call
MEAN_CPU_S = 0.05
#: points kept of each signal in a trace
TRACE_POINTS = 400


class ControllerFault(Exception):
    """The controller broke its contract; the message says how and when."""


class CallTimeout(BaseException):
    """A controller call ran past its CPU time (a BaseException: ``except`` clauses allowed in
    controller code cannot catch it)."""


@dataclass
class Stress:
    """One scenario a proposal is tried in."""

    name: str
    interventions: list[Any] = field(default_factory=list)  # scenario language
    noise: float = 0.0  # relative Gaussian noise on observed values
    dropout: tuple[float, float] | None = None  # observed values are None in [start, end)


def stresses(twin: TwinSpec, proposal: SetpointProposal | ControllerProposal) -> list[Stress]:
    """The five scenarios of docs/guard.md, built from the twin."""
    h = proposal.horizon
    surge: list[Any] = []
    for n in twin.nodes:
        if n.kind == "tank" and n.parameters.get("outflow_rate") is not None:
            value, unit = _param(twin, n.id, "outflow_rate")
            if value > 0:
                surge.append(
                    Setpoint(target=n.id, parameter="outflow_rate", value=1.5 * value, unit=unit, at=h / 4)
                )
        elif n.kind == "source" and n.parameters.get("interarrival_time") is not None:
            surge.append(ScaleParameter(target=n.id, parameter="interarrival_time", factor=1 / 1.5))
    failed = _failure_target(twin, proposal)
    failure = [Outage(target=failed, start=h / 3, duration=h / 4)] if failed else []
    return [
        Stress("nominal"),
        Stress("demand_surge", surge),
        Stress("pump_failure", failure),
        Stress("sensor_noise", noise=0.05),
        Stress("sensor_dropout", dropout=(h / 2, h / 2 + h / 10)),
    ]


def _param(twin: TwinSpec, node: str, name: str) -> tuple[float, str | None]:
    p = twin.node(node).parameters[name]
    return float(p.value), p.unit


def _failure_target(twin: TwinSpec, proposal: SetpointProposal | ControllerProposal) -> str | None:
    for ref in proposal.actuated():
        node = ref.partition(".")[0]
        if twin.has_node(node) and twin.node(node).kind in ("pump", "station"):
            return node
    for n in twin.nodes:
        if n.kind in ("pump", "station"):
            return n.id
    return None


@dataclass
class _Actuator:
    ref: str
    node: str
    name: str
    lo: float
    hi: float
    unit: str | None
    internal: str | None
    value: float
    changes: int = 0


def _actuators(twin: TwinSpec, proposal: ControllerProposal) -> dict[str, _Actuator]:
    out = {}
    for ref, b in proposal.actuate.items():
        node_id, _, name = ref.partition(".")
        node = twin.node(node_id)
        pdef = CATALOG[node.kind].params[name]
        unit = pdef.unit_for(twin.currency) or None
        lo = b.min if b.min is not None else pdef.bounds[0]
        hi = b.max if b.max is not None else pdef.bounds[1]
        value = parameter_value(twin, node, name)
        value = math.nan if value is None else value
        out[ref] = _Actuator(ref, node_id, name, lo, hi, unit, internal_unit(twin, node, name), value)
    return out


def _on_timer(signum: int, frame: Any) -> None:
    raise CallTimeout


class _Caller:
    """Calls the controller with CPU limits: a per-call timer, and a hard CPU ceiling for code that
    never returns to the interpreter (the process is then killed by the kernel)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.calls = 0
        self.cpu = 0.0
        self.memory: dict[str, Any] = {}
        signal.signal(signal.SIGVTALRM, _on_timer)

    def __call__(self, obs: dict[str, Any], t: float) -> Any:
        used = resource.getrusage(resource.RUSAGE_SELF)
        ceiling = int(used.ru_utime + used.ru_stime + 5 * CALL_CPU_S) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or ceiling < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (ceiling, hard))
        t0 = time.process_time()
        signal.setitimer(signal.ITIMER_VIRTUAL, CALL_CPU_S)
        try:
            out = self.fn(obs, self.memory)
        except CallTimeout:
            raise ControllerFault(
                f"at t={_hms(t)} a call did not return within {CALL_CPU_S:g} s of CPU"
            ) from None
        except RecursionError:
            raise ControllerFault(f"at t={_hms(t)} the controller recursed too deep") from None
        except MemoryError:
            raise ControllerFault(f"at t={_hms(t)} the controller ran out of its memory limit") from None
        except Exception as exc:  # the controller's own error: a broken proposal
            raise ControllerFault(
                f"at t={_hms(t)} the controller raised {type(exc).__name__}: {exc}"
            ) from None
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        self.cpu += time.process_time() - t0
        self.calls += 1
        if self.cpu > TOTAL_CPU_S:
            raise ControllerFault(f"the controller used more than {TOTAL_CPU_S:g} s of CPU in all")
        return out


def _hms(t: float) -> str:
    h, rest = divmod(round(t), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _apply(out: Any, acts: dict[str, _Actuator], model: Model, t: float) -> None:
    if not isinstance(out, dict):
        raise ControllerFault(f"at t={_hms(t)} the controller returned {type(out).__name__}, not a dict")
    for key, value in out.items():
        act = acts.get(key) if isinstance(key, str) else None
        if act is None:
            raise ControllerFault(
                f"at t={_hms(t)} the controller returned {key!r}, which it does not actuate "
                f"(actuates: {', '.join(acts)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ControllerFault(f"at t={_hms(t)} {key} = {value!r} is not a number")
        value = float(value)
        if not math.isfinite(value):
            raise ControllerFault(f"at t={_hms(t)} {key} = {value} is not finite")
        if not act.lo <= value <= act.hi:
            raise ControllerFault(
                f"at t={_hms(t)} {key} = {value:g} is outside its bounds [{act.lo:g}, {act.hi:g}]"
            )
        if value != act.value:
            internal = units.convert(value, act.unit, act.internal) if act.unit and act.internal else value
            model.component(act.node).set_parameter(act.name, internal)
            act.changes += 1
            act.value = value


def _observe(
    model: Model, refs: list[str], t: float, stress: Stress, rng: np.random.Generator, nominal: dict
) -> dict:
    obs: dict[str, Any] = {"t": t}
    out = stress.dropout is not None and stress.dropout[0] <= t < stress.dropout[1]
    for ref in refs:
        node, _, state = ref.partition(".")
        value = float(model.component(node).state_value(state))
        nominal.setdefault(ref, abs(value))
        if out:
            obs[ref] = None
            continue
        if stress.noise:  # every observed value, a status too (docs/guard.md)
            value += rng.normal(0.0, stress.noise * (nominal[ref] or 1.0))
        obs[ref] = value
    return obs


def compile_stress(
    twin: TwinSpec, proposal: SetpointProposal | ControllerProposal | _Current, stress: Stress
) -> Any:
    """The simulation plan of one scenario, with a setpoint proposal's changes in it (compiled once,
    run for every replication)."""
    interventions = list(stress.interventions)
    if isinstance(proposal, SetpointProposal):
        interventions += proposal.setpoints
    return compile_twin(
        twin, Scenario(name=stress.name, interventions=interventions) if interventions else None
    )


def run_one(
    twin: TwinSpec,
    proposal: SetpointProposal | ControllerProposal | _Current,
    stress: Stress,
    plan: Any,
    replication: int,
    seed: int,
    controller: Callable[..., Any] | None,
    constraints: list[Constraint],
) -> dict[str, Any]:
    """One replication of one scenario (its ``plan`` from :func:`compile_stress`) with the proposal in
    charge (or, for :class:`_Current`, the twin's current control). Plain data: KPIs, the first
    violation of each constraint, the trace."""
    horizon = proposal.horizon
    observed = proposal.observe if isinstance(proposal, ControllerProposal) else []
    recorded = sorted({c.signal for c in constraints if c.signal} | set(observed))
    model = Model(plan, seed, replication, RunOptions(horizon=horizon, record=tuple(recorded)))
    model.start()
    fault = None
    switches: dict[str, int] = {}
    if isinstance(proposal, ControllerProposal) and controller is not None:
        acts = _actuators(twin, proposal)
        call = _Caller(controller)
        rng = np.random.default_rng([seed, replication, 7])
        nominal: dict[str, float] = {}
        t = 0.0
        try:
            while t < horizon:
                model.advance(t)
                obs = _observe(model, proposal.observe, t, stress, rng, nominal)
                _apply(call(obs, t), acts, model, t)
                t += proposal.period
        except ControllerFault as exc:
            fault = str(exc)
        else:
            if call.calls and call.cpu / call.calls > MEAN_CPU_S:
                fault = f"the controller took {call.cpu / call.calls:.3f} s of CPU per call on average (limit {MEAN_CPU_S:g} s)"
        switches = {ref: a.changes for ref, a in acts.items()}
    elif isinstance(proposal, SetpointProposal):
        for s in proposal.setpoints:
            ref = f"{s.target}.{s.parameter}"
            switches[ref] = switches.get(ref, 0) + 1
    if fault is None:
        model.advance(horizon)
    result = model.result()
    kpis = {row[0]: row[3] for row in result.kpis}
    violations = (
        [] if fault else [v for c in constraints if (v := first_violation(c, result, kpis, switches))]
    )
    violations.sort(key=lambda v: math.inf if v["time_h"] is None else v["time_h"])  # earliest first
    return {
        "scenario": stress.name,
        "replication": replication,
        "fault": fault,
        "kpis": kpis,
        "switches": switches,
        "violations": violations,
        "trace": _trace(result, horizon),
    }


def _trace(result: Any, horizon: float) -> dict[str, Any]:
    times = np.linspace(0.0, horizon, TRACE_POINTS)
    return {
        "t_h": [round(float(x) / 3600, 4) for x in times],
        "signals": {
            name: [None if not math.isfinite(v) else round(float(v), 6) for v in s.at(times)]
            for name, s in result.series.items()
        },
    }


def run_proposal(
    twin: TwinSpec,
    proposal: SetpointProposal | ControllerProposal,
    reps: int,
    seed: int,
    controller: Callable[..., Any] | None = None,
    proposed: bool = True,
    baseline: bool = True,
) -> dict[str, Any]:
    """Every scenario × replication for the proposal (``proposed``) and the current control
    (``baseline``)."""
    problems = proposal_problems(twin, proposal)
    if problems:
        return {"problems": problems, "runs": [], "baseline": []}
    constraints = constraints_for(twin, proposal)
    scenarios = stresses(twin, proposal)
    runs: list[dict[str, Any]] = []
    for s in scenarios if proposed else []:
        plan = compile_stress(twin, proposal, s)
        for r in range(reps):
            runs.append(run_one(twin, proposal, s, plan, r, seed, controller, constraints))
            if runs[-1]["fault"]:
                return {"problems": [], "runs": runs, "baseline": []}  # broken: the rest cannot tell more
    base: list[dict[str, Any]] = []
    if baseline:
        kept = [c for c in constraints if c.kind != "switching"]
        current = _Current(proposal.horizon)
        for s in scenarios:
            plan = compile_stress(twin, current, s)
            base += [run_one(twin, current, s, plan, r, seed, None, kept) for r in range(reps)]
    return {"problems": [], "runs": runs, "baseline": base}


@dataclass
class _Current:
    """The twin's current control: its parameters as declared, no proposal."""

    horizon: float

    def actuated(self) -> list[str]:
        return []


__all__ = ["ControllerFault", "Stress", "compile_stress", "run_one", "run_proposal", "stresses"]
