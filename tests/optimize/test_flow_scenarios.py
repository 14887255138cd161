"""Scenario interventions change the optimum exactly as a hand calculation says; comparisons;
infeasibility explained in the twin's terms. Every solve is a real HiGHS solve."""

from __future__ import annotations

import pytest
from flow_twins import TWO_PLANTS, TWO_PRODUCTS, TWO_SUPPLIERS, twin

from twinforge.optimize.flow import (
    FlowModelError,
    InfeasibleFlowError,
    compare_flow,
    optimize_flow,
)
from twinforge.optimize.infeasibility import explain_infeasibility
from twinforge.scenario import (
    Exclusive,
    ForbidFlow,
    Outage,
    RemoveNode,
    RestrictPartners,
    ScaleDemand,
    ScaleParameter,
    Scenario,
    ScenarioError,
    SetArrivalRate,
    SetParameter,
    Setpoint,
)
from twinforge.spec import loads_spec


def scenario(*interventions) -> Scenario:
    return Scenario(name="what-if", interventions=list(interventions))


def solve(text: str, *interventions, **options):
    return optimize_flow(twin(text), scenario(*interventions), **options)


# -- each intervention, against a hand calculation ---------------------------------------------------


def test_scale_demand_all():
    # demand 96 + 144 = 240: S1 100, S2 140. 1000 + 1960 + 240 + 480 + 96*3 + 144*5
    plan = solve(TWO_SUPPLIERS, ScaleDemand(factor=1.2))
    assert plan.objective == pytest.approx(4688)
    assert plan.flow("S2->P") == pytest.approx(140)
    assert plan.scenario == "what-if"


def test_scale_demand_of_some_customers():
    # C1 120, C2 120: S2 140. 1000 + 1960 + 240 + 480 + 120*3 + 120*5
    plan = solve(TWO_SUPPLIERS, ScaleDemand(factor=1.5, targets=["C1"]))
    assert plan.objective == pytest.approx(4640)


def test_scale_demand_of_one_product():
    # a doubles to 120: S1 gives 100 at 9/item, S2 20 at 12/item. a: 660 + 120 + 120 + 240; b: 550
    plan = solve(TWO_PRODUCTS, ScaleDemand(factor=2, product="a"))
    assert plan.objective == pytest.approx(1690)
    assert plan.flow("S2->P", "a") == pytest.approx(20)
    assert plan.flow("S2->P", "b") == 0


def test_set_edge_cost():
    # S1's path now costs 10 + 6 = 16 > 15: all 200 from S2. 2800 + 200 + 400 + 840
    cmp = compare_flow(
        twin(TWO_SUPPLIERS), scenario(SetParameter(target="S1->P", parameter="cost_per_unit", value=6))
    )
    assert cmp.scenario.objective == pytest.approx(4240)
    assert cmp.objective_delta == pytest.approx(400)
    assert cmp.newly_unused == ["S1"]
    assert cmp.newly_used == []
    changed = cmp.changed_flows.set_index("edge")
    assert changed.loc["S1->P", "before"] == pytest.approx(100) and changed.loc["S1->P", "after"] == 0
    assert changed.loc["S2->P", "delta"] == pytest.approx(100)
    assert len(cmp.changed_flows) == 2
    assert sum(cmp.cost_deltas.values()) == pytest.approx(cmp.objective_delta)
    assert cmp.cost_deltas["purchase"] == pytest.approx(400)


def test_scale_capacity():
    # S1 supplies 150: 50 items move from S2 (15) to S1 (11): -200, as its shadow price -4 says
    plan = solve(TWO_SUPPLIERS, ScaleParameter(target="S1", parameter="supply_capacity", factor=1.5))
    assert plan.objective == pytest.approx(3640)
    assert plan.constraint("supply_capacity[S1]").baseline == 100
    assert plan.constraint("supply_capacity[S1]").bound == 150
    assert "scale S1.supply_capacity" in plan.constraint("supply_capacity[S1]").describe()


def test_remove_node():
    cmp = compare_flow(twin(TWO_SUPPLIERS), scenario(RemoveNode(target="S1")))
    assert cmp.scenario.objective == pytest.approx(4240)
    assert cmp.removed_nodes == ["S1"]
    assert "S1" not in cmp.scenario.nodes["node"].tolist()


def test_forbid_flow_on_an_edge():
    plan = solve(TWO_SUPPLIERS, ForbidFlow(edge="S1->P"))
    assert plan.objective == pytest.approx(4240)
    assert plan.flow("S1->P") == 0
    assert "forbid_flow[S1->P]" in {c.name for c in plan.constraints}


def test_forbid_flow_of_one_product():
    # b now comes from S2 at 12 instead of 11: +50; a unchanged
    plan = solve(TWO_PRODUCTS, ForbidFlow(edge="S1->P", product="b"))
    assert plan.objective == pytest.approx(1140)
    assert plan.flow("S1->P", "a") == pytest.approx(60)
    assert plan.flow("S1->P", "b") == 0
    assert plan.flow("S2->P", "b") == pytest.approx(50)
    ban = plan.constraint("forbid_flow[S1->P,b]")
    assert ban.binding and ban.dual == pytest.approx(-1)  # lifting the ban would save 1 per item
    assert ban in plan.binding
    # all products: a also from S2 (12 instead of 9): +180 more
    assert solve(TWO_PRODUCTS, ForbidFlow(edge="S1->P")).objective == pytest.approx(1320)


def test_restrict_partners_buy_only():
    plan = solve(TWO_SUPPLIERS, RestrictPartners(target="P", partners=["S2"], direction="buy_only"))
    assert plan.objective == pytest.approx(4240)
    assert plan.flow("S1->P") == 0


def test_restrict_partners_serve_only():
    # P1 serves only C1 (60 at 12/item), P2 serves C2 (60 at 14/item)
    plan = solve(TWO_PLANTS, RestrictPartners(target="P1", partners=["C1"], direction="serve_only"))
    assert plan.objective == pytest.approx(1560)
    assert plan.flow("P1->C2") == 0
    assert plan.flow("P2->C2") == pytest.approx(60)


def test_exclusivity_between_two_plants():
    # P1 alone cannot serve 120 (capacity 100): P2 alone, 60*5 + 60*4 + 1200
    cmp = compare_flow(twin(TWO_PLANTS), scenario(Exclusive(nodes=("P1", "P2"))))
    plan = cmp.scenario
    assert plan.mip
    assert plan.objective == pytest.approx(1740)
    assert plan.throughput("P1") == 0
    assert cmp.newly_unused == ["P1"]


def test_outage_reduces_capacity_by_its_share_of_the_period():
    # 12 h of 24: P1 keeps 50 and uses it for C1 (saves 3 per item); P2 serves the rest
    half = solve(TWO_PLANTS, Outage(target="P1", duration="12 h"))
    assert half.objective == pytest.approx(1590)
    cap = half.constraint("capacity[P1]")
    assert cap.bound == pytest.approx(50) and cap.baseline == 100
    assert "12 h" in cap.describe()
    # 6 h of 24: 75 left, 25 items at +1 each (P1's shadow price is -1)
    assert solve(TWO_PLANTS, Outage(target="P1", duration="6 h")).objective == pytest.approx(1545)
    # the same 12 h in a two-day planning period is a quarter
    two_days = solve(TWO_PLANTS, Outage(target="P1", duration="12 h"), planning_period="2 day")
    assert two_days.objective == pytest.approx(1545)
    # overlapping outages count once: [0, 8 h) and [4 h, 12 h) is 12 h
    both = solve(
        TWO_PLANTS,
        Outage(target="P1", duration="8 h"),
        Outage(target="P1", start="4 h", duration="8 h"),
    )
    assert both.objective == pytest.approx(1590)


def test_outage_of_a_supplier_scales_every_product():
    # S1 down 12 h: 50 of a and 50 of b. a: 10 more from S2 at +3; b: 0 more (50 = demand)
    plan = solve(TWO_PRODUCTS, Outage(target="S1", duration="12 h"))
    assert plan.objective == pytest.approx(1090 + 30)


def test_outage_on_a_node_without_capacity():
    spec = twin(TWO_SUPPLIERS)
    del spec.node("P").parameters["capacity"]
    with pytest.raises(FlowModelError, match="partial outage"):
        optimize_flow(spec, scenario(Outage(target="P", duration="6 h")))
    with pytest.raises(InfeasibleFlowError) as info:  # down all day: nothing gets through
        optimize_flow(spec, scenario(Outage(target="P", duration="24 h")))
    assert "capacity[P]" in info.value.explanation.conflict_names


def test_flow_refuses_what_it_cannot_apply():
    # a twin with a pump and a source beside its supply chain: both valid scenario targets, but
    # a daily flow plan has no meaning for a setpoint or an arrival rate
    spec = loads_spec(
        TWO_SUPPLIERS.replace(
            "nodes:\n",
            "nodes:\n"
            "  - {id: pump1, kind: pump, parameters: {flow_rate: 10 m^3/h}}\n"
            "  - {id: feeder, kind: source, parameters: {interarrival_time: 60 s}}\n",
        )
    )
    with pytest.raises(ScenarioError) as info:
        optimize_flow(
            spec,
            scenario(
                Setpoint(target="pump1", parameter="speed", value=0.5),
                SetArrivalRate(target="feeder", rate=2),
                ScaleDemand(factor=1.1),
            ),
        )
    issues = info.value.issues
    assert [i.code for i in issues] == ["unsupported", "unsupported"]
    assert "flow optimisation cannot apply 'setpoint'" in issues[0].message
    assert issues[1].path == ("interventions", 1, "op")


def test_interventions_on_things_a_later_one_removed_are_noted():
    plan = solve(TWO_SUPPLIERS, ForbidFlow(edge="S1->P"), RemoveNode(target="S1"))
    assert plan.objective == pytest.approx(4240)
    assert any("no longer in the twin" in n for n in plan.notes)


# -- infeasibility explained ---------------------------------------------------------------------------


def test_infeasible_scenario_names_the_conflicting_constraints():
    with pytest.raises(InfeasibleFlowError) as info:
        solve(TWO_PRODUCTS, ForbidFlow(edge="S2->P", product="b"), ScaleDemand(factor=3, product="b"))
    why = info.value.explanation
    assert why.method.startswith("HiGHS IIS")
    assert set(why.conflict_names) == {"supply_capacity[S1,b]", "demand[C,b]", "forbid_flow[S2->P,b]"}
    assert "P (b)" in why.conservation
    [short] = why.shortfalls
    assert (short.entity, short.product) == ("C", "b")
    assert (short.short, short.achievable) == (pytest.approx(50), pytest.approx(100))
    assert set(short.bottlenecks) == {"supply_capacity of S1 (b)", "no flow on S2->P for b"}
    assert short.describe().startswith("demand of b at C cannot be met: short by 50 item/day")
    text = why.render()
    assert "supply_capacity of S1 (b) ≤ 100 item/day" in text
    assert "demand of b at C = 150 item/day [was 50 item/day; scenario: demand of b" in text
    assert "no flow on S2->P for b" in why.implicated
    assert any(t.startswith("demand of b at all customers scaled by 3") for t in why.implicated)


def test_shortfall_falls_where_serving_costs_most():
    # 128 + 192 = 320 wanted; suppliers have 300 but the plant only 250: short 70. The cheapest
    # plan delivering 250 shorts C2 (22/item) rather than C1 (20/item)
    with pytest.raises(InfeasibleFlowError) as info:
        solve(TWO_SUPPLIERS, ScaleDemand(factor=1.6))
    why = info.value.explanation
    assert why.total_short == pytest.approx(70)
    [short] = why.shortfalls
    assert short.constraint == "demand[C2]" and short.short == pytest.approx(70)
    assert short.bottlenecks == ["capacity of P"]
    assert set(why.conflict_names) == {"capacity[P]", "demand[C1]", "demand[C2]"}
    assert short.describe() == (
        "demand at C2 cannot be met: short by 70 item/day (needs 192, at most 122 possible); "
        "binding: capacity of P"
    )


def test_infeasible_only_as_a_mip_explains_the_choice():
    spec = twin(TWO_PLANTS)
    spec.set("P2", "capacity", 100)  # each plant alone: 100 < 120
    with pytest.raises(InfeasibleFlowError) as info:
        optimize_flow(spec, scenario(Exclusive(nodes=("P1", "P2"))))
    why = info.value.explanation
    assert why.total_short == pytest.approx(20)
    assert "binary decisions fixed" in why.method
    assert "exclusive[P1,P2]" in why.conflict_names
    assert any(d.endswith("not used (exclusivity)") for d in why.decisions)
    assert "use P1 or P2, not both" in why.implicated


def test_removed_supplier_is_reported_as_a_structural_change():
    with pytest.raises(InfeasibleFlowError) as info:
        solve(TWO_SUPPLIERS, RemoveNode(target="S2"))
    why = info.value.explanation
    assert why.structural == ["S2 removed (unavailable)"]
    assert why.shortfalls[0].short + (
        why.shortfalls[1].short if len(why.shortfalls) > 1 else 0
    ) == pytest.approx(100)
    assert "the scenario also changed the network: S2 removed (unavailable)" in why.render()


def test_compare_flow_carries_the_baseline_when_the_scenario_is_infeasible():
    with pytest.raises(InfeasibleFlowError) as info:
        compare_flow(twin(TWO_SUPPLIERS), scenario(ScaleDemand(factor=2)))
    assert info.value.baseline is not None
    assert info.value.baseline.objective == pytest.approx(3840)


def test_explain_on_a_feasible_model_finds_nothing_short():
    from twinforge.optimize.flow import build_flow_model

    why = explain_infeasibility(build_flow_model(twin(TWO_SUPPLIERS)))
    assert why.shortfalls == [] and why.total_short == 0


def test_real_example_what_if(supply_chain):
    cmp = compare_flow(supply_chain, scenario(ForbidFlow(edge="S3->P1", product="cola")))
    assert cmp.objective_delta > 0
    assert sum(cmp.cost_deltas.values()) == pytest.approx(cmp.objective_delta)
    assert cmp.scenario.flow("S3->P1", "cola") == 0
    row = cmp.changed_flows[(cmp.changed_flows.edge == "S3->P1") & (cmp.changed_flows["product"] == "cola")]
    assert row["after"].iloc[0] == 0 and row["before"].iloc[0] > 0
    with pytest.raises(InfeasibleFlowError) as info:
        optimize_flow(supply_chain, scenario(Outage(target="P1", duration="6 h"), ScaleDemand(factor=1.1)))
    why = info.value.explanation
    assert {"capacity[P1]", "capacity[P2]"} <= set(why.conflict_names)
    # 1188 wanted, 450 + 500 of plant capacity
    assert why.total_short == pytest.approx(1080 * 1.1 - 950)
