"""twinforge build: descriptions of each style → valid twins that run; bad input; the model's choice."""

from __future__ import annotations

import pytest

from twinforge.build import BuildError, build_twin
from twinforge.build.describe import read_description
from twinforge.build.kinds import AMBIGUOUS, find_mentions
from twinforge.spec.validate import validate_spec

LINE = (
    "Bottles arrive every 30 s at the rinser, which feeds the filler. The filler takes 28 s per "
    "bottle, fails every 9 h and takes 25 min to repair. A buffer of 20 bottles sits between the "
    "filler and the capper. The capper takes 26 s. Finished cases leave on the outfeed conveyor."
)


def _errors(twin) -> list:
    return [i for i in validate_spec(twin) if i.severity == "error"]


def test_paragraph_of_a_line_becomes_a_twin_that_simulates() -> None:
    r = build_twin(LINE, name="line")
    t = r.twin
    assert not _errors(t)
    kinds = {n.id: n.kind for n in t.nodes}
    assert kinds["rinser"] == kinds["filler"] == kinds["capper"] == "station"
    assert kinds["buffer"] == "buffer" and kinds["outfeed_conveyor"] == "conveyor"
    assert kinds["arrivals"] == "source" and "sink" in kinds.values()
    edges = {(e.source, e.target) for e in t.edges}
    assert {("filler", "buffer"), ("buffer", "capper"), ("rinser", "filler"), ("arrivals", "rinser")} <= edges
    assert t.get("filler", "process_time", "s") == pytest.approx(28)
    assert t.get("filler", "mtbf", "h") == pytest.approx(9)
    assert t.get("filler", "mttr", "min") == pytest.approx(25)
    assert t.get("buffer", "capacity") == 20
    assert t.get("arrivals", "interarrival_time", "s") == 30
    # the rinser's time and the conveyor's transport time are not in the text: assumed and listed
    assumed = {(a.element, a.parameter): a for a in r.assumptions}
    assert ("rinser", "process_time") in assumed and "median" in assumed[("rinser", "process_time")].reason
    assert ("outfeed_conveyor", "transport_time") in assumed
    assert r.smoke is not None and r.smoke.ok and r.smoke.engine == "simulation"
    assert r.smoke.kpis["throughput"] > 0


def test_bulleted_list_and_arrows() -> None:
    text = "- Source -> cutter -> folder -> sink\n- Boxes arrive every 12 s\n- The cutter takes 10 s, the folder 11 s\n"
    r = build_twin(text)
    assert read_description(text).style == "list"
    edges = {(e.source, e.target) for e in r.twin.edges}
    assert edges == {("source", "cutter"), ("cutter", "folder"), ("folder", "sink")}
    assert r.twin.get("cutter", "process_time", "s") == 10 and r.twin.get("folder", "process_time", "s") == 11
    assert r.twin.get("source", "interarrival_time", "s") == 12
    assert r.smoke.ok


def test_csv_tables_of_equipment_and_connections_make_a_network_that_solves() -> None:
    text = (
        "name,type,capacity,demand\n"
        "Vendor V1,supplier,800,\nFactory F1,plant,600,\nWarehouse W1,warehouse,,\n"
        "Store A,customer,,150\nStore B,customer,,200\n\n"
        "from,to\nVendor V1,Factory F1\nFactory F1,Warehouse W1\nWarehouse W1,Store A\nWarehouse W1,Store B\n"
    )
    r = build_twin(text, fmt="csv")
    t = r.twin
    kinds = {n.name: n.kind for n in t.nodes}
    assert kinds == {
        "Vendor V1": "supplier",
        "Factory F1": "plant",
        "Warehouse W1": "warehouse",
        "Store A": "customer",
        "Store B": "customer",
    }
    assert len(t.edges) == 4
    assert t.get("store_b", "demand") == 200 and t.get("vendor_v1", "supply_capacity") == 800
    assert r.smoke.engine == "flow optimisation" and r.smoke.ok
    assert r.smoke.kpis["shipped"] == pytest.approx(350 * 3)  # V1->F1, F1->W1, W1->stores


def test_network_paragraph_with_names_lists_and_respectively() -> None:
    text = (
        "Two suppliers, Farm A and Farm B, deliver to the distribution centre in Leeds. Farm A can "
        "supply 300 items per day and Farm B 250 items per day. The distribution centre ships to "
        "the shops in York, Hull and Bradford, which need 80, 60 and 110 items per day."
    )
    r = build_twin(text)
    t = r.twin
    assert {n.kind for n in t.nodes} == {"supplier", "warehouse", "customer"}
    demand = {n.name: t.get(n.id, "demand") for n in t.nodes if n.kind == "customer"}
    assert demand == {"Shop York": 80, "Shop Hull": 60, "Shop Bradford": 110}
    assert [d.how for d in r.decisions if "shop" in d.what] == ["context (network)"]
    assert r.smoke.ok


def test_liquid_system_gets_physical_edges_and_a_sensor() -> None:
    text = (
        "A ground reservoir of 5000 m3 feeds a duty pump, which delivers 150 m3/h into the water "
        "tower. The tower holds 600 m3 and the town draws 100 m3/h from it. A level sensor watches the tower."
    )
    t = build_twin(text).twin
    assert {(e.source, e.target, e.kind) for e in t.edges} == {
        ("reservoir", "duty_pump", "physical"),
        ("duty_pump", "tower", "physical"),
        ("level_sensor", "tower", "information"),
    }
    assert t.node("level_sensor").observes == "tower.level"
    assert t.get("tower", "outflow_rate", "m^3/h") == 100 and t.get("reservoir", "capacity") == 5000


def test_words_with_several_readings_follow_the_system() -> None:
    assert set(AMBIGUOUS["store"].values()) == {"customer", "buffer"}
    line = build_twin("The press feeds a store of 30 parts, which feeds the lathe. Parts arrive every 50 s.")
    assert {n.kind for n in line.twin.nodes if n.name == "store" or n.id == "store"} == {"buffer"}
    assert line.decisions[0].how == "context (line)"


def test_empty_and_off_topic_descriptions_are_refused_with_a_reason() -> None:
    with pytest.raises(BuildError, match="empty"):
        build_twin("   \n")
    with pytest.raises(BuildError, match="names no equipment"):
        build_twin("We had a lovely picnic by the lake and talked about music.")


def test_contradictions_are_gaps_and_the_partial_twin_is_valid() -> None:
    r = build_twin(
        "Items arrive every 20 s. The filler takes 15 s. The buffer holds 50 items. The buffer holds 80 items."
    )
    assert not r.complete
    assert any("buffer.capacity" in g and "50" in g and "80" in g for g in r.gaps)
    assert not _errors(r.twin)
    assumed = {(a.element, a.parameter) for a in r.assumptions}
    assert ("buffer", "capacity") in assumed  # the gap is filled by a stated assumption


def test_a_value_outside_physical_bounds_is_a_gap() -> None:
    r = build_twin("Items arrive every 20 s. The filler takes 15 s and has a scrap rate of 150 %.")
    assert not r.complete and not _errors(r.twin)
    assert any("scrap_rate" in g for g in r.gaps) or "scrap_rate" not in r.twin.node("filler").parameters


def test_csv_row_of_unknown_kind_is_named() -> None:
    text = "name,kind,feeds\ncutter,station,gizmo\ngizmo,teleporter,\n"
    r = build_twin(text, fmt="csv")
    assert any("teleporter" in g for g in r.gaps) and any("'gizmo'" in g for g in r.gaps)
    assert not _errors(r.twin)


def test_mentions_keep_names_codes_and_modifiers() -> None:
    ms = find_mentions("Pump P-101 feeds the buffer tank; the inspection station follows the second filler.")
    assert [(m.kinds[0], m.name) for m in ms] == [
        ("pump", "P-101"),
        ("tank", "buffer tank"),
        ("station", "inspection station"),
        ("station", "filler 2"),
    ]


def test_markdown_table_and_a_list_after_a_colon() -> None:
    table = (
        "Our line:\n\n| Station | Type | Cycle time (s) | Next |\n|---|---|---|---|\n"
        "| Press | machine | 45 s | Oven |\n| Oven | station | 50 | Packer |\n| Packer | station | 30 | |\n"
    )
    t = build_twin(table).twin
    assert [(e.source, e.target) for e in t.edges if "arrivals" not in e.key and "exit" not in e.key] == [
        ("press", "oven"),
        ("oven", "packer"),
    ]
    assert [t.get(n, "process_time", "s") for n in ("press", "oven", "packer")] == [45, 50, 30]
    listed = build_twin(
        "The line has three stations in series: cutting, welding and packing. Orders arrive at a rate of "
        "30 per hour. The welding takes 90 s."
    ).twin
    stations = [n.id for n in listed.nodes if n.kind == "station"]
    assert stations == ["cutting", "welding", "packing"]
    assert listed.get("arrivals", "interarrival_time", "s") == pytest.approx(120)
    assert listed.get("welding", "process_time", "s") == 90
