"""The JSON Schema of the plan language for one twin, derived from the pydantic plan models.

:func:`plan_json_schema` walks the JSON Schema pydantic generates for each plan and change model
(:mod:`twinforge.plan.models`) and specialises every annotated field to the twin:

- ``x-twin: node`` (with ``x-kinds``) becomes an enum of the twin's node ids of those kinds;
- ``x-twin: element`` with ``x-twin: parameter`` becomes one variant per (kind, parameter): the
  targets of that kind that carry the parameter, the parameter as a constant, the units of its
  dimension (``x-twin: unit``) with its physical bounds converted per unit on the value, and the
  products when it varies by product; lanes (edges) take part the same way;
- ``x-twin: setpoint`` keeps only parameters that are control setpoints;
- ``x-twin: lane-source`` / ``lane-target`` become one variant per source with its successors;
- ``x-twin: partner`` becomes one variant per node with its neighbours in that direction;
- ``x-twin: quantity`` (status) takes parameters and state variables of the target's kind;
- numbers keep their ``x-role`` (what the number is in a question) and pydantic's limits.

Change models whose ``engines`` do not include the twin's engine are left out. Nothing here is
written twice: a new change type or field in the models appears in every twin's schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel

from twinforge.plan.models import (
    CHANGE_TYPES,
    ComparePlan,
    DeclinePlan,
    KeepPlan,
    StatusPlan,
    WhatIfPlan,
    WhyPlan,
)
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG, ParamDef
from twinforge.spec.models import Edge, Node, TwinSpec

#: Common units offered per dimension (the catalogue unit is always offered too).
_UNIT_CHOICES = [
    ["s", "min", "h", "day"],
    ["item"],
    ["item/h", "item/day", "item/week"],
    ["1/h", "1/day"],
    ["kW", "W"],
    ["kWh"],
    ["degC", "degF", "K"],
    ["K/min", "K/h"],
    ["m", "km"],
    ["m^3", "L"],
    ["m^3/h", "L/min", "L/s"],
    ["km/h", "m/s"],
    ["bar", "kPa"],
    ["mm/s"],
    ["cycle"],
    ["1/K"],
]
_FRACTION_UNITS = ["", "%"]
#: the unit slot that goes with each number slot
UNIT_OF = {"value": "unit", "amount": "unit", "duration": "unit", "start": "start_unit", "at": "at_unit"}
_META = ("title", "default", "description")


def engine_of(twin: TwinSpec) -> str:
    """``"optimize"`` for supply networks (suppliers/plants/customers), else ``"simulate"``."""
    kinds = {n.kind for n in twin.nodes}
    return (
        "optimize" if kinds & {"supplier", "customer"} and not kinds & {"source", "station"} else "simulate"
    )


def unit_choices(unit: str) -> list[str]:
    """Units a question may use for a quantity whose catalogue unit is ``unit``."""
    if unit in ("", None):
        return list(_FRACTION_UNITS)
    for group in _UNIT_CHOICES:
        if units.compatible(group[0], unit):
            return [unit, *[u for u in group if u != unit]]
    return [unit]


@cache
def _model_fields(model: type[BaseModel]) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    """(field -> simplified schema, required fields) of a pydantic model's own JSON Schema.
    Optional fields lose their ``null`` member (an absent key means "not given"); the
    discriminator (``op`` / ``kind``) is required and comes first."""
    schema = model.model_json_schema()
    fields: dict[str, dict[str, Any]] = {}
    for name, sub in schema["properties"].items():
        sub = {k: v for k, v in sub.items() if k not in _META}
        members = sub.pop("anyOf", None)
        if members:
            non_null = [m for m in members if m.get("type") != "null"]
            sub = {**non_null[0], **sub} if len(non_null) == 1 else {"anyOf": non_null, **sub}
        fields[name] = sub
    head = [k for k in ("op", "kind") if k in fields]
    required = head + [k for k in schema.get("required", []) if k not in head]
    return fields, tuple(required)


def _obj(fields: dict[str, Any], required: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": fields,
        "required": [k for k in required if k in fields],
        "additionalProperties": False,
    }


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": list(values)} if len(values) != 1 else {"const": values[0]}


def _clean(sub: dict[str, Any]) -> dict[str, Any]:
    """A field schema without the annotations that were used up by specialisation."""
    return {k: v for k, v in sub.items() if k not in ("x-twin", "x-kinds", "type")}


# -- what a twin offers --------------------------------------------------------------------------


def _nodes(twin: TwinSpec, kinds: list[str] | None) -> list[str]:
    return [n.id for n in twin.nodes if n.kind != "sensor" and (kinds is None or n.kind in kinds)]


def parameter_groups(
    twin: TwinSpec, engine: str, setpoint: bool = False
) -> Iterator[tuple[str, ParamDef, list[str]]]:
    """(kind, parameter definition, targets) for every parameter a question may change: node
    parameters set on a node or with a catalogue default; lane parameters for networks."""
    for kind, kd in CATALOG.items():
        if kind == "sensor":
            continue
        nodes = [n for n in twin.nodes if n.kind == kind]
        if not nodes:
            continue
        for name, pdef in kd.params.items():
            if setpoint and not pdef.setpoint:
                continue
            ids = [n.id for n in nodes if name in n.parameters or pdef.default is not None]
            if ids:
                yield kind, pdef, ids
    if engine == "optimize" and not setpoint:
        for ekind, ekd in EDGE_CATALOG.items():
            edges = [e for e in twin.edges if e.kind == ekind]
            if not edges or ekind != "material":
                continue
            for name, pdef in ekd.params.items():
                # a lane's limits may be set where it has none yet ("cap the lane at 60 a day")
                keys = [
                    e.key
                    for e in edges
                    if name in e.parameters or pdef.default is not None or name in ("capacity", "min_flow")
                ]
                if keys:
                    yield f"edge:{ekind}", pdef, keys


def _value_variants(pdef: ParamDef, currency: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    """``value``/``unit`` property pairs for a parameter: physical bounds given per unit."""
    cat = pdef.unit_for(currency)
    choices = unit_choices(cat) if "{currency}" not in pdef.unit else [cat]
    lo, hi = pdef.bounds
    base = {k: v for k, v in value.items() if k not in ("type",)}
    kind = "integer" if pdef.integer else "number"
    if not (math.isfinite(hi) or (math.isfinite(lo) and lo != 0)):
        num = {"type": kind, **base, **({"minimum": 0} if lo == 0 else {})}
        return [{"value": num, "unit": {"enum": choices}}]
    variants = []
    for u in choices:
        num = {"type": "integer" if pdef.integer and u == cat else "number", **base}
        try:
            if math.isfinite(lo):
                num["minimum"] = round(units.convert(lo, cat, u), 9)
            if math.isfinite(hi):
                num["maximum"] = round(units.convert(hi, cat, u), 9)
        except Exception:  # an offset unit (degF): left to the twin's check
            pass
        variants.append({"value": num, "unit": {"const": u}})
    return variants


def _parameter_variants(
    model: type[BaseModel], twin: TwinSpec, engine: str, fields: dict[str, Any], required: tuple[str, ...]
) -> list[dict[str, Any]]:
    setpoint = any(f.get("x-twin") == "setpoint" for f in fields.values())
    param_key = next(k for k, f in fields.items() if f.get("x-twin") in ("parameter", "setpoint"))
    products = list(twin.products)
    out = []
    for _kind, pdef, targets in parameter_groups(twin, engine, setpoint=setpoint):
        head: dict[str, Any] = {}
        value_slot = None
        for name, sub in fields.items():
            role = sub.get("x-twin")
            if name == "op":
                head[name] = {"const": sub["const"]}
            elif role == "element":
                head[name] = _enum(targets)
            elif name == param_key:
                head[name] = {"const": pdef.name}
            elif role == "product":
                if pdef.per_product and products:
                    head[name] = {"enum": products, **_clean(sub)}
            elif role == "unit":
                continue  # paired with the value below
            elif sub.get("x-role") and UNIT_OF.get(name) == "unit" and "unit" in fields:
                value_slot = name
                head[name] = sub
            else:
                head[name] = sub
        if value_slot is None:
            out.append(_obj(head, required))
            continue
        for pair in _value_variants(pdef, twin.currency, head[value_slot]):
            props = {**head, value_slot: pair["value"], "unit": pair["unit"]}
            order = {k: props[k] for k in fields if k in props}  # the models' field order
            out.append(_obj(order, required))
    return out


def _partner_variants(
    twin: TwinSpec, fields: dict[str, Any], required: tuple[str, ...]
) -> list[dict[str, Any]]:
    lanes = [e for e in twin.edges if e.kind == "material"]
    out = []
    for direction in fields["direction"]["enum"]:
        neighbours: dict[str, set[str]] = {}
        for e in lanes:
            a, b = (e.source, e.target) if direction == "serve_only" else (e.target, e.source)
            neighbours.setdefault(a, set()).add(b)
        for node, partners in sorted(neighbours.items()):
            props = {
                "op": {"const": fields["op"]["const"]},
                "direction": {"const": direction},
                "target": {"const": node},
                "partners": {
                    "type": "array",
                    "items": _enum(sorted(partners)),
                    "minItems": 1,
                    "maxItems": min(fields["partners"].get("maxItems", 4), len(partners)),
                    "uniqueItems": True,
                },
            }
            out.append(_obj(props, required))
    return out


def _lane_variants(
    twin: TwinSpec, fields: dict[str, Any], required: tuple[str, ...], head: dict[str, Any]
) -> list[dict[str, Any]]:
    lanes = [e for e in twin.edges if e.kind == "material"]
    src_key = next(k for k, f in fields.items() if f.get("x-twin") == "lane-source")
    dst_key = next((k for k, f in fields.items() if f.get("x-twin") == "lane-target"), "target")
    out = []
    for source in sorted({e.source for e in lanes}):
        targets = sorted({e.target for e in lanes if e.source == source})
        props = {}
        for name in fields:
            if name == src_key:
                props[name] = {"const": source}
            elif name == dst_key:
                props[name] = _enum(targets)
            elif name in head:
                props[name] = head[name]
        out.append(_obj(props, required))
    return out


def model_variants(model: type[BaseModel], twin: TwinSpec, engine: str) -> list[dict[str, Any]]:
    """The JSON Schema variants of one plan or change model, specialised to ``twin``."""
    fields, required = _model_fields(model)
    roles = {f.get("x-twin") for f in fields.values()}
    if roles & {"parameter", "setpoint"}:
        return _parameter_variants(model, twin, engine, fields, required)
    if "partner" in roles:
        return _partner_variants(twin, fields, required)
    head: dict[str, Any] = {}
    for name, sub in fields.items():
        role = sub.get("x-twin")
        if name in ("op", "kind"):
            head[name] = {"const": sub["const"]}
        elif role == "node":
            ids = _nodes(twin, sub.get("x-kinds"))
            if not ids:
                if name in required:
                    return []
                continue
            head[name] = {**_enum(ids), **_clean(sub)}
        elif role == "product":
            if twin.products:
                head[name] = {"enum": list(twin.products), **_clean(sub)}
        elif role in ("lane-source", "lane-target"):
            continue
        else:
            head[name] = sub
    if roles & {"lane-source", "lane-target"}:
        lane = _lane_variants(twin, fields, required, head) if engine == "optimize" else []
        if model is WhyPlan:  # a lane is optional: why about a node, or about a lane
            return [_obj(head, required), *lane]
        return lane
    return [_obj(head, required)]


def _status_variants(twin: TwinSpec, engine: str) -> list[dict[str, Any]]:
    _fields, required = _model_fields(StatusPlan)
    products = list(twin.products)
    out = []
    for kind, kd in CATALOG.items():
        nodes = [n for n in twin.nodes if n.kind == kind and kind != "sensor"]
        if not nodes:
            continue
        groups = [(p, pdef.per_product) for p, pdef in kd.params.items()]
        groups += [(s, False) for s in kd.states if s not in kd.params]
        for name, per_product in groups:
            ids = [n.id for n in nodes if twin_has_quantity(twin, n, name)]
            if not ids:
                continue
            props: dict[str, Any] = {
                "kind": {"const": "status"},
                "target": _enum(ids),
                "quantity": {"const": name},
            }
            if per_product and products:
                props["product"] = {"enum": products}
            out.append(_obj(props, required))
    if engine == "optimize":
        for _kind, pdef, keys in parameter_groups(twin, engine):
            if not _kind.startswith("edge:"):
                continue
            props = {"kind": {"const": "status"}, "target": _enum(keys), "quantity": {"const": pdef.name}}
            if pdef.per_product and products:
                props["product"] = {"enum": products}
            out.append(_obj(props, required))
    return out


def _keep_variants(twin: TwinSpec, engine: str) -> list[dict[str, Any]]:
    """Keep plans: the level of a tank that a pump fills or drains (simulated twins)."""
    if engine != "simulate":
        return []
    from twinforge.control.request import HOLDABLE, actuators

    tanks = [
        n.id
        for n in twin.nodes
        if HOLDABLE.get(n.kind) == "level" and (a := actuators(twin, n.id)) and (a.fill or a.drain)
    ]
    if not tanks:
        return []
    _fields, required = _model_fields(KeepPlan)
    props = {
        "kind": {"const": "keep"},
        "target": _enum(tanks),
        "quantity": {"const": "level"},
        "min": {"type": "number", "minimum": 0},
        "max": {"type": "number", "minimum": 0},
    }
    return [_obj(props, required)]


def twin_has_quantity(twin: TwinSpec, node: Node | Edge, name: str) -> bool:
    """Whether the twin has a value for ``name`` on ``node``: a parameter set or defaulted, or a
    state variable of its kind."""
    if isinstance(node, Node) and name in node.state_names():
        return True
    pdef = node.param_def(name)
    return name in node.parameters or (pdef is not None and pdef.default is not None)


def plan_json_schema(twin: TwinSpec, engine: str | None = None) -> dict[str, Any]:
    """The JSON Schema of a question plan for ``twin`` (see :mod:`twinforge.plan.models`)."""
    engine = engine or engine_of(twin)
    changes = [v for m in CHANGE_TYPES if engine in m.engines for v in model_variants(m, twin, engine)]

    def listing(model: type[BaseModel], key: str) -> dict[str, Any]:
        fields, _ = _model_fields(model)
        sub = fields[key]
        return {
            "type": "array",
            "items": {"$ref": "#/$defs/change"},
            "minItems": sub.get("minItems", 1),
            "maxItems": sub.get("maxItems", 3),
        }

    plans = [
        _obj({"kind": {"const": "what_if"}, "changes": listing(WhatIfPlan, "changes")}, ["kind", "changes"]),
        _obj(
            {
                "kind": {"const": "compare"},
                "first": listing(ComparePlan, "first"),
                "second": listing(ComparePlan, "second"),
            },
            ["kind", "first", "second"],
        ),
        *model_variants(WhyPlan, twin, engine),
        *_status_variants(twin, engine),
        *_keep_variants(twin, engine),
        *model_variants(DeclinePlan, twin, engine),
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"question plan for twin {twin.name}",
        "oneOf": plans,
        "$defs": {"change": {"oneOf": changes}},
    }


def entity_ids(twin: TwinSpec) -> set[str]:
    """Every value of the plan language that names a part of the twin (node ids, edge keys)."""
    return {n.id for n in twin.nodes} | {e.key for e in twin.edges}
