"""Validate a scenario against a twin and apply it.

Validation works by applying each intervention, in order, to a copy of the twin and recording
what goes wrong, so a later intervention is checked against the twin as earlier ones left it
(add an edge, then forbid flow on it). Every problem is collected in one pass.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twinforge.errors import Issue, IssueCollector, SpecError, UnitError, UnknownEntityError, did_you_mean
from twinforge.inputs import read_text
from twinforge.scenario.models import (
    INTERVENTION_OPS,
    AddEdge,
    Exclusive,
    ForbidFlow,
    Intervention,
    Outage,
    RemoveEdge,
    RemoveNode,
    RestrictPartners,
    ScaleDemand,
    ScaleParameter,
    Scenario,
    SetArrivalRate,
    SetParameter,
    Setpoint,
)
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG
from twinforge.spec.io import compose_with_lines, pydantic_issues
from twinforge.spec.models import Edge, Node, TwinSpec
from twinforge.spec.validate import validate_spec

#: Kinds that can be taken down by an outage.
OUTAGE_KINDS = {
    "source",
    "station",
    "conveyor",
    "pump",
    "valve",
    "plant",
    "warehouse",
    "supplier",
    "depot",
    "sensor",
}


class ScenarioError(SpecError):
    """A scenario does not fit its twin (or cannot be read). Carries every issue."""


@dataclass
class AppliedScenario:
    """A scenario applied to a twin: the changed twin plus what a run must still do."""

    base: TwinSpec
    twin: TwinSpec
    scenario: Scenario
    timed: list[Outage | Setpoint] = field(default_factory=list)
    constraints: list[ForbidFlow | RestrictPartners | Exclusive] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def descriptions(self) -> list[str]:
        return self.scenario.describe()

    def require_supported(self, ops: set[str], consumer: str) -> None:
        """Raise if the scenario holds interventions that ``consumer`` cannot honour."""
        bad = [(i, iv) for i, iv in enumerate(self.scenario.interventions) if iv.op not in ops]
        if bad:
            raise ScenarioError(
                [
                    Issue(
                        message=f"{consumer} cannot apply '{iv.op}' ({iv.describe()})",
                        path=("interventions", i, "op"),
                        code="unsupported",
                        expected="one of " + ", ".join(sorted(ops)),
                        found=iv.op,
                    )
                    for i, iv in bad
                ],
                summary=f"scenario {self.scenario.name!r} asks for what {consumer} cannot do",
            )


def _numbers(data: Any) -> list[float]:
    """Every float in a parameter's dumped data (value, distribution, per-product values)."""
    if isinstance(data, dict):
        return [x for v in data.values() for x in _numbers(v)]
    if isinstance(data, list | tuple):
        return [x for v in data for x in _numbers(v)]
    return [float(data)] if isinstance(data, int | float) and not isinstance(data, bool) else []


class _Applier:
    def __init__(self, twin: TwinSpec, c: IssueCollector) -> None:
        self.twin = twin
        self.c = c

    # -- lookups that report instead of raising --------------------------------------------
    def node(self, path, ref: str, kinds: set[str] | None = None, what: str = "node") -> Node | None:
        if not self.twin.has_node(ref):
            self.c.add(
                path,
                f"unknown {what} {ref!r}{did_you_mean(ref, self.twin.node_ids())}",
                code="unknown-node",
                found=ref,
            )
            return None
        node = self.twin.node(ref)
        if kinds is not None and node.kind not in kinds:
            self.c.add(
                path,
                f"{ref!r} is a {node.kind}; this intervention applies to: {', '.join(sorted(kinds))}",
                code="kind-rule",
                found=node.kind,
            )
            return None
        return node

    def edge(self, path, ref: str) -> Edge | None:
        try:
            return self.twin.edge(ref)
        except UnknownEntityError as exc:
            self.c.add(path, str(exc), code="unknown-edge", found=ref)
            return None

    def element(self, path, ref: str) -> Node | Edge | None:
        try:
            return self.twin.element(ref)
        except UnknownEntityError as exc:
            self.c.add(path, str(exc), code="unknown-entity", found=ref)
            return None

    def param(self, path, el: Node | Edge, name: str, setpoint: bool = False) -> bool:
        if isinstance(el, Node) and el.kind == "custom":
            if name not in el.parameters:
                self.c.add(path, f"custom node {el.id!r} has no parameter {name!r}", code="unknown-parameter")
                return False
            return True
        pdef = el.param_def(name)
        if pdef is None:
            from twinforge.spec.catalog import EDGE_CATALOG

            kd = CATALOG.get(el.kind) if isinstance(el, Node) else EDGE_CATALOG.get(el.kind)
            valid = list(kd.params) if kd else []
            who = f"a {el.kind}" if isinstance(el, Node) else f"a {el.kind} edge"
            self.c.add(
                path,
                f"{who} has no parameter {name!r}{did_you_mean(name, valid)}",
                code="unknown-parameter",
                expected="one of " + ", ".join(valid),
                found=name,
            )
            return False
        if setpoint and not pdef.setpoint:
            valid = [
                p for p, d in (CATALOG[el.kind].params.items() if isinstance(el, Node) else []) if d.setpoint
            ]
            self.c.add(
                path,
                f"{name!r} is not a setpoint of a {el.kind}",
                code="kind-rule",
                expected="one of " + (", ".join(valid) or "(none)"),
                found=name,
            )
            return False
        return True

    def _moved(self, issue: Issue, path) -> Issue:
        """An issue found on the twin, re-addressed to the intervention that caused it."""
        return dataclasses.replace(
            issue, path=tuple(path), file=self.c.file, line=self.c.line_of(tuple(path))
        )

    def guarded(self, path, fn) -> bool:
        """Run a twin mutation; record its errors at ``path``."""
        try:
            fn()
            return True
        except SpecError as exc:
            for issue in exc.errors:
                self.c.issues.append(self._moved(issue, path))
        except UnitError as exc:
            self.c.add(path, str(exc), code="unit-mismatch")
        except UnknownEntityError as exc:
            self.c.add(path, str(exc), code="unknown-entity")
        except ValidationError as exc:  # the changed value breaks a rule of the parameter itself
            for err in exc.errors():
                field_name = ".".join(str(x) for x in err["loc"])
                where = f"{exc.title} {field_name}".strip() if field_name else exc.title
                self.c.add(
                    path,
                    f"the result is not a valid value: {where}: {err['msg'].removeprefix('Value error, ')}",
                    code="out-of-bounds",
                    found=err.get("input") if isinstance(err.get("input"), int | float) else None,
                )
        return False

    def scale(self, path, iv: ScaleParameter | ScaleDemand, target: str, parameter: str) -> None:
        """Scale a parameter; refuse a result that the parameter's rules or float range cannot hold."""
        if not self.guarded(path, lambda: self.twin.scale(target, parameter, iv.factor, product=iv.product)):
            return
        scaled = self.twin.element(target).parameters[parameter]
        if not all(math.isfinite(x) for x in _numbers(scaled.model_dump())):
            self.c.add(
                path,
                f"scaling {target}.{parameter} by {iv.factor:g} gives a number too large to hold",
                code="out-of-bounds",
                found=iv.factor,
            )

    # -- each intervention -----------------------------------------------------------------
    def apply(self, i: int, iv: Intervention, out: AppliedScenario) -> None:
        path = ("interventions", i)
        match iv:
            case SetParameter():
                el = self.element((*path, "target"), iv.target)
                if el is not None and self.param((*path, "parameter"), el, iv.parameter):
                    self.guarded(
                        (*path, "value"),
                        lambda: self.twin.set(
                            iv.target, iv.parameter, iv.value, unit=iv.unit, product=iv.product
                        ),
                    )
            case ScaleParameter():
                el = self.element((*path, "target"), iv.target)
                if el is not None and self.param((*path, "parameter"), el, iv.parameter):
                    self.scale((*path, "factor"), iv, iv.target, iv.parameter)
            case Outage():
                if self.node((*path, "target"), iv.target, OUTAGE_KINDS) is not None:
                    if iv.duration <= 0:
                        self.c.add(
                            (*path, "duration"),
                            "an outage needs a positive duration",
                            code="out-of-bounds",
                            found=iv.duration,
                        )
                    else:
                        out.timed.append(iv)
            case RemoveNode():
                if self.node((*path, "target"), iv.target) is not None:
                    self.twin.nodes = [n for n in self.twin.nodes if n.id != iv.target]
                    self.twin.edges = [e for e in self.twin.edges if iv.target not in (e.source, e.target)]
                    for n in self.twin.nodes:
                        if n.observes and n.observes.split(".", 1)[0] == iv.target:
                            self.c.add(
                                (*path, "target"),
                                f"sensor {n.id!r} observed {iv.target!r} and is removed with it",
                                code="cascade",
                                severity="warning",
                            )
                    self.twin.nodes = [
                        n
                        for n in self.twin.nodes
                        if not (n.observes and n.observes.split(".", 1)[0] == iv.target)
                    ]
            case AddEdge():
                self._add_edge(path, iv)
            case RemoveEdge():
                e = self.edge((*path, "target"), iv.target)
                if e is not None:
                    self.twin.edges = [x for x in self.twin.edges if x is not e]
            case SetArrivalRate():
                if self.node((*path, "target"), iv.target, {"source"}) is not None:
                    self._set_arrival_rate(path, iv)
            case Setpoint():
                el = self.node((*path, "target"), iv.target)
                if el is not None and self.param((*path, "parameter"), el, iv.parameter, setpoint=True):
                    probe = self.twin.copy_deep()
                    if self.guarded(
                        (*path, "value"), lambda: probe.set(iv.target, iv.parameter, iv.value, unit=iv.unit)
                    ):
                        out.timed.append(iv)
            case ScaleDemand():
                self._scale_demand(path, iv)
            case ForbidFlow():
                e = self.edge((*path, "edge"), iv.edge)
                if e is not None:
                    if e.kind != "material":
                        self.c.add(
                            (*path, "edge"),
                            f"{e.key!r} is a {e.kind} edge; only material flows can be forbidden",
                            code="kind-rule",
                        )
                    elif self._product_ok((*path, "product"), iv.product):
                        out.constraints.append(iv)
            case RestrictPartners():
                self._restrict(path, iv, out)
            case Exclusive():
                a, b = iv.nodes
                ok = self.node((*path, "nodes", 0), a) is not None
                ok = self.node((*path, "nodes", 1), b) is not None and ok
                if ok and a == b:
                    self.c.add(
                        (*path, "nodes"),
                        "exclusivity needs two different nodes",
                        code="kind-rule",
                        found=[a, b],
                    )
                elif ok:
                    out.constraints.append(iv)

    def _product_ok(self, path, product: str | None) -> bool:
        if product is None or product in self.twin.products:
            return True
        self.c.add(
            path,
            f"unknown product {product!r}{did_you_mean(product, self.twin.products)}",
            code="unknown-product",
            expected="one of " + (", ".join(self.twin.products) or "(no products)"),
            found=product,
        )
        return False

    def _add_edge(self, path, iv: AddEdge) -> None:
        e = iv.edge
        ok = self.node((*path, "edge", "source"), e.source) is not None
        ok = self.node((*path, "edge", "target"), e.target) is not None and ok
        if not ok:
            return
        if any(x.key == e.key for x in self.twin.edges):
            self.c.add((*path, "edge"), f"edge {e.key!r} already exists", code="duplicate-id", found=e.key)
            return
        probe = self.twin.model_copy(update={"edges": [*self.twin.edges, e.model_copy(deep=True)]}, deep=True)
        idx = len(probe.edges) - 1
        problems = [x for x in validate_spec(probe) if x.severity == "error" and x.path[:2] == ("edges", idx)]
        for x in problems:
            self.c.issues.append(self._moved(x, (*path, "edge", *x.path[2:])))
        if not problems:
            self.twin.edges.append(e.model_copy(deep=True))

    def _set_arrival_rate(self, path, iv: SetArrivalRate) -> None:
        try:
            dim = units.parse_unit(iv.unit).dimensionality
            per_item = dim == units.parse_unit("item/h").dimensionality
            if not per_item and dim != units.parse_unit("1/h").dimensionality:
                raise UnitError(f"{iv.unit!r} is not a rate")
            rate_per_s = units.convert(iv.rate, iv.unit, "item/s" if per_item else "1/s")
        except UnitError as exc:
            self.c.add(
                (*path, "unit"),
                str(exc),
                code="unit-mismatch",
                expected="arrivals per time, e.g. '1/h' or 'item/h'",
                found=iv.unit,
            )
            return
        batch = self.twin.get(iv.target, "batch_size") if per_item else 1.0
        self.guarded(
            (*path, "rate"),
            lambda: self.twin.set(iv.target, "interarrival_time", batch / rate_per_s, unit="s"),
        )

    def _scale_demand(self, path, iv: ScaleDemand) -> None:
        if not self._product_ok((*path, "product"), iv.product):
            return
        if iv.targets is None:
            # every customer that has this demand: one that never buys the product is left alone
            targets = [
                n.id
                for n in self.twin.nodes
                if n.kind == "customer"
                and "demand" in n.parameters
                and (iv.product is None or n.parameters["demand"].for_product(iv.product) is not None)
            ]
            if not targets:
                what = f" of {iv.product}" if iv.product else ""
                self.c.add(path, f"the twin has no customer with a demand{what} to scale", code="kind-rule")
                return
        else:
            targets = [
                t
                for k, t in enumerate(iv.targets)
                if self.node((*path, "targets", k), t, {"customer"}) is not None
            ]
        for t in targets:
            self.scale((*path, "factor"), iv, t, "demand")

    def _restrict(self, path, iv: RestrictPartners, out: AppliedScenario) -> None:
        if self.node((*path, "target"), iv.target) is None:
            return
        g = self.twin.graph()
        if iv.direction == "serve_only":
            linked, verb = g.successors(iv.target, "material"), "ships to"
        else:
            linked, verb = g.predecessors(iv.target, "material"), "buys from"
        ok = True
        for k, p in enumerate(iv.partners):
            if self.node((*path, "partners", k), p) is None:
                ok = False
            elif p not in linked:
                self.c.add(
                    (*path, "partners", k),
                    f"{iv.target!r} never {verb} {p!r} (no material edge)",
                    code="kind-rule",
                    expected="one of " + (", ".join(linked) or "(none)"),
                    found=p,
                )
                ok = False
        if ok:
            out.constraints.append(iv)


def _recheck(base: TwinSpec, work: TwinSpec, c: IssueCollector) -> None:
    """Rules that span parameters (a tank's initial level within its capacity, ...): the changed
    twin must keep every rule the base twin kept. Problems the base twin already had are not the
    scenario's."""
    before = {(x.path, x.message) for x in validate_spec(base) if x.severity == "error"}
    for x in validate_spec(work):
        if x.severity != "error" or (x.path, x.message) in before:
            continue
        where = x.dotted_path
        if len(x.path) > 1 and x.path[0] in ("nodes", "edges") and isinstance(x.path[1], int):
            element = getattr(work, str(x.path[0]))[x.path[1]]
            name = element.id if x.path[0] == "nodes" else element.key
            where = f"{str(x.path[0])[:-1]} {name!r}"
        c.add(
            (), f"after the scenario, {where}: {x.message}", code=x.code, expected=x.expected, found=x.found
        )


def apply_scenario(twin: TwinSpec, scenario: Scenario, file: str | None = None) -> AppliedScenario:
    """Validate ``scenario`` against ``twin`` and apply it; the base twin is not modified.

    Raises :class:`ScenarioError` with every problem found.
    """
    c = IssueCollector(file=file or "<scenario>")
    work = twin.copy_deep()
    out = AppliedScenario(base=twin, twin=work, scenario=scenario)
    applier = _Applier(work, c)
    if scenario.twin is not None and scenario.twin != twin.name:
        c.add(
            ("twin",),
            f"scenario was written for twin {scenario.twin!r}, not {twin.name!r}",
            code="wrong-twin",
            expected=twin.name,
            found=scenario.twin,
        )
    for i, iv in enumerate(scenario.interventions):
        applier.apply(i, iv, out)
    if not c.errors:
        _recheck(twin, work, c)
    if c.errors:
        raise ScenarioError(c.issues, summary=f"scenario {scenario.name!r} does not fit twin {twin.name!r}")
    out.warnings = [x for x in c.issues if x.severity == "warning"]
    work.metadata = {**work.metadata, "scenario": scenario.name}
    return out


def validate_scenario(twin: TwinSpec, scenario: Scenario) -> list[Issue]:
    """Every issue of ``scenario`` against ``twin`` (empty when it applies cleanly)."""
    try:
        return apply_scenario(twin, scenario).warnings
    except ScenarioError as exc:
        return exc.issues


# -- io -----------------------------------------------------------------------------------------


def parse_scenario(data: Any, file: str = "<scenario>", lines: dict | None = None) -> Scenario:
    c = IssueCollector(file=file, lines=dict(lines or {}))
    if not isinstance(data, dict):
        c.add((), "a scenario must be a mapping with 'name' and 'interventions'", code="wrong-type")
        raise ScenarioError(c.issues, summary=f"cannot read scenario {file}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        pydantic_issues(exc, (), c, union_tags=frozenset(INTERVENTION_OPS))
        raise ScenarioError(c.issues, summary=f"{len(c.errors)} error(s) in scenario {file}") from None


def loads_scenario(text: str, file: str = "<string>") -> Scenario:
    c = IssueCollector(file=file)
    try:
        data, lines = compose_with_lines(text, file, c, what="scenario")
    except SpecError as exc:
        raise ScenarioError(exc.issues, summary=f"cannot parse scenario {file}") from None
    if c.errors:
        raise ScenarioError(c.issues, summary=f"cannot parse scenario {file}")
    return parse_scenario(data, file, lines)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (within the bounds of :mod:`twinforge.inputs`) and check its form."""
    p = Path(path)
    try:
        text = read_text(p, "scenario")
    except SpecError as exc:
        raise ScenarioError(exc.issues, summary=f"cannot read scenario {p}") from None
    return loads_scenario(text, file=str(p))


def dumps_scenario(scenario: Scenario) -> str:
    import yaml

    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
