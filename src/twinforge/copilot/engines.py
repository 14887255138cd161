"""Run what a question asks for on the twin's own engine and report the headline number.

An engine takes a list of scenario interventions and returns an :class:`Outcome`: the baseline
and scenario values of the twin's headline KPI, their difference (with a confidence interval for
simulation), and details. Supply networks are answered by flow optimisation (HiGHS); production
lines and pump stations by Monte Carlo simulation with common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from twinforge.scenario import Intervention, Scenario, apply_scenario
from twinforge.spec.models import TwinSpec


@dataclass
class Outcome:
    """Baseline vs scenario on the headline KPI."""

    kpi: str
    unit: str
    baseline: float | None
    scenario: float | None
    feasible: bool = True
    ci: tuple[float, float] | None = None  # of the difference (simulation)
    details: list[str] = field(default_factory=list)
    explanation: str | None = None  # why no plan exists (infeasible)
    numbers: dict[str, float] = field(default_factory=dict)  # every number the answer may show
    raw: Any = None

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.scenario is None:
            return None
        return self.scenario - self.baseline

    @property
    def delta_pct(self) -> float | None:
        d = self.delta
        if d is None or not self.baseline:
            return None
        return 100.0 * d / self.baseline


class Engine(Protocol):
    name: str
    kpi: str
    unit: str

    def run(self, interventions: list[Intervention], label: str = "scenario") -> Outcome: ...


class FlowEngine:
    """Min-cost flow plans (HiGHS): the KPI is the optimal total cost per day."""

    name = "optimize"

    def __init__(self, twin: TwinSpec, **options: Any) -> None:
        from twinforge.optimize.flow import FlowOptions, optimize_flow

        self.twin = twin
        self.options = FlowOptions(**options) if options else None
        self.baseline = optimize_flow(twin, self.options)
        self.kpi = "total cost"
        self.unit = self.baseline.objective_unit

    def run(self, interventions: list[Intervention], label: str = "scenario") -> Outcome:
        from twinforge.optimize.flow import InfeasibleFlowError, compare_flow

        applied = apply_scenario(self.twin, Scenario(name=label, interventions=list(interventions)))
        try:
            cmp = compare_flow(self.twin, applied, self.options, baseline=self.baseline)
        except InfeasibleFlowError as exc:
            out = Outcome(
                self.kpi,
                self.unit,
                self.baseline.objective,
                None,
                feasible=False,
                explanation="\n".join(exc.explanation.lines()),
                raw=exc,
            )
            out.numbers = {"baseline": self.baseline.objective}
            for s in exc.explanation.shortfalls:
                label = f"{s.entity} {s.product or ''}".strip()
                out.numbers.update(
                    {
                        f"{label} short": s.short,
                        f"{label} required": s.required,
                        f"{label} achievable": s.achievable,
                    }
                )
            return out
        out = Outcome(self.kpi, self.unit, cmp.baseline.objective, cmp.scenario.objective, raw=cmp)
        rows = cmp.changed_flows.sort_values("delta", key=abs, ascending=False).head(5)
        for r in rows.itertuples():
            product = f" {r.product}" if isinstance(r.product, str) and r.product else ""
            out.details.append(f"{r.edge}{product}: {r.before:g} → {r.after:g} item/day")
            out.numbers[f"{r.edge}{product} before"] = float(r.before)
            out.numbers[f"{r.edge}{product} after"] = float(r.after)
        if cmp.newly_used:
            out.details.append("newly used: " + ", ".join(cmp.newly_used))
        if cmp.newly_unused:
            out.details.append("no longer used: " + ", ".join(cmp.newly_unused))
        out.numbers.update({"baseline": cmp.baseline.objective, "scenario": cmp.scenario.objective})
        for name, value in cmp.cost_deltas.items():
            if abs(value) > 1e-9:
                out.numbers[f"{name} change"] = value
        return out


def engine_for(twin: TwinSpec, **options: Any) -> Engine:
    """The engine that answers questions about ``twin``."""
    from twinforge.plan.schema import engine_of

    if engine_of(twin) == "optimize":
        return FlowEngine(twin, **options)
    from twinforge.copilot.sim_engine import SimEngine

    return SimEngine(twin, **options)
