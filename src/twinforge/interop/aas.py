"""Twins as Asset Administration Shells: AAS v3.0 environment JSON, written from the metamodel.

For each asset node (kinds in :data:`ASSET_KINDS`) one shell with two submodels:

- ``Identification`` (nameplate-like, not the IDTA Digital Nameplate template): the asset's id,
  name, kind, description, tags, location, the twin it belongs to, and nameplate facts the node's
  ``metadata`` carries under the keys of :data:`NAMEPLATE_KEYS` (nothing is invented);
- ``TechnicalData``: every parameter set on the node, as an ``xs:double`` Property with its value in
  the catalogue unit, a semanticId pointing to a ConceptDescription that carries the unit and the
  definition (IEC 61360 data specification); per-product values are a collection, a probability
  distribution a JSON text Property beside the value.

The JSON is written here without a dependency; :func:`validate_environment` checks it with our own
structural rules and, when ``basyx-python-sdk`` is installed, by reading it back with the SDK's
strict JSON deserializer (which applies the metamodel's types and constraints).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import Node, TwinSpec

ASSET_KINDS = (
    "station",
    "buffer",
    "conveyor",
    "tank",
    "pump",
    "valve",
    "junction",
    "sensor",
    "plant",
    "warehouse",
    "depot",
)
NAMEPLATE_KEYS = {
    "manufacturer": "ManufacturerName",
    "manufacturer_name": "ManufacturerName",
    "product_designation": "ManufacturerProductDesignation",
    "model": "ManufacturerProductDesignation",
    "serial_number": "SerialNumber",
    "year_of_construction": "YearOfConstruction",
}
IEC61360 = "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIec61360/3/0"
ID_SHORT = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")


def _id_short(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if s[:1].isalpha() else f"x{s}"


def _lang(text: str) -> list[dict[str, str]]:
    return [{"language": "en", "text": text[:1023] or "-"}]


def _ref(kind: str, value: str, ref_type: str = "ModelReference") -> dict[str, Any]:
    return {"type": ref_type, "keys": [{"type": kind, "value": value}]}


def _prop(
    id_short: str, value: Any, value_type: str = "xs:string", semantic: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"modelType": "Property", "idShort": _id_short(id_short), "valueType": value_type}
    if semantic:
        out["semanticId"] = _ref("ConceptDescription", semantic)
    out["value"] = _number(value) if value_type == "xs:double" else str(value)
    return out


def _number(x: float) -> str:
    return repr(float(x))


def _collection(id_short: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"modelType": "SubmodelElementCollection", "idShort": _id_short(id_short), "value": elements}


class _Ids:
    def __init__(self, twin: TwinSpec) -> None:
        self.base = f"urn:twinforge:{quote(twin.name, safe='')}"

    def shell(self, node: str) -> str:
        return f"{self.base}:aas:{quote(node, safe='')}"

    def asset(self, node: str) -> str:
        return f"{self.base}:asset:{quote(node, safe='')}"

    def submodel(self, node: str, name: str) -> str:
        return f"{self.base}:sm:{quote(node, safe='')}:{name}"

    @staticmethod
    def concept(kind: str, param: str) -> str:
        return f"urn:twinforge:concept:{kind}:{param}"


def _identification(twin: TwinSpec, n: Node, ids: _Ids) -> dict[str, Any]:
    els = [
        _prop("AssetId", n.id),
        _prop("Name", n.name or n.id),
        _prop("Kind", n.kind),
        _prop("Twin", twin.name),
    ]
    if n.description:
        els.append(_prop("Description", n.description))
    if n.tags:
        els.append(_prop("Tags", ", ".join(n.tags)))
    if n.location is not None:
        loc = n.location.model_dump(exclude_none=True)
        els.append(
            _collection(
                "Location",
                [_prop(k, v, "xs:string" if k == "site" else "xs:double") for k, v in loc.items()],
            )
        )
    seen = set()
    for key, short in NAMEPLATE_KEYS.items():
        value = n.metadata.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and short not in seen:
            els.append(_prop(short, value))
            seen.add(short)
    return {
        "modelType": "Submodel",
        "id": ids.submodel(n.id, "Identification"),
        "idShort": "Identification",
        "kind": "Instance",
        "description": _lang(f"Identification of {n.id} ({n.kind}) in twin {twin.name}"),
        "submodelElements": els,
    }


def _technical(twin: TwinSpec, n: Node, ids: _Ids, concepts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    els = []
    for name, p in n.parameters.items():
        pdef = n.param_def(name)
        unit = pdef.unit_for(twin.currency) if pdef else (p.unit or "")
        cid = ids.concept(n.kind, name)
        if cid not in concepts:
            concepts[cid] = _concept(cid, name, unit, pdef.description if pdef else (p.description or name))
        if p.by_product:
            elements = [
                _prop(prod, twin.get(n.id, name, product=prod), "xs:double", cid) for prod in p.by_product
            ]
            if p.nominal is not None:
                elements.insert(0, _prop("Nominal", twin.get(n.id, name), "xs:double", cid))
            els.append(_collection(name, elements))
            continue
        els.append(_prop(name, twin.get(n.id, name), "xs:double", cid))
        if p.distribution is not None:
            els.append(_prop(f"{name}_distribution", json.dumps(p.distribution.model_dump(mode="json"))))
    return {
        "modelType": "Submodel",
        "id": ids.submodel(n.id, "TechnicalData"),
        "idShort": "TechnicalData",
        "kind": "Instance",
        "description": _lang(f"Parameters of {n.id}, each in its catalogue unit (see its concept)"),
        "submodelElements": els,
    }


def _concept(cid: str, name: str, unit: str, definition: str) -> dict[str, Any]:
    content: dict[str, Any] = {
        "modelType": "DataSpecificationIec61360",
        "preferredName": _lang(name),
        "definition": _lang(definition),
        "dataType": "REAL_MEASURE",
    }
    if unit:
        content["unit"] = unit
    return {
        "modelType": "ConceptDescription",
        "id": cid,
        "idShort": _id_short(name),
        "embeddedDataSpecifications": [
            {
                "dataSpecification": _ref("GlobalReference", IEC61360, "ExternalReference"),
                "dataSpecificationContent": content,
            }
        ],
    }


def export_aas(twin: TwinSpec) -> dict[str, Any]:
    """The AAS v3.0 environment (shells, submodels, concept descriptions) of the twin's assets."""
    ids = _Ids(twin)
    shells, submodels = [], []
    concepts: dict[str, dict[str, Any]] = {}
    for n in twin.nodes:
        if n.kind not in ASSET_KINDS:
            continue
        sms = [_identification(twin, n, ids), _technical(twin, n, ids, concepts)]
        submodels += sms
        shells.append(
            {
                "modelType": "AssetAdministrationShell",
                "id": ids.shell(n.id),
                "idShort": _id_short(n.id),
                "description": _lang(f"{CATALOG[n.kind].description} ({n.name or n.id})"),
                "assetInformation": {"assetKind": "Instance", "globalAssetId": ids.asset(n.id)},
                "submodels": [_ref("Submodel", sm["id"]) for sm in sms],
            }
        )
    return {
        "assetAdministrationShells": shells,
        "submodels": submodels,
        "conceptDescriptions": list(concepts.values()),
    }


def validate_environment(env: dict[str, Any]) -> tuple[list[str], str]:
    """Check an AAS environment; return (problems, how it was checked).

    Our rules: unique identifiers, idShort syntax and uniqueness among siblings, model types,
    ``xs:double`` values that parse, and every Submodel and ConceptDescription reference resolving.
    Then, when the SDK is installed, a strict read with basyx-python-sdk.
    """
    problems: list[str] = []
    all_ids: dict[str, str] = {}
    for group, mtype in (
        ("assetAdministrationShells", "AssetAdministrationShell"),
        ("submodels", "Submodel"),
        ("conceptDescriptions", "ConceptDescription"),
    ):
        for el in env.get(group, []):
            if el.get("modelType") != mtype:
                problems.append(f"{group}: modelType {el.get('modelType')!r}, expected {mtype}")
            if el.get("id") in all_ids:
                problems.append(f"identifier {el.get('id')!r} is used twice")
            all_ids[el.get("id")] = mtype
            if "idShort" in el and not ID_SHORT.match(el["idShort"]):
                problems.append(f"{el.get('id')}: idShort {el['idShort']!r} breaks the AAS rules")
    for shell in env.get("assetAdministrationShells", []):
        if not shell.get("assetInformation", {}).get("globalAssetId"):
            problems.append(f"{shell.get('id')}: assetInformation needs a globalAssetId")
        for ref in shell.get("submodels", []):
            value = ref["keys"][-1]["value"]
            if all_ids.get(value) != "Submodel":
                problems.append(f"{shell.get('id')}: submodel reference {value!r} does not resolve")
    for sm in env.get("submodels", []):
        _check_elements(sm.get("submodelElements", []), sm.get("id", "?"), all_ids, problems)
    how = "own structural checks"
    try:
        from basyx.aas.adapter.json import read_aas_json_file
    except ImportError:
        return problems, how + " (basyx-python-sdk not installed)"
    try:
        store = read_aas_json_file(io.StringIO(json.dumps(env)), failsafe=False)
        n = len(env.get("assetAdministrationShells", [])) + len(env.get("submodels", []))
        n += len(env.get("conceptDescriptions", []))
        if len(store) != n:
            problems.append(f"basyx read {len(store)} identifiables, expected {n}")
    except Exception as exc:  # the SDK raises assorted errors for a broken environment
        problems.append(f"basyx-python-sdk refused the environment: {type(exc).__name__}: {exc}")
    return problems, how + " and basyx-python-sdk strict JSON deserialisation"


def _check_elements(els: list[dict[str, Any]], where: str, ids: dict[str, str], problems: list[str]) -> None:
    seen: set[str] = set()
    for el in els:
        short = el.get("idShort", "")
        if not ID_SHORT.match(short):
            problems.append(f"{where}: idShort {short!r} breaks the AAS rules")
        if short in seen:
            problems.append(f"{where}: idShort {short!r} is used twice among siblings")
        seen.add(short)
        mtype = el.get("modelType")
        if mtype == "Property":
            if el.get("valueType") == "xs:double":
                try:
                    float(el.get("value"))
                except (TypeError, ValueError):
                    problems.append(f"{where}.{short}: value {el.get('value')!r} is not an xs:double")
            sem = el.get("semanticId")
            if sem and ids.get(sem["keys"][-1]["value"]) != "ConceptDescription":
                problems.append(f"{where}.{short}: semanticId does not resolve to a ConceptDescription")
        elif mtype == "SubmodelElementCollection":
            _check_elements(el.get("value", []), f"{where}.{short}", ids, problems)
        else:
            problems.append(f"{where}.{short}: unexpected modelType {mtype!r}")


def write_aas(twin: TwinSpec, out_dir: str | Path) -> Path:
    """Write ``<twin>.aas.json`` after checking it; raise :class:`SpecError` if it breaks a rule."""
    from twinforge.errors import Issue, SpecError

    env = export_aas(twin)
    problems, how = validate_environment(env)
    if problems:
        raise SpecError([Issue(p, code="aas") for p in problems], summary=f"the AAS export fails {how}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', twin.name) or 'twin'}.aas.json"
    path.write_text(json.dumps(env, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
