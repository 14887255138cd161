"""Compile a twin (and an applied scenario) into a :class:`ModelPlan`.

The plan is plain, picklable data with every parameter resolved once into the simulator's internal
units (seconds, kW, m^3, m^3/s, degC, items), so that replications — in this process, in a process
pool or on a Ray cluster — never touch pint or pydantic validation again.

What the simulator models (everything else is refused with a :class:`SimulationError`):

- item flow: ``source``, ``station``, ``buffer``, ``conveyor``, ``sink`` and ``junction`` joined by
  material edges (an edge with a ``transport_time`` becomes an unlimited conveyor);
- liquid flow: ``tank``, ``pump``, ``valve``, ``junction`` joined by physical edges;
- ``sensor`` nodes and every node's ``signals`` (telemetry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twinforge.scenario import INTERVENTION_OPS, AppliedScenario, Outage, Scenario, Setpoint, apply_scenario
from twinforge.scenario.models import ForbidFlow, RestrictPartners
from twinforge.sim.errors import SimulationError
from twinforge.spec import units
from twinforge.spec.distributions import Constant, Distribution
from twinforge.spec.models import Node, TwinSpec
from twinforge.spec.validate import signal_target

#: Scenario operations the simulator honours (all but the optimisation-only ones).
SIM_OPS = set(INTERVENTION_OPS) - {"exclusive", "scale_demand"}

ITEM_KINDS = {"source", "station", "buffer", "conveyor", "sink"}
LIQUID_KINDS = {"tank", "pump", "valve"}
SIM_KINDS = ITEM_KINDS | LIQUID_KINDS | {"junction", "sensor"}
NETWORK_KINDS = {"supplier", "plant", "warehouse", "customer", "depot"}
ROUTING_POLICIES = ("first_available", "round_robin", "random", "shortest_queue")

#: Internal unit of each parameter the simulator reads (default: the catalogue unit).
INTERNAL_UNITS: dict[tuple[str, str], str] = {
    ("source", "interarrival_time"): "s",
    ("source", "start_time"): "s",
    ("station", "process_time"): "s",
    ("station", "setup_time"): "s",
    ("station", "mtbf"): "s",
    ("station", "mttr"): "s",
    ("station", "failure_rate_base"): "1/s",
    ("station", "heating_rate"): "K/s",
    ("station", "cooling_time_constant"): "s",
    ("station", "cost_per_hour"): "{currency}/h",
    ("conveyor", "transport_time"): "s",
    ("sink", "daily_target"): "item/day",
    ("tank", "outflow_rate"): "m^3/s",
    ("pump", "flow_rate"): "m^3/s",
    ("pump", "mtbf"): "s",
    ("pump", "mttr"): "s",
    ("valve", "mtbf"): "s",
    ("valve", "mttr"): "s",
    ("valve", "flow_coefficient"): "m^3/s",
}


@dataclass
class EdgePlan:
    key: str
    source: str
    target: str
    products: frozenset[str] | None = None  # None: every product
    weight: float = 1.0


@dataclass
class NodePlan:
    id: str
    kind: str
    values: dict[str, float] = field(default_factory=dict)
    dists: dict[str, Distribution] = field(default_factory=dict)
    by_product: dict[str, dict[str, Distribution]] = field(default_factory=dict)
    initial: dict[str, float] = field(default_factory=dict)
    successors: list[EdgePlan] = field(default_factory=list)
    predecessors: list[str] = field(default_factory=list)
    routing: str = "first_available"
    meta: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str, default: float | None = None) -> float | None:
        return self.values.get(name, default)


@dataclass
class SignalPlan:
    """One telemetry channel: ``node.signal`` samples ``target.state`` every ``period`` seconds."""

    node: str
    signal: str
    target: str
    state: str
    period: float
    noise_std: float
    range: tuple[float, float] | None
    unit: str | None
    scale: float = 1.0  # signal value = scale * state value + offset (unit conversion)
    offset: float = 0.0


@dataclass
class PumpPath:
    """The pipe path of one pump: tanks and valves on its suction and discharge sides."""

    pump: str
    suction_tank: str | None
    suction_valves: list[str]
    discharge_tank: str | None
    discharge_valves: list[str]
    junctions: list[str]


@dataclass
class ModelPlan:
    twin: str
    currency: str
    products: list[str]
    nodes: dict[str, NodePlan]
    signals: list[SignalPlan]
    outages: list[tuple[str, float, float]]
    setpoints: list[tuple[str, str, float, float]]  # node, parameter, value (internal unit), time
    pumps: list[PumpPath]
    scenario: str | None = None
    custom_states: dict[tuple[str, str], float] = field(default_factory=dict)

    def of_kind(self, *kinds: str) -> list[NodePlan]:
        return [n for n in self.nodes.values() if n.kind in kinds]

    @property
    def has_items(self) -> bool:
        return any(n.kind in ITEM_KINDS for n in self.nodes.values())


# -- parameter resolution ------------------------------------------------------------------------


def internal_unit(twin: TwinSpec, node: Node, name: str) -> str | None:
    unit = INTERNAL_UNITS.get((node.kind, name))
    if unit is not None:
        return unit.replace("{currency}", twin.currency)
    pdef = node.param_def(name)
    return pdef.unit_for(twin.currency) if pdef else None


def _source_unit(twin: TwinSpec, node: Node, name: str) -> str | None:
    p = node.parameters.get(name)
    pdef = node.param_def(name)
    cat = pdef.unit_for(twin.currency) if pdef else None
    if p is not None and p.unit is not None:
        return p.unit
    return cat


def scalar(twin: TwinSpec, node: Node, name: str) -> float | None:
    """Nominal value in the internal unit (the catalogue default when not set; None when absent)."""
    p = node.parameters.get(name)
    pdef = node.param_def(name)
    unit = internal_unit(twin, node, name)
    if p is not None and p.nominal is not None:
        return units.convert(p.nominal, _source_unit(twin, node, name), unit)
    if pdef is not None and pdef.default is not None:
        return units.convert(pdef.default, pdef.unit_for(twin.currency), unit)
    return None


def distribution(twin: TwinSpec, node: Node, name: str) -> Distribution | None:
    """The parameter as a distribution in the internal unit (a constant when it has no distribution)."""
    p = node.parameters.get(name)
    unit = internal_unit(twin, node, name)
    if p is not None and p.distribution is not None:
        factor = units.conversion_factor(_source_unit(twin, node, name), unit)
        return p.distribution if factor == 1.0 else p.distribution.scaled(factor)
    value = scalar(twin, node, name)
    return None if value is None else Constant(value=value)


def per_product(twin: TwinSpec, node: Node, name: str) -> dict[str, Distribution]:
    p = node.parameters.get(name)
    if p is None or not p.by_product:
        return {}
    src, unit = _source_unit(twin, node, name), internal_unit(twin, node, name)
    factor = units.conversion_factor(src, unit)
    out: dict[str, Distribution] = {}
    for product, value in p.by_product.items():
        mean = value * factor
        if p.distribution is not None and p.distribution.mean() != 0:
            out[product] = p.distribution.scaled(factor).with_mean(mean)
        else:
            out[product] = Constant(value=mean)
    return out


_SCALARS: dict[str, tuple[str, ...]] = {
    "source": ("batch_size", "start_time", "max_arrivals", "cost_per_item"),
    "station": (
        "servers",
        "speed",
        "failure_rate_base",
        "hazard_temperature_coefficient",
        "hazard_wear_coefficient",
        "wear_per_cycle",
        "ambient_temperature",
        "heating_rate",
        "cooling_time_constant",
        "max_temperature",
        "power_busy",
        "power_idle",
        "energy_price",
        "cost_per_hour",
        "scrap_rate",
    ),
    "buffer": ("capacity", "initial_level"),
    "conveyor": ("capacity",),
    "sink": ("daily_target", "price_per_item"),
    "tank": ("capacity", "initial_level", "high_level", "low_level", "outflow_rate"),
    "pump": ("flow_rate", "speed", "power", "head", "efficiency", "max_vibration", "max_temperature"),
    "valve": ("opening", "flow_coefficient"),
    "junction": ("elevation",),
    "sensor": ("accuracy",),
}
_DISTS: dict[str, tuple[str, ...]] = {
    "source": ("interarrival_time",),
    "station": ("process_time", "setup_time", "mtbf", "mttr", "mcbf"),
    "conveyor": ("transport_time",),
    "pump": ("mtbf", "mttr", "mcbf"),
    "valve": ("mtbf", "mttr", "mcbf"),
}


def _node_plan(twin: TwinSpec, node: Node) -> NodePlan:
    plan = NodePlan(id=node.id, kind=node.kind)
    for name in _SCALARS.get(node.kind, ()):
        v = scalar(twin, node, name)
        if v is not None:
            plan.values[name] = v
    for name in _DISTS.get(node.kind, ()):
        d = distribution(twin, node, name)
        if d is not None:
            plan.dists[name] = d
        bp = per_product(twin, node, name)
        if bp:
            plan.by_product[name] = bp
    if node.kind == "pump" or node.kind == "valve":
        for name in ("energy_price",):
            v = scalar(twin, node, name)
            if v is not None:
                plan.values[name] = v
    for name, sv in node.state.items():
        if sv.initial is not None:
            plan.initial[name] = float(sv.initial)
    routing = node.metadata.get("routing", "first_available")
    if routing not in ROUTING_POLICIES:
        raise SimulationError(
            f"node {node.id!r}: unknown routing policy {routing!r} in metadata.routing; "
            f"expected one of {', '.join(ROUTING_POLICIES)}"
        )
    plan.routing = routing
    plan.meta = dict(node.metadata)
    return plan


# -- checks --------------------------------------------------------------------------------------


def _check_station(twin: TwinSpec, node: Node, plan: NodePlan) -> None:
    pt = node.parameters.get("process_time")
    if "process_time" not in plan.dists and not plan.by_product.get("process_time"):
        raise SimulationError(f"station {node.id!r} has no process_time")
    if "process_time" not in plan.dists:
        missing = [p for p in twin.products if p not in plan.by_product.get("process_time", {})]
        if not twin.products or missing:
            raise SimulationError(
                f"station {node.id!r}: process_time has values only for "
                f"{', '.join(sorted((pt.by_product or {}) if pt else {}))}; items of "
                f"{', '.join(missing) if missing else 'no product'} would have none "
                "(give a value or distribution for every product, or a default value)"
            )
    failing = [k for k in ("mtbf", "mcbf", "failure_rate_base") if k in node.parameters]
    if failing and "mttr" not in node.parameters:
        raise SimulationError(
            f"station {node.id!r} has {', '.join(failing)} but no mttr: a failure needs a repair time"
        )
    if "failure_rate_base" not in node.parameters:
        for k in ("hazard_temperature_coefficient", "hazard_wear_coefficient"):
            if plan.values.get(k, 0) > 0:
                raise SimulationError(
                    f"station {node.id!r} sets {k} but no failure_rate_base (the hazard it modifies)"
                )


def _walk(twin: TwinSpec, start: str, forward: bool) -> tuple[str | None, list[str], list[str]]:
    """Follow physical edges from a pump to the first tank: (tank, valves, junctions) on the way."""
    valves: list[str] = []
    junctions: list[str] = []
    seen = {start}
    current = start
    while True:
        nxt = [
            (e.target if forward else e.source)
            for e in twin.edges
            if e.kind == "physical" and (e.source if forward else e.target) == current
        ]
        nxt = [n for n in nxt if n not in seen]
        if not nxt:
            return None, valves, junctions
        current = nxt[0]
        seen.add(current)
        kind = twin.node(current).kind
        if kind == "tank":
            return current, valves, junctions
        if kind == "valve":
            valves.append(current)
        elif kind == "junction":
            junctions.append(current)
        elif kind == "pump":
            return None, valves, junctions  # pumps in series: the other pump has its own path


def _signals(twin: TwinSpec, nodes: dict[str, NodePlan]) -> tuple[list[SignalPlan], dict]:
    from twinforge.sim.components import STATE_NAMES

    out: list[SignalPlan] = []
    custom: dict[tuple[str, str], float] = {}
    for node in twin.nodes:
        for sig in node.signals:
            target_id, state = signal_target(twin, node, sig)
            if target_id not in nodes:
                continue  # a removed node: the scenario layer already warned
            target = twin.node(target_id)
            if state not in STATE_NAMES.get(target.kind, ()):
                sv = target.state.get(state)
                known = {"pump": ("acceleration",)}.get(target.kind, ())
                if not any(state.startswith(k) for k in known):
                    custom[(target_id, state)] = float(sv.initial) if sv and sv.initial is not None else 0.0
            s_unit = target.state_unit(state)
            scale, offset = 1.0, 0.0
            if sig.unit is not None and s_unit is not None and sig.unit != s_unit:
                offset = units.convert(0.0, s_unit, sig.unit)
                scale = units.convert(1.0, s_unit, sig.unit) - offset
            out.append(
                SignalPlan(
                    node=node.id,
                    signal=sig.name,
                    target=target_id,
                    state=state,
                    period=sig.period_s,
                    noise_std=sig.noise_std,
                    range=tuple(sig.range) if sig.range else None,  # type: ignore[arg-type]
                    unit=sig.unit or s_unit,
                    scale=scale,
                    offset=offset,
                )
            )
    return out, custom


# -- compile --------------------------------------------------------------------------------------


def compile_twin(twin: TwinSpec, scenario: AppliedScenario | Scenario | None = None) -> ModelPlan:
    """Resolve a twin (with an optional scenario) into a :class:`ModelPlan` ready to simulate."""
    outages: list[Outage] = []
    setpoints: list[Setpoint] = []
    constraints: list[Any] = []
    scenario_name = None
    if isinstance(scenario, Scenario):
        scenario = apply_scenario(twin, scenario)
    if scenario is not None:
        scenario.require_supported(SIM_OPS, "simulation")
        twin = scenario.twin
        outages = [t for t in scenario.timed if isinstance(t, Outage)]
        setpoints = [t for t in scenario.timed if isinstance(t, Setpoint)]
        constraints = list(scenario.constraints)
        scenario_name = scenario.scenario.name

    network = [n.id for n in twin.nodes if n.kind in NETWORK_KINDS]
    if network:
        raise SimulationError(
            f"twin {twin.name!r} has supply-network nodes ({', '.join(network)}) that the "
            "discrete-event simulator does not model; plan such networks with twinforge.optimize"
        )
    material_edges = [e for e in twin.edges if e.kind == "material"]
    in_material = {e.source for e in material_edges} | {e.target for e in material_edges}
    custom_in_flow = [n.id for n in twin.nodes if n.kind == "custom" and n.id in in_material]
    if custom_in_flow:
        raise SimulationError(
            f"custom nodes {', '.join(custom_in_flow)} take part in material flow; the simulator "
            "has no behaviour for them (use a station, buffer or conveyor)"
        )

    nodes: dict[str, NodePlan] = {}
    for node in twin.nodes:
        if node.kind not in SIM_KINDS:
            continue
        plan = _node_plan(twin, node)
        if node.kind == "station":
            _check_station(twin, node, plan)
        if node.kind == "source" and "interarrival_time" not in plan.dists:
            raise SimulationError(f"source {node.id!r} has no interarrival_time")
        if node.kind == "source" and not isinstance(node.metadata.get("blocking", True), bool):
            raise SimulationError(f"source {node.id!r}: metadata.blocking must be true or false")
        if node.kind == "source":
            mix = node.metadata.get("product_mix")
            if mix is not None:
                bad = [p for p in mix if p not in twin.products]
                if bad or not mix or any(float(w) < 0 for w in mix.values()) or sum(mix.values()) <= 0:
                    raise SimulationError(
                        f"source {node.id!r}: metadata.product_mix must map products of the twin "
                        f"({', '.join(twin.products) or 'none declared'}) to non-negative weights"
                    )
        for k in ("pump", "valve"):
            if node.kind == k and any(x in node.parameters for x in ("mtbf", "mcbf")):
                if "mttr" not in node.parameters:
                    raise SimulationError(f"{k} {node.id!r} has mtbf/mcbf but no mttr")
        nodes[node.id] = plan

    # material edges, after scenario constraints
    forbidden: dict[str, set[str] | None] = {}
    for c in constraints:
        if isinstance(c, ForbidFlow):
            e = twin.edge(c.edge)
            if c.product is None:
                forbidden[e.key] = None
            elif forbidden.get(e.key, set()) is not None:
                forbidden.setdefault(e.key, set()).add(c.product)  # type: ignore[union-attr]
    restrict = [c for c in constraints if isinstance(c, RestrictPartners)]
    extra_nodes: dict[str, NodePlan] = {}
    for e in material_edges:
        if e.source not in nodes or e.target not in nodes:
            continue
        if any(
            (r.direction == "serve_only" and e.source == r.target and e.target not in r.partners)
            or (r.direction == "buy_only" and e.target == r.target and e.source not in r.partners)
            for r in restrict
        ):
            continue
        products: frozenset[str] | None = frozenset(e.products) if e.products is not None else None
        if e.key in forbidden:
            banned = forbidden[e.key]
            if banned is None:
                continue
            products = frozenset((products or frozenset(twin.products)) - banned)
            if not products:
                continue
        weight = float(e.metadata.get("weight", 1.0))
        tt = e.parameters.get("transport_time")
        if tt is not None and (tt.distribution is not None or (tt.nominal or 0) > 0):
            # a transfer delay on the edge: an unlimited conveyor in between
            cid = f"{e.key}"
            src_unit = tt.unit or "s"
            dist = tt.distribution if tt.distribution is not None else Constant(value=float(tt.nominal or 0))
            factor = units.conversion_factor(src_unit, "s")
            conv = NodePlan(
                id=cid,
                kind="conveyor",
                dists={"transport_time": dist.scaled(factor) if factor != 1 else dist},
                meta={"implicit": True},
            )
            extra_nodes[cid] = conv
            nodes[e.source].successors.append(EdgePlan(e.key, e.source, cid, products, weight))
            conv.predecessors.append(e.source)
            conv.successors.append(EdgePlan(e.key, cid, e.target, products))
            nodes[e.target].predecessors.append(cid)
        else:
            nodes[e.source].successors.append(EdgePlan(e.key, e.source, e.target, products, weight))
            nodes[e.target].predecessors.append(e.source)
    nodes.update(extra_nodes)

    dead_ends = [
        n.id
        for n in nodes.values()
        if n.kind in ("source", "station", "buffer", "conveyor")
        and not n.successors
        and not n.meta.get("implicit")
    ]
    dead_ends += [
        n.id for n in nodes.values() if n.kind == "junction" and n.predecessors and not n.successors
    ]
    if dead_ends:
        raise SimulationError(
            f"items would have nowhere to go: {', '.join(dead_ends)} "
            f"{'has' if len(dead_ends) == 1 else 'have'} no outgoing material edge"
            + (f" (after scenario {scenario_name!r})" if scenario_name else "")
            + "; connect them to a sink"
        )

    pumps = []
    for n in twin.nodes:
        if n.kind == "pump" and n.id in nodes:
            s_tank, s_valves, j1 = _walk(twin, n.id, forward=False)
            d_tank, d_valves, j2 = _walk(twin, n.id, forward=True)
            pumps.append(PumpPath(n.id, s_tank, s_valves, d_tank, d_valves, j1 + j2))

    signals, custom = _signals(twin, nodes)
    timed_outages = []
    for o in outages:
        if o.target not in nodes:
            raise SimulationError(f"outage of {o.target!r}: the simulator does not model that node")
        timed_outages.append((o.target, float(o.start), float(o.duration)))
    timed_setpoints = []
    for sp in setpoints:
        node = twin.node(sp.target)
        pdef = node.param_def(sp.parameter)
        cat = pdef.unit_for(twin.currency) if pdef else None
        value = units.convert(sp.value, sp.unit if sp.unit is not None else cat, cat)
        value = units.convert(value, cat, internal_unit(twin, node, sp.parameter))
        timed_setpoints.append((sp.target, sp.parameter, value, float(sp.at)))
    return ModelPlan(
        twin=twin.name,
        currency=twin.currency,
        products=list(twin.products),
        nodes=nodes,
        signals=signals,
        outages=timed_outages,
        setpoints=timed_setpoints,
        pumps=pumps,
        scenario=scenario_name,
        custom_states=custom,
    )


def parse_duration(value: float | str, what: str = "duration") -> float:
    """Seconds from a number (seconds) or a quantity such as ``'1 week'``, ``'8 h'``, ``'90 min'``."""
    if isinstance(value, bool):
        raise SimulationError(f"{what} must be a time, found {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            number, unit = units.parse_quantity(text)
            seconds = units.convert(number, unit or "s", "s")
        except Exception as exc:
            raise SimulationError(
                f"{what} {value!r} is not a time (expected seconds or a quantity such as '8 h', '1 week')"
            ) from exc
    if not seconds >= 0 or seconds == float("inf"):
        raise SimulationError(f"{what} must be a finite, non-negative time, found {value!r}")
    return seconds
