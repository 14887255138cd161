"""EPANET import on real networks shipped with wntr: units, report, round trip through EPANET."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from twinforge.errors import SpecError
from twinforge.interop.epanet import compare_hydraulics, import_inp, twin_to_inp
from twinforge.spec import dump_spec, load_spec
from twinforge.spec.validate import validate_spec

FT = 0.3048
GPM_TO_M3H = 0.0037854117839999997 * 60  # US gallon per minute in m^3/h


@pytest.fixture(scope="module")
def net1(networks):
    return import_inp(networks / "Net1.inp")


def test_net1_quantities_are_converted_to_twin_units(net1):
    twin = net1.twin
    assert not [i for i in validate_spec(twin) if i.severity == "error"]
    # tank 2: diameter 50.5 ft, levels 100..150 ft, initial 120 ft (Net1.inp, GPM file)
    area = math.pi * (50.5 * FT) ** 2 / 4
    assert twin.get("T_2", "capacity", unit="m^3") == pytest.approx(area * 50 * FT, rel=1e-9)
    assert twin.get("T_2", "initial_level", unit="m^3") == pytest.approx(area * 20 * FT, rel=1e-9)
    # pump 9: one-point curve 1500 gpm at 250 ft
    assert twin.get("P_9", "flow_rate", unit="m^3/h") == pytest.approx(1500 * GPM_TO_M3H, rel=1e-9)
    assert twin.get("P_9", "head", unit="m") == pytest.approx(250 * FT, rel=1e-9)
    # pipe 10: 10530 ft long, 18 in wide, from junction 10 to 11
    pipe = twin.edge("pipe_10")
    assert (pipe.source, pipe.target, pipe.kind) == ("J_10", "J_11", "physical")
    assert twin.get("pipe_10", "length", unit="m") == pytest.approx(10530 * FT, rel=1e-9)
    assert twin.get("pipe_10", "diameter", unit="in") == pytest.approx(18, rel=1e-9)
    assert pipe.metadata["epanet"]["roughness"] == 100
    # junction 11: 150 gpm base demand, kept with its unit; elevation 710 ft
    j11 = twin.node("J_11")
    assert j11.metadata["epanet"]["demands"][0]["base_demand"] == pytest.approx(150 * GPM_TO_M3H, rel=1e-9)
    assert j11.metadata["epanet"]["demands"][0]["unit"] == "m^3/h"
    assert twin.get("J_11", "elevation", unit="m") == pytest.approx(710 * FT)
    # ids: pump 9 and reservoir 9 share an EPANET id and stay apart
    assert twin.node("R_9").kind == "custom" and twin.node("P_9").kind == "pump"
    assert [e.key for e in twin.edges if "P_9" in (e.source, e.target)] == ["P_9_in", "P_9_out"]
    assert twin.node("J_10").location.x == 20


def test_net1_report_lists_every_section_not_imported_with_its_line(net1):
    report = net1.report
    assert report.flow_units == "GPM"
    dropped = {s.section: s.line for s in report.not_imported}
    assert dropped == {
        "ENERGY": 74,
        "QUALITY": 82,
        "REACTIONS": 99,
        "REPORT": 126,
        "LABELS": 166,
        "BACKDROP": 172,
    }
    kept = {s.section for s in report.kept}
    assert {"CONTROLS", "PATTERNS", "CURVES", "OPTIONS", "TIMES"} <= kept
    text = report.render()
    assert "[QUALITY] line 82" in text and "GPM" in text and "m^3/h" in text
    assert any("roughness" in g for g in report.gaps)


@pytest.mark.parametrize("name", ["Net1.inp", "Net2.inp", "Net3.inp"])
def test_round_trip_through_yaml_matches_epanet(networks, tmp_path, name):
    imp = import_inp(networks / name)
    path = tmp_path / "twin.yaml"
    dump_spec(imp.twin, path)
    twin = load_spec(path)  # the twin as a file, validated again
    c = compare_hydraulics(networks / name, twin)
    assert c.steps > 1 and c.tanks >= 1
    assert c.tank_level_range > 1.0  # the levels move: the comparison is not of constants
    assert c.tank_level_max_error < 1e-3, c.per_element
    assert c.pump_flow_max_error <= 1e-4 * max(c.pump_flow_max, 1.0), c.per_element
    assert c.within()
    # no worse than wntr writing the same network in CMH units and reading it back (no twin)
    assert c.tank_level_max_error <= c.baseline_level_error + 1e-5
    assert c.pump_flow_max_error <= c.baseline_flow_error + 1e-3


def test_typed_values_drive_the_network_written_back(networks):
    imp = import_inp(networks / "Net1.inp")
    twin = imp.twin
    twin.scale("pipe_10", "diameter", 0.5)  # the main out of the pump station
    c = compare_hydraulics(networks / "Net1.inp", twin, baseline=False)
    assert c.pump_flow_max_error > 10.0  # a narrower main changes the pump's flow
    assert not c.within()


def test_net3_statuses_controls_and_curves(networks):
    twin = import_inp(networks / "Net3.inp").twin
    assert twin.node("P_10").state["status"].initial == 0.0  # [STATUS] 10 Closed
    assert twin.get("pipe_330", "open") == 0.0
    controls = twin.metadata["epanet"]["sections"]["CONTROLS"]
    assert any(line.startswith("Pump 335 Open IF Tank 1 below") for line in controls)
    curve = twin.metadata["epanet"]["curves"]["1"]
    assert curve["x_unit"] == "m^3/h" and len(curve["points"]) == 3
    # a three-point curve's design point is its middle point
    assert twin.get("P_10", "flow_rate", unit="m^3/h") == pytest.approx(curve["points"][1][0])
    text = twin_to_inp(twin)
    assert "UNITS                CMH" in text or "UNITS CMH" in text


def _net1_lines(networks):
    return (networks / "Net1.inp").read_text(encoding="utf-8").splitlines()


def test_truncated_file_mid_line_names_the_line(networks, tmp_path):
    lines = _net1_lines(networks)
    cut = next(i for i, ln in enumerate(lines) if ln.strip().startswith("110"))
    bad = tmp_path / "cut.inp"
    bad.write_text("\n".join(lines[:cut]) + "\n" + lines[cut][:30] + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        import_inp(bad)
    issue = err.value.errors[0]
    assert issue.line == cut + 1 and "PIPES" in issue.message


def test_truncated_file_at_a_line_boundary_is_called_truncated(networks, tmp_path):
    bad = tmp_path / "cut.inp"
    bad.write_text("\n".join(_net1_lines(networks)[:45]) + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        import_inp(bad)
    assert "truncated" in err.value.errors[0].message and "[OPTIONS]" in err.value.errors[0].message


def test_unknown_section_is_an_error_with_its_line(networks, tmp_path):
    text = (networks / "Net1.inp").read_text(encoding="utf-8").replace("[RULES]", "[FLOWS]")
    bad = tmp_path / "unknown.inp"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        import_inp(bad)
    issue = err.value.errors[0]
    assert issue.code == "unknown-section" and "[FLOWS]" in issue.message
    assert issue.line == text.splitlines().index("[FLOWS]") + 1


def test_bad_number_and_unknown_node_are_reported_with_lines(networks, tmp_path):
    lines = _net1_lines(networks)
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("12 ") and "5280" in ln)
    bad = tmp_path / "bad.inp"
    bad.write_text("\n".join([*lines[:i], " 12 12 13 long 10 100 0 Open", *lines[i + 1 :]]), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        import_inp(bad)
    assert err.value.errors[0].line == i + 1 and "not a number" in err.value.errors[0].message
    bad.write_text("\n".join([*lines[:i], " 12 12 99 5280 10 100 0 Open", *lines[i + 1 :]]), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        import_inp(bad)
    assert err.value.errors[0].line == i + 1 and "99" in str(err.value)


def test_binary_file_is_refused(tmp_path):
    bad = tmp_path / "bin.inp"
    bad.write_bytes(b"[JUNCTIONS]\n\x00\x01\x02")
    with pytest.raises(SpecError):
        import_inp(bad)


def test_twin_not_from_epanet_cannot_be_written_as_inp(examples):
    with pytest.raises(SpecError, match="not imported from EPANET"):
        twin_to_inp(load_spec(examples / "water_tower.yaml"))


def test_darcy_weisbach_roughness_is_kept_in_mm_and_round_trips(networks, tmp_path):
    # Net1 with the Darcy-Weisbach formula: roughness 0.85 millifeet in a GPM file
    text = (networks / "Net1.inp").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        fields = line.split()
        if line.strip().lower().startswith("headloss"):
            line = " Headloss D-W"
        elif len(fields) >= 8 and fields[7] == "Open" and fields[5] == "100":
            line = " ".join([*fields[:5], "0.85", *fields[6:]])
        lines.append(line)
    dw = tmp_path / "net1_dw.inp"
    dw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    imp = import_inp(dw)
    assert imp.report.headloss == "D-W"
    assert imp.twin.edge("pipe_10").metadata["epanet"]["roughness"] == pytest.approx(0.85 * FT)  # mm
    c = compare_hydraulics(dw, imp.twin)
    assert c.tank_level_range > 1.0 and c.within()
    assert c.tank_level_max_error <= c.baseline_level_error + 1e-5


def test_network_epanet_cannot_simulate_is_a_clear_error():
    import wntr

    cv = Path(wntr.__file__).parent / "tests" / "networks_for_testing" / "cv_controls.inp"
    if not cv.exists():
        pytest.skip(f"wntr's test network {cv.name} is not installed")
    imp = import_inp(cv)
    with pytest.raises(SpecError, match="EPANET cannot simulate the original network"):
        compare_hydraulics(cv, imp.twin)
