"""Scenario values out of range are refused when the scenario is read or applied, before any run;
scenario files go through the bounded loader."""

from __future__ import annotations

import pytest

from twinforge.scenario import (
    Outage,
    ScaleDemand,
    ScaleParameter,
    Scenario,
    ScenarioError,
    SetArrivalRate,
    apply_scenario,
    load_scenario,
    loads_scenario,
)
from twinforge.scenario.models import MAX_FACTOR


def read_one(intervention: str):
    return loads_scenario(f"name: s\ninterventions:\n  - {intervention}\n", file="s.yaml")


def refused(intervention: str) -> str:
    with pytest.raises(ScenarioError) as info:
        read_one(intervention)
    (issue,) = info.value.errors
    assert issue.file == "s.yaml" and issue.line == 3
    return f"{issue.dotted_path}: {issue.message}"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
def test_non_finite_numbers_are_refused_when_read(value):
    assert "finite number" in refused(
        f"{{op: scale_parameter, target: filler, parameter: process_time, factor: {value}}}"
    )
    assert "finite number" in refused(f"{{op: scale_demand, factor: {value}}}")
    assert "finite number" in refused(
        f"{{op: set_parameter, target: filler, parameter: power_busy, value: {value}}}"
    )
    assert "finite number" in refused(f"{{op: setpoint, target: filler, parameter: speed, value: {value}}}")
    assert "finite number" in refused(f"{{op: set_arrival_rate, target: pallets_in, rate: {value}}}")


@pytest.mark.parametrize("field", ["duration", "start"])
@pytest.mark.parametrize("value", [".inf", ".nan", "1e400 h", "inf h"])
def test_non_finite_times_are_refused_when_read(field, value):
    other = "start: 0" if field == "duration" else "duration: 1 h"
    message = refused(f"{{op: outage, target: filler, {other}, {field}: {value}}}")
    assert message.startswith(f"interventions[0].{field}")
    assert "finite" in message or "not a time" in message


def test_negative_and_huge_factors_are_refused_when_read():
    assert "greater than or equal to 0" in refused("{op: scale_demand, factor: -1}")
    assert "greater than or equal to 0" in refused(
        "{op: scale_parameter, target: filler, parameter: mtbf, factor: -0.5}"
    )
    assert "less than or equal to 1000000" in refused("{op: scale_demand, factor: 1.0e+7}")
    assert MAX_FACTOR == 1e6
    assert "greater than 0" in refused("{op: set_arrival_rate, target: pallets_in, rate: 0}")
    with pytest.raises(ValueError):
        ScaleDemand(factor=float("inf"))
    with pytest.raises(ValueError):
        Outage(target="filler", duration=float("nan"))


def test_zero_factor_refused_where_the_parameter_cannot_be_zero(bottling_line):
    for parameter in ("process_time", "mtbf", "mttr"):
        with pytest.raises(ScenarioError) as info:
            apply_scenario(
                bottling_line,
                Scenario(
                    name="z", interventions=[ScaleParameter(target="filler", parameter=parameter, factor=0)]
                ),
                file="z.yaml",
            )
        (issue,) = info.value.errors
        assert issue.path == ("interventions", 0, "factor") and issue.file == "z.yaml"
        assert "the result is not a valid value" in issue.message and "greater than 0" in issue.message


def test_zero_factor_accepted_where_zero_makes_sense(bottling_line, supply_chain):
    applied = apply_scenario(
        bottling_line,
        Scenario(
            name="free",
            interventions=[ScaleParameter(target="pallets_in", parameter="cost_per_item", factor=0)],
        ),
    )
    assert applied.twin.get("pallets_in", "cost_per_item") == 0
    applied = apply_scenario(supply_chain, Scenario(name="none", interventions=[ScaleDemand(factor=0)]))
    assert all(
        applied.twin.get(n.id, "demand", product=p) == 0
        for n in applied.twin.nodes
        if n.kind == "customer"
        for p in n.parameters["demand"].by_product or {}
    )


def test_scaling_that_overflows_a_float_is_refused(bottling_line):
    twin = bottling_line.copy_deep()
    twin.set("filler", "power_busy", 1e305, unit="kW")
    with pytest.raises(ScenarioError) as info:
        apply_scenario(
            twin,
            Scenario(
                name="big",
                interventions=[ScaleParameter(target="filler", parameter="power_busy", factor=1e5)],
            ),
        )
    (issue,) = info.value.errors
    assert issue.code == "out-of-bounds" and issue.path == ("interventions", 0, "factor")
    assert "must be a finite number, found inf" in issue.message


def test_huge_arrival_rate_is_checked_against_the_twin(bottling_line):
    applied = apply_scenario(
        bottling_line, Scenario(name="fast", interventions=[SetArrivalRate(target="pallets_in", rate=1e6)])
    )
    assert applied.twin.get("pallets_in", "interarrival_time", unit="s") == pytest.approx(0.0036)


# -- scenario files through the bounded loader -----------------------------------------------------


@pytest.mark.parametrize(
    "content, code",
    [
        (b"name: s\x00\x01\x02", "binary"),
        ("name: sé\n".encode("latin-1"), "encoding"),
        (b"name: s\ninterventions: " + b"[" * 100 + b"]" * 100, "too-deep"),
        (b"name: !!python/object/apply:os.getcwd []\n", "unsupported-tag"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                b"%c: &%c [%s]\n" % (c, c, b", ".join([b"*" + bytes([c - 1])] * 10)) for c in b"bcdefgh"
            ),
            "alias-limit",
        ),
    ],
)
def test_hostile_scenario_files_are_scenario_errors(tmp_path, content, code):
    f = tmp_path / "s.yaml"
    f.write_bytes(content)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    (issue,) = info.value.errors
    assert issue.code == code and issue.file == str(f) and issue.line is not None
    assert str(f) in str(info.value).splitlines()[0]


def test_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "none.yaml")


def test_a_change_that_breaks_a_rule_spanning_parameters_is_refused(pump_station):
    """Each value within its own bounds, but a tank's initial level above its capacity: refused,
    naming the node; a level within the capacity applies."""
    capacity = pump_station.get("tank", "capacity")
    over = Scenario(
        name="overfull",
        interventions=[
            {"op": "set_parameter", "target": "tank", "parameter": "initial_level", "value": capacity * 1.5}
        ],
    )
    with pytest.raises(ScenarioError) as info:
        apply_scenario(pump_station, over)
    (issue,) = info.value.errors
    assert issue.code == "physical-bounds"
    assert "node 'tank'" in issue.message and "exceeds the tank capacity" in issue.message
    within = Scenario(
        name="ok",
        interventions=[
            {"op": "set_parameter", "target": "tank", "parameter": "initial_level", "value": capacity / 2}
        ],
    )
    assert apply_scenario(pump_station, within).twin.get("tank", "initial_level") == pytest.approx(
        capacity / 2
    )
