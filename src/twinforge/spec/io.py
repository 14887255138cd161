"""Reading and writing twin specs (YAML or JSON) with errors that point at file, line and field."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from twinforge.errors import IssueCollector, SpecError
from twinforge.inputs import load_json, parse_yaml, read_text
from twinforge.spec.models import SPEC_VERSION, Edge, Node, TwinSpec
from twinforge.spec.validate import validate_spec

LineMap = dict[tuple[str | int, ...], int]


def compose_with_lines(
    text: str, file: str, c: IssueCollector, what: str = "twin spec"
) -> tuple[Any, LineMap]:
    """Parse YAML (within the bounds of :mod:`twinforge.inputs`) and map field paths to line numbers.

    Duplicate keys in one mapping are added to ``c`` as errors; a document that cannot be read at
    all raises :class:`SpecError`.
    """
    doc = parse_yaml(text, file, what=f"{what} {file}")
    lines: LineMap = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else f"<{type(k).__name__}>"
                kpath = (*path, key)
                if key in seen:
                    c.lines[kpath] = k.start_mark.line + 1
                    c.add(
                        kpath,
                        f"key {key!r} appears twice in the same mapping (first on line {seen[key]})",
                        code="duplicate-key",
                    )
                seen[key] = k.start_mark.line + 1
                lines[kpath] = k.start_mark.line + 1
                walk(v, kpath)
                lines[kpath] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if doc.root is not None:
        walk(doc.root, ())
    return doc.data, lines


def pydantic_issues(
    exc: ValidationError,
    prefix: tuple[str | int, ...],
    c: IssueCollector,
    union_tags: frozenset[str] = frozenset(),
) -> None:
    """Turn pydantic's errors into issues (dropping union-member names from the field paths)."""
    tags = _UNION_TAGS | union_tags
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p in tags or _MEMBER.match(p))))
        path = (*prefix, *loc)
        field_name = err["loc"][-1] if err["loc"] else None  # a field's own name is never a union tag
        msg = err["msg"]
        typ = err["type"]
        inp = err.get("input")
        found = None if typ == "missing" else inp
        expected = None
        if typ == "missing":
            msg = (
                f"missing required field {field_name!r}"
                if field_name is not None
                else "missing required field"
            )
        elif typ == "extra_forbidden":
            msg = f"unknown field {field_name!r}"
            found = None
        elif typ == "union_tag_invalid":
            expected = "one of " + err.get("ctx", {}).get("expected_tags", "")
        elif typ == "string_pattern_mismatch":
            expected = "letters, digits, '_' or '-', starting with a letter or '_'"
        code = {"missing": "missing-field", "extra_forbidden": "unknown-field"}.get(typ, "wrong-type")
        c.add(
            path,
            msg,
            code=code,
            expected=expected,
            found=found if isinstance(found, str | int | float | bool | None) else None,
        )


#: Names pydantic gives union members in error locations, e.g. ``function-after[_has_value(), Parameter]``.
_MEMBER = re.compile(r"^[\w-]+\[.*\]$")

_UNION_TAGS = {
    "constant",
    "exponential",
    "normal",
    "lognormal",
    "uniform",
    "triangular",
    "gamma",
    "erlang",
    "weibull",
    "empirical",
    "function-after[_has_value(), Parameter]",
    "Parameter",
}


def parse_spec(
    data: Any, file: str = "<spec>", lines: LineMap | None = None, collector: IssueCollector | None = None
) -> TwinSpec:
    """Validate already-parsed data into a :class:`TwinSpec`; raise :class:`SpecError` with every issue."""
    c = collector or IssueCollector(file=file)
    c.file = file
    if lines:
        c.lines.update(lines)
    if not isinstance(data, dict):
        c.add(
            (),
            "a twin spec must be a mapping with 'twinforge', 'name', 'nodes' and 'edges'",
            code="wrong-type",
            found=type(data).__name__,
        )
        raise SpecError(c.issues)
    version = data.get("twinforge")
    if version is None:
        c.add(
            (),
            "missing version header",
            code="missing-field",
            expected=f"'twinforge: {SPEC_VERSION}' at the top",
        )
    elif version != SPEC_VERSION:
        c.add(
            ("twinforge",),
            f"unsupported spec version {version!r}",
            code="unsupported-version",
            expected=str(SPEC_VERSION),
            found=version,
        )
    data = {**data, "twinforge": SPEC_VERSION}

    try:
        spec = TwinSpec.model_validate(data)
        skip: set[str] = set()
    except ValidationError as exc:
        pydantic_issues(exc, (), c)
        spec, skip = _salvage(data)
    validate_spec(spec, c, skip_ids=skip)
    if c.errors:
        raise SpecError(c.issues, summary=f"{len(c.errors)} error(s) in {file}")
    return spec


def _salvage(data: dict[str, Any]) -> tuple[TwinSpec, set[str]]:
    """Keep the parts that parse so their meaning can still be checked in the same pass."""
    nodes, edges, skip = [], [], set()
    for raw in _list(data.get("nodes")):
        try:
            nodes.append(Node.model_validate(raw))
        except ValidationError:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                skip.add(raw["id"])
    for raw in _list(data.get("edges")):
        with contextlib.suppress(ValidationError):
            edges.append(Edge.model_validate(raw))
    products = data.get("products")
    products = [p for p in products if isinstance(p, str)] if isinstance(products, list) else []
    currency = data.get("currency") if isinstance(data.get("currency"), str) else "EUR"
    name = data.get("name") if isinstance(data.get("name"), str) else "<unnamed>"
    return TwinSpec(name=name, currency=currency, products=products, nodes=nodes, edges=edges), skip


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def load_spec(source: str | Path) -> TwinSpec:
    """Load and validate a twin from a ``.yaml``/``.yml``/``.json`` file.

    The file is read within the bounds of :mod:`twinforge.inputs` (size, binary data, UTF-8, YAML
    depth, aliases and tags). Raises :class:`SpecError` listing every problem with file, line and
    field path.
    """
    path = Path(source)
    text = read_text(path, "twin spec")
    return loads_spec(text, file=str(source), fmt="json" if path.suffix.lower() == ".json" else "yaml")


def loads_spec(text: str, file: str = "<string>", fmt: str = "yaml") -> TwinSpec:
    """Load and validate a twin from YAML or JSON text."""
    c = IssueCollector(file=file)
    if fmt == "json":
        data = load_json(text, file, what=f"twin spec {file}")
        lines: LineMap = {}
    else:
        data, lines = compose_with_lines(text, file, c)
    return parse_spec(data, file=file, lines=lines, collector=c)


def spec_to_data(spec: TwinSpec, compact: bool = True) -> dict[str, Any]:
    """Plain data for a spec, in canonical field order. Compact form writes ``"2 min"`` for a
    parameter that is only a value and a unit."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=False)
    out: dict[str, Any] = {"twinforge": data.pop("twinforge")}
    out.update(data)
    for key in ("metadata", "products"):
        if not out.get(key):
            out.pop(key, None)
    if out.get("currency") == "EUR" and not _uses_money(spec):
        out.pop("currency")
    for group in ("nodes", "edges"):
        for el in out.get(group, []):
            for key in ("tags", "metadata", "parameters", "state", "signals"):
                if key in el and not el[key]:
                    el.pop(key)
            if compact and "parameters" in el:
                el["parameters"] = {k: _compact_param(v) for k, v in el["parameters"].items()}
            if group == "edges" and el.get("kind") == "material":
                el.pop("kind")
            for sig in el.get("signals", []):
                if sig.get("noise_std") == 0.0:
                    sig.pop("noise_std")
    return out


def _uses_money(spec: TwinSpec) -> bool:
    return any(
        "{currency}" in (el.param_def(p).unit if el.param_def(p) else "")
        for el in [*spec.nodes, *spec.edges]
        for p in el.parameters
    )


def _compact_param(p: dict[str, Any]) -> Any:
    if set(p) <= {"value", "unit"} and "value" in p:
        value = p["value"]
        value = int(value) if float(value).is_integer() and abs(value) < 1e15 else value
        return f"{value} {p['unit']}" if p.get("unit") else value
    return p


def dumps_spec(spec: TwinSpec, fmt: str = "yaml") -> str:
    data = spec_to_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def dump_spec(spec: TwinSpec, path: str | Path) -> None:
    p = Path(path)
    p.write_text(dumps_spec(spec, "json" if p.suffix.lower() == ".json" else "yaml"), encoding="utf-8")
