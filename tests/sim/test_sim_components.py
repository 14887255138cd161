"""Component behaviour on deterministic twins, checked against hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinforge.scenario import Outage, Scenario, Setpoint
from twinforge.sim import compare_scenario, simulate
from twinforge.spec import loads_spec


def kpis(result) -> dict[str, float]:
    return dict(zip(result.kpis["kpi"], result.kpis["value"], strict=True))


def test_deterministic_line_throughput_cycle_time_and_wip(tw):
    twin = tw.line("det", 10.0, [{"process_time": tw.const(8)}, {"process_time": tw.const(9)}])
    k = kpis(simulate(twin, horizon=1000))
    # items released at 0, 10, ...; s1 done at 8+10k, s2 done at 17+10k <= 1000 -> 99 items
    assert k["output"] == 99
    assert k["cycle_time"] == pytest.approx(17.0)
    assert k["throughput"] == pytest.approx(99 / 1000 * 3600)
    # WIP area: 99 finished items x 17 s + the item released at 990 (10 s)
    assert k["wip"] == pytest.approx((99 * 17 + 10) / 1000)
    assert k["s2.busy"] == pytest.approx(99 * 9 / 1000 + 1 / 1000 * 0, abs=0.01)


def test_blocking_after_service_in_front_of_a_bottleneck(tw):
    twin = tw.line(
        "blocking", 1.0, [{"process_time": tw.const(2)}, {"process_time": tw.const(5)}], buffers=[None, 3]
    )
    k = kpis(simulate(twin, horizon=10000))
    assert k["s2.busy"] == pytest.approx(1.0, abs=1e-3)
    assert k["s1.busy"] == pytest.approx(0.4, abs=2e-3)
    assert k["s1.blocked"] == pytest.approx(0.6, abs=2e-3)
    assert k["s1.starved"] == pytest.approx(0.0, abs=2e-3)
    assert k["b2.full"] == pytest.approx(1.0, abs=2e-3)
    # the source releases when s1 frees (every 5 s); its next item is ready 1 s later, then waits 4 s
    assert k["src.blocked"] == pytest.approx(0.8, abs=2e-3)
    assert k["output"] == 1999  # s2 finishes at 7 + 5k s <= 10000


def test_outage_lowers_throughput_by_the_hand_calculated_amount(tw):
    # s1 (10 s) is the bottleneck; the outage pre-empts the item started at 7200 s 5 s in and it
    # resumes afterwards: exactly 2 h x 360 items/h are lost.
    twin = tw.line("outage", 5.0, [{"process_time": tw.const(10)}], buffers=[10])
    scenario = Scenario(name="down", interventions=[Outage(target="s1", start=7205, duration="2 h")])
    cmp = compare_scenario(twin, scenario, reps=2, horizon="10 h", seed=1)
    out = cmp.row("output")
    assert out["baseline"] == 3600
    assert out["scenario"] == 2880
    assert out["difference"] == -720
    assert cmp.row("throughput")["difference"] == pytest.approx(-72.0)
    assert cmp.row("s1.downtime")["scenario"] == pytest.approx(2.0)
    assert cmp.row("s1.failure_downtime")["scenario"] == 0.0


def test_conveyor_delay_and_capacity(tw):
    extra = ""
    twin = loads_spec(
        """
twinforge: 1
name: conv
nodes:
  - {id: src, kind: source, parameters: {interarrival_time: 10 s}}
  - {id: belt, kind: conveyor, parameters: {transport_time: 25 s, capacity: 2}}
  - {id: out, kind: sink}
edges:
  - {source: src, target: belt}
  - {source: belt, target: out}
"""
        + extra
    )
    k = kpis(simulate(twin, horizon=10000))
    assert k["cycle_time"] == pytest.approx(25.0)
    # two items per 25 s once the belt is full
    assert k["throughput"] == pytest.approx(3600 / 12.5, rel=0.01)
    assert k["belt.mean_occupancy"] == pytest.approx(2.0, abs=0.01)


def test_edge_transport_time_adds_a_delay(tw):
    base = tw.line("edge", 10.0, [{"process_time": tw.const(4)}])
    text = base.model_dump_json(by_alias=True)
    import json

    data = json.loads(text)
    data["edges"][-1]["parameters"] = {"transport_time": {"value": 0.5, "unit": "min"}}
    from twinforge.spec import parse_spec

    k = kpis(simulate(parse_spec(data), horizon=1000))
    assert k["cycle_time"] == pytest.approx(4 + 30)


def test_cycle_count_failures(tw):
    twin = tw.line(
        "mcbf",
        10.0,
        [{"process_time": tw.const(5), "mcbf": {"value": 100, "unit": "cycle"}, "mttr": tw.const(100)}],
        buffers=[1000],
    )
    k = kpis(simulate(twin, horizon=20000))
    assert k["s1.failures"] == k["s1.processed"] // 100
    assert k["s1.failures"] >= 19
    # every repair takes 100 s; the last one may still be running at the horizon
    assert (k["s1.failures"] - 1) * 100 < k["s1.downtime"] * 3600 <= k["s1.failures"] * 100 + 1e-6


def test_operating_time_failures_count_only_processing_time(tw):
    twin = tw.line(
        "mtbf",
        10.0,
        [{"process_time": tw.const(5), "mtbf": tw.const(1002), "mttr": tw.const(50)}],
        buffers=[1000],
    )
    horizon = 50000
    k = kpis(simulate(twin, horizon=horizon))
    busy_seconds = k["s1.busy"] * horizon
    # the clock runs only while processing (half the time), so failures are ~2004 s apart
    assert k["s1.failures"] == math.floor(busy_seconds / 1002)
    assert k["s1.downtime"] * 3600 == pytest.approx(k["s1.failures"] * 50)
    assert k["s1.failure_downtime"] == k["s1.downtime"]


def test_idle_versus_starved_after_the_source_runs_out(tw):
    twin = tw.line("finite", 10.0, [{"process_time": tw.const(5)}])
    twin.nodes[0].parameters["max_arrivals"] = (
        twin.nodes[0]
        .parameters["interarrival_time"]
        .model_copy(update={"value": 10, "unit": "item", "distribution": None})
    )
    k = kpis(simulate(twin, horizon=1000))
    assert k["output"] == 10
    assert k["s1.busy"] == pytest.approx(0.05)
    assert k["s1.starved"] == pytest.approx(0.045)
    assert k["s1.idle"] == pytest.approx(0.905)


def test_setup_on_product_change_and_per_product_process_times():
    twin = loads_spec(
        """
twinforge: 1
name: setups
products: [a, b]
nodes:
  - {id: src_a, kind: source, parameters: {interarrival_time: 20 s}, metadata: {product_mix: {a: 1}}}
  - {id: src_b, kind: source, parameters: {interarrival_time: 20 s, start_time: 10 s}, metadata: {product_mix: {b: 1}}}
  - {id: buf, kind: buffer, parameters: {capacity: 100}}
  - id: s
    kind: station
    parameters:
      process_time: {by_product: {a: 5, b: 7}, unit: s}
      setup_time: 2 s
  - {id: out, kind: sink}
edges:
  - {source: src_a, target: buf}
  - {source: src_b, target: buf}
  - {source: buf, target: s}
  - {source: s, target: out}
"""
    )
    mc = simulate(twin, horizon=1000)
    k = kpis(mc)
    # products alternate a, b, a, ...: every item but the first needs a 2 s setup
    n = k["s.processed"]
    assert n == 100
    busy = 50 * 5 + 50 * 7 + (n - 1) * 2
    assert k["s.busy"] * 1000 == pytest.approx(busy)
    assert k["s.setup"] * 1000 == pytest.approx((n - 1) * 2)


def test_scrap_rate_removes_items(tw):
    twin = tw.line("scrap", 1.0, [{"process_time": tw.const(0.5), "scrap_rate": 0.1}])
    k = kpis(simulate(twin, horizon=20000, seed=4))
    share = k["s1.scrapped"] / k["s1.processed"]
    assert share == pytest.approx(0.1, abs=0.007)  # binomial, n = 20000: 3.3 sigma
    assert k["output"] + k["scrapped"] == k["s1.processed"]


def test_speed_setpoint_divides_process_time(tw):
    twin = tw.line("speed", 1.0, [{"process_time": tw.const(10)}], buffers=[100000])
    scenario = Scenario(
        name="faster", interventions=[Setpoint(target="s1", parameter="speed", value=2, at=5000)]
    )
    cmp = compare_scenario(twin, scenario, reps=2, horizon=10000)
    assert cmp.row("output")["baseline"] == 1000
    assert cmp.row("output")["scenario"] == 1500


def test_routing_policies():
    def twin(policy: str, weights: tuple[float, float] = (1, 1)) -> object:
        return loads_spec(
            f"""
twinforge: 1
name: split
nodes:
  - {{id: src, kind: source, parameters: {{interarrival_time: 10 s}}}}
  - {{id: buf, kind: buffer, parameters: {{capacity: 10}}, metadata: {{routing: {policy}}}}}
  - {{id: s1, kind: station, parameters: {{process_time: 1 s}}}}
  - {{id: s2, kind: station, parameters: {{process_time: 1 s}}}}
  - {{id: out, kind: sink}}
edges:
  - {{source: src, target: buf}}
  - {{source: buf, target: s1, metadata: {{weight: {weights[0]}}}}}
  - {{source: buf, target: s2, metadata: {{weight: {weights[1]}}}}}
  - {{source: s1, target: out}}
  - {{source: s2, target: out}}
"""
        )

    k = kpis(simulate(twin("first_available"), horizon=10000))
    assert (k["s1.processed"], k["s2.processed"]) == (1000, 0)
    k = kpis(simulate(twin("round_robin"), horizon=10000))
    assert (k["s1.processed"], k["s2.processed"]) == (500, 500)
    k = kpis(simulate(twin("random", (3, 1)), horizon=100000, seed=2))
    assert k["s1.processed"] / 10000 == pytest.approx(0.75, abs=0.015)
    k = kpis(simulate(twin("shortest_queue"), horizon=10000))
    assert k["s1.processed"] + k["s2.processed"] == 1000


def test_thermal_trajectory_is_the_exact_first_order_solution(tw):
    twin = tw.line(
        "heat",
        1.0,
        [
            {
                "process_time": tw.const(10),
                "heating_rate": {"value": 0.5, "unit": "K/min"},
                "cooling_time_constant": {"value": 10, "unit": "min"},
                "ambient_temperature": {"value": 20, "unit": "degC"},
            }
        ],
        buffers=[100000],
    )
    mc = simulate(twin, horizon=3600, record=["s1.temperature"])
    s = mc.series[mc.series["series"] == "s1.temperature"]
    assert len(s) > 1
    from twinforge.sim import Model, RunOptions, compile_twin

    model = Model(compile_twin(twin), 0, 0, RunOptions(horizon=3600, record=("s1.temperature",)))
    model.run()
    series = model.series("s1.temperature")
    t = np.linspace(0, 3600, 50)
    expected = 20 + 0.5 / 60 * 600 * (1 - np.exp(-t / 600))
    assert np.allclose(series.at(t), expected, atol=1e-9)
    # time-weighted mean: closed-form integral
    mean = 20 + 5 * (1 - 600 / 3600 * (1 - math.exp(-6)))
    assert series.mean() == pytest.approx(mean, rel=1e-12)


def test_energy_costs_and_revenue(tw):
    twin = tw.line(
        "money",
        10.0,
        [
            {
                "process_time": tw.const(5),
                "power_busy": {"value": 10, "unit": "kW"},
                "power_idle": {"value": 2, "unit": "kW"},
                "energy_price": {"value": 0.2, "unit": "EUR/kWh"},
                "cost_per_hour": {"value": 30, "unit": "EUR/h"},
            }
        ],
    )
    twin.nodes[0].parameters["cost_per_item"] = type(twin.nodes[0].parameters["interarrival_time"])(
        value=1.5, unit="EUR/item"
    )
    twin.nodes[-1].parameters["price_per_item"] = type(twin.nodes[0].parameters["interarrival_time"])(
        value=4, unit="EUR/item"
    )
    k = kpis(simulate(twin, horizon=3600))
    busy_h = k["s1.busy"]  # share of one hour
    assert busy_h == pytest.approx(0.5, abs=0.002)
    energy = 10 * busy_h + 2 * (1 - busy_h)
    assert k["s1.energy"] == pytest.approx(energy)
    assert k["energy_cost"] == pytest.approx(0.2 * energy)
    assert k["operating_cost"] == pytest.approx(30.0)
    assert k["material_cost"] == pytest.approx(1.5 * k["src.released"])
    assert k["revenue"] == pytest.approx(4 * k["output"])
    assert k["profit"] == pytest.approx(k["revenue"] - k["cost"])


def test_service_level_counts_days_that_met_the_target(tw):
    twin = tw.line("days", 10.0, [{"process_time": tw.const(5)}])
    target = type(twin.nodes[0].parameters["interarrival_time"])
    twin.nodes[-1].parameters["daily_target"] = target(value=8000, unit="item/day")
    k = kpis(simulate(twin, horizon="3 day"))
    assert k["service_level"] == 1.0  # 8640 a day
    scenario = Scenario(name="stop", interventions=[Outage(target="s1", start="30 h", duration="3 h")])
    k = kpis(simulate(twin, horizon="3 day", scenario=scenario))
    assert k["service_level"] == pytest.approx(2 / 3)


def test_junction_merges_two_sources_and_blocks_them():
    twin = loads_spec(
        """
twinforge: 1
name: merge
nodes:
  - {id: a, kind: source, parameters: {interarrival_time: 4 s}}
  - {id: b, kind: source, parameters: {interarrival_time: 4 s, start_time: 2 s}}
  - {id: j, kind: junction}
  - {id: s, kind: station, parameters: {process_time: 3 s}}
  - {id: out, kind: sink}
edges:
  - {source: a, target: j}
  - {source: b, target: j}
  - {source: j, target: s}
  - {source: s, target: out}
"""
    )
    k = kpis(simulate(twin, horizon=3000))
    # two arrivals per 4 s exceed one item per 3 s: the station is never starved, both sources block
    assert k["s.busy"] == pytest.approx(1.0, abs=0.01)
    assert k["output"] == pytest.approx(1000, abs=1)
    assert k["a.released"] + k["b.released"] == pytest.approx(1000, abs=2)
    assert k["a.blocked"] > 0.3 and k["b.blocked"] > 0.3


def test_non_blocking_source_keeps_its_schedule(tw):
    twin = tw.line("queueing", 10.0, [{"process_time": tw.const(15)}])
    blocking = kpis(simulate(twin, horizon=3000))
    twin.nodes[0].metadata["blocking"] = False
    queueing = kpis(simulate(twin, horizon=3000))
    # blocking: an arrival 10 s after each release, then waiting -> one item per 15 s either way,
    # but a non-blocking source keeps creating items every 10 s (they wait at the source)
    assert blocking["output"] == queueing["output"] == 200
    assert queueing["src.waiting"] == pytest.approx(300 - 200, abs=1)
    assert blocking["src.waiting"] <= 1
