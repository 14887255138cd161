"""Each validation rule, with a spec that breaks it; all errors collected in one pass."""

from __future__ import annotations

import textwrap

import pytest

from twinforge.errors import SpecError
from twinforge.spec import loads_spec

BASE = """\
twinforge: 1
name: t
products: [a, b]
nodes:
  - id: src
    kind: source
    parameters: {interarrival_time: 10 s}
  - id: m1
    kind: station
    parameters: {process_time: 8 s}
  - id: out
    kind: sink
edges:
  - {source: src, target: m1}
  - {source: m1, target: out}
"""


def errors_of(text: str) -> list:
    with pytest.raises(SpecError) as info:
        loads_spec(textwrap.dedent(text), file="t.yaml")
    return info.value.errors


def one(text: str, code: str):
    errs = [e for e in errors_of(text) if e.code == code]
    assert errs, f"no {code} error in {errors_of(text)}"
    return errs[0]


def test_base_is_valid():
    spec = loads_spec(BASE)
    assert spec.node_ids() == ["src", "m1", "out"]


def test_malformed_yaml_reports_line():
    e = one("twinforge: 1\nname: [unclosed\nnodes: []\n", "syntax")
    assert e.file == "t.yaml" and e.line is not None and "malformed YAML" in e.message


def test_malformed_json_reports_line():
    with pytest.raises(SpecError) as info:
        loads_spec('{"twinforge": 1,\n "name": }', file="t.json", fmt="json")
    assert info.value.errors[0].code == "syntax" and info.value.errors[0].line == 2


def test_missing_version_header():
    e = one(BASE.replace("twinforge: 1\n", ""), "missing-field")
    assert "version" in e.message


def test_unsupported_version():
    e = one(BASE.replace("twinforge: 1", "twinforge: 7"), "unsupported-version")
    assert e.found == "7"


def test_unknown_kind_with_suggestion_and_line():
    e = one(BASE.replace("kind: station", "kind: staton"), "unknown-kind")
    assert "did you mean 'station'" in e.message
    assert e.path == ("nodes", 1, "kind")
    assert e.line == 9 and e.file == "t.yaml"


def test_kind_aliases_are_accepted():
    spec = loads_spec(BASE.replace("kind: station", "kind: machine"))
    assert spec.node("m1").kind == "station"


def test_unknown_parameter():
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: 8 s, proces_time: 3}"), "unknown-parameter")
    assert "did you mean 'process_time'" in e.message
    assert e.path == ("nodes", 1, "parameters", "proces_time")


def test_missing_required_parameter():
    e = one(BASE.replace("parameters: {process_time: 8 s}", "parameters: {servers: 2}"), "missing-field")
    assert "process_time" in e.message


def test_missing_field():
    e = one(BASE.replace("  - id: out\n    kind: sink\n", "  - id: out\n"), "missing-field")
    assert e.path == ("nodes", 2, "kind")


def test_unknown_field():
    e = one(BASE.replace("    kind: sink\n", "    kind: sink\n    colour: red\n"), "unknown-field")
    assert e.path == ("nodes", 2, "colour")


def test_wrong_type():
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: {value: fast}}"), "wrong-type")
    assert e.path[:4] == ("nodes", 1, "parameters", "process_time")


def test_duplicate_ids():
    e = one(BASE.replace("id: out", "id: m1"), "duplicate-id")
    assert "first defined at nodes[1]" in e.message


def test_duplicate_yaml_key():
    e = one(BASE.replace("name: t\n", "name: t\nname: u\n"), "duplicate-key")
    assert e.line == 3


def test_edge_to_unknown_node():
    e = one(BASE.replace("{source: m1, target: out}", "{source: m1, target: outt}"), "unknown-node")
    assert e.path == ("edges", 1, "target") and "did you mean 'out'" in e.message


def test_value_out_of_bounds():
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: 8 s, scrap_rate: 1.5}"), "out-of-bounds")
    assert e.expected == "a value in [0, 1]" and e.found == "1.5"


def test_bounds_checked_after_unit_conversion():
    # 'speed' is a fraction; percent converts: 150 percent is 1.5, within (0.05, 2)
    loads_spec(BASE.replace("{process_time: 8 s}", "{process_time: 8 s, speed: 150 percent}"))
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: 8 s, speed: 300 percent}"), "out-of-bounds")
    assert "speed" in e.message


def test_own_bounds_must_lie_within_physics():
    text = BASE.replace("{process_time: 8 s}", "{process_time: {value: 8, unit: s, bounds: [-1, 10]}}")
    assert one(text, "out-of-bounds").path[-1] == "bounds"
    text = BASE.replace("{process_time: 8 s}", "{process_time: {value: 12, unit: s, bounds: [1, 10]}}")
    assert one(text, "out-of-bounds").path[-1] == "value"


def test_unit_mismatch():
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: 8 kg}"), "unit-mismatch")
    assert e.expected.startswith("a time") and e.found == "'kg'"


def test_unknown_unit():
    e = one(
        BASE.replace("{process_time: 8 s}", "{process_time: {value: 8, unit: parsecs_per_fortnight}}"),
        "unknown-unit",
    )
    assert e.path[-1] == "unit"


def test_integer_parameter():
    e = one(BASE.replace("{process_time: 8 s}", "{process_time: 8 s, servers: 1.5}"), "wrong-type")
    assert "whole number" in e.message


def test_distribution_only_on_stochastic_parameters():
    text = BASE.replace(
        "{process_time: 8 s}", "{process_time: 8 s, servers: {distribution: {type: exponential, mean: 2}}}"
    )
    assert "not a stochastic parameter" in one(text, "kind-rule").message


def test_distribution_parameters_checked():
    text = BASE.replace(
        "{process_time: 8 s}", "{process_time: {distribution: {type: uniform, low: 9, high: 3}}}"
    )
    assert any("low <= high" in e.message for e in errors_of(text))
    text = BASE.replace("{process_time: 8 s}", "{process_time: {distribution: {type: gausian, mean: 3}}}")
    errs = errors_of(text)
    assert any("exponential" in (e.expected or "") for e in errs)


def test_value_must_match_distribution_mean():
    text = BASE.replace(
        "{process_time: 8 s}", "{process_time: {value: 5, distribution: {type: exponential, mean: 8}}}"
    )
    assert one(text, "inconsistent").found == "5.0"


def test_by_product_checks():
    text = BASE.replace("{process_time: 8 s}", "{process_time: {by_product: {a: 5, c: 6}, unit: s}}")
    assert "unknown product 'c'" in one(text, "unknown-product").message
    text = BASE.replace("{process_time: 8 s}", "{process_time: 8 s, servers: {by_product: {a: 2}}}")
    assert "cannot vary by product" in one(text, "kind-rule").message


def test_sink_has_no_outgoing_material_edge():
    text = BASE.replace(
        "  - {source: m1, target: out}\n", "  - {source: m1, target: out}\n  - {source: out, target: m1}\n"
    )
    e = one(text, "kind-rule")
    assert "a sink ('out') has no outgoing material flow" in e.message
    # an information edge out of a sink is fine
    loads_spec(BASE + "  - {source: out, target: m1, kind: information}\n")


def test_source_has_no_incoming_material_edge():
    text = BASE + "  - {source: m1, target: src, id: back}\n"
    assert "a source ('src') has no incoming material flow" in one(text, "kind-rule").message


def test_sensor_observes_existing_state():
    sensor = (
        "  - id: s1\n    kind: sensor\n    observes: m1.temprature\n    signals: [{name: t, unit: degC}]\n"
    )
    text = BASE.replace("edges:\n", sensor + "edges:\n")
    e = one(text, "unknown-state")
    assert "did you mean 'temperature'" in e.message and e.path == ("nodes", 3, "observes")
    text = BASE.replace("edges:\n", sensor.replace("m1.temprature", "m9.temperature") + "edges:\n")
    assert one(text, "unknown-node").found == "'m9'"
    text = BASE.replace("edges:\n", "  - id: s1\n    kind: sensor\n" + "edges:\n")
    assert "must say what it observes" in one(text, "missing-field").message


def test_signal_unit_must_match_state():
    sensor = (
        "  - id: s1\n    kind: sensor\n    observes: m1.temperature\n    signals: [{name: t, unit: bar}]\n"
    )
    e = one(BASE.replace("edges:\n", sensor + "edges:\n"), "unit-mismatch")
    assert e.path == ("nodes", 3, "signals", 0, "unit")


def test_signal_on_unknown_own_state():
    text = BASE.replace("{process_time: 8 s}", "{process_time: 8 s}\n    signals: [{name: humidity}]")
    assert one(text, "unknown-state").found == "'humidity'"


def test_only_sensors_observe():
    text = BASE.replace("    kind: sink\n", "    kind: sink\n    observes: m1.temperature\n")
    assert "only sensors observe" in one(text, "kind-rule").message


def test_failure_model_needs_repair_time():
    text = BASE.replace("{process_time: 8 s}", "{process_time: 8 s, mtbf: 10 h}")
    assert one(text, "missing-field").expected == "mttr"


def test_buffer_initial_level_within_capacity():
    text = BASE.replace(
        "edges:\n", "  - id: b\n    kind: buffer\n    parameters: {capacity: 5, initial_level: 9}\nedges:\n"
    )
    text += "  - {source: src, target: b, id: e3}\n"
    assert "exceeds the buffer capacity" in one(text, "physical-bounds").message


def test_edge_rules():
    text = BASE + "  - {source: m1, target: m1, id: loop}\n"
    assert "to itself" in one(text, "kind-rule").message
    text = BASE + "  - {source: m1, target: out}\n"
    assert "duplicate edge 'm1->out'" in one(text, "duplicate-id").message
    text = BASE.replace("{source: m1, target: out}", "{source: m1, target: out, kind: telepathy}")
    assert one(text, "unknown-kind").path == ("edges", 1, "kind")
    text = BASE.replace("{source: m1, target: out}", "{source: m1, target: out, parameters: {voltage: 3}}")
    assert one(text, "unknown-parameter").path == ("edges", 1, "parameters", "voltage")
    text = BASE.replace("{source: m1, target: out}", "{source: m1, target: out, products: [a, z]}")
    assert one(text, "unknown-product").found == "'z'"


def test_material_flows_within_one_domain():
    """A tank holds liquid and a buffer holds items: a material edge between them is refused when
    the twin is read, never a crash when it runs."""
    text = (
        BASE.replace("edges:\n", "  - id: t\n    kind: tank\n    parameters: {capacity: 10 m^3}\nedges:\n")
        + "  - {source: t, target: m1}\n"
    )
    e = one(text, "kind-rule")
    assert "carries liquid" in e.message and "no material flows between them" in e.message


def test_all_errors_collected_in_one_pass():
    text = (
        BASE.replace("kind: station", "kind: staton")
        .replace("{source: m1, target: out}", "{source: m1, target: nowhere}")
        .replace("{interarrival_time: 10 s}", "{interarrival_time: 10 kg}")
        .replace("  - id: out\n    kind: sink\n", "  - id: out\n    kind: sink\n    colour: red\n")
    )
    codes = {e.code for e in errors_of(text)}
    # structural (unknown field) and semantic errors come together
    assert {"unknown-kind", "unknown-node", "unit-mismatch", "unknown-field"} <= codes


def test_structural_failure_does_not_hide_references_to_that_node():
    # node 'out' fails structurally; the edge pointing at it must not be reported as dangling
    text = BASE.replace("  - id: out\n    kind: sink\n", "  - id: out\n    kind: sink\n    tags: 5\n")
    errs = errors_of(text)
    assert [e.code for e in errs] == ["wrong-type"]


def test_isolated_node_is_a_warning():
    from twinforge.spec import validate_spec

    spec = loads_spec(
        BASE.replace("edges:\n", "  - id: lonely\n    kind: buffer\n    parameters: {capacity: 3}\nedges:\n")
    )
    warnings = [i for i in validate_spec(spec) if i.severity == "warning"]
    assert warnings and warnings[0].code == "isolated"


def test_unknown_currency():
    e = one(BASE.replace("name: t\n", "name: t\ncurrency: DOGE\n"), "unknown-unit")
    assert e.path == ("currency",)


def test_money_units_follow_twin_currency():
    text = BASE.replace("name: t\n", "name: t\ncurrency: USD\n")
    loads_spec(
        text.replace("{interarrival_time: 10 s}", "{interarrival_time: 10 s, cost_per_item: 3 USD/item}")
    )
    e = one(
        text.replace("{interarrival_time: 10 s}", "{interarrival_time: 10 s, cost_per_item: 3 EUR/item}"),
        "unit-mismatch",
    )
    assert "USD/item" in e.expected


def test_error_rendering_names_file_line_path_expected_found():
    with pytest.raises(SpecError) as info:
        loads_spec(BASE.replace("{process_time: 8 s}", "{process_time: 8 kg}"), file="line.yaml")
    text = str(info.value)
    assert "line.yaml:10" in text and "nodes[1].parameters.process_time.unit" in text
    assert "expected a time" in text and "found 'kg'" in text


def test_every_suggestion_comes_from_one_helper():
    from twinforge.errors import did_you_mean

    assert did_you_mean("bufer", ["buffer", "station"]) == "; did you mean 'buffer'?"
    assert did_you_mean("zzz", ["buffer", "station"]) == ""
    assert did_you_mean("fillr", {"filler": 1}) == "; did you mean 'filler'?"  # any iterable of names
