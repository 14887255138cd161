"""The scenario language: each intervention applied, each misuse reported, io round-trip."""

from __future__ import annotations

import pytest

from twinforge.scenario import (
    AddEdge,
    AppliedScenario,
    Exclusive,
    ForbidFlow,
    Outage,
    RemoveEdge,
    RemoveNode,
    RestrictPartners,
    ScaleDemand,
    ScaleParameter,
    Scenario,
    ScenarioError,
    SetArrivalRate,
    SetParameter,
    Setpoint,
    apply_scenario,
    dumps_scenario,
    loads_scenario,
    validate_scenario,
)
from twinforge.spec import Edge


def run(twin, *interventions) -> AppliedScenario:
    return apply_scenario(twin, Scenario(name="s", interventions=list(interventions)))


def issues(twin, *interventions):
    return [
        i
        for i in validate_scenario(twin, Scenario(name="s", interventions=list(interventions)))
        if i.severity == "error"
    ]


def test_set_and_scale_parameter(bottling_line):
    a = run(
        bottling_line,
        SetParameter(target="buf_fill", parameter="capacity", value=50),
        SetParameter(target="filler", parameter="process_time", value=0.5, unit="min"),
        ScaleParameter(target="capper", parameter="process_time", factor=1.25),
    )
    assert a.twin.get("buf_fill", "capacity") == 50
    assert a.twin.get("filler", "process_time") == pytest.approx(30)
    assert a.twin.get("capper", "process_time") == pytest.approx(27 * 1.25)
    assert bottling_line.get("buf_fill", "capacity") == 25  # base untouched
    assert a.twin.metadata["scenario"] == "s"


def test_parameter_on_edges_and_per_product(supply_chain):
    a = run(
        supply_chain,
        SetParameter(target="S1->P1", parameter="cost_per_unit", value=10),
        ScaleParameter(target="C_berlin", parameter="demand", factor=2, product="cola"),
    )
    assert a.twin.get("S1->P1", "cost_per_unit") == 10
    assert a.twin.get("C_berlin", "demand", product="cola") == 360
    assert a.twin.get("C_berlin", "demand", product="lager") == 220


def test_scale_demand(supply_chain):
    a = run(supply_chain, ScaleDemand(factor=1.1))
    assert a.twin.get("C_dresden", "demand", product="lager") == pytest.approx(88)
    a = run(supply_chain, ScaleDemand(factor=0.5, product="lager", targets=["C_berlin"]))
    assert a.twin.get("C_berlin", "demand", product="lager") == 110
    assert a.twin.get("C_berlin", "demand", product="cola") == 180
    assert a.twin.get("C_frankfurt", "demand", product="lager") == 150


def test_scale_demand_of_a_product_skips_customers_who_never_buy_it(supply_chain):
    twin = supply_chain.copy_deep()
    twin.node("C_dresden").parameters["demand"].by_product = {"lager": 80}  # no cola at Dresden
    a = run(twin, ScaleDemand(factor=0.9, product="cola"))
    assert a.twin.get("C_berlin", "demand", product="cola") == pytest.approx(162)
    assert a.twin.node("C_dresden").parameters["demand"].by_product == {"lager": 80}


def test_arrival_rate(bottling_line):
    a = run(bottling_line, SetArrivalRate(target="pallets_in", rate=150, unit="1/h"))
    assert a.twin.get("pallets_in", "interarrival_time") == pytest.approx(24)
    # the exponential shape is kept
    p = a.twin.node("pallets_in").parameters["interarrival_time"]
    assert p.distribution.type == "exponential" and p.distribution.mean() == pytest.approx(24)
    a = run(bottling_line, SetArrivalRate(target="pallets_in", rate=2, unit="item/min"))
    assert a.twin.get("pallets_in", "interarrival_time") == pytest.approx(30)


def test_timed_interventions_are_handed_to_the_run(bottling_line):
    a = run(
        bottling_line,
        Outage(target="filler", start="2 h", duration="4 h"),
        Setpoint(target="filler", parameter="speed", value=0.9, at={"value": 30, "unit": "min"}),
    )
    assert [(t.op, t.target) for t in a.timed] == [("outage", "filler"), ("setpoint", "filler")]
    assert a.timed[0].start == 7200 and a.timed[0].duration == 14400 and a.timed[1].at == 1800
    # a setpoint changes nothing before its time
    assert a.twin.get("filler", "speed") == 1.0


def test_structure_changes(supply_chain):
    a = run(
        supply_chain,
        RemoveNode(target="S3"),
        AddEdge(edge=Edge(source="S1", target="C_berlin", parameters={"cost_per_unit": 20})),
        RemoveEdge(target="P2->C_dresden"),
        ForbidFlow(edge="S1->C_berlin", product="cola"),
    )
    assert not a.twin.has_node("S3") and all("S3" not in (e.source, e.target) for e in a.twin.edges)
    assert a.twin.get("S1->C_berlin", "cost_per_unit") == 20
    assert not any(e.key == "P2->C_dresden" for e in a.twin.edges)
    assert [c.op for c in a.constraints] == ["forbid_flow"]


def test_remove_node_takes_its_sensors(bottling_line):
    a = run(bottling_line, RemoveNode(target="filler"))
    assert not a.twin.has_node("filler_temp")
    assert a.warnings and a.warnings[0].code == "cascade"


def test_constraints(supply_chain):
    a = run(
        supply_chain,
        RestrictPartners(target="P1", partners=["C_berlin", "C_dresden"], direction="serve_only"),
        RestrictPartners(target="P2", partners=["S2"], direction="buy_only"),
        Exclusive(nodes=("S1", "S3")),
    )
    assert [c.op for c in a.constraints] == ["restrict_partners", "restrict_partners", "exclusive"]


def test_unknown_targets_and_parameters(bottling_line):
    errs = issues(
        bottling_line,
        SetParameter(target="filer", parameter="process_time", value=3),
        SetParameter(target="filler", parameter="capacity", value=3),
        ScaleParameter(target="filler", parameter="process_tme", factor=2),
    )
    assert [e.code for e in errs] == ["unknown-entity", "unknown-parameter", "unknown-parameter"]
    assert "did you mean 'filler'" in errs[0].message and errs[0].path == ("interventions", 0, "target")
    assert "process_time" in errs[1].expected
    assert "did you mean 'process_time'" in errs[2].message


def test_values_out_of_bounds_and_bad_units(bottling_line):
    errs = issues(
        bottling_line,
        SetParameter(target="buf_fill", parameter="capacity", value=-3),
        SetParameter(target="filler", parameter="process_time", value=3, unit="kg"),
        ScaleParameter(target="filler", parameter="speed", factor=5),
        SetParameter(target="buf_fill", parameter="capacity", value=2.5),
    )
    assert [e.code for e in errs] == ["out-of-bounds", "unit-mismatch", "out-of-bounds", "wrong-type"]
    assert errs[0].path == ("interventions", 0, "value") and errs[0].found == "-3.0"


def test_kind_rules(bottling_line, supply_chain):
    errs = issues(
        bottling_line,
        Outage(target="buf_fill", duration=60),
        Setpoint(target="filler", parameter="mtbf", value=3),
        SetArrivalRate(target="filler", rate=3),
        SetArrivalRate(target="pallets_in", rate=3, unit="kg"),
        Outage(target="filler", duration=0),
    )
    assert [e.code for e in errs] == ["kind-rule", "kind-rule", "kind-rule", "unit-mismatch", "out-of-bounds"]
    assert errs[1].expected == "one of speed"
    errs = issues(
        supply_chain,
        RestrictPartners(target="P1", partners=["S1", "C_berlin"], direction="serve_only"),
        ForbidFlow(edge="S1->P1", product="whisky"),
        Exclusive(nodes=("S1", "S1")),
        ScaleDemand(factor=2, targets=["P1"]),
    )
    assert [e.code for e in errs] == ["kind-rule", "unknown-product", "kind-rule", "kind-rule"]
    assert "never ships to 'S1'" in errs[0].message


def test_add_edge_checks(supply_chain):
    errs = issues(
        supply_chain,
        AddEdge(edge=Edge(source="S1", target="P1")),
        AddEdge(edge=Edge(source="S1", target="Nowhere")),
        AddEdge(edge=Edge(source="S1", target="C_berlin", parameters={"cost_per_unit": -1})),
        AddEdge(edge=Edge(source="C_berlin", target="S2", id="back")),
    )
    assert [e.code for e in errs] == [
        "duplicate-id",
        "unknown-node",
        "out-of-bounds",
        "kind-rule",
        "kind-rule",
    ]
    assert errs[2].path == ("interventions", 2, "edge", "parameters", "cost_per_unit", "value")


def test_interventions_apply_in_order(supply_chain):
    # forbidding an edge that an earlier intervention added is fine; forbidding one removed is not
    ok = issues(
        supply_chain, AddEdge(edge=Edge(source="S1", target="C_berlin")), ForbidFlow(edge="S1->C_berlin")
    )
    assert ok == []
    errs = issues(supply_chain, RemoveEdge(target="S1->P1"), ForbidFlow(edge="S1->P1"))
    assert [e.code for e in errs] == ["unknown-edge"]


def test_wrong_twin(bottling_line):
    sc = Scenario(name="s", twin="pump-station", interventions=[])
    with pytest.raises(ScenarioError, match="written for twin 'pump-station'"):
        apply_scenario(bottling_line, sc)


def test_require_supported(bottling_line):
    a = run(
        bottling_line,
        Outage(target="filler", duration=60),
        SetParameter(target="buf_fill", parameter="capacity", value=9),
    )
    a.require_supported({"outage", "set_parameter"}, "simulation")
    with pytest.raises(ScenarioError, match="flow optimisation cannot apply 'outage'"):
        a.require_supported({"set_parameter"}, "flow optimisation")


YAML = """\
scenario: 1
name: filler-down
twin: bottling-line
interventions:
  - {op: outage, target: filler, start: 2 h, duration: 4 h, note: bearing change}
  - {op: scale_parameter, target: capper, parameter: process_time, factor: 1.2}
"""


def test_yaml_round_trip(bottling_line):
    sc = loads_scenario(YAML)
    assert sc.interventions[0].duration == 14400
    again = loads_scenario(dumps_scenario(sc))
    assert again == sc
    apply_scenario(bottling_line, sc)


def test_yaml_structural_errors_have_lines():
    with pytest.raises(ScenarioError) as info:
        loads_scenario(
            YAML.replace("op: outage", "op: explode").replace("factor: 1.2", "factor: lots"), file="s.yaml"
        )
    errs = info.value.errors
    assert errs[0].line == 5 and errs[0].path[:2] == ("interventions", 0)
    assert errs[1].line == 6 and errs[1].path == ("interventions", 1, "factor")
    with pytest.raises(ScenarioError, match="not a time"):
        loads_scenario(YAML.replace("duration: 4 h", "duration: 4 kg"))


def test_validation_issues_point_to_the_yaml_line(bottling_line):
    text = YAML.replace("target: capper", "target: caper")
    sc = loads_scenario(text, file="s.yaml")
    with pytest.raises(ScenarioError) as info:
        apply_scenario(bottling_line, sc, file="s.yaml")
    assert "did you mean 'capper'" in info.value.errors[0].message
