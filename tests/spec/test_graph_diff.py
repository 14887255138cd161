"""Graph queries and spec diff."""

from __future__ import annotations

import pytest

from twinforge.errors import UnknownEntityError
from twinforge.spec import diff_specs


def test_neighbours(bottling_line):
    g = bottling_line.graph()
    assert g.neighbours("filler", "in", "material") == ["buf_rinse"]
    assert g.neighbours("filler", "out", "material") == ["buf_fill"]
    assert g.neighbours("filler") == ["buf_rinse", "buf_fill", "filler_temp", "filler_vib"]
    assert g.successors("filler_temp") == ["filler"]
    with pytest.raises(UnknownEntityError, match="did you mean"):
        g.neighbours("filer")


def test_upstream_downstream_closure(bottling_line):
    g = bottling_line.graph()
    assert g.upstream("buf_rinse") == ["pallets_in", "buf_infeed", "depalletizer", "buf_depal", "rinser"]
    assert g.downstream("labeler") == ["buf_label", "packer", "conveyor_out", "warehouse_dock"]
    assert g.upstream("pallets_in") == []
    # over information edges the sensor is upstream of the filler
    assert "filler_temp" in g.upstream("filler", edge_kinds=None)


def test_paths(supply_chain):
    g = supply_chain.graph()
    paths = g.paths("S1", "C_berlin")
    assert sorted(paths) == [["S1", "P1", "C_berlin"], ["S1", "P2", "C_berlin"]]
    assert g.paths("C_berlin", "S1") == []
    assert g.shortest_path("S1", "C_berlin", weight="cost_per_unit") == ["S1", "P1", "C_berlin"]
    assert g.shortest_path("S2", "C_stuttgart", weight="distance") == ["S2", "P2", "C_stuttgart"]


def test_filter(bottling_line, supply_chain):
    g = bottling_line.graph()
    assert [n.id for n in g.filter(kind="buffer")] == [
        "buf_infeed",
        "buf_depal",
        "buf_rinse",
        "buf_fill",
        "buf_cap",
        "buf_label",
    ]
    assert [n.id for n in g.filter(tag="critical")] == ["filler"]
    assert [n.id for n in g.filter(kind="machine", tag=["wet-end"])] == ["rinser", "filler", "capper"]
    fast = g.filter(kind="station", param="process_time", predicate=lambda s: s < 29)
    assert [n.id for n in fast] == ["depalletizer", "capper"]
    big = g.filter(kind="buffer", param="capacity", predicate=lambda c: c >= 30)
    assert [n.id for n in big] == ["buf_infeed", "buf_depal", "buf_label"]
    assert [n.id for n in g.filter(where=lambda n: n.observes is not None and "filler" in n.observes)] == [
        "filler_temp",
        "filler_vib",
    ]
    assert {n.id for n in supply_chain.graph().filter(kind=["supplier", "plant"])} == {
        "S1",
        "S2",
        "S3",
        "P1",
        "P2",
    }


def test_subgraph(bottling_line):
    sub = bottling_line.graph().subgraph(["buf_rinse", "filler", "buf_fill"])
    assert sub.node_ids() == ["buf_rinse", "filler", "buf_fill", "filler_temp", "filler_vib", "buffer_level"]
    assert [e.key for e in sub.edges] == [
        "buf_rinse->filler",
        "filler->buf_fill",
        "filler_temp->filler",
        "filler_vib->filler",
        "buffer_level->buf_fill",
    ]
    sub.check()  # still a valid twin
    bare = bottling_line.graph().subgraph(["filler"], with_sensors=False)
    assert bare.node_ids() == ["filler"] and bare.edges == []


def test_material_order_and_components(bottling_line, pump_station):
    order = bottling_line.graph().material_order()
    assert order.index("pallets_in") < order.index("filler") < order.index("warehouse_dock")
    # the pump loop is a cycle: order still covers every node once
    porder = pump_station.graph().material_order()
    assert sorted(porder) == sorted(pump_station.node_ids())
    assert len(pump_station.graph().connected_components()) == 1


def test_diff(bottling_line):
    a = bottling_line
    b = a.copy_deep()
    assert diff_specs(a, b).empty
    b.set("filler", "process_time", "0.6 min")
    b.node("capper").tags.append("new-tag")
    b.nodes = [n for n in b.nodes if n.id != "capper_vib"]
    b.edges = [e for e in b.edges if e.source != "capper_vib"]
    d = diff_specs(a, b)
    kinds = {(c.change, c.element, c.ref, c.field) for c in d}
    assert ("changed", "node", "filler", "parameters.process_time") in kinds
    assert ("changed", "node", "capper", "tags") in kinds
    assert ("removed", "node", "capper_vib", None) in kinds
    assert ("removed", "edge", "capper_vib->capper", None) in kinds
    assert len(d) == 4
    assert "lognormal(mean=36" in d.render()


def test_diff_compares_after_unit_conversion(bottling_line):
    b = bottling_line.copy_deep()
    p = b.node("filler").parameters["mttr"]
    # 25 min written as seconds: same quantity, no change
    p.unit = "s"
    p.distribution = p.distribution.scaled(60)
    assert diff_specs(bottling_line, b).empty
    b.node("filler").parameters["power_busy"].value = 7.6
    assert [c.field for c in diff_specs(bottling_line, b)] == ["parameters.power_busy"]


def test_diff_added_parameter_and_edge(supply_chain):
    b = supply_chain.copy_deep()
    b.set("P1", "fixed_cost", 3000)
    from twinforge.spec import Edge

    b.edges.append(Edge(source="S1", target="C_berlin"))
    d = diff_specs(supply_chain, b)
    assert {(c.change, c.ref) for c in d} == {("changed", "P1"), ("added", "S1->C_berlin")}
