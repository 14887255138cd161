"""AAS v3 export: structure checked by our rules and, when installed, by basyx-python-sdk."""

from __future__ import annotations

import json

import pytest

from twinforge.interop.aas import export_aas, validate_environment, write_aas
from twinforge.spec import load_spec
from twinforge.spec.catalog import CATALOG

EXAMPLES = [
    "bottling_line.yaml",
    "delivery.yaml",
    "pump_station.yaml",
    "supply_chain.yaml",
    "water_tower.yaml",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_export_valid_environments(examples, name):
    twin = load_spec(examples / name)
    env = export_aas(twin)
    problems, _ = validate_environment(env)
    assert problems == []
    assets = [
        n
        for n in twin.nodes
        if n.kind
        in {
            "tank",
            "pump",
            "valve",
            "station",
            "sensor",
            "plant",
            "warehouse",
            "depot",
            "buffer",
            "conveyor",
            "junction",
        }
    ]
    assert len(env["assetAdministrationShells"]) == len(assets)
    assert len(env["submodels"]) == 2 * len(assets)


def test_technical_data_values_units_and_identification(examples):
    env = export_aas(load_spec(examples / "pump_station.yaml"))
    sms = {sm["id"]: sm for sm in env["submodels"]}
    cds = {cd["id"]: cd for cd in env["conceptDescriptions"]}
    tech = sms["urn:twinforge:pump-station:sm:pump:TechnicalData"]
    flow = next(e for e in tech["submodelElements"] if e["idShort"] == "flow_rate")
    assert float(flow["value"]) == pytest.approx(7.5)  # 125 L/min in the catalogue unit m^3/h
    content = cds[flow["semanticId"]["keys"][0]["value"]]["embeddedDataSpecifications"][0]
    assert content["dataSpecificationContent"]["unit"] == CATALOG["pump"].params["flow_rate"].unit
    dist = next(e for e in tech["submodelElements"] if e["idShort"] == "mtbf_distribution")
    assert json.loads(dist["value"])["type"] == "weibull"
    ident = sms["urn:twinforge:pump-station:sm:pump:Identification"]
    values = {e["idShort"]: e.get("value") for e in ident["submodelElements"]}
    assert values["AssetId"] == "pump" and values["Kind"] == "pump" and values["Twin"] == "pump-station"


def test_checked_by_the_sdk_when_installed(examples):
    pytest.importorskip("basyx.aas", reason="basyx-python-sdk is not installed")
    env = export_aas(load_spec(examples / "water_tower.yaml"))
    problems, how = validate_environment(env)
    assert problems == [] and "basyx" in how
    env["submodels"][1]["submodelElements"][0]["valueType"] = "xs:bogus"
    problems, _ = validate_environment(env)
    assert any("basyx-python-sdk refused" in p for p in problems)


def test_own_checks_catch_broken_environments(examples):
    env = export_aas(load_spec(examples / "water_tower.yaml"))
    env["submodels"][1]["submodelElements"][0]["value"] = "lots"
    env["submodels"].append(dict(env["submodels"][0]))
    env["assetAdministrationShells"][0]["submodels"][0]["keys"][0]["value"] = "urn:nowhere"
    problems, _ = validate_environment(env)
    text = " | ".join(problems)
    assert "is not an xs:double" in text and "is used twice" in text and "does not resolve" in text


def test_write_aas(examples, tmp_path):
    path = write_aas(load_spec(examples / "water_tower.yaml"), tmp_path)
    env = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "water-tower.aas.json" and env["assetAdministrationShells"]
