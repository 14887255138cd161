"""DTDL v3 export and import: exact round trips, DTDL rules, and refused input."""

from __future__ import annotations

import json

import pytest

from twinforge.errors import SpecError
from twinforge.interop.dtdl import (
    TWIN_MODEL,
    check_models,
    export_dtdl,
    import_dtdl,
    kind_interface,
    load_dtdl,
    write_dtdl,
)
from twinforge.interop.epanet import import_inp
from twinforge.spec import load_spec, spec_to_data
from twinforge.spec.catalog import CATALOG

EXAMPLES = sorted(
    p.name
    for p in __import__("pathlib").Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml")
)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_round_trips_exactly(examples, name):
    twin = load_spec(examples / name)
    data = json.loads(json.dumps(export_dtdl(twin)))  # through JSON text, as a file would
    back = import_dtdl(data, file=name)
    assert back == twin
    assert spec_to_data(back, compact=False) == spec_to_data(twin, compact=False)
    assert check_models(data["digitalTwinsModels"]) == []


def test_interfaces_carry_parameters_states_and_relationships(examples):
    data = export_dtdl(load_spec(examples / "water_tower.yaml"))
    models = {m["@id"]: m for m in data["digitalTwinsModels"]}
    pump = models["dtmi:twinforge:kind:pump;1"]
    names = {c["name"]: c for c in pump["contents"]}
    assert names["flow_rate"]["@type"] == "Property" and "m^3/h" in names["flow_rate"]["comment"]
    assert names["state_flow"]["@type"] == "Telemetry"
    assert names["physical"]["@type"] == "Relationship"
    assert {p["name"] for p in names["physical"]["properties"]} >= {"length", "diameter", "edgeId"}
    twins = {t["$dtId"]: t for t in data["digitalTwinsGraph"]["digitalTwins"]}
    assert twins["tower"]["capacity"] == {"value": 600.0, "unit": "m^3"}
    assert twins["duty_pump"]["mtbf"]["distribution"] == {
        "type": "weibull",
        "parameters": {"shape": 1.5, "scale": 3000.0},
    }
    assert twins["_twinforge"]["$metadata"]["$model"] == TWIN_MODEL
    rel = data["digitalTwinsGraph"]["relationships"][0]
    assert rel["$relationshipName"] == "physical" and rel["length"] == {"value": 5.0, "unit": "m"}


def test_every_catalogue_kind_makes_a_valid_interface():
    assert check_models([kind_interface(k) for k in CATALOG]) == []


def test_dtdl_rule_checks_catch_breaks():
    m = kind_interface("tank")
    m["contents"].append({"@type": "Property", "name": "capacity", "schema": "double"})
    m["contents"].append({"@type": "Property", "name": "bad_", "schema": "decimal"})
    problems = check_models([m])
    assert any("'capacity' is used twice" in p for p in problems)
    assert any("'bad_' breaks the DTDL name rules" in p for p in problems)
    assert any("'decimal'" in p for p in problems)


def test_epanet_twin_round_trips_through_dtdl_files(networks, tmp_path):
    twin = import_inp(networks / "Net3.inp").twin
    files = write_dtdl(twin, tmp_path)
    assert files[0].name == "Net3.dtdl.json" and (tmp_path / "models" / "pump.json").exists()
    assert load_dtdl(files[0]) == twin


def test_unknown_kind_is_refused_naming_the_twin_and_model(examples):
    data = export_dtdl(load_spec(examples / "water_tower.yaml"))
    data["digitalTwinsGraph"]["digitalTwins"][1]["$metadata"]["$model"] = "dtmi:twinforge:kind:boiler;1"
    with pytest.raises(SpecError) as err:
        import_dtdl(data, file="t.json")
    issue = err.value.errors[0]
    assert issue.code == "unknown-kind" and "'reservoir'" in issue.message and "boiler" in issue.message
    assert issue.path == ("digitalTwinsGraph", "digitalTwins", 1, "$metadata", "$model")


def test_foreign_model_unknown_property_and_bad_values_are_refused(examples):
    data = export_dtdl(load_spec(examples / "water_tower.yaml"))
    data["digitalTwinsGraph"]["digitalTwins"][2]["$metadata"]["$model"] = "dtmi:com:example:Pump;1"
    data["digitalTwinsGraph"]["digitalTwins"][3]["colour"] = "red"
    with pytest.raises(SpecError) as err:
        import_dtdl(data)
    messages = " | ".join(i.message for i in err.value.errors)
    assert "dtmi:com:example:Pump;1" in messages and "unknown property 'colour'" in messages
    data = export_dtdl(load_spec(examples / "water_tower.yaml"))
    data["digitalTwinsGraph"]["digitalTwins"][1]["capacity"]["value"] = -5  # below physical bounds
    with pytest.raises(SpecError, match="capacity"):
        import_dtdl(data)


def test_not_an_export_is_refused(tmp_path):
    with pytest.raises(SpecError, match="not a DTDL twin export"):
        import_dtdl({"@context": "dtmi:dtdl:context;3"})
    bad = tmp_path / "x.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError):
        load_dtdl(bad)
