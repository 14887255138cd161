"""Twins as DTDL v3: one Interface per node kind, twin instances and relationships, and back.

The export is one JSON file in the import/export format of Azure Digital Twins Explorer
(``digitalTwinsFileInfo``, ``digitalTwinsGraph`` with ``digitalTwins`` and ``relationships``,
``digitalTwinsModels``), so a twin can be loaded there; the models are also written one file per
Interface.

How a twin maps to DTDL (stated once, used both ways):

- each node kind used by the twin is an Interface ``dtmi:twinforge:kind:<kind>;1``; each catalogue
  parameter of the kind is a writable ``Property`` whose schema is the Interface's ``Quantity``
  object (``value``, ``unit``, ``lower``, ``upper``, ``distribution``, ``byProduct``,
  ``description``); each catalogue state variable is a ``Telemetry`` named ``state_<name>``
  (double, its unit in ``comment``); ``name``, ``description``, ``tags``, ``location``,
  ``state`` (declared state variables), ``signals``, ``observes`` and ``metadata`` (JSON text: DTDL
  has no schema for free data) are Properties; the ``custom`` kind has one ``parameters`` Map;
- each edge kind is a ``Relationship`` of every Interface, named after the kind, with the edge
  catalogue's parameters, ``edgeId``, ``description``, ``tags``, ``products`` and ``metadata`` as
  relationship Properties;
- the twin itself (name, description, currency, products, planning, metadata) is the instance
  ``_twinforge`` of ``dtmi:twinforge:Twin;1``.

Importing checks the file's shape, refuses a model that is not a twinforge kind (naming the twin
and the model), and then validates the result as any twin is validated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from twinforge.errors import Issue, SpecError
from twinforge.inputs import load_json, read_text
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG
from twinforge.spec.io import parse_spec
from twinforge.spec.models import Parameter, TwinSpec

CONTEXT = "dtmi:dtdl:context;3"
TWIN_MODEL = "dtmi:twinforge:Twin;1"
TWIN_DTID = "_twinforge"
KIND_MODEL = "dtmi:twinforge:kind:{kind};1"
_KIND_RE = re.compile(r"^dtmi:twinforge:kind:([a-z][a-z0-9_]*[a-z0-9]|[a-z]);1$")
DTMI_RE = re.compile(
    r"^dtmi:(?:_+[A-Za-z0-9]|[A-Za-z])(?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::(?:_+[A-Za-z0-9]|[A-Za-z])(?:[A-Za-z0-9_]*[A-Za-z0-9])?)*(?:;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?)?$"
)
NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
NODE_FIELDS = ("name", "description", "tags", "location", "state", "signals", "observes", "metadata")
EDGE_FIELDS = ("edgeId", "description", "tags", "products", "metadata")


# -- schemas ----------------------------------------------------------------------------------------
def _quantity_schema(kind: str) -> dict[str, Any]:
    sid = f"dtmi:twinforge:kind:{kind}:Quantity;1"
    dist = {
        "@type": "Object",
        "fields": [
            {"name": "type", "schema": "string"},
            {"name": "parameters", "schema": _map("double")},
            {"name": "values", "schema": {"@type": "Array", "elementSchema": "double"}},
        ],
    }
    return {
        "@id": sid,
        "@type": "Object",
        "comment": "A twinforge parameter: nominal value and its unit, bounds, distribution, per-product values",
        "fields": [
            {"name": "value", "schema": "double"},
            {"name": "unit", "schema": "string"},
            {"name": "lower", "schema": "double"},
            {"name": "upper", "schema": "double"},
            {"name": "distribution", "schema": dist},
            {"name": "byProduct", "schema": _map("double")},
            {"name": "description", "schema": "string"},
        ],
    }


def _map(value_schema: Any) -> dict[str, Any]:
    return {
        "@type": "Map",
        "mapKey": {"name": "key", "schema": "string"},
        "mapValue": {"name": "value", "schema": value_schema},
    }


def _obj(*fields: tuple[str, Any]) -> dict[str, Any]:
    return {"@type": "Object", "fields": [{"name": n, "schema": s} for n, s in fields]}


_LOCATION = _obj(("x", "double"), ("y", "double"), ("lat", "double"), ("lon", "double"), ("site", "string"))
_STATEVAR = _obj(
    ("unit", "string"),
    ("initial", "double"),
    ("lower", "double"),
    ("upper", "double"),
    ("description", "string"),
)
_SIGNAL = _obj(
    ("name", "string"),
    ("state", "string"),
    ("unit", "string"),
    ("period", "string"),
    ("periodSeconds", "double"),
    ("noiseStd", "double"),
    ("rangeLow", "double"),
    ("rangeHigh", "double"),
    ("description", "string"),
)
_STRINGS = {"@type": "Array", "elementSchema": "string"}


def kind_interface(kind: str) -> dict[str, Any]:
    """The DTDL v3 Interface of one node kind of the catalogue."""
    kd = CATALOG[kind]
    qid = f"dtmi:twinforge:kind:{kind}:Quantity;1"
    contents: list[dict[str, Any]] = []
    for p in kd.params.values():
        contents.append(
            {
                "@type": "Property",
                "name": p.name,
                "schema": qid,
                "writable": True,
                "description": p.description[:512],
                "comment": f"catalogue unit: {p.unit or 'dimensionless'}",
            }
        )
    if kd.open_parameters:
        contents.append({"@type": "Property", "name": "parameters", "schema": _map(qid), "writable": True})
    for s in kd.states.values():
        contents.append(
            {
                "@type": "Telemetry",
                "name": f"state_{s.name}",
                "schema": "double",
                "description": s.description[:512],
                "comment": f"unit: {s.unit or 'dimensionless'}",
            }
        )
    contents += [
        {"@type": "Property", "name": "name", "schema": "string", "writable": True},
        {"@type": "Property", "name": "description", "schema": "string", "writable": True},
        {"@type": "Property", "name": "tags", "schema": _STRINGS, "writable": True},
        {"@type": "Property", "name": "location", "schema": _LOCATION, "writable": True},
        {"@type": "Property", "name": "state", "schema": _map(_STATEVAR), "writable": True},
        {"@type": "Property", "name": "signals", "schema": {"@type": "Array", "elementSchema": _SIGNAL}},
        {"@type": "Property", "name": "observes", "schema": "string", "comment": "sensors: node.state"},
        {"@type": "Property", "name": "metadata", "schema": "string", "comment": "JSON text"},
    ]
    for ek in EDGE_CATALOG.values():
        props = [{"@type": "Property", "name": p.name, "schema": qid} for p in ek.params.values()]
        props += [
            {"@type": "Property", "name": "edgeId", "schema": "string"},
            {"@type": "Property", "name": "description", "schema": "string"},
            {"@type": "Property", "name": "tags", "schema": _STRINGS},
            {"@type": "Property", "name": "products", "schema": _STRINGS},
            {"@type": "Property", "name": "metadata", "schema": "string"},
        ]
        contents.append(
            {
                "@type": "Relationship",
                "name": ek.kind,
                "description": ek.description[:512],
                "properties": props,
            }
        )
    return {
        "@context": CONTEXT,
        "@id": KIND_MODEL.format(kind=kind),
        "@type": "Interface",
        "displayName": kind,
        "description": kd.description[:512],
        "schemas": [_quantity_schema(kind)],
        "contents": contents,
    }


def twin_interface() -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "@id": TWIN_MODEL,
        "@type": "Interface",
        "displayName": "twinforge twin",
        "description": "The twin as a whole: its name, currency, products and planning rules.",
        "contents": [
            {"@type": "Property", "name": "name", "schema": "string"},
            {"@type": "Property", "name": "description", "schema": "string"},
            {"@type": "Property", "name": "currency", "schema": "string"},
            {"@type": "Property", "name": "products", "schema": _STRINGS},
            {
                "@type": "Property",
                "name": "planning",
                "schema": _obj(("demand", "string"), ("integerFlows", "boolean")),
            },
            {"@type": "Property", "name": "metadata", "schema": "string", "comment": "JSON text"},
        ],
    }


# -- export -----------------------------------------------------------------------------------------
def _quantity(p: Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.value is not None:
        out["value"] = p.value
    if p.unit is not None:
        out["unit"] = p.unit
    if p.bounds is not None:
        if p.bounds[0] is not None:
            out["lower"] = p.bounds[0]
        if p.bounds[1] is not None:
            out["upper"] = p.bounds[1]
    if p.distribution is not None:
        d = p.distribution.model_dump(mode="json")
        dist: dict[str, Any] = {"type": d.pop("type")}
        values = d.pop("values", None)
        dist["parameters"] = d
        if values is not None:
            dist["values"] = values
        out["distribution"] = dist
    if p.by_product is not None:
        out["byProduct"] = dict(p.by_product)
    if p.description is not None:
        out["description"] = p.description
    return out


def _bare(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def export_dtdl(twin: TwinSpec) -> dict[str, Any]:
    """The twin in Azure Digital Twins Explorer's import format (models, twins, relationships)."""
    if twin.has_node(TWIN_DTID):
        raise SpecError([Issue(f"node id {TWIN_DTID!r} is reserved for the twin itself in DTDL")])
    kinds = list(dict.fromkeys(n.kind for n in twin.nodes))
    models = [twin_interface(), *(kind_interface(k) for k in kinds)]
    twins: list[dict[str, Any]] = [
        {
            "$dtId": TWIN_DTID,
            "$metadata": {"$model": TWIN_MODEL},
            **_bare(
                name=twin.name,
                description=twin.description,
                currency=twin.currency,
                products=list(twin.products) or None,
                planning=(
                    {"demand": twin.planning.demand, "integerFlows": twin.planning.integer_flows}
                    if twin.planning
                    else None
                ),
                metadata=json.dumps(twin.metadata) if twin.metadata else None,
            ),
        }
    ]
    for n in twin.nodes:
        t: dict[str, Any] = {"$dtId": n.id, "$metadata": {"$model": KIND_MODEL.format(kind=n.kind)}}
        if CATALOG[n.kind].open_parameters:
            if n.parameters:
                t["parameters"] = {k: _quantity(p) for k, p in n.parameters.items()}
        else:
            t.update({k: _quantity(p) for k, p in n.parameters.items()})
        loc = n.location.model_dump(exclude_none=True) if n.location else None
        t.update(
            _bare(
                name=n.name,
                description=n.description,
                tags=list(n.tags) or None,
                location=loc,
                state={
                    k: _bare(
                        unit=s.unit,
                        initial=s.initial,
                        lower=s.bounds[0] if s.bounds else None,
                        upper=s.bounds[1] if s.bounds else None,
                        description=s.description,
                    )
                    for k, s in n.state.items()
                }
                or None,
                signals=[
                    _bare(
                        name=s.name,
                        state=s.state,
                        unit=s.unit,
                        period=s.period if isinstance(s.period, str) else None,
                        periodSeconds=float(s.period) if not isinstance(s.period, str) else None,
                        noiseStd=s.noise_std,
                        rangeLow=s.range[0] if s.range else None,
                        rangeHigh=s.range[1] if s.range else None,
                        description=s.description,
                    )
                    for s in n.signals
                ]
                or None,
                observes=n.observes,
                metadata=json.dumps(n.metadata) if n.metadata else None,
            )
        )
        twins.append(t)
    rels = []
    seen: dict[str, int] = {}
    for e in twin.edges:
        rid = e.key
        seen[rid] = seen.get(rid, 0) + 1
        if seen[rid] > 1:
            rid = f"{rid}#{seen[rid]}"
        r: dict[str, Any] = {
            "$relationshipId": rid,
            "$sourceId": e.source,
            "$targetId": e.target,
            "$relationshipName": e.kind,
        }
        r.update({k: _quantity(p) for k, p in e.parameters.items()})
        r.update(
            _bare(
                edgeId=e.id,
                description=e.description,
                tags=list(e.tags) or None,
                products=list(e.products) if e.products is not None else None,
                metadata=json.dumps(e.metadata) if e.metadata else None,
            )
        )
        rels.append(r)
    return {
        "digitalTwinsFileInfo": {"fileVersion": "1.0.0"},
        "digitalTwinsGraph": {"digitalTwins": twins, "relationships": rels},
        "digitalTwinsModels": models,
    }


def write_dtdl(twin: TwinSpec, out_dir: str | Path) -> list[Path]:
    """Write ``<twin>.dtdl.json`` (the whole export) and ``models/<kind>.json`` (one per Interface)."""
    data = export_dtdl(twin)
    problems = check_models(data["digitalTwinsModels"])
    if problems:
        raise SpecError(
            [Issue(p, code="dtdl") for p in problems], summary="the DTDL export breaks DTDL v3 rules"
        )
    out = Path(out_dir)
    (out / "models").mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", twin.name) or "twin"
    files = [out / f"{stem}.dtdl.json"]
    files[0].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for m in data["digitalTwinsModels"]:
        name = m["@id"].split(";")[0].split(":")[-1]
        f = out / "models" / f"{name}.json"
        f.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        files.append(f)
    return files


# -- checks -----------------------------------------------------------------------------------------
def check_models(models: list[dict[str, Any]]) -> list[str]:
    """Rules of DTDL v3 that this export must keep (our own checks: no DTDL parser ships for
    Python): context, DTMI syntax and uniqueness, Interface type, content names (syntax and
    uniqueness), content types, schemas that are primitive, inline complex or declared in the
    Interface, and description lengths."""
    out: list[str] = []
    ids: set[str] = set()
    prim = {"boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time"}
    for m in models:
        mid = m.get("@id", "?")
        if m.get("@context") != CONTEXT:
            out.append(f"{mid}: @context must be {CONTEXT!r}")
        if not isinstance(mid, str) or not DTMI_RE.match(mid):
            out.append(f"{mid}: not a valid DTMI")
        if mid in ids:
            out.append(f"{mid}: declared twice")
        ids.add(mid)
        if m.get("@type") != "Interface":
            out.append(f"{mid}: @type must be Interface")
        declared = {s["@id"] for s in m.get("schemas", [])}
        for s in m.get("schemas", []):
            if not DTMI_RE.match(s.get("@id", "")):
                out.append(f"{mid}: schema id {s.get('@id')!r} is not a valid DTMI")
        names: set[str] = set()
        for c in m.get("contents", []):
            name = c.get("name", "")
            if not NAME_RE.match(name) or len(name) > 512:
                out.append(f"{mid}: content name {name!r} breaks the DTDL name rules")
            if name in names:
                out.append(f"{mid}: content name {name!r} is used twice")
            names.add(name)
            if c.get("@type") not in ("Property", "Telemetry", "Relationship", "Command", "Component"):
                out.append(f"{mid}.{name}: unknown content type {c.get('@type')!r}")
            for text in ("description", "comment"):
                if len(c.get(text, "")) > 512:
                    out.append(f"{mid}.{name}: {text} longer than 512 characters")
            schemas = [c.get("schema")] if "schema" in c else []
            schemas += [p.get("schema") for p in c.get("properties", [])]
            for s in schemas:
                _check_schema(s, prim, declared, f"{mid}.{name}", out)
    return out


def _check_schema(s: Any, prim: set[str], declared: set[str], where: str, out: list[str]) -> None:
    if isinstance(s, str):
        if s not in prim and s not in declared:
            out.append(f"{where}: schema {s!r} is neither primitive nor declared in the Interface")
        return
    if not isinstance(s, dict) or s.get("@type") not in ("Object", "Map", "Array", "Enum"):
        out.append(f"{where}: malformed schema {s!r:.80}")
        return
    if s["@type"] == "Object":
        for f in s.get("fields", []):
            if not NAME_RE.match(f.get("name", "")):
                out.append(f"{where}: field name {f.get('name')!r} breaks the DTDL name rules")
            _check_schema(f.get("schema"), prim, declared, where, out)
    elif s["@type"] == "Map":
        _check_schema(s["mapValue"]["schema"], prim, declared, where, out)
    elif s["@type"] == "Array":
        _check_schema(s.get("elementSchema"), prim, declared, where, out)


# -- import -----------------------------------------------------------------------------------------
def _param(q: Any, where: tuple[str | int, ...], issues: list[Issue], file: str) -> Any:
    if not isinstance(q, dict):
        issues.append(
            Issue("a parameter must be a Quantity object", path=where, file=file, code="wrong-type")
        )
        return None
    unknown = set(q) - {"value", "unit", "lower", "upper", "distribution", "byProduct", "description"}
    if unknown:
        issues.append(
            Issue(f"unknown Quantity field(s) {sorted(unknown)}", path=where, file=file, code="unknown-field")
        )
    out: dict[str, Any] = _bare(value=q.get("value"), unit=q.get("unit"), description=q.get("description"))
    if "lower" in q or "upper" in q:
        out["bounds"] = [q.get("lower"), q.get("upper")]
    if "distribution" in q:
        d = q["distribution"]
        if isinstance(d, dict):
            dist = {"type": d.get("type"), **(d.get("parameters") or {})}
            if "values" in d:
                dist["values"] = d["values"]
            out["distribution"] = dist
        else:
            out["distribution"] = d
    if "byProduct" in q:
        out["by_product"] = q["byProduct"]
    return out


def _meta(text: Any, where: tuple[str | int, ...], issues: list[Issue], file: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError as exc:
        issues.append(Issue(f"metadata is not JSON text: {exc}", path=where, file=file, code="wrong-type"))
        return None


def import_dtdl(data: Any, file: str = "<dtdl>") -> TwinSpec:
    """Read a twin from the export of :func:`export_dtdl` (Azure Digital Twins Explorer format)."""
    issues: list[Issue] = []

    def fail(msg: str, path: tuple[str | int, ...] = (), code: str = "invalid") -> SpecError:
        return SpecError([Issue(msg, path=path, file=file, code=code)], summary=f"cannot import DTDL {file}")

    if not isinstance(data, dict) or not isinstance(data.get("digitalTwinsGraph"), dict):
        raise fail(
            "not a DTDL twin export: expected an object with 'digitalTwinsGraph' "
            "(digitalTwins, relationships) and 'digitalTwinsModels'",
            code="wrong-type",
        )
    graph = data["digitalTwinsGraph"]
    dts = graph.get("digitalTwins")
    rels = graph.get("relationships", [])
    if not isinstance(dts, list) or not isinstance(rels, list):
        raise fail("digitalTwins and relationships must be lists", ("digitalTwinsGraph",), "wrong-type")
    models = data.get("digitalTwinsModels", [])
    model_ids = {m.get("@id") for m in models if isinstance(m, dict)} if isinstance(models, list) else set()

    spec: dict[str, Any] = {"twinforge": 1, "name": None, "nodes": [], "edges": []}
    for i, t in enumerate(dts):
        path: tuple[str | int, ...] = ("digitalTwinsGraph", "digitalTwins", i)
        if not isinstance(t, dict) or not isinstance(t.get("$dtId"), str):
            issues.append(
                Issue("a digital twin needs a string $dtId", path=path, file=file, code="missing-field")
            )
            continue
        dtid = t["$dtId"]
        model = (t.get("$metadata") or {}).get("$model") if isinstance(t.get("$metadata"), dict) else None
        if model == TWIN_MODEL:
            spec["name"] = t.get("name")
            spec.update(
                _bare(
                    description=t.get("description"),
                    currency=t.get("currency"),
                    products=t.get("products"),
                    planning=(
                        {
                            "demand": t["planning"].get("demand"),
                            "integer_flows": t["planning"].get("integerFlows"),
                        }
                        if isinstance(t.get("planning"), dict)
                        else None
                    ),
                    metadata=_meta(t.get("metadata"), (*path, "metadata"), issues, file),
                )
            )
            continue
        m = _KIND_RE.match(model or "")
        if m is None or m.group(1) not in CATALOG:
            known = ", ".join(KIND_MODEL.format(kind=k) for k in CATALOG)
            issues.append(
                Issue(
                    f"twin {dtid!r} uses model {model!r}, which is not a twinforge kind",
                    path=(*path, "$metadata", "$model"),
                    file=file,
                    code="unknown-kind",
                    expected=f"one of {known}",
                )
            )
            continue
        if model_ids and model not in model_ids:
            issues.append(
                Issue(
                    f"twin {dtid!r} uses model {model!r}, which digitalTwinsModels does not declare",
                    path=(*path, "$metadata", "$model"),
                    file=file,
                    code="unknown-kind",
                )
            )
        kind = m.group(1)
        kd = CATALOG[kind]
        node: dict[str, Any] = {"id": dtid, "kind": kind}
        params: dict[str, Any] = {}
        for key, value in t.items():
            if key.startswith("$"):
                continue
            kpath = (*path, key)
            if key in kd.params:
                params[key] = _param(value, kpath, issues, file)
            elif key == "parameters" and kd.open_parameters and isinstance(value, dict):
                params.update({k: _param(v, (*kpath, k), issues, file) for k, v in value.items()})
            elif key == "state" and isinstance(value, dict):
                node["state"] = {
                    k: _bare(
                        unit=v.get("unit"),
                        initial=v.get("initial"),
                        description=v.get("description"),
                        bounds=[v.get("lower"), v.get("upper")] if ("lower" in v or "upper" in v) else None,
                    )
                    for k, v in value.items()
                    if isinstance(v, dict)
                }
            elif key == "signals" and isinstance(value, list):
                node["signals"] = [
                    _bare(
                        name=s.get("name"),
                        state=s.get("state"),
                        unit=s.get("unit"),
                        period=s.get("period", s.get("periodSeconds")),
                        noise_std=s.get("noiseStd"),
                        range=[s["rangeLow"], s["rangeHigh"]]
                        if "rangeLow" in s and "rangeHigh" in s
                        else None,
                        description=s.get("description"),
                    )
                    for s in value
                    if isinstance(s, dict)
                ]
            elif key == "metadata":
                meta = _meta(value, kpath, issues, file)
                if meta is not None:
                    node["metadata"] = meta
            elif key in ("name", "description", "tags", "location", "observes"):
                node[key] = value
            else:
                valid = [*kd.params, *NODE_FIELDS] + (["parameters"] if kd.open_parameters else [])
                issues.append(
                    Issue(
                        f"twin {dtid!r} (kind {kind}) has unknown property {key!r}",
                        path=kpath,
                        file=file,
                        code="unknown-parameter",
                        expected="one of " + ", ".join(valid),
                    )
                )
        if params:
            node["parameters"] = params
        spec["nodes"].append(node)
    if spec["name"] is None:
        issues.append(
            Issue(
                f"no twin instance {TWIN_DTID!r} of {TWIN_MODEL} (the twin's name, currency and products)",
                path=("digitalTwinsGraph", "digitalTwins"),
                file=file,
                code="missing-field",
            )
        )
    for i, r in enumerate(rels):
        path = ("digitalTwinsGraph", "relationships", i)
        if not isinstance(r, dict):
            issues.append(Issue("a relationship must be an object", path=path, file=file, code="wrong-type"))
            continue
        kind = r.get("$relationshipName")
        if kind not in EDGE_CATALOG:
            issues.append(
                Issue(
                    f"relationship {r.get('$relationshipId')!r} has unknown name {kind!r}",
                    path=(*path, "$relationshipName"),
                    file=file,
                    code="unknown-kind",
                    expected="one of " + ", ".join(EDGE_CATALOG),
                )
            )
            continue
        edge: dict[str, Any] = {"source": r.get("$sourceId"), "target": r.get("$targetId"), "kind": kind}
        params = {}
        for key, value in r.items():
            if key.startswith("$"):
                continue
            if key in EDGE_CATALOG[kind].params:
                params[key] = _param(value, (*path, key), issues, file)
            elif key == "edgeId":
                edge["id"] = value
            elif key == "metadata":
                meta = _meta(value, (*path, key), issues, file)
                if meta is not None:
                    edge["metadata"] = meta
            elif key in ("description", "tags", "products"):
                edge[key] = value
            else:
                issues.append(
                    Issue(
                        f"relationship {r.get('$relationshipId')!r} has unknown property {key!r}",
                        path=(*path, key),
                        file=file,
                        code="unknown-parameter",
                        expected="one of " + ", ".join([*EDGE_CATALOG[kind].params, *EDGE_FIELDS]),
                    )
                )
        if params:
            edge["parameters"] = params
        spec["edges"].append(edge)
    if issues:
        raise SpecError(issues, summary=f"{len(issues)} error(s) in DTDL file {file}")
    return parse_spec(spec, file=file)


def load_dtdl(path: str | Path) -> TwinSpec:
    """Read a twin from a DTDL export file (bounded read, then :func:`import_dtdl`)."""
    text = read_text(path, "DTDL file")
    return import_dtdl(load_json(text, str(path), what=f"DTDL file {path}"), file=str(path))
