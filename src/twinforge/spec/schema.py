"""JSON Schema of the twin language, generated from the pydantic models and the catalogue.

The full schema checks files structurally *and* per kind: each node kind lists exactly the
parameters it may carry (``additionalProperties: false``), so editors, other tools and LLM
decoders see the same contract as twinforge itself. Units vary per file, so numeric bounds are
given in descriptions and in ``x-unit`` / ``x-bounds`` keys rather than as JSON limits.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from twinforge.errors import UnknownEntityError
from twinforge.spec.catalog import (
    CATALOG,
    EDGE_CATALOG,
    EDGE_KIND_ALIASES,
    KIND_ALIASES,
    ParamDef,
    canonical_edge_kind,
    canonical_kind,
)
from twinforge.spec.distributions import DISTRIBUTION_TYPES
from twinforge.spec.models import TwinSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
QUANTITY_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s*\S.*)?$"


def _bounds_text(pdef: ParamDef, currency: str) -> str:
    lo, hi = pdef.bounds
    lo_s = "-inf" if lo == -math.inf else f"{lo:g}"
    hi_s = "inf" if hi == math.inf else f"{hi:g}"
    return f"[{lo_s}, {hi_s}]"


def _param_schema(pdef: ParamDef, currency: str, with_limits: bool = False) -> dict[str, Any]:
    unit = pdef.unit_for(currency) or "dimensionless"
    text = f"{pdef.description}. Unit: {unit}. Physical bounds: {_bounds_text(pdef, currency)}"
    if pdef.default is not None:
        text += f". Default: {pdef.default:g}"
    flags = [
        f
        for f, on in (
            ("stochastic", pdef.stochastic),
            ("per product", pdef.per_product),
            ("integer", pdef.integer),
            ("setpoint", pdef.setpoint),
        )
        if on
    ]
    if flags:
        text += f" ({', '.join(flags)})"
    out: dict[str, Any] = {
        "$ref": "#/$defs/Parameter",
        "description": text,
        "x-unit": unit,
        "x-bounds": [None if not math.isfinite(b) else b for b in pdef.bounds],
    }
    if pdef.default is not None:
        out["default"] = pdef.default
    if with_limits:
        num: dict[str, Any] = {"type": "integer" if pdef.integer else "number"}
        lo, hi = pdef.bounds
        if math.isfinite(lo):
            num["minimum"] = lo
        if math.isfinite(hi):
            num["maximum"] = hi
        out = {"anyOf": [num, {"$ref": "#/$defs/Parameter"}], **{k: v for k, v in out.items() if k != "$ref"}}
    return out


def _node_variant(
    base: dict[str, Any], kind: str, currency: str, with_limits: bool = False
) -> dict[str, Any]:
    kd = CATALOG[kind]
    variant = copy.deepcopy(base)
    variant.pop("title", None)
    aliases = sorted(a for a, k in KIND_ALIASES.items() if k.value == kind)
    variant["title"] = f"{kind} node"
    variant["description"] = kd.description
    variant["properties"]["kind"] = {"enum": [kind, *aliases], "description": kd.description}
    if kd.open_parameters:
        params: dict[str, Any] = {"type": "object", "additionalProperties": {"$ref": "#/$defs/Parameter"}}
    else:
        params = {
            "type": "object",
            "properties": {n: _param_schema(p, currency, with_limits) for n, p in kd.params.items()},
            "additionalProperties": False,
        }
        required = [n for n, p in kd.params.items() if p.required]
        if required:
            params["required"] = required
            variant["required"] = sorted({*variant.get("required", []), "parameters"})
    variant["properties"]["parameters"] = params
    if kd.states:
        variant["properties"]["state"] = {
            "type": "object",
            "properties": {
                n: {
                    "$ref": "#/$defs/StateVar",
                    "description": f"{s.description}. Unit: {s.unit or 'dimensionless'}",
                }
                for n, s in kd.states.items()
            },
            "additionalProperties": {"$ref": "#/$defs/StateVar"},
        }
    if kind == "sensor":
        variant["required"] = sorted({*variant.get("required", []), "observes"})
        variant["properties"]["observes"] = {
            "type": "string",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*\.[A-Za-z_][A-Za-z0-9_\-]*$",
            "description": "'<node>.<state>' observed by this sensor",
        }
    else:
        variant["properties"].pop("observes", None)
    return variant


def _edge_variant(base: dict[str, Any], kind: str, currency: str) -> dict[str, Any]:
    ekd = EDGE_CATALOG[kind]
    variant = copy.deepcopy(base)
    variant.pop("title", None)
    variant["title"] = f"{kind} edge"
    aliases = sorted(a for a, k in EDGE_KIND_ALIASES.items() if k.value == kind)
    variant["properties"]["kind"] = {"enum": [kind, *aliases], "description": ekd.description}
    variant["properties"]["parameters"] = {
        "type": "object",
        "properties": {n: _param_schema(p, currency) for n, p in ekd.params.items()},
        "additionalProperties": False,
    }
    if kind != "material":
        variant["required"] = sorted({*variant.get("required", []), "kind"})
    return variant


def _allow_shorthands(defs: dict[str, Any]) -> None:
    """Parameters and state values may be written as a number or a quantity string."""
    param = defs["Parameter"]
    defs["Parameter"] = {
        "title": "Parameter",
        "description": param.get("description", ""),
        "anyOf": [
            {"type": "number", "description": "value in the catalogue unit"},
            {"type": "string", "pattern": QUANTITY_PATTERN, "description": "a quantity such as '2.5 min'"},
            {k: v for k, v in param.items() if k not in ("title", "description")},
        ],
    }
    state = defs["StateVar"]
    defs["StateVar"] = {
        "title": "StateVar",
        "anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": QUANTITY_PATTERN},
            {k: v for k, v in state.items() if k != "title"},
        ],
    }


def twin_json_schema(currency: str = "EUR") -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a twin spec file."""
    schema = TwinSpec.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    _allow_shorthands(defs)
    node_base = defs.pop("Node")
    defs["Node"] = {"title": "Node", "oneOf": [{"$ref": f"#/$defs/{k}Node"} for k in CATALOG]}
    for k in CATALOG:
        defs[f"{k}Node"] = _node_variant(node_base, k, currency)
    edge_base = defs.pop("Edge")
    defs["Edge"] = {"title": "Edge", "oneOf": [{"$ref": f"#/$defs/{k}Edge"} for k in EDGE_CATALOG]}
    for k in EDGE_CATALOG:
        defs[f"{k}Edge"] = _edge_variant(edge_base, k, currency)
    schema["properties"]["twinforge"] = {"const": 1, "description": "Spec format version"}
    schema["required"] = sorted({*schema.get("required", []), "twinforge"})
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["title"] = "twinforge twin spec"
    schema["x-distributions"] = list(DISTRIBUTION_TYPES)
    return schema


def kind_json_schema(kind: str, currency: str = "EUR") -> dict[str, Any]:
    """JSON Schema of one node kind (or edge kind), with units, defaults and numeric limits in the
    catalogue units."""
    full = twin_json_schema(currency)
    defs = {k: v for k, v in full["$defs"].items() if k in ("Parameter", "StateVar", "Signal", "Location")}
    for name in list(full["$defs"]):
        if name not in defs and not name.endswith(("Node", "Edge")) and name not in ("TwinSpec",):
            defs[name] = full["$defs"][name]
    try:
        nk = canonical_kind(kind).value
        node_base = TwinSpec.model_json_schema(by_alias=True)["$defs"]["Node"]
        body = _node_variant(node_base, nk, currency, with_limits=True)
    except ValueError:
        try:
            ek = canonical_edge_kind(kind).value
        except ValueError:
            raise UnknownEntityError(
                f"unknown kind {kind!r}; node kinds: {', '.join(CATALOG)}; edge kinds: {', '.join(EDGE_CATALOG)}"
            ) from None
        edge_base = TwinSpec.model_json_schema(by_alias=True)["$defs"]["Edge"]
        body = _edge_variant(edge_base, ek, currency)
    return {"$schema": JSON_SCHEMA_DIALECT, **body, "$defs": defs}
