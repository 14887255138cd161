"""Flow optimisation from a twin: hand-checked optima, shadow prices, integrality, fixed costs, the
real example. Every solve is a real HiGHS solve."""

from __future__ import annotations

import json
import math

import pytest
from flow_twins import FIXED_COSTS, LANES, TWO_PLANTS, TWO_PRODUCTS, TWO_SUPPLIERS, twin

from twinforge.optimize.flow import (
    FLOW_UNIT,
    FlowModelError,
    FlowOptions,
    build_flow_model,
    optimize_flow,
)
from twinforge.spec import loads_spec


def test_two_suppliers_one_plant_hand_optimum():
    plan = optimize_flow(twin(TWO_SUPPLIERS))
    assert plan.status == "optimal"
    assert not plan.mip
    assert plan.objective == pytest.approx(3840)
    assert plan.solver_objective == pytest.approx(3840)  # HiGHS agrees with the recomputed cost
    assert plan.costs.as_dict() == pytest.approx(
        {"purchase": 2400, "processing": 400, "transport": 200 + 840, "fixed": 0, "penalty": 0}
    )
    assert plan.flow("S1->P") == pytest.approx(100)
    assert plan.flow("S2->P") == pytest.approx(100)
    assert plan.flow("P->C1") == pytest.approx(80)
    assert plan.flow("P->C2") == pytest.approx(120)
    assert plan.throughput("P") == pytest.approx(200)
    p = plan.nodes.set_index("node").loc["P"]
    assert p["capacity"] == 250 and p["utilisation"] == pytest.approx(0.8)


def test_shadow_prices_match_hand_marginal_costs():
    spec = twin(TWO_SUPPLIERS)
    plan = optimize_flow(spec)
    s1 = plan.constraint("supply_capacity[S1]")
    assert s1.binding
    assert s1.dual == pytest.approx(-4)  # one more item from S1 instead of S2 saves 15 - 11
    assert s1.describe() == "supply_capacity of S1: 100 item/day binding, shadow price -4 EUR/item"
    assert [c.name for c in plan.binding] == ["supply_capacity[S1]"]  # S2 and P have slack
    assert plan.constraint("capacity[P]").binding is False
    assert plan.constraint("demand[C1]").dual == pytest.approx(20)
    assert plan.constraint("demand[C2]").dual == pytest.approx(22)
    # the shadow price is the actual change of the optimum when the capacity grows by one
    bigger = spec.copy_deep()
    bigger.set("S1", "supply_capacity", 101)
    assert optimize_flow(bigger).objective - plan.objective == pytest.approx(s1.dual)


def test_plant_capacity_shadow_price_two_plants():
    plan = optimize_flow(twin(TWO_PLANTS))
    assert plan.objective == pytest.approx(1520)
    assert plan.costs.processing == pytest.approx(160)
    assert plan.costs.transport == pytest.approx(160)
    assert plan.flow("P1->C1") == pytest.approx(60)
    assert plan.flow("P1->C2") == pytest.approx(40)
    assert plan.flow("P2->C2") == pytest.approx(20)
    assert plan.flow("P2->C1") == 0
    cap = plan.constraint("capacity[P1]")
    assert cap.binding and cap.dual == pytest.approx(-1)
    # C2's marginal item comes through P2: 10 + 3 + 1
    assert plan.constraint("demand[C2]").dual == pytest.approx(14)
    # C1's marginal item: P1 ships one more to C1 and one less to C2, which P2 then serves:
    # 12 - 13 + 14 (cheaper than P2 -> C1 at 15)
    assert plan.constraint("demand[C1]").dual == pytest.approx(13)


def test_two_products_hand_optimum_and_per_product_rows():
    plan = optimize_flow(twin(TWO_PRODUCTS))
    assert plan.objective == pytest.approx(1090)
    assert plan.costs.as_dict() == pytest.approx(
        {"purchase": 600, "processing": 160, "transport": 330, "fixed": 0, "penalty": 0}
    )
    assert plan.flow("S1->P", "a") == pytest.approx(60)
    assert plan.flow("S1->P", "b") == pytest.approx(50)
    assert plan.flow("S2->P") == 0
    names = {c.name for c in plan.constraints}
    assert {"supply_capacity[S1,a]", "supply_capacity[S2,b]", "capacity[P]", "demand[C,a]"} <= names
    assert set(plan.flows["product"]) == {"a", "b"}


def test_per_product_edge_capacity_and_its_shadow_price():
    spec = twin(TWO_PRODUCTS)
    spec.set("S1->P", "capacity", 30, product="a")  # by_product capacity: only a is limited
    plan = optimize_flow(spec)
    # 30 of a must come from S2 at 12 instead of 9: +90
    assert plan.objective == pytest.approx(1090 + 90)
    row = plan.constraint("capacity[S1->P,a]")
    assert row.binding and row.dual == pytest.approx(-3)
    assert not any(c.name == "capacity[S1->P,b]" for c in plan.constraints)


def test_unmet_penalty_and_per_product_node_capacity():
    spec = twin(TWO_PRODUCTS)
    node = spec.node("P")
    node.parameters["capacity"] = node.parameters["capacity"].model_copy(
        update={"value": None, "by_product": {"a": 40, "b": 500}}
    )
    spec.set("C", "unmet_penalty", 20, product="a")
    plan = optimize_flow(spec)
    # a: 40 delivered (cost 9 each = 360) + 20 unmet at 20 = 400; b unchanged (550)
    assert plan.objective == pytest.approx(360 + 400 + 550)
    assert plan.costs.penalty == pytest.approx(400)
    assert plan.total_unmet == pytest.approx(20)
    row = plan.unmet.iloc[0]
    assert (row["customer"], row["product"], row["unmet"], row["delivered"]) == ("C", "a", 20, 40)
    cap = plan.constraint("capacity[P,a]")
    assert cap.binding and cap.dual == pytest.approx(-(20 - 9))  # one more item saves penalty - cost


def test_min_flow_contract_and_its_shadow_price():
    spec = twin(TWO_SUPPLIERS)
    spec.set("S2->P", "min_flow", 150)
    plan = optimize_flow(spec)
    # S2 must ship 150 (50 more than optimal), each costing 15 instead of 11
    assert plan.objective == pytest.approx(3840 + 50 * 4)
    row = plan.constraint("min_flow[S2->P]")
    assert row.binding and row.dual == pytest.approx(4)


def test_fixed_costs_open_one_plant():
    plan = optimize_flow(twin(FIXED_COSTS))
    assert plan.mip
    assert plan.objective == pytest.approx(250)
    assert plan.costs.fixed == pytest.approx(10)
    nodes = plan.nodes.set_index("node")
    assert nodes.loc["P2", "open"]
    assert not nodes.loc["P1", "open"]
    assert plan.flow("P2->C") == pytest.approx(80)
    assert plan.used_nodes == ["S", "P2", "C"]
    lp = optimize_flow(twin(FIXED_COSTS), fixed_costs=False)
    assert not lp.mip
    assert lp.objective == pytest.approx(160)
    assert lp.costs.fixed == 0
    assert lp.flow("P1->C") == pytest.approx(80)
    assert any("fixed cost of P1" in n for n in lp.notes)


def test_mip_duals_come_from_lp_with_decisions_fixed():
    spec = twin(FIXED_COSTS)
    spec.set("C", "demand", 120)  # neither plant alone suffices: both open
    plan = optimize_flow(spec)
    # P1 full (100 at 2), P2 20 at 3, both fixed costs: 200 + 60 + 110
    assert plan.objective == pytest.approx(370)
    assert "fixed" in plan.duals_from
    cap = plan.constraint("capacity[P1]")
    assert cap.binding and cap.dual == pytest.approx(-1)
    assert cap.bound == 100
    assert plan.constraint("capacity[P2]").binding is False


def test_lane_fixed_cost_on_parallel_edges():
    small = optimize_flow(twin(LANES))
    assert small.objective == pytest.approx(120)
    assert small.flow("standard") == pytest.approx(40) and small.flow("express") == 0
    spec = twin(LANES)
    spec.set("C", "demand", 60)
    big = optimize_flow(spec)
    assert big.objective == pytest.approx(160)
    assert big.flow("express") == pytest.approx(60)
    assert big.costs.fixed == pytest.approx(100)


def test_integer_flows():
    spec = twin(TWO_SUPPLIERS)
    spec.set("S1", "supply_capacity", 100.5)
    lp = optimize_flow(spec)
    assert lp.objective == pytest.approx(3840 - 0.5 * 4)
    whole = optimize_flow(spec, integer=True)
    assert whole.mip
    assert whole.objective == pytest.approx(3840)
    assert all(float(f).is_integer() for f in whole.flows["flow"])
    assert whole.size["integers"] > 0


def test_units_are_converted_to_the_planning_unit():
    spec = loads_spec(
        """
twinforge: 1
name: units
nodes:
  - {id: S, kind: supplier, parameters: {supply_capacity: 5 item/h, cost_per_unit: 2 EUR/item}}
  - {id: C, kind: customer, parameters: {demand: 700 item/week}}
edges:
  - {source: S, target: C, parameters: {capacity: 3000 item/week}}
"""
    )
    plan = optimize_flow(spec)
    assert plan.flow("S->C") == pytest.approx(100)
    assert plan.objective == pytest.approx(200)
    assert plan.constraint("supply_capacity[S]").bound == pytest.approx(120)
    assert plan.constraint("capacity[S->C]").bound == pytest.approx(3000 / 7)
    assert plan.unit == FLOW_UNIT


def test_products_a_node_does_not_list_are_not_handled():
    spec = twin(TWO_PRODUCTS)
    s2 = spec.node("S2").parameters
    s2["supply_capacity"] = s2["supply_capacity"].model_copy(update={"by_product": {"a": 100}})
    s2["cost_per_unit"] = s2["cost_per_unit"].model_copy(update={"by_product": {"a": 8}})
    model = build_flow_model(spec)
    assert ("S2", "b") not in model.supply_cols
    assert any("S2 handles no b" in n for n in model.notes)


def test_every_row_and_column_is_named_in_twin_terms(supply_chain):
    model = build_flow_model(supply_chain)
    rows = {r.name for r in model.rows}
    assert {
        "capacity[P1]",
        "supply_capacity[S1,cola]",
        "demand[C_berlin,cola]",
        "balance[P2,lager]",
        "capacity[S1->P1]",
    } <= rows
    assert len(rows) == len(model.rows)  # unique
    assert "open[P1]" in {c.name for c in model.columns}
    assert model.size()["binaries"] == 2


def test_real_example_solves(supply_chain):
    plan = optimize_flow(supply_chain)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(sum(plan.costs.as_dict().values()))
    assert plan.objective == pytest.approx(plan.solver_objective)
    assert plan.objective == pytest.approx(plan.costs.total)
    assert plan.unmet.empty
    flows = plan.flows
    model = plan.model
    for (customer, product), demand in model.demand.items():
        delivered = flows[(flows.target == customer) & (flows["product"] == product)]["flow"].sum()
        assert delivered == pytest.approx(demand)
    for node in ("P1", "P2"):  # conservation through the plants, per product
        for product in ("lager", "cola"):
            inflow = flows[(flows.target == node) & (flows["product"] == product)]["flow"].sum()
            outflow = flows[(flows.source == node) & (flows["product"] == product)]["flow"].sum()
            assert inflow == pytest.approx(outflow)
    for supplier in ("S1", "S2", "S3"):
        for product in ("lager", "cola"):
            out = flows[(flows.source == supplier) & (flows["product"] == product)]["flow"].sum()
            assert out <= supply_chain.get(supplier, "supply_capacity", product=product) + 1e-6
    assert plan.throughput("P1") <= 600 + 1e-6 and plan.throughput("P2") <= 500 + 1e-6
    # both plants are needed (1080 item/day of demand, 600 + 500 of capacity): the MIP optimum is
    # the LP optimum without fixed costs plus both fixed costs
    lp = optimize_flow(supply_chain, fixed_costs=False)
    assert plan.objective == pytest.approx(lp.objective + 2500 + 2200)
    assert plan.costs.fixed == pytest.approx(4700)
    json.dumps(plan.to_dict(), default=float)  # serialisable


def test_options_and_errors(bottling_line, supply_chain):
    with pytest.raises(FlowModelError, match="station"):
        optimize_flow(bottling_line)
    plan = optimize_flow(supply_chain, FlowOptions(time_limit=30))
    assert plan.status == "optimal"
    with pytest.raises(FlowModelError, match="planning_period"):
        FlowOptions(planning_period=0).period_s  # noqa: B018
    assert FlowOptions(planning_period="8 h").period_s == 8 * 3600
    assert math.isnan(plan.nodes.set_index("node").loc["C_berlin", "capacity"])


def test_lane_fixed_cost_covers_products_without_a_capacity():
    # express has a capacity for a only; b must still pay the lane's fixed cost to use it.
    # standard: 60 * 3 = 180; express: 60 * 1 + 100 = 160
    spec = loads_spec(
        """
twinforge: 1
name: lanes-by-product
products: [a, b]
nodes:
  - {id: S, kind: supplier, parameters: {supply_capacity: 1000 item/day}}
  - {id: C, kind: customer, parameters: {demand: {by_product: {a: 10, b: 50}, unit: item/day}}}
edges:
  - id: express
    source: S
    target: C
    parameters:
      cost_per_unit: 1 EUR/item
      fixed_cost: 100 EUR/day
      capacity: {by_product: {a: 1000}, unit: item/day}
  - {id: standard, source: S, target: C, parameters: {cost_per_unit: 3 EUR/item}}
"""
    )
    plan = optimize_flow(spec)
    assert plan.objective == pytest.approx(160)
    assert plan.costs.fixed == pytest.approx(100)
    assert plan.flow("express") == pytest.approx(60)
    assert "use_link[express]" in {c.name for c in plan.constraints}


def test_scalar_demand_in_a_multi_product_twin_is_per_product_and_noted():
    spec = twin(TWO_PRODUCTS)
    spec.node("C").parameters["demand"] = (
        spec.node("C").parameters["demand"].model_copy(update={"by_product": None, "value": 20.0})
    )
    plan = optimize_flow(spec)
    assert plan.flow("P->C", "a") == pytest.approx(20) and plan.flow("P->C", "b") == pytest.approx(20)
    assert any("applies to each of a, b" in n for n in plan.notes)


def test_warehouse_handling_cost_and_capacity():
    spec = loads_spec(
        """
twinforge: 1
name: via-warehouse
nodes:
  - {id: S, kind: supplier, parameters: {cost_per_unit: 3 EUR/item}}
  - {id: W, kind: warehouse, parameters: {capacity: 40 item/day, handling_cost: 2 EUR/item}}
  - {id: C, kind: customer, parameters: {demand: 30 item/day, unmet_penalty: 4 EUR/item}}
edges:
  - {source: S, target: W}
  - {source: W, target: C, parameters: {cost_per_unit: 0.5 EUR/item}}
"""
    )
    plan = optimize_flow(spec)
    # serving costs 3 + 2 + 0.5 = 5.5 per item, more than the penalty of 4: nothing is shipped
    assert plan.objective == pytest.approx(30 * 4)
    assert plan.total_unmet == pytest.approx(30)
    spec.set("C", "unmet_penalty", 10)
    plan = optimize_flow(spec)
    assert plan.objective == pytest.approx(165)
    assert plan.costs.processing == pytest.approx(60)
    assert plan.nodes.set_index("node").loc["W", "utilisation"] == pytest.approx(30 / 40)
    assert plan.constraint("demand[C]").dual == pytest.approx(5.5)


def test_planning_rules_of_the_twin_are_honoured_without_flags():
    from twinforge.optimize.flow import InfeasibleFlowError

    # a contracted minimum above demand: impossible when demand is met exactly, fine "at least"
    base = TWO_SUPPLIERS.replace(
        "  - {source: P, target: C1, parameters: {cost_per_unit: 3 EUR/item}}",
        "  - {source: P, target: C1, parameters: {cost_per_unit: 3 EUR/item, min_flow: 90 item/day}}",
    )
    with pytest.raises(InfeasibleFlowError):
        optimize_flow(twin(base))
    at_least = twin(base + "planning: {demand: at_least}\n")
    plan = optimize_flow(at_least)
    assert plan.flow("P->C1") == pytest.approx(90) and plan.flow("P->C2") == pytest.approx(120)
    # whole items: a fractional demand is met with whole shipments (at least), as a MIP
    frac = twin(
        TWO_SUPPLIERS.replace("demand: 80 item/day", "demand: 80.5 item/day")
        + "planning: {demand: at_least, integer_flows: true}\n"
    )
    plan = optimize_flow(frac)
    assert plan.mip and plan.flow("P->C1") == pytest.approx(81)
    assert all(float(f).is_integer() for f in plan.flows["flow"])
    # an explicit option still wins over the twin's rule
    assert not optimize_flow(frac, FlowOptions(integer=False)).mip
