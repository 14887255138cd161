"""The JSON Schema a language model must fill when it reads a question about a twin.

Generated from the twin itself, so that a syntactically valid output already names only what the
twin has: entity ids are enums, the parameters of each kind are enums tied to targets of that kind,
each parameter offers only units of its dimension, dimensionless quantities carry their physical
bounds, and only the operations that make sense for the twin's engine (simulation or flow
optimisation) are offered. What the grammar cannot express (bounds that depend on a unit or on a
node's current value) is checked by the twin afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from twinforge.copilot.plan import DECLINE_REASONS
from twinforge.scenario import OUTAGE_KINDS
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG, ParamDef
from twinforge.spec.models import TwinSpec

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


def unit_choices(unit: str) -> list[str]:
    """Units a question may use for a quantity whose catalogue unit is ``unit``."""
    if unit in ("", None):
        return list(_FRACTION_UNITS)
    for group in _UNIT_CHOICES:
        if units.compatible(group[0], unit):
            return [unit, *[u for u in group if u != unit]]
    return [unit]


def askable_parameters(twin: TwinSpec, kind: str) -> list[str]:
    """Parameters of a kind worth offering: those set on some node of that kind in this twin, and
    those with a catalogue default (so they have a value to change)."""
    kd = CATALOG[kind]
    used = {p for n in twin.nodes if n.kind == kind for p in n.parameters}
    return [name for name, p in kd.params.items() if name in used or p.default is not None]


def _value_variants(pdef: ParamDef, currency: str) -> list[dict[str, Any]]:
    """``value``/``unit`` property sets for a parameter: bounds given per unit where finite."""
    cat = pdef.unit_for(currency)
    choices = unit_choices(cat) if "{currency}" not in pdef.unit else [cat]
    lo, hi = pdef.bounds
    variants = []
    if math.isfinite(hi) or (math.isfinite(lo) and lo != 0):
        for u in choices:
            num: dict[str, Any] = {"type": "integer" if pdef.integer and u == cat else "number"}
            try:
                if math.isfinite(lo):
                    num["minimum"] = round(units.convert(lo, cat, u), 9)
                if math.isfinite(hi):
                    num["maximum"] = round(units.convert(hi, cat, u), 9)
            except Exception:  # an offset unit: leave it to the twin's check
                pass
            variants.append({"value": num, "unit": {"const": u}})
        return variants
    num = {"type": "integer" if pdef.integer else "number", "minimum": 0 if lo == 0 else None}
    num = {k: v for k, v in num.items() if v is not None}
    return [{"value": num, "unit": {"enum": choices}}]


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": list(values)} if len(values) != 1 else {"const": values[0]}


def _kind_targets(twin: TwinSpec) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in twin.nodes:
        if n.kind in CATALOG and n.kind not in ("sensor",):
            out.setdefault(n.kind, []).append(n.id)
    return out


def engine_of(twin: TwinSpec) -> str:
    """``"optimize"`` for supply networks (suppliers/plants/customers), else ``"simulate"``."""
    kinds = {n.kind for n in twin.nodes}
    return (
        "optimize" if kinds & {"supplier", "customer"} and not kinds & {"source", "station"} else "simulate"
    )


def plan_json_schema(twin: TwinSpec, engine: str | None = None) -> dict[str, Any]:
    """The JSON Schema of a question plan for ``twin`` (see :mod:`twinforge.copilot.plan`)."""
    engine = engine or engine_of(twin)
    currency = twin.currency
    targets = _kind_targets(twin)
    products = list(twin.products)
    changes: list[dict[str, Any]] = []
    time_unit = {"enum": ["s", "min", "h", "day"]}
    product = {"enum": products} if products else None

    # parameter changes, one variant per (kind, parameter)
    for kind, ids in targets.items():
        for name in askable_parameters(twin, kind):
            pdef = CATALOG[kind].params[name]
            for vv in _value_variants(pdef, currency):
                props = {"op": {"const": "set"}, "target": _enum(ids), "parameter": {"const": name}, **vv}
                if pdef.per_product and product:
                    props["product"] = product
                changes.append(_obj(props, ["op", "target", "parameter", "value"]))
            per_product = {"product": product} if pdef.per_product and product else {}
            head = {"target": _enum(ids), "parameter": {"const": name}}
            changes.append(
                _obj(
                    {
                        "op": {"const": "change"},
                        **head,
                        "direction": {"enum": ["increase", "decrease"]},
                        "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                        **per_product,
                    },
                    ["op", "target", "parameter", "direction", "percent"],
                )
            )
            changes.append(
                _obj(
                    {
                        "op": {"const": "scale"},
                        **head,
                        "factor": {"type": "number", "exclusiveMinimum": 0},
                        **per_product,
                    },
                    ["op", "target", "parameter", "factor"],
                )
            )
            if pdef.setpoint and engine == "simulate":
                for vv in _value_variants(pdef, currency):
                    changes.append(
                        _obj(
                            {
                                "op": {"const": "setpoint"},
                                "target": _enum(ids),
                                "parameter": {"const": name},
                                **vv,
                                "at": {"type": "number", "minimum": 0},
                                "at_unit": time_unit,
                            },
                            ["op", "target", "parameter", "value"],
                        )
                    )

    # edge parameters (lanes of a network)
    if engine == "optimize":
        for ekind, ekd in EDGE_CATALOG.items():
            keys = [e.key for e in twin.edges if e.kind == ekind]
            if not keys:
                continue
            used = {p for e in twin.edges if e.kind == ekind for p in e.parameters}
            for name in [p for p, d in ekd.params.items() if p in used or d.default is not None]:
                pdef = ekd.params[name]
                for vv in _value_variants(pdef, currency):
                    changes.append(
                        _obj(
                            {
                                "op": {"const": "set"},
                                "target": _enum(keys),
                                "parameter": {"const": name},
                                **vv,
                            },
                            ["op", "target", "parameter", "value"],
                        )
                    )
                changes.append(
                    _obj(
                        {
                            "op": {"const": "change"},
                            "target": _enum(keys),
                            "parameter": {"const": name},
                            "direction": {"enum": ["increase", "decrease"]},
                            "percent": {"type": "number", "exclusiveMinimum": 0},
                        },
                        ["op", "target", "parameter", "direction", "percent"],
                    )
                )

    down = [n.id for n in twin.nodes if n.kind in OUTAGE_KINDS and n.kind != "sensor"]
    if down:
        changes.append(
            _obj(
                {
                    "op": {"const": "outage"},
                    "target": _enum(down),
                    "duration": {"type": "number", "exclusiveMinimum": 0},
                    "unit": time_unit,
                    "start": {"type": "number", "minimum": 0},
                    "start_unit": time_unit,
                },
                ["op", "target", "duration", "unit"],
            )
        )
    all_nodes = [n.id for n in twin.nodes if n.kind != "sensor"]
    if engine == "optimize":
        customers = targets.get("customer", [])
        demand_props: dict[str, Any] = {
            "op": {"const": "demand"},
            "direction": {"enum": ["increase", "decrease"]},
            "percent": {"type": "number", "exclusiveMinimum": 0},
        }
        if product:
            demand_props["product"] = product
        if customers:
            demand_props["customer"] = _enum(customers)
        changes.append(_obj(demand_props, ["op", "direction", "percent"]))
        sources = sorted({e.source for e in twin.edges if e.kind == "material"})
        sinks = sorted({e.target for e in twin.edges if e.kind == "material"})
        forbid: dict[str, Any] = {"op": {"const": "forbid"}, "source": _enum(sources), "target": _enum(sinks)}
        if product:
            forbid["product"] = product
        changes.append(_obj(forbid, ["op", "source", "target"]))
        changes.append(_obj({"op": {"const": "remove"}, "target": _enum(all_nodes)}, ["op", "target"]))
        lanes = [e for e in twin.edges if e.kind == "material"]
        for direction, targets_of, partners_of in (
            ("serve_only", {e.source for e in lanes}, {e.target for e in lanes}),
            ("buy_only", {e.target for e in lanes}, {e.source for e in lanes}),
        ):
            changes.append(
                _obj(
                    {
                        "op": {"const": "only"},
                        "direction": {"const": direction},
                        "target": _enum(sorted(targets_of)),
                        "partners": {
                            "type": "array",
                            "items": _enum(sorted(partners_of)),
                            "minItems": 1,
                            "maxItems": 4,
                        },
                    },
                    ["op", "direction", "target", "partners"],
                )
            )
        changes.append(
            _obj(
                {"op": {"const": "exclusive"}, "first": _enum(all_nodes), "second": _enum(all_nodes)},
                ["op", "first", "second"],
            )
        )
    if engine == "simulate" and targets.get("source"):
        changes.append(
            _obj(
                {
                    "op": {"const": "arrivals"},
                    "target": _enum(targets["source"]),
                    "rate": {"type": "number", "exclusiveMinimum": 0},
                    "unit": {"enum": ["1/min", "1/h", "1/day", "item/min", "item/h", "item/day"]},
                },
                ["op", "target", "rate", "unit"],
            )
        )

    change = {"oneOf": changes}
    status_variants = []
    for n in twin.nodes:
        if n.kind not in CATALOG:
            continue
    for kind, ids in targets.items():
        quantities = askable_parameters(twin, kind) + [
            s for s in CATALOG[kind].states if s not in askable_parameters(twin, kind)
        ]
        props: dict[str, Any] = {
            "kind": {"const": "status"},
            "target": _enum(ids),
            "quantity": _enum(quantities),
        }
        if product:
            props["product"] = product
        status_variants.append(_obj(props, ["kind", "target", "quantity"]))

    why_variants = [_obj({"kind": {"const": "why"}, "target": _enum(all_nodes)}, ["kind", "target"])]
    if engine == "optimize":
        lanes = [e for e in twin.edges if e.kind == "material"]
        why_variants.append(
            _obj(
                {
                    "kind": {"const": "why"},
                    "source": _enum(sorted({e.source for e in lanes})),
                    "target": _enum(sorted({e.target for e in lanes})),
                },
                ["kind", "source", "target"],
            )
        )
    plans = [
        _obj(
            {
                "kind": {"const": "what_if"},
                "changes": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/change"},
                    "minItems": 1,
                    "maxItems": 3,
                },
            },
            ["kind", "changes"],
        ),
        _obj(
            {
                "kind": {"const": "compare"},
                "first": {"type": "array", "items": {"$ref": "#/$defs/change"}, "minItems": 1, "maxItems": 2},
                "second": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/change"},
                    "minItems": 1,
                    "maxItems": 2,
                },
            },
            ["kind", "first", "second"],
        ),
        *why_variants,
        *status_variants,
        _obj({"kind": {"const": "decline"}, "reason": {"enum": list(DECLINE_REASONS)}}, ["kind", "reason"]),
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"question plan for twin {twin.name}",
        "oneOf": plans,
        "$defs": {"change": change},
    }


@dataclass
class Narrowing:
    """How to shrink the decoding schema after a problem."""

    drop_entities: set[str] = field(default_factory=set)
    drop_numbers: set[float] = field(default_factory=set)
    time_units: set[str] | None = None  # allowed time units for durations / times
    drop_ops: set[str] = field(default_factory=set)
    directions: set[str] | None = None  # allowed directions of percentage changes
    require_values: set[str] = field(default_factory=set)  # optional slots that must take these values
    drop_params: set[str] = field(default_factory=set)  # parameters / quantities ruled out
    drop_kinds: set[str] = field(default_factory=set)  # plan kinds ruled out
    include_values: set[str] = field(default_factory=set)  # lists that must contain these values

    def merge(self, other: Narrowing) -> None:
        """Add what ``other`` rules out (or requires) to this narrowing."""
        if other.directions is not None:
            self.directions = (
                other.directions if self.directions is None else self.directions & other.directions
            )
        self.drop_entities |= other.drop_entities
        self.require_values |= other.require_values
        self.drop_params |= other.drop_params
        self.drop_kinds |= other.drop_kinds
        self.include_values |= other.include_values
        self.drop_numbers |= other.drop_numbers
        self.drop_ops |= other.drop_ops
        if other.time_units is not None:
            self.time_units = (
                other.time_units if self.time_units is None else self.time_units & other.time_units
            )

    def apply(
        self,
        schema: dict[str, Any],
        entity_ids: set[str],
        keep_entities: set[str] | None = None,
        written_numbers: list[float] | None = None,
    ) -> dict[str, Any]:
        """``schema`` narrowed by everything this narrowing says (see :func:`narrow_schema`)."""
        written = (
            None if written_numbers is None else [x for x in written_numbers if x not in self.drop_numbers]
        )
        return narrow_schema(
            schema,
            keep_entities=keep_entities,
            drop_entities=self.drop_entities,
            entity_ids=entity_ids,
            time_units=self.time_units,
            drop_ops=self.drop_ops,
            directions=self.directions,
            require_values=self.require_values,
            drop_kinds=self.drop_kinds,
            drop_params=self.drop_params,
            include_values=self.include_values,
            written_numbers=written,
        )


_TIME_UNIT_KEYS = ("unit", "start_unit", "at_unit")
#: number slots that must hold a number as the question writes it (a factor may be derived:
#: "20% more" is a factor of 1.2, "double" is 2)
WRITTEN_SLOTS = ("value", "percent", "duration", "start", "at", "rate")
_TIME_UNITS = {"s", "min", "h", "day"}


def narrow_schema(
    schema: dict[str, Any],
    *,
    drop_entities: set[str] | frozenset[str] = frozenset(),
    keep_entities: set[str] | None = None,
    entity_ids: set[str] | frozenset[str] = frozenset(),
    time_units: set[str] | None = None,
    drop_ops: set[str] | frozenset[str] = frozenset(),
    directions: set[str] | None = None,
    require_values: set[str] | frozenset[str] = frozenset(),
    drop_kinds: set[str] | frozenset[str] = frozenset(),
    drop_params: set[str] | frozenset[str] = frozenset(),
    include_values: set[str] | frozenset[str] = frozenset(),
    written_numbers: list[float] | None = None,
) -> dict[str, Any]:
    """A copy of a plan schema with entities, time units or operations taken out.

    ``entity_ids`` are all the twin's node ids and edge keys (only values among them are treated
    as entities); ``keep_entities`` keeps only those (when given). A union member that can no
    longer be satisfied is removed; an optional property that can no longer be satisfied is
    dropped from the object.
    """

    def allowed(value: Any) -> bool:
        if not isinstance(value, str) or value not in entity_ids:
            return True
        if value in drop_entities:
            return False
        return keep_entities is None or value in keep_entities

    dead_defs: set[str] = set()

    def walk(node: Any, key: str | None = None) -> Any:
        """The narrowed node, or None when nothing of it remains."""
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[len("#/$defs/") :] in dead_defs:
            return None
        if "const" in node and not allowed(node["const"]):
            return None
        if key == "op" and node.get("const") in drop_ops:
            return None
        if key == "kind" and node.get("const") in drop_kinds:
            return None
        if key in ("parameter", "quantity") and node.get("const") in drop_params:
            return None
        if written_numbers is not None and key in WRITTEN_SLOTS and node.get("type") in ("number", "integer"):
            node = {**node, "x-candidates": list(written_numbers)}
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "enum":
                values = [x for x in v if allowed(x)]
                if key in _TIME_UNIT_KEYS and time_units is not None and set(values) <= _TIME_UNITS:
                    values = [x for x in values if x in time_units] or values
                if key in ("parameter", "quantity"):
                    values = [x for x in values if x not in drop_params]
                    if not values:
                        return None
                if key == "direction" and directions is not None:
                    values = [x for x in values if x in directions] or values
                if not values:
                    return None
                out[k] = values
            elif k in ("oneOf", "anyOf"):
                members = [m for m in (walk(x) for x in v) if m is not None]
                if not members:
                    return None
                out[k] = members
            elif k == "properties":
                if require_values:
                    extra = [
                        name
                        for name, sub in v.items()
                        if name not in node.get("required", [])
                        and set(sub.get("enum", [sub.get("const")])) & set(require_values)
                    ]
                    if extra:
                        node = {**node, "required": [*node.get("required", []), *extra]}
                        out["required"] = node["required"]
                props = {}
                for name, sub in v.items():
                    narrowed = walk(sub, name)
                    if narrowed is None:
                        if name in node.get("required", []):
                            return None
                        continue
                    props[name] = narrowed
                out[k] = props
            elif k == "$defs":
                continue  # narrowed first, below
            elif k == "items":
                narrowed = walk(v)
                if narrowed is None:
                    return None
                out[k] = narrowed
                values = set(narrowed.get("enum", [narrowed["const"]] if "const" in narrowed else []))
                wanted = sorted(values & set(include_values))
                if wanted:
                    out["x-must-include"] = wanted
            elif k == "required" and "required" in out:
                continue
            else:
                out[k] = v
        return out

    defs = {}
    for name, sub in schema.get("$defs", {}).items():
        narrowed_def = walk(sub)
        if narrowed_def is None:
            dead_defs.add(name)
        else:
            defs[name] = narrowed_def
    narrowed = walk(schema)
    if narrowed is None:
        raise ValueError("nothing of the plan schema remains after narrowing")
    if defs:
        narrowed["$defs"] = defs
    return narrowed


def entity_ids(twin: TwinSpec) -> set[str]:
    return {n.id for n in twin.nodes} | {e.key for e in twin.edges}
