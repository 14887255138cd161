"""Question examples made from each twin itself (no example file needed), and example files."""

from __future__ import annotations

import pytest

from twinforge.copilot.examples import ExampleError, generated_examples, load_example_file


@pytest.mark.parametrize("name", ["supply_chain", "bottling_line", "pump_station"])
def test_every_example_twin_gets_examples_that_read_back(name, request):
    twin = request.getfixturevalue(name)
    unchecked = generated_examples(twin, check=False)
    checked = generated_examples(twin)
    # each kept example validates against the twin and is read back to its own meaning
    assert len(checked) >= 30 and len(checked) >= 0.9 * len(unchecked)
    kinds = {e.kind for e in checked}
    assert {"what_if", "status", "why"} <= kinds
    ops = {c["op"] for e in checked if e.kind == "what_if" for c in e.plan["changes"]}
    assert {"set", "change", "scale", "outage"} <= ops


def test_a_new_twin_needs_no_example_file(warehouse):
    examples = generated_examples(warehouse)
    assert len(examples) >= 30
    assert any(
        e.plan.get("changes", [{}])[0].get("op") == "arrivals" for e in examples if e.kind == "what_if"
    )


def test_example_files_are_checked_against_the_twin(tmp_path, bottling_line):
    good = tmp_path / "good.yaml"
    good.write_text(
        "twin: bottling-line\nexamples:\n"
        "  - question: What if the filler is down for 4 hours?\n"
        "    plan: {kind: what_if, changes: [{op: outage, target: filler, duration: 4, unit: h}]}\n"
    )
    assert load_example_file(good, bottling_line)[0].plan["changes"][0]["target"] == "filler"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "twin: bottling-line\nexamples:\n"
        "  - question: What if M7 is down?\n"
        "    plan: {kind: what_if, changes: [{op: outage, target: M7, duration: 4, unit: h}]}\n"
        "  - question: no plan\n"
    )
    with pytest.raises(ExampleError) as err:
        load_example_file(bad, bottling_line)
    assert len(err.value.errors) == 2 and "M7" in str(err.value.errors[0].message)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ExampleError, match="cannot read"):
        load_example_file(binary, bottling_line)
