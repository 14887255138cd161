"""Compiling twins and scenarios for the simulator: what is refused, what is honoured."""

from __future__ import annotations

import pytest

from twinforge.scenario import (
    AddEdge,
    Exclusive,
    ForbidFlow,
    RemoveNode,
    RestrictPartners,
    Scenario,
    ScenarioError,
    SetArrivalRate,
    SetParameter,
)
from twinforge.sim import SimulationError, compile_twin, parse_duration, simulate
from twinforge.spec import Edge, loads_spec

SPLIT = """
twinforge: 1
name: split
nodes:
  - {id: src, kind: source, parameters: {interarrival_time: 10 s}}
  - {id: buf, kind: buffer, parameters: {capacity: 10}}
  - {id: s1, kind: station, parameters: {process_time: 1 s}}
  - {id: s2, kind: station, parameters: {process_time: 1 s}}
  - {id: out, kind: sink}
edges:
  - {source: src, target: buf}
  - {source: buf, target: s1}
  - {source: buf, target: s2}
  - {source: s1, target: out}
  - {source: s2, target: out}
"""


def processed(twin, scenario=None) -> tuple[float, float]:
    k = simulate(twin, horizon=1000, scenario=scenario).kpis.set_index("kpi")["value"]
    return k["s1.processed"], k["s2.processed"]


def test_forbid_flow_and_restrict_partners_are_honoured():
    twin = loads_spec(SPLIT)
    assert processed(twin) == (100, 0)
    forbid = Scenario(name="f", interventions=[ForbidFlow(edge="buf->s1")])
    assert processed(twin, forbid) == (0, 100)
    only_s2 = Scenario(
        name="r", interventions=[RestrictPartners(target="buf", partners=["s2"], direction="serve_only")]
    )
    assert processed(twin, only_s2) == (0, 100)


def test_structural_and_parameter_interventions():
    twin = loads_spec(SPLIT)
    faster = Scenario(name="a", interventions=[SetArrivalRate(target="src", rate=720, unit="1/h")])
    assert sum(processed(twin, faster)) == 200
    removed = Scenario(name="b", interventions=[RemoveNode(target="s1")])
    assert processed_keys(twin, removed) == {"s2"}
    slow = Scenario(
        name="c", interventions=[SetParameter(target="s1", parameter="process_time", value=15, unit="s")]
    )
    s1, s2 = processed(twin, slow)
    assert s1 + s2 == 100 and s2 > 0  # s1 is busy for 15 s, so s2 takes the next item


def processed_keys(twin, scenario) -> set[str]:
    k = simulate(twin, horizon=100, scenario=scenario).kpis
    return set(k[k["metric"] == "processed"]["node"])


def test_what_the_simulator_refuses(supply_chain):
    twin = loads_spec(SPLIT)
    with pytest.raises(ScenarioError, match="simulation cannot apply 'exclusive'"):
        compile_twin(twin, Scenario(name="x", interventions=[Exclusive(nodes=("s1", "s2"))]))
    with pytest.raises(SimulationError, match="supply-network nodes"):
        compile_twin(supply_chain)
    dead = Scenario(name="cut", interventions=[RemoveNode(target="out")])
    with pytest.raises(SimulationError, match=r"nowhere to go.*after scenario 'cut'"):
        compile_twin(twin, dead)
    bad = loads_spec(SPLIT.replace("{capacity: 10}}", "{capacity: 10}, metadata: {routing: fastest}}"))
    with pytest.raises(SimulationError, match="unknown routing policy 'fastest'"):
        compile_twin(bad)
    mix = loads_spec(
        SPLIT.replace(
            "{interarrival_time: 10 s}}", "{interarrival_time: 10 s}, metadata: {product_mix: {cola: 1}}}"
        )
    )
    with pytest.raises(SimulationError, match="product_mix must map products"):
        compile_twin(mix)


def test_added_edge_with_transport_time_becomes_a_conveyor():
    twin = loads_spec(SPLIT)
    edge = Edge(source="s2", target="s1", parameters={"transport_time": "5 s"})
    plan = compile_twin(twin, Scenario(name="loop", interventions=[AddEdge(edge=edge)]))
    assert plan.nodes["s2->s1"].kind == "conveyor"
    assert plan.nodes["s2->s1"].meta["implicit"] is True


def test_durations():
    assert parse_duration("1 week") == 604800
    assert parse_duration("8 h") == 28800
    assert parse_duration(90) == 90
    for bad in ("soon", "-1 h", "3 kg", True):
        with pytest.raises(SimulationError):
            parse_duration(bad)
