"""Round-trip, unit conversion, typed get/set, JSON Schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from twinforge.errors import SpecError, UnitError, UnknownEntityError
from twinforge.spec import (
    dump_spec,
    dumps_spec,
    kind_json_schema,
    load_spec,
    loads_spec,
    twin_json_schema,
    units,
)


@pytest.mark.parametrize("name", ["bottling_line", "supply_chain", "pump_station"])
def test_yaml_and_json_round_trip_preserve_content(examples, tmp_path, name):
    spec = load_spec(examples / f"{name}.yaml")
    y = tmp_path / "a.yaml"
    j = tmp_path / "a.json"
    dump_spec(spec, y)
    dump_spec(spec, j)
    assert load_spec(y) == spec
    assert load_spec(j) == spec
    # and a second trip is byte-identical
    assert dumps_spec(load_spec(y)) == dumps_spec(spec)
    # the version header is always first
    assert next(iter(yaml.safe_load(y.read_text()))) == "twinforge"


def test_round_trip_keeps_user_units_and_shorthand(examples):
    text = dumps_spec(load_spec(examples / "bottling_line.yaml"))
    assert "power_busy: 7.5 kW" in text
    assert "heating_rate: 0.08 K/min" in text


@pytest.mark.parametrize("name", ["bottling_line", "supply_chain", "pump_station"])
def test_json_schema_validates_each_example(examples, name):
    schema = twin_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((examples / f"{name}.yaml").read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_json_schema_rejects_unknown_parameter_for_kind(examples):
    schema = twin_json_schema()
    data = yaml.safe_load((examples / "bottling_line.yaml").read_text())
    station = next(n for n in data["nodes"] if n["id"] == "depalletizer")
    station["parameters"]["capacity"] = 3  # a station has no capacity parameter
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_kind_schema_has_units_bounds_and_defaults():
    s = kind_json_schema("station")
    params = s["properties"]["parameters"]["properties"]
    assert params["process_time"]["x-unit"] == "s"
    assert params["scrap_rate"]["anyOf"][0] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert params["servers"]["default"] == 1
    assert s["properties"]["parameters"]["required"] == ["process_time"]
    jsonschema.Draft202012Validator.check_schema(s)
    assert kind_json_schema("machine")["title"] == "station node"
    assert "material" in kind_json_schema("material")["title"]
    with pytest.raises(UnknownEntityError):
        kind_json_schema("spaceship")


def test_unit_conversion_and_rejection():
    assert units.convert(2, "min", "s") == 120
    assert units.convert(125, "L/min", "m^3/h") == pytest.approx(7.5)
    assert units.convert(212, "degF", "degC") == pytest.approx(100)
    assert units.convert(3, "item/h", "item/day") == pytest.approx(72)
    with pytest.raises(UnitError):
        units.convert(1, "kg", "s")
    with pytest.raises(UnitError):
        units.convert(1, "EUR", "USD")  # currencies never convert silently
    with pytest.raises(UnitError):
        units.parse_unit("blorps")


def test_get_converts_and_applies_defaults(bottling_line):
    line = bottling_line
    assert line.get("filler", "process_time") == pytest.approx(32)
    assert line.get("filler", "process_time", unit="min") == pytest.approx(32 / 60)
    assert line.get("filler", "mttr", unit="s") == pytest.approx(25 * 60)
    assert line.get("filler", "servers") == 1  # catalogue default
    assert line.get("filler", "ambient_temperature", unit="degF") == pytest.approx(71.6)
    with pytest.raises(UnknownEntityError, match="did you mean 'process_time'"):
        line.get("filler", "proces_time")
    with pytest.raises(UnknownEntityError, match="did you mean 'filler'"):
        line.get("filer", "process_time")


def test_get_per_product_and_edges(supply_chain):
    sc = supply_chain
    assert sc.get("C_berlin", "demand", product="lager") == 220
    assert sc.get("C_berlin", "demand", product="cola", unit="item/h") == pytest.approx(180 / 24)
    assert sc.get("S1->P1", "cost_per_unit") == 3
    assert sc.get("P1", "capacity", unit="item/h") == pytest.approx(25)


def test_set_converts_checks_bounds_and_keeps_shape(bottling_line):
    line = bottling_line.copy_deep()
    line.set("filler", "process_time", "0.6 min")
    p = line.node("filler").parameters["process_time"]
    assert p.unit == "s" and p.value == pytest.approx(36)
    assert p.distribution.mean() == pytest.approx(36)
    assert p.distribution.std() / p.distribution.mean() == pytest.approx(2.5 / 32)
    line.set("filler", "mttr", 0.5, unit="h")
    assert line.get("filler", "mttr") == pytest.approx(30)
    with pytest.raises(SpecError, match="out of bounds"):
        line.set("filler", "scrap_rate", 2)
    with pytest.raises(UnitError):
        line.set("filler", "process_time", "3 kg")
    with pytest.raises(SpecError, match="whole number"):
        line.set("filler", "servers", 2.5)
    line.scale("filler", "process_time", 0.5)
    assert line.get("filler", "process_time") == pytest.approx(18)
    # the original twin is untouched
    assert bottling_line.get("filler", "process_time") == pytest.approx(32)


def test_set_per_product(supply_chain):
    sc = supply_chain.copy_deep()
    sc.set("C_berlin", "demand", 300, product="lager")
    assert sc.get("C_berlin", "demand", product="lager") == 300
    assert sc.get("C_berlin", "demand", product="cola") == 180
    sc.scale("C_berlin", "demand", 2.0)
    assert sc.get("C_berlin", "demand", product="cola") == 360
    with pytest.raises(SpecError, match="unknown product"):
        sc.set("C_berlin", "demand", 3, product="whisky")


def test_json_errors_are_reported(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"twinforge": 1, "name": "x", "nodes": [{"id": "a", "kind": "warp_drive"}]}))
    with pytest.raises(SpecError) as info:
        load_spec(f)
    assert info.value.errors[0].file == str(f) and info.value.errors[0].code == "unknown-kind"


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_not_a_mapping():
    with pytest.raises(SpecError, match="must be a mapping"):
        loads_spec("- just\n- a list\n")
