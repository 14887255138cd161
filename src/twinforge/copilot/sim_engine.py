"""Answer questions about production lines and pump stations by Monte Carlo simulation.

Baseline and scenario run over the same replications with common random numbers
(:func:`twinforge.sim.compare_scenario`), so the difference is precise with few replications and a
repeated question gets exactly the same answer. The headline KPI is chosen from the twin: the
throughput of a line with sinks, else the mean flow of the (first) pump.
"""

from __future__ import annotations

from typing import Any

from twinforge.copilot.engines import Outcome
from twinforge.errors import TwinforgeError
from twinforge.scenario import Intervention, Scenario, apply_scenario
from twinforge.spec.models import TwinSpec


def headline_kpi(twin: TwinSpec) -> str:
    kinds = {n.kind for n in twin.nodes}
    if "sink" in kinds:
        return "throughput"
    pumps = [n.id for n in twin.nodes if n.kind == "pump"]
    if pumps:
        return f"{pumps[0]}.mean_flow"
    raise TwinforgeError(f"twin {twin.name!r} has neither a sink nor a pump: no headline KPI to answer with")


#: secondary KPIs shown in the details, when the twin has them
_DETAILS = ("output", "wip", "cycle_time", "service_level", "energy", "downtime")


class SimEngine:
    name = "simulate"

    def __init__(
        self,
        twin: TwinSpec,
        *,
        reps: int = 10,
        horizon: str | float = "1 day",
        seed: int = 0,
        kpi: str | None = None,
        workers: int = 1,
        **options: Any,
    ) -> None:
        self.twin = twin
        self.reps = reps
        self.horizon = horizon
        self.seed = seed
        self.workers = workers
        self.options = options
        self.kpi = kpi or headline_kpi(twin)
        self.unit = ""

    def run(self, interventions: list[Intervention], label: str = "scenario") -> Outcome:
        from twinforge.sim import compare_scenario

        applied = apply_scenario(self.twin, Scenario(name=label, interventions=list(interventions)))
        cmp = compare_scenario(
            self.twin,
            applied,
            reps=self.reps,
            horizon=self.horizon,
            seed=self.seed,
            workers=self.workers,
            **self.options,
        )
        row = cmp.row(self.kpi)
        self.unit = str(row.get("unit") or "")
        out = Outcome(
            kpi=self.kpi.replace(".", " ").replace("_", " "),
            unit=self.unit,
            baseline=float(row["baseline"]),
            scenario=float(row["scenario"]),
            ci=(float(row["ci_low"]), float(row["ci_high"])),  # of the paired difference
            raw=cmp,
        )
        out.numbers = {
            "baseline": out.baseline,
            "scenario": out.scenario,
            "ci low": row["ci_low"],
            "ci high": row["ci_high"],
        }
        paired = cmp.paired.set_index("kpi")
        for name in _DETAILS:
            if name in paired.index and name != self.kpi:
                r = paired.loc[name]
                if abs(float(r["difference"])) > 1e-9:
                    unit = f" {r['unit']}" if r["unit"] else ""
                    out.details.append(
                        f"{name.replace('_', ' ')}: {r['baseline']:.4g} → {r['scenario']:.4g}{unit}"
                    )
                    out.numbers[f"{name} baseline"] = float(r["baseline"])
                    out.numbers[f"{name} scenario"] = float(r["scenario"])
        out.details.append(
            f"{self.reps} replications of {self.horizon}, common random numbers (seed {self.seed})"
        )
        return out
