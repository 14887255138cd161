"""The twin-generated plan schema, its narrowing, and the twin's checks of a plan."""

from __future__ import annotations

import json

import jsonschema
import pytest

from twinforge.copilot.library import load_examples
from twinforge.guard.check import check_plan, question_narrowing
from twinforge.guard.grounding import ground
from twinforge.guard.schema import engine_of, entity_ids, narrow_schema, plan_json_schema


def changes_of(schema):
    return schema["$defs"]["change"]["oneOf"]


def test_schema_is_generated_from_the_twin(bottling_line, supply_chain):
    s = plan_json_schema(bottling_line)
    jsonschema.Draft202012Validator.check_schema(s)
    sets = [c for c in changes_of(s) if c["properties"]["op"].get("const") == "set"]
    # a parameter is tied to the targets of its kind
    capacity = [c for c in sets if c["properties"]["parameter"].get("const") == "capacity"]

    def targets(c):
        t = c["properties"]["target"]
        return set(t.get("enum", [t.get("const")]))

    buffers_and_conveyors = {n.id for n in bottling_line.nodes if n.kind in ("buffer", "conveyor")}
    assert capacity and all(targets(c) <= buffers_and_conveyors for c in capacity)
    # a dimensionless quantity carries its physical bounds, per unit
    speed = [c for c in sets if c["properties"]["parameter"].get("const") == "speed"]
    bounds = {
        c["properties"]["unit"]["const"]: (
            c["properties"]["value"]["minimum"],
            c["properties"]["value"]["maximum"],
        )
        for c in speed
    }
    assert bounds == {"": (0.05, 2.0), "%": (5.0, 200.0)}
    # the engine decides the operations on offer
    ops = {c["properties"]["op"].get("const") for c in changes_of(s)}
    assert "outage" in ops and "setpoint" in ops and "demand" not in ops
    ops_sc = {c["properties"]["op"].get("const") for c in changes_of(plan_json_schema(supply_chain))}
    assert {"demand", "forbid", "only", "exclusive", "remove"} <= ops_sc and "setpoint" not in ops_sc
    assert engine_of(supply_chain) == "optimize" and engine_of(bottling_line) == "simulate"


@pytest.mark.parametrize("name", ["bottling_line", "supply_chain", "pump_station"])
def test_library_examples_fit_the_schema(examples, name):
    from twinforge.spec import load_spec

    twin = load_spec(examples / f"{name}.yaml")
    schema = plan_json_schema(twin)
    library = load_examples(twin)
    assert len(library) >= 20
    for ex in library:
        jsonschema.validate(ex.plan, schema, cls=jsonschema.Draft202012Validator)


def test_narrowing_keeps_what_the_question_names(supply_chain):
    s = plan_json_schema(supply_chain)
    n = narrow_schema(s, keep_entities={"S3"}, entity_ids=entity_ids(supply_chain), drop_ops={"forbid"})
    text = json.dumps(n)
    assert '"S1"' not in text and '"S3"' in text and '"forbid"' not in text
    with pytest.raises(ValueError):
        narrow_schema(
            s,
            keep_entities=set(),
            entity_ids=entity_ids(supply_chain),
            drop_kinds={"what_if", "compare", "why", "status", "decline"},
        )


def test_question_narrowing(supply_chain):
    n = question_narrowing(ground("What is the capacity of plant P1?", supply_chain), supply_chain)
    assert n.drop_kinds == {"what_if", "compare", "why"}
    assert "capacity" not in n.drop_params and "demand" in n.drop_params
    n = question_narrowing(ground("What if P1 is down for 30 minutes?", supply_chain), supply_chain)
    assert n.time_units == {"min"} and "outage" not in n.drop_ops and "demand" in n.drop_ops
    n = question_narrowing(ground("What if demand drops by 5%?", supply_chain), supply_chain)
    assert n.directions == {"decrease"}


def problems(twin, question, plan):
    return [p.message for p in check_plan(plan, ground(question, twin), twin).problems]


def test_check_accepts_a_faithful_plan(bottling_line):
    plan = {"kind": "what_if", "changes": [{"op": "outage", "target": "filler", "duration": 4, "unit": "h"}]}
    checked = check_plan(
        plan, ground("What if the filler is down for 4 hours?", bottling_line), bottling_line
    )
    assert checked.ok and checked.interventions[0].duration == 14400


def test_check_rejects_what_the_question_does_not_say(bottling_line):
    q = "What if the filler is down for 30 minutes?"
    # another machine than the one asked about
    assert any(
        "does not mention" in p
        for p in problems(
            bottling_line,
            q,
            {
                "kind": "what_if",
                "changes": [{"op": "outage", "target": "capper", "duration": 30, "unit": "min"}],
            },
        )
    )
    # an invented number
    assert any(
        "not written" in p
        for p in problems(
            bottling_line,
            q,
            {
                "kind": "what_if",
                "changes": [{"op": "outage", "target": "filler", "duration": 45, "unit": "min"}],
            },
        )
    )
    # minutes read as hours
    assert any(
        "not h" in p
        for p in problems(
            bottling_line,
            q,
            {
                "kind": "what_if",
                "changes": [{"op": "outage", "target": "filler", "duration": 30, "unit": "h"}],
            },
        )
    )
    # a change the question does not speak of
    assert any(
        "does not speak of process time" in p
        for p in problems(
            bottling_line,
            q,
            {
                "kind": "what_if",
                "changes": [
                    {
                        "op": "change",
                        "target": "filler",
                        "parameter": "process_time",
                        "direction": "increase",
                        "percent": 30,
                    }
                ],
            },
        )
    )


def test_check_applies_the_twins_physics(bottling_line, pump_station):
    q = "What if the filler runs at 300% speed?"
    msgs = problems(
        bottling_line,
        q,
        {
            "kind": "what_if",
            "changes": [
                {"op": "setpoint", "target": "filler", "parameter": "speed", "value": 300, "unit": "%"}
            ],
        },
    )
    assert any("out of bounds" in p for p in msgs)
    msgs = problems(
        pump_station,
        "What if valve1 opening falls by 150%?",
        {
            "kind": "what_if",
            "changes": [
                {
                    "op": "change",
                    "target": "valve1",
                    "parameter": "opening",
                    "direction": "decrease",
                    "percent": 150,
                }
            ],
        },
    )
    assert any("would leave nothing" in p for p in msgs)


def test_check_direction_and_status_sense(supply_chain):
    msgs = problems(
        supply_chain,
        "What if demand rises by 10%?",
        {"kind": "what_if", "changes": [{"op": "demand", "direction": "decrease", "percent": 10}]},
    )
    assert any("asks for an increase" in p for p in msgs)
    msgs = problems(
        supply_chain,
        "What if plant P1 loses 20% of its capacity?",
        {
            "kind": "what_if",
            "changes": [
                {
                    "op": "change",
                    "target": "P1",
                    "parameter": "capacity",
                    "direction": "increase",
                    "percent": 20,
                }
            ],
        },
    )
    assert any("asks for a decrease" in p for p in msgs)
    msgs = problems(
        supply_chain,
        "How many employees work at plant P1?",
        {"kind": "status", "target": "P1", "quantity": "capacity"},
    )
    assert any("does not ask about capacity" in p for p in msgs)
