"""The plan language: one pydantic definition, a JSON Schema derived from it per twin, arithmetic
done by code, and meaning compared by effect on the twin."""

from __future__ import annotations

import pytest

from twinforge.plan.compile import PlanError, compile_changes
from twinforge.plan.meaning import effect, same_effect
from twinforge.plan.models import CHANGE_TYPES, PercentChange, Plan, WhatIfPlan
from twinforge.plan.schema import engine_of, plan_json_schema


def ops(schema):
    return {c["properties"]["op"]["const"] for c in schema["$defs"]["change"]["oneOf"]}


def test_schema_is_derived_from_the_models(bottling_line, supply_chain):
    line, net = plan_json_schema(bottling_line), plan_json_schema(supply_chain)
    assert engine_of(bottling_line) == "simulate" and engine_of(supply_chain) == "optimize"
    # every change type appears where its engine runs it, and nothing else does
    sim_ops = {m.model_fields["op"].default for m in CHANGE_TYPES if "simulate" in m.engines}
    net_ops = {m.model_fields["op"].default for m in CHANGE_TYPES if "optimize" in m.engines}
    assert ops(line) <= sim_ops and ops(net) == net_ops
    assert {"arrivals", "setpoint"} <= ops(line) and {"forbid", "only", "demand"} <= ops(net)
    # entity ids are enums of the twin's own ids, parameters tied to their kind, units per dimension
    outage = next(c for c in line["$defs"]["change"]["oneOf"] if c["properties"]["op"]["const"] == "outage")
    assert (
        "filler" in outage["properties"]["target"]["enum"]
        and "filler_temp" not in outage["properties"]["target"]["enum"]
    )
    sets = [c for c in line["$defs"]["change"]["oneOf"] if c["properties"]["op"]["const"] == "set"]
    mttr = [c for c in sets if c["properties"]["parameter"]["const"] == "mttr"]
    assert {
        u for c in mttr for u in c["properties"]["unit"].get("enum", [c["properties"]["unit"].get("const")])
    } >= {"min", "h"}
    opening = plan_json_schema(load("pump_station"))
    setpoints = [
        c for c in opening["$defs"]["change"]["oneOf"] if c["properties"]["op"]["const"] == "setpoint"
    ]
    bounded = [
        c
        for c in setpoints
        if c["properties"]["parameter"]["const"] == "opening" and c["properties"]["unit"].get("const") == ""
    ]
    assert bounded and bounded[0]["properties"]["value"]["maximum"] == 1
    # a lane variant per source, with its real successors only
    forbid = [c for c in net["$defs"]["change"]["oneOf"] if c["properties"]["op"]["const"] == "forbid"]
    s1 = next(c for c in forbid if c["properties"]["source"].get("const") == "S1")
    assert set(s1["properties"]["target"]["enum"]) == {"P1", "P2"}


def load(name):
    from twinforge.examples import example_path
    from twinforge.spec import load_spec

    return load_spec(example_path(name))


def test_value_semantics_are_code(bottling_line, supply_chain):
    def factor(direction, percent, target="filler", parameter="process_time", twin=bottling_line):
        iv = compile_changes(
            [PercentChange(target=target, parameter=parameter, direction=direction, percent=percent)], twin
        )[0]
        return iv.factor

    assert factor("faster", 20) == pytest.approx(1 / 1.2)
    assert factor("slower", 20) == pytest.approx(1 / 0.8)
    assert factor("increase", 20) == pytest.approx(1.2)
    assert factor("decrease", 20) == pytest.approx(0.8)
    with pytest.raises(PlanError, match="nothing"):
        factor("decrease", 120)
    with pytest.raises(PlanError, match="no rate"):
        factor("slower", 100)
    # "N more": today's value plus N, set as the new value (read in the unit written)
    plan = WhatIfPlan.model_validate(
        {
            "changes": [
                {"op": "add", "target": "P2", "parameter": "capacity", "direction": "decrease", "amount": 100}
            ]
        }
    )
    assert compile_changes(list(plan.changes), supply_chain)[0].value == 400


def test_meaning_compares_effects(supply_chain, pump_station):
    from pydantic import TypeAdapter

    plan = TypeAdapter(Plan)

    def eff(data, twin):
        return effect(twin, compile_changes(list(plan.validate_python(data).changes), twin))

    a = eff(
        {
            "kind": "what_if",
            "changes": [{"op": "demand", "direction": "increase", "percent": 10, "customer": "C_berlin"}],
        },
        supply_chain,
    )
    b = eff(
        {
            "kind": "what_if",
            "changes": [
                {
                    "op": "change",
                    "target": "C_berlin",
                    "parameter": "demand",
                    "direction": "increase",
                    "percent": 10,
                }
            ],
        },
        supply_chain,
    )
    c = eff(
        {
            "kind": "what_if",
            "changes": [{"op": "demand", "direction": "increase", "percent": 11, "customer": "C_berlin"}],
        },
        supply_chain,
    )
    assert same_effect(a, b) and not same_effect(a, c)
    # a setpoint from time zero is just a new value
    d = eff(
        {
            "kind": "what_if",
            "changes": [{"op": "setpoint", "target": "valve1", "parameter": "opening", "value": 0.6}],
        },
        pump_station,
    )
    e = eff(
        {
            "kind": "what_if",
            "changes": [{"op": "set", "target": "valve1", "parameter": "opening", "value": 60, "unit": "%"}],
        },
        pump_station,
    )
    assert same_effect(d, e)
