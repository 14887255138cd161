"""Why-questions answered by counterfactuals: change the thing asked about, re-run, compare.

- Supply networks: "why do we ship from S to T?" forbids the lane S->T; "why is S used?" removes S
  (all its flows). The cost difference is what S (or the lane) saves. An unused node or lane is
  reported as unused, without a run.
- Production lines and pump stations: "why is X the bottleneck / why does X limit us?" relieves X
  (documented per kind in :data:`RELIEF`) and reports how much the headline KPI moves: a large
  gain means X limits the system, none means it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinforge.plan.models import WhyPlan
from twinforge.scenario import ForbidFlow, Intervention, RemoveNode, ScaleParameter, Setpoint
from twinforge.spec.models import TwinSpec

#: How a node is relieved in a simulation counterfactual: (parameter, factor).
RELIEF: dict[str, tuple[str, float]] = {
    "station": ("process_time", 0.8),  # 20% faster
    "conveyor": ("transport_time", 0.8),
    "buffer": ("capacity", 2.0),  # twice the room
    "source": ("interarrival_time", 0.8),  # 25% more arrivals
    "pump": ("flow_rate", 1.2),
    "tank": ("capacity", 1.5),
}


@dataclass
class Counterfactual:
    interventions: list[Intervention] | None
    explanation: str


def counterfactual(twin: TwinSpec, plan: WhyPlan, engine: Any) -> Counterfactual:
    if getattr(engine, "name", "") == "optimize":
        return _network(twin, plan, engine)
    return _line(twin, plan)


def _network(twin: TwinSpec, plan: WhyPlan, engine: Any) -> Counterfactual:
    flows = engine.baseline.flows
    if plan.source:
        edges = twin.edges_between(plan.source, plan.target)
        if not edges:
            return Counterfactual(None, f"There is no lane from {plan.source} to {plan.target} in the twin.")
        key = edges[0].key
        used = float(flows.loc[flows["edge"] == key, "flow"].sum()) if len(flows) else 0.0
        if used <= 1e-9:
            return Counterfactual(
                None, f"The optimal plan ships nothing from {plan.source} to {plan.target}."
            )
        return Counterfactual(
            [ForbidFlow(edge=key)],
            f"The optimal plan ships {used:g} item/day from {plan.source} to {plan.target}. "
            "To see why, the twin forbids that lane and re-optimises:",
        )
    node = plan.target
    through = (
        flows.loc[(flows["source"] == node) | (flows["target"] == node), "flow"].sum() if len(flows) else 0.0
    )
    if through <= 1e-9:
        return Counterfactual(None, f"{node} carries no flow in the optimal plan: it is not used.")
    return Counterfactual(
        [RemoveNode(target=node)],
        f"{node} handles {float(through):g} item/day in the optimal plan. To see why, the twin takes it away and re-optimises:",
    )


def _line(twin: TwinSpec, plan: WhyPlan) -> Counterfactual:
    node = twin.node(plan.target)
    if node.kind == "valve":
        return Counterfactual(
            [Setpoint(target=node.id, parameter="opening", value=1.0)],
            f"To see how much {node.id} limits the system, the twin opens it fully and re-runs:",
        )
    relief = RELIEF.get(node.kind)
    if relief is None:
        return Counterfactual(None, f"The twin has no way to relieve a {node.kind} such as {node.id}.")
    param, factor = relief
    return Counterfactual(
        [ScaleParameter(target=node.id, parameter=param, factor=factor)],
        f"To see how much {node.id} limits the system, the twin relieves it ({param} × {factor:g}) and re-runs "
        "with the same random numbers:",
    )
