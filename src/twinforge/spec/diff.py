"""Differences between two twins: nodes and edges added or removed, parameters changed (compared
after unit conversion, so ``2 min`` equals ``120 s``), and metadata changed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from twinforge.errors import UnitError
from twinforge.spec import units
from twinforge.spec.models import Edge, Node, Parameter, TwinSpec

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    change: ChangeKind
    element: str  # "twin", "node", "edge"
    ref: str  # node id / edge key / field name
    field: str | None = None  # e.g. "parameters.process_time", "kind"
    before: Any = None
    after: Any = None

    def render(self) -> str:
        where = f"{self.element} {self.ref}" + (f" {self.field}" if self.field else "")
        if self.change == "changed":
            return f"~ {where}: {self.before} -> {self.after}"
        sign = "+" if self.change == "added" else "-"
        return f"{sign} {where}" + (
            f": {self.after if self.change == 'added' else self.before}" if self.field else ""
        )


@dataclass(frozen=True)
class SpecDiff:
    changes: list[Change]

    @property
    def empty(self) -> bool:
        return not self.changes

    def __iter__(self):
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def render(self) -> str:
        return "\n".join(c.render() for c in self.changes) if self.changes else "no differences"

    def by_element(self, ref: str) -> list[Change]:
        return [c for c in self.changes if c.ref == ref]


def _show_param(p: Parameter | None) -> str | None:
    if p is None:
        return None
    parts = []
    if p.value is not None:
        parts.append(f"{p.value:g} {p.unit or ''}".strip())
    if p.distribution is not None:
        parts.append(p.distribution.describe() + (f" {p.unit}" if p.unit and p.value is None else ""))
    if p.by_product:
        parts.append(
            "{"
            + ", ".join(f"{k}: {v:g}" for k, v in p.by_product.items())
            + "}"
            + (f" {p.unit}" if p.unit else "")
        )
    if p.bounds is not None:
        parts.append(f"bounds {list(p.bounds)}")
    return "; ".join(parts)


def _normalised(p: Parameter, unit: str | None) -> tuple:
    """A parameter as comparable numbers in ``unit`` (its catalogue unit)."""
    src = p.unit or unit

    def conv(x: float | None) -> float | None:
        if x is None or unit is None or src is None:
            return x
        return units.convert(x, src, unit)

    dist = None
    if p.distribution is not None:
        factor = units.conversion_factor(src, unit) if unit is not None and src is not None else 1.0
        d = p.distribution.scaled(factor)
        dist = (d.type, d.mean(), d.std())
    bounds = None if p.bounds is None else tuple(conv(b) for b in p.bounds)
    by_product = {k: conv(v) for k, v in (p.by_product or {}).items()}
    return (conv(p.value), dist, by_product, bounds)


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(x, tuple | list) and isinstance(y, tuple | list):
        return len(x) == len(y) and all(_close(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    return x == y


def _same_param(a: Parameter, b: Parameter, unit: str | None) -> bool:
    """Equal after converting both to ``unit`` (the catalogue unit) where possible."""
    try:
        return _close(_normalised(a, unit), _normalised(b, unit))
    except UnitError:
        return a == b


def _diff_fields(
    element: str, ref: str, a: Node | Edge, b: Node | Edge, spec_b: TwinSpec, out: list[Change]
) -> None:
    skip = {"parameters", "id"}
    da = a.model_dump(mode="json", exclude=skip)
    db = b.model_dump(mode="json", exclude=skip)
    for key in sorted(set(da) | set(db)):
        if da.get(key) != db.get(key):
            out.append(Change("changed", element, ref, key, da.get(key), db.get(key)))
    for name in sorted(set(a.parameters) | set(b.parameters)):
        pa, pb = a.parameters.get(name), b.parameters.get(name)
        f = f"parameters.{name}"
        if pa is None:
            out.append(Change("added", element, ref, f, None, _show_param(pb)))
        elif pb is None:
            out.append(Change("removed", element, ref, f, _show_param(pa), None))
        else:
            pdef = b.param_def(name)
            unit = pdef.unit_for(spec_b.currency) if pdef else (pb.unit or pa.unit)
            if not _same_param(pa, pb, unit):
                out.append(Change("changed", element, ref, f, _show_param(pa), _show_param(pb)))


def diff_specs(a: TwinSpec, b: TwinSpec) -> SpecDiff:
    """What changed from twin ``a`` to twin ``b``."""
    out: list[Change] = []
    for key in ("name", "description", "currency", "products", "metadata"):
        va, vb = getattr(a, key), getattr(b, key)
        if va != vb:
            out.append(Change("changed", "twin", a.name, key, va, vb))
    na = {n.id: n for n in a.nodes}
    nb = {n.id: n for n in b.nodes}
    for nid in na:
        if nid not in nb:
            out.append(Change("removed", "node", nid, None, na[nid].kind, None))
    for nid in nb:
        if nid not in na:
            out.append(Change("added", "node", nid, None, None, nb[nid].kind))
        else:
            _diff_fields("node", nid, na[nid], nb[nid], b, out)
    ea = {e.key: e for e in a.edges}
    eb = {e.key: e for e in b.edges}
    for key in ea:
        if key not in eb:
            out.append(Change("removed", "edge", key, None, ea[key].kind, None))
    for key in eb:
        if key not in ea:
            out.append(Change("added", "edge", key, None, None, eb[key].kind))
        else:
            _diff_fields("edge", key, ea[key], eb[key], b, out)
    return SpecDiff(out)
