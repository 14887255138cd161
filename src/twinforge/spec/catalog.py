"""The component library: which kinds of nodes and edges a twin may contain, and for each kind the
parameters (unit, default, physical bounds) and state variables it has.

This catalogue is what makes the twin language typed: validation, the JSON Schema handed to users
and to LLM decoders, and the scenario language all read it. Units are written with a ``{currency}``
placeholder where money is involved; it is replaced by the twin's own currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class NodeKind(StrEnum):
    source = "source"
    station = "station"
    buffer = "buffer"
    conveyor = "conveyor"
    sink = "sink"
    tank = "tank"
    pump = "pump"
    valve = "valve"
    junction = "junction"
    supplier = "supplier"
    plant = "plant"
    warehouse = "warehouse"
    customer = "customer"
    depot = "depot"
    sensor = "sensor"
    custom = "custom"


#: Other names people use for a kind; the loader accepts them and stores the canonical kind.
KIND_ALIASES: dict[str, NodeKind] = {
    "machine": NodeKind.station,
    "workstation": NodeKind.station,
    "facility": NodeKind.plant,
    "factory": NodeKind.plant,
    "demand_point": NodeKind.customer,
    "demand": NodeKind.customer,
    "pipe_junction": NodeKind.junction,
    "distribution_center": NodeKind.warehouse,
    "dc": NodeKind.warehouse,
}


class EdgeKind(StrEnum):
    material = "material"
    energy = "energy"
    information = "information"
    physical = "physical"
    dependency = "dependency"


EDGE_KIND_ALIASES: dict[str, EdgeKind] = {
    "material_flow": EdgeKind.material,
    "flow": EdgeKind.material,
    "physical_connection": EdgeKind.physical,
    "pipe": EdgeKind.physical,
    "info": EdgeKind.information,
    "data": EdgeKind.information,
}


@dataclass(frozen=True)
class ParamDef:
    """Definition of one parameter of a kind."""

    name: str
    unit: str
    description: str
    default: float | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)
    required: bool = False
    stochastic: bool = False  # may carry a probability distribution
    per_product: bool = False  # may carry one value per product (``by_product``)
    integer: bool = False
    setpoint: bool = False  # may be changed while the twin runs (a control setpoint)

    def unit_for(self, currency: str) -> str:
        return self.unit.replace("{currency}", currency)

    @property
    def operations(self) -> tuple[str, ...]:
        """Scenario operations that make sense on this parameter."""
        ops = ["set", "scale"]
        if self.setpoint:
            ops.append("setpoint")
        return tuple(ops)


@dataclass(frozen=True)
class StateDef:
    """Definition of one state variable of a kind (what sensors observe, what sync sets)."""

    name: str
    unit: str
    description: str
    initial: float = 0.0
    bounds: tuple[float, float] = (-math.inf, math.inf)


@dataclass(frozen=True)
class KindDef:
    kind: str
    description: str
    params: dict[str, ParamDef] = field(default_factory=dict)
    states: dict[str, StateDef] = field(default_factory=dict)
    material: bool = True  # takes part in material flow
    open_parameters: bool = False  # any parameter name is allowed (custom kind)


POS = (0.0, math.inf)
FRACTION = (0.0, 1.0)


def _p(name: str, unit: str, description: str, **kw: object) -> ParamDef:
    return ParamDef(name=name, unit=unit, description=description, **kw)  # type: ignore[arg-type]


def _s(name: str, unit: str, description: str, **kw: object) -> StateDef:
    return StateDef(name=name, unit=unit, description=description, **kw)  # type: ignore[arg-type]


def _kind(
    kind: str,
    description: str,
    params: list[ParamDef],
    states: list[StateDef],
    **kw: object,
) -> KindDef:
    return KindDef(
        kind=kind,
        description=description,
        params={p.name: p for p in params},
        states={s.name: s for s in states},
        **kw,  # type: ignore[arg-type]
    )


_FAILURE_PARAMS = [
    _p("mtbf", "h", "Mean operating time between failures", bounds=POS, stochastic=True),
    _p("mttr", "min", "Mean time to repair", bounds=POS, stochastic=True),
    _p("mcbf", "cycle", "Mean number of cycles between failures", bounds=POS, stochastic=True),
]
_STATUS = _s("status", "", "1 when up, 0 when down (failed or stopped)", initial=1.0, bounds=(0, 1))
_TEMPERATURE = _s("temperature", "degC", "Temperature of the asset", initial=25.0)

CATALOG: dict[str, KindDef] = {
    k.kind: k
    for k in [
        _kind(
            "source",
            "Releases items into the system according to an arrival process.",
            [
                _p(
                    "interarrival_time",
                    "s",
                    "Time between arrivals",
                    required=True,
                    bounds=POS,
                    stochastic=True,
                ),
                _p("batch_size", "item", "Items per arrival", default=1, bounds=(1, 1e6), integer=True),
                _p("start_time", "s", "Time of the first arrival", default=0, bounds=POS),
                _p("max_arrivals", "item", "Stop after this many items", bounds=POS, integer=True),
                _p("cost_per_item", "{currency}/item", "Material cost per item", default=0, bounds=POS),
            ],
            [_s("released", "item", "Items released so far")],
        ),
        _kind(
            "station",
            "A machine or work station: one or more servers that process items.",
            [
                _p(
                    "process_time",
                    "s",
                    "Time to process one item on one server",
                    required=True,
                    bounds=POS,
                    stochastic=True,
                    per_product=True,
                ),
                _p("servers", "", "Parallel servers", default=1, bounds=(1, 1000), integer=True),
                _p(
                    "setup_time",
                    "s",
                    "Setup time when the product changes",
                    default=0,
                    bounds=POS,
                    stochastic=True,
                ),
                _p(
                    "speed",
                    "",
                    "Speed setpoint as a fraction of nominal",
                    default=1.0,
                    bounds=(0.05, 2.0),
                    setpoint=True,
                ),
                *_FAILURE_PARAMS,
                _p("failure_rate_base", "1/h", "Base failure hazard of the state-driven model", bounds=POS),
                _p(
                    "hazard_temperature_coefficient",
                    "1/K",
                    "Hazard multiplier exp(k*(T - ambient)) per kelvin above ambient",
                    default=0,
                    bounds=(0, 10),
                ),
                _p("hazard_wear_coefficient", "", "Hazard multiplier (1 + c*wear)", default=0, bounds=POS),
                _p(
                    "wear_per_cycle",
                    "",
                    "Wear added by each processed item (reset by repair)",
                    default=0,
                    bounds=POS,
                ),
                _p("ambient_temperature", "degC", "Ambient temperature", default=25.0, bounds=(-60, 80)),
                _p("heating_rate", "K/min", "Temperature rise rate while busy", default=0, bounds=POS),
                _p(
                    "cooling_time_constant",
                    "min",
                    "First-order cooling time constant",
                    default=30,
                    bounds=(1e-3, math.inf),
                ),
                _p("max_temperature", "degC", "Physical temperature limit", default=120, bounds=(-60, 2000)),
                _p("power_busy", "kW", "Electrical power while processing", default=0, bounds=POS),
                _p("power_idle", "kW", "Electrical power while idle", default=0, bounds=POS),
                _p("energy_price", "{currency}/kWh", "Price of electricity", default=0, bounds=POS),
                _p("cost_per_hour", "{currency}/h", "Operating cost while up", default=0, bounds=POS),
                _p("scrap_rate", "", "Share of processed items scrapped", default=0, bounds=FRACTION),
            ],
            [
                _STATUS,
                _TEMPERATURE,
                _s("wear", "", "Accumulated wear (0 new)", bounds=POS),
                _s("queue", "item", "Items waiting in front of the station", bounds=POS),
                _s("busy", "", "Servers busy", bounds=POS),
                _s("vibration", "mm/s", "Vibration velocity RMS", bounds=POS),
                _s("power", "kW", "Electrical power drawn", bounds=POS),
            ],
        ),
        _kind(
            "buffer",
            "A finite store between stations; upstream blocks when it is full.",
            [
                _p("capacity", "item", "Maximum items held", required=True, bounds=(1, 1e9), integer=True),
                _p("initial_level", "item", "Items held at time zero", default=0, bounds=POS, integer=True),
            ],
            [_s("level", "item", "Items held", bounds=POS)],
        ),
        _kind(
            "conveyor",
            "Moves items with a transport delay; may hold a limited number at once.",
            [
                _p("transport_time", "s", "Time to traverse", required=True, bounds=POS, stochastic=True),
                _p("capacity", "item", "Items on the conveyor at once", bounds=(1, 1e9), integer=True),
                _p("length", "m", "Length", bounds=POS),
            ],
            [_s("occupancy", "item", "Items on the conveyor", bounds=POS), _STATUS],
        ),
        _kind(
            "sink",
            "Where finished items leave the system.",
            [
                _p("daily_target", "item/day", "Items that must arrive per day", bounds=POS),
                _p("price_per_item", "{currency}/item", "Revenue per finished item", default=0, bounds=POS),
            ],
            [_s("count", "item", "Items received", bounds=POS)],
        ),
        _kind(
            "tank",
            "A liquid store whose level follows inflow minus outflow.",
            [
                _p("capacity", "m^3", "Usable volume", required=True, bounds=(0, math.inf)),
                _p("initial_level", "m^3", "Volume held at time zero", default=0, bounds=POS),
                _p("high_level", "m^3", "High-level alarm", bounds=POS, setpoint=True),
                _p("low_level", "m^3", "Low-level alarm", bounds=POS, setpoint=True),
                _p(
                    "outflow_rate",
                    "m^3/h",
                    "Demand drawn from the tank",
                    default=0,
                    bounds=POS,
                    setpoint=True,
                ),
            ],
            [_s("level", "m^3", "Volume held", bounds=POS), _TEMPERATURE],
        ),
        _kind(
            "pump",
            "Moves liquid; flow scales with the speed setpoint.",
            [
                _p("flow_rate", "m^3/h", "Flow at nominal speed", required=True, bounds=POS),
                _p(
                    "speed",
                    "",
                    "Speed setpoint as a fraction of nominal",
                    default=1.0,
                    bounds=(0, 1.2),
                    setpoint=True,
                ),
                _p("power", "kW", "Rated electrical power", default=0, bounds=POS),
                _p("head", "m", "Rated head", bounds=POS),
                _p("efficiency", "", "Hydraulic efficiency", bounds=FRACTION),
                _p("max_vibration", "mm/s", "Vibration limit", bounds=POS),
                _p("max_temperature", "degC", "Temperature limit", default=90, bounds=(-60, 500)),
                _p("energy_price", "{currency}/kWh", "Price of electricity", default=0, bounds=POS),
                *_FAILURE_PARAMS,
            ],
            [
                _STATUS,
                _s("flow", "m^3/h", "Volumetric flow", bounds=POS),
                _s("vibration", "mm/s", "Vibration velocity RMS", bounds=POS),
                _s("acceleration", "g_0", "Vibration acceleration RMS", bounds=POS),
                _s("current", "A", "Motor current", bounds=POS),
                _s("voltage", "V", "Supply voltage", bounds=POS),
                _s("pressure", "bar", "Discharge pressure"),
                _TEMPERATURE,
                _s("power", "kW", "Electrical power drawn", bounds=POS),
            ],
        ),
        _kind(
            "valve",
            "Throttles flow in a pipe network.",
            [
                _p(
                    "opening",
                    "",
                    "Opening as a fraction (0 closed, 1 open)",
                    default=1.0,
                    bounds=FRACTION,
                    setpoint=True,
                ),
                _p(
                    "flow_coefficient", "m^3/h", "Kv: flow at 1 bar pressure drop when fully open", bounds=POS
                ),
                *_FAILURE_PARAMS,
            ],
            [
                _s("opening", "", "Opening as a fraction", initial=1.0, bounds=FRACTION),
                _s("flow", "m^3/h", "Flow through the valve", bounds=POS),
                _STATUS,
            ],
        ),
        _kind(
            "junction",
            "A pipe junction joining flows.",
            [_p("elevation", "m", "Elevation", default=0)],
            [_s("pressure", "bar", "Pressure"), _s("flow", "m^3/h", "Net flow", bounds=POS), _TEMPERATURE],
        ),
        _kind(
            "supplier",
            "Supplies products to the network.",
            [
                _p("supply_capacity", "item/day", "Maximum supply", bounds=POS, per_product=True),
                _p(
                    "cost_per_unit",
                    "{currency}/item",
                    "Purchase price",
                    default=0,
                    bounds=POS,
                    per_product=True,
                ),
                _p("lead_time", "day", "Lead time", default=0, bounds=POS, stochastic=True),
                _p("reliability", "", "Share of orders delivered in full", default=1, bounds=FRACTION),
            ],
            [_s("inventory", "item", "Stock on hand", bounds=POS)],
        ),
        _kind(
            "plant",
            "A plant or facility that processes products.",
            [
                _p(
                    "capacity", "item/day", "Total throughput over all products", bounds=POS, per_product=True
                ),
                _p(
                    "processing_cost",
                    "{currency}/item",
                    "Cost to process one item",
                    default=0,
                    bounds=POS,
                    per_product=True,
                ),
                _p("fixed_cost", "{currency}/day", "Cost of keeping the plant open", default=0, bounds=POS),
            ],
            [_s("inventory", "item", "Stock on hand", bounds=POS), _STATUS],
        ),
        _kind(
            "warehouse",
            "A warehouse or distribution centre.",
            [
                _p("capacity", "item/day", "Throughput", bounds=POS, per_product=True),
                _p(
                    "handling_cost",
                    "{currency}/item",
                    "Cost to handle one item",
                    default=0,
                    bounds=POS,
                    per_product=True,
                ),
                _p("storage_capacity", "item", "Items that can be stored", bounds=POS),
            ],
            [_s("inventory", "item", "Stock on hand", bounds=POS)],
        ),
        _kind(
            "customer",
            "A customer or demand point.",
            [
                _p("demand", "item/day", "Demand", default=0, bounds=POS, per_product=True, stochastic=True),
                _p(
                    "unmet_penalty",
                    "{currency}/item",
                    "Cost of each unit of unmet demand",
                    bounds=POS,
                    per_product=True,
                ),
                _p("service_time", "min", "Time spent serving a delivery", default=0, bounds=POS),
                _p("time_window_start", "h", "Earliest delivery (time of day)", bounds=(0, 24 * 7)),
                _p("time_window_end", "h", "Latest delivery (time of day)", bounds=(0, 24 * 7)),
                _p("service_level_target", "", "Share of demand to be met", bounds=FRACTION),
            ],
            [_s("backlog", "item", "Unmet demand", bounds=POS)],
        ),
        _kind(
            "depot",
            "Where vehicles start and end their routes.",
            [
                _p("vehicles", "", "Vehicles available", default=1, bounds=(0, 10000), integer=True),
                _p("vehicle_capacity", "item", "Load per vehicle", bounds=POS),
                _p("max_route_duration", "h", "Longest route", bounds=POS),
                _p("cost_per_km", "{currency}/km", "Driving cost", default=1, bounds=POS),
                _p("speed", "km/h", "Average driving speed", default=50, bounds=(1e-3, 300)),
                _p("time_window_start", "h", "Opening time", default=0, bounds=(0, 24 * 7)),
                _p("time_window_end", "h", "Closing time", default=24, bounds=(0, 24 * 7)),
            ],
            [_s("vehicles_out", "", "Vehicles on the road", bounds=POS)],
        ),
        _kind(
            "sensor",
            "An instrument that observes a state variable of another node.",
            [
                _p("accuracy", "", "Relative accuracy (share of reading)", bounds=FRACTION),
            ],
            [],
            material=False,
        ),
        _kind(
            "custom",
            "Anything else: parameters and states are declared by the twin itself.",
            [],
            [],
            open_parameters=True,
        ),
    ]
}


@dataclass(frozen=True)
class EdgeKindDef:
    kind: str
    description: str
    params: dict[str, ParamDef]


EDGE_CATALOG: dict[str, EdgeKindDef] = {
    "material": EdgeKindDef(
        "material",
        "Items or products flow from source to target.",
        {
            p.name: p
            for p in [
                _p("capacity", "item/day", "Maximum flow", bounds=POS, per_product=True),
                _p(
                    "cost_per_unit",
                    "{currency}/item",
                    "Shipping cost per unit",
                    default=0,
                    bounds=POS,
                    per_product=True,
                ),
                _p("fixed_cost", "{currency}/day", "Cost of using the lane", default=0, bounds=POS),
                _p("lead_time", "day", "Transit lead time", default=0, bounds=POS, stochastic=True),
                _p("distance", "km", "Distance", bounds=POS),
                _p(
                    "transport_time",
                    "s",
                    "Transfer delay inside a line",
                    default=0,
                    bounds=POS,
                    stochastic=True,
                ),
                _p(
                    "min_flow", "item/day", "Contracted minimum flow", default=0, bounds=POS, per_product=True
                ),
            ]
        },
    ),
    "energy": EdgeKindDef(
        "energy",
        "Energy supplied from source to target.",
        {p.name: p for p in [_p("capacity", "kW", "Maximum power", bounds=POS)]},
    ),
    "information": EdgeKindDef(
        "information",
        "Data or control signals (sensors, controllers).",
        {p.name: p for p in [_p("latency", "s", "Transmission delay", default=0, bounds=POS)]},
    ),
    "physical": EdgeKindDef(
        "physical",
        "A physical connection such as a pipe or a shaft.",
        {
            p.name: p
            for p in [
                _p("length", "m", "Length", bounds=POS),
                _p("diameter", "m", "Inner diameter", bounds=POS),
                _p("flow_capacity", "m^3/h", "Maximum flow", bounds=POS),
                _p(
                    "open",
                    "",
                    "1 when the connection carries flow, 0 when isolated",
                    default=1,
                    bounds=FRACTION,
                ),
            ]
        },
    ),
    "dependency": EdgeKindDef("dependency", "The target depends on the source (e.g. to operate).", {}),
}


def canonical_kind(kind: str) -> NodeKind:
    """Map a kind or one of its aliases to the canonical :class:`NodeKind`."""
    text = str(kind).strip().lower().replace(" ", "_").replace("-", "_")
    if text in KIND_ALIASES:
        return KIND_ALIASES[text]
    return NodeKind(text)


def canonical_edge_kind(kind: str) -> EdgeKind:
    text = str(kind).strip().lower().replace(" ", "_").replace("-", "_")
    if text in EDGE_KIND_ALIASES:
        return EDGE_KIND_ALIASES[text]
    return EdgeKind(text)


def kind_def(kind: str) -> KindDef:
    return CATALOG[canonical_kind(kind).value]


def all_kind_names() -> list[str]:
    """Canonical kinds followed by accepted aliases (for messages and schemas)."""
    return [k.value for k in NodeKind] + sorted(KIND_ALIASES)
