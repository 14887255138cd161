"""Semantic validation of a twin: every rule, every issue, in one pass.

Structure (types, required fields) is pydantic's job; this module checks meaning: known kinds and
parameters, units, physical bounds, references between elements, and the rules of each kind.
"""

from __future__ import annotations

import math
from collections import Counter

from twinforge.errors import Issue, IssueCollector, SpecError, UnitError, did_you_mean
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG, ParamDef, all_kind_names
from twinforge.spec.models import Edge, Node, Parameter, TwinSpec

Path = tuple[str | int, ...]


def _fmt_bounds(lo: float, hi: float, unit: str) -> str:
    lo_s = "-inf" if lo == -math.inf else f"{lo:g}"
    hi_s = "inf" if hi == math.inf else f"{hi:g}"
    return f"a value in [{lo_s}, {hi_s}] {unit}".rstrip()


#: what flows through a node of each kind: a material edge joins two nodes of the same domain
_DOMAIN = {
    **dict.fromkeys(("source", "station", "buffer", "conveyor", "sink"), "discrete items"),
    **dict.fromkeys(("tank", "pump", "valve"), "liquid"),  # a junction joins either
    **dict.fromkeys(("supplier", "plant", "warehouse", "customer", "depot"), "network flows"),
}


def validate_spec(
    spec: TwinSpec, collector: IssueCollector | None = None, skip_ids: set[str] | None = None
) -> list[Issue]:
    """Check the meaning of a twin. Returns all issues (errors and warnings).

    ``skip_ids`` names elements that exist in the source file but failed structural parsing:
    references to them are not reported again.
    """
    c = collector or IssueCollector()
    skip = skip_ids or set()
    node_index: dict[str, int] = {}

    # products
    for prod, count in Counter(spec.products).items():
        if count > 1:
            c.add(("products",), f"product {prod!r} is listed {count} times", code="duplicate-id")

    try:
        units.parse_unit(spec.currency)
        if spec.currency not in units.CURRENCIES:
            raise UnitError(spec.currency)
    except UnitError:
        c.add(
            ("currency",),
            f"unknown currency {spec.currency!r}",
            code="unknown-unit",
            expected=f"one of {', '.join(units.CURRENCIES)}",
            found=spec.currency,
        )

    # nodes
    for i, node in enumerate(spec.nodes):
        if node.id in node_index:
            c.add(
                (("nodes", i, "id")),
                f"duplicate node id {node.id!r} (first defined at nodes[{node_index[node.id]}])",
                code="duplicate-id",
                found=node.id,
            )
        else:
            node_index[node.id] = i
        _check_node(c, spec, node, ("nodes", i))

    known_ids = set(node_index) | skip

    # sensors and signal references need the node index
    for i, node in enumerate(spec.nodes):
        _check_references(c, spec, node, ("nodes", i), known_ids, skip)

    # edges
    edge_keys: dict[str, int] = {}
    for j, edge in enumerate(spec.edges):
        path: Path = ("edges", j)
        if edge.key in edge_keys:
            c.add(
                path,
                f"duplicate edge {edge.key!r} (first at edges[{edge_keys[edge.key]}]); "
                "give parallel edges distinct ids",
                code="duplicate-id",
                found=edge.key,
            )
        else:
            edge_keys[edge.key] = j
        if edge.id is not None and edge.id in node_index:
            c.add((*path, "id"), f"edge id {edge.id!r} is also a node id", code="duplicate-id")
        _check_edge(c, spec, edge, path, known_ids, node_index)

    _check_kind_rules(c, spec, node_index)
    return c.issues


def validate_spec_or_raise(spec: TwinSpec, file: str | None = None) -> list[Issue]:
    c = IssueCollector(file=file)
    issues = validate_spec(spec, c)
    if any(i.severity == "error" for i in issues):
        raise SpecError(issues)
    return issues


# -- nodes ---------------------------------------------------------------------------------


def _check_node(c: IssueCollector, spec: TwinSpec, node: Node, path: Path) -> None:
    kd = CATALOG.get(node.kind)
    if kd is None:
        c.add(
            (*path, "kind"),
            f"unknown kind {node.kind!r} for node {node.id!r}{did_you_mean(node.kind, all_kind_names())}",
            code="unknown-kind",
            expected=None if did_you_mean(node.kind, all_kind_names()) else "one of " + ", ".join(CATALOG),
            found=node.kind,
        )
        return
    for name, param in node.parameters.items():
        ppath = (*path, "parameters", name)
        pdef = kd.params.get(name)
        if pdef is None and not kd.open_parameters:
            c.add(
                ppath,
                f"unknown parameter {name!r} for kind {node.kind!r}{did_you_mean(name, list(kd.params))}",
                code="unknown-parameter",
                expected="one of " + (", ".join(kd.params) or "(none)"),
                found=name,
            )
            continue
        _check_param(c, spec, ppath, param, pdef, f"node {node.id!r}")
    for name, pdef in kd.params.items():
        if pdef.required and name not in node.parameters:
            c.add(
                (*path, "parameters"),
                f"node {node.id!r} (kind {node.kind}) needs parameter {name!r}",
                code="missing-field",
                expected=f"{name} in {pdef.unit_for(spec.currency) or 'dimensionless'}",
            )

    for name, sv in node.state.items():
        spath = (*path, "state", name)
        sdef = kd.states.get(name)
        unit = sv.unit if sv.unit is not None else (sdef.unit if sdef else None)
        if sdef is None and sv.unit is None and not kd.open_parameters:
            # a new state variable must say its unit (dimensionless: "")
            c.add(
                spath,
                f"state {name!r} is not a standard state of kind {node.kind!r} and has no unit",
                code="missing-field",
                expected="a unit (use '' for dimensionless)",
            )
        if unit is not None and not _unit_ok(c, (*spath, "unit"), unit):
            continue
        if sdef is not None and sv.unit is not None and not units.compatible(sv.unit, sdef.unit):
            c.add(
                (*spath, "unit"),
                f"unit of state {name!r} does not match its kind",
                code="unit-mismatch",
                expected=units.dimension_name(sdef.unit),
                found=sv.unit,
            )
        if (
            sv.bounds is not None
            and sv.bounds[0] is not None
            and sv.bounds[1] is not None
            and sv.bounds[0] > sv.bounds[1]
        ):
            c.add(
                (*spath, "bounds"), "lower bound above upper bound", code="bad-bounds", found=list(sv.bounds)
            )
        if sv.initial is not None:
            lo, hi = _state_bounds(sv, sdef, unit)
            if not lo <= sv.initial <= hi:
                c.add(
                    (*spath, "initial"),
                    f"initial value of state {name!r} is outside its bounds",
                    code="out-of-bounds",
                    expected=_fmt_bounds(lo, hi, unit or ""),
                    found=sv.initial,
                )

    names = Counter(s.name for s in node.signals)
    for k, sig in enumerate(node.signals):
        spath = (*path, "signals", k)
        if names[sig.name] > 1:
            c.add(
                (*spath, "name"),
                f"signal name {sig.name!r} is used {names[sig.name]} times on node {node.id!r}",
                code="duplicate-id",
            )
            names[sig.name] = 0  # report once
        try:
            period = sig.period_s
            if not period > 0:
                c.add(
                    (*spath, "period"),
                    "sampling period must be positive",
                    code="out-of-bounds",
                    expected="a period > 0",
                    found=sig.period,
                )
        except UnitError as exc:
            c.add(
                (*spath, "period"),
                f"sampling period is not a time: {exc}",
                code="unit-mismatch",
                expected="a time such as '1 s'",
                found=sig.period,
            )
        if sig.unit is not None:
            _unit_ok(c, (*spath, "unit"), sig.unit)
        if sig.range is not None and sig.range[0] > sig.range[1]:
            c.add((*spath, "range"), "measuring range is reversed", code="bad-bounds", found=list(sig.range))

    if node.observes is not None and node.kind != "sensor":
        c.add(
            (*path, "observes"),
            f"only sensors observe; node {node.id!r} is a {node.kind}",
            code="kind-rule",
            expected="no 'observes' field (or kind: sensor)",
        )
    if node.kind == "sensor" and node.observes is None:
        c.add(
            path,
            f"sensor {node.id!r} must say what it observes",
            code="missing-field",
            expected="observes: <node>.<state>",
        )


def _state_bounds(sv, sdef, unit: str | None) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    if sdef is not None:
        lo, hi = sdef.bounds
        if sv.unit is not None and units.compatible(sv.unit, sdef.unit):
            lo = units.convert(lo, sdef.unit, sv.unit) if math.isfinite(lo) else lo
            hi = units.convert(hi, sdef.unit, sv.unit) if math.isfinite(hi) else hi
    if sv.bounds is not None:
        lo = sv.bounds[0] if sv.bounds[0] is not None else lo
        hi = sv.bounds[1] if sv.bounds[1] is not None else hi
    return lo, hi


def _unit_ok(c: IssueCollector, path: Path, unit: str) -> bool:
    try:
        units.parse_unit(unit)
        return True
    except UnitError as exc:
        c.add(
            path,
            str(exc),
            code="unknown-unit",
            expected="a unit pint understands (e.g. s, min, m^3/h, degC)",
            found=unit,
        )
        return False


def _check_param(
    c: IssueCollector, spec: TwinSpec, path: Path, param: Parameter, pdef: ParamDef | None, owner: str
) -> None:
    """Unit, bounds, distribution and per-product checks for one parameter."""
    if pdef is None:  # custom parameter: only its unit and own bounds can be checked
        if param.unit is not None:
            _unit_ok(c, (*path, "unit"), param.unit)
        _check_own_bounds(c, path, param, -math.inf, math.inf, param.unit or "")
        return
    cat_unit = pdef.unit_for(spec.currency)
    unit = param.unit if param.unit is not None else cat_unit
    if param.unit is not None:
        if not _unit_ok(c, (*path, "unit"), param.unit):
            return
        if not units.compatible(param.unit, cat_unit):
            c.add(
                (*path, "unit"),
                f"unit of {pdef.name!r} on {owner} is incompatible",
                code="unit-mismatch",
                expected=f"{units.dimension_name(cat_unit)} (e.g. {cat_unit or 'dimensionless'})",
                found=param.unit,
            )
            return
    # physical bounds expressed in the parameter's unit
    lo, hi = (_conv_bound(b, cat_unit, unit) for b in pdef.bounds)
    lo, hi = _check_own_bounds(c, path, param, lo, hi, unit)

    if param.distribution is not None and not pdef.stochastic:
        c.add(
            (*path, "distribution"),
            f"{pdef.name!r} is not a stochastic parameter",
            code="kind-rule",
            expected="a fixed value",
        )
    if param.by_product is not None:
        if not pdef.per_product:
            c.add(
                (*path, "by_product"),
                f"{pdef.name!r} cannot vary by product",
                code="kind-rule",
                expected="a single value",
            )
        for prod, val in param.by_product.items():
            if prod not in spec.products:
                c.add(
                    (*path, "by_product", prod),
                    f"unknown product {prod!r}{did_you_mean(prod, spec.products)}",
                    code="unknown-product",
                    expected="one of " + (", ".join(spec.products) or "(no products declared)"),
                    found=prod,
                )
            _check_value(c, (*path, "by_product", prod), pdef, val, lo, hi, unit)
    if param.value is not None:
        _check_value(c, (*path, "value"), pdef, param.value, lo, hi, unit)
    if param.distribution is not None:
        mean = param.distribution.mean()
        if not lo <= mean <= hi:
            c.add(
                (*path, "distribution"),
                f"mean of the distribution of {pdef.name!r} is outside its bounds",
                code="out-of-bounds",
                expected=_fmt_bounds(lo, hi, unit),
                found=round(mean, 6),
            )
        if param.value is not None and not math.isclose(param.value, mean, rel_tol=1e-6, abs_tol=1e-12):
            c.add(
                (*path, "value"),
                f"value of {pdef.name!r} differs from the mean of its distribution",
                code="inconsistent",
                expected=f"{mean:g} (the distribution mean) or no value",
                found=param.value,
            )


def _conv_bound(b: float, from_unit: str, to_unit: str) -> float:
    if not math.isfinite(b):
        return b
    return units.convert(b, from_unit, to_unit)


def _check_own_bounds(
    c: IssueCollector, path: Path, param: Parameter, lo: float, hi: float, unit: str
) -> tuple[float, float]:
    """Apply a parameter's own bounds, which must lie inside the physical ones."""
    if param.bounds is None:
        return lo, hi
    own_lo = param.bounds[0] if param.bounds[0] is not None else lo
    own_hi = param.bounds[1] if param.bounds[1] is not None else hi
    if own_lo > own_hi:
        c.add((*path, "bounds"), "lower bound above upper bound", code="bad-bounds", found=list(param.bounds))
        return lo, hi
    if own_lo < lo - 1e-9 * max(1.0, abs(lo)) or own_hi > hi + 1e-9 * max(1.0, abs(hi)):
        c.add(
            (*path, "bounds"),
            "bounds reach outside the physical range",
            code="out-of-bounds",
            expected=f"bounds within {_fmt_bounds(lo, hi, unit)[11:]}",
            found=list(param.bounds),
        )
    return max(lo, own_lo), min(hi, own_hi)


def _check_value(
    c: IssueCollector, path: Path, pdef: ParamDef, value: float, lo: float, hi: float, unit: str
) -> None:
    if not lo <= value <= hi:
        c.add(
            path,
            f"{pdef.name!r} is out of bounds",
            code="out-of-bounds",
            expected=_fmt_bounds(lo, hi, unit),
            found=value,
        )
    if pdef.integer and not float(value).is_integer():
        c.add(
            path,
            f"{pdef.name!r} must be a whole number",
            code="wrong-type",
            expected="an integer",
            found=value,
        )


def check_param_value(
    spec: TwinSpec, el: Node | Edge, name: str, value: float, unit: str | None, product: str | None = None
) -> None:
    """Raise :class:`SpecError` if ``value`` (in ``unit``) is not valid for parameter ``name``."""
    pdef = el.param_def(name)
    c = IssueCollector()
    where = (
        "nodes" if isinstance(el, Node) else "edges",
        el.id if isinstance(el, Node) else el.key,
        "parameters",
        name,
    )
    if product is not None and product not in spec.products:
        c.add(
            where,
            f"unknown product {product!r}{did_you_mean(product, spec.products)}",
            code="unknown-product",
            expected="one of " + (", ".join(spec.products) or "(no products declared)"),
            found=product,
        )
    if pdef is not None:
        if product is not None and not pdef.per_product:
            c.add(where, f"{name!r} cannot vary by product", code="kind-rule")
        existing = el.parameters.get(name)
        own_bounds = existing.bounds if existing is not None else None
        probe = Parameter(value=value, unit=unit or None, bounds=own_bounds)
        _check_param(c, spec, where, probe, pdef, repr(el.id if isinstance(el, Node) else el.key))
    if c.errors:
        raise SpecError(c.errors, summary=f"invalid value for {name!r}")


# -- references -----------------------------------------------------------------------------


def resolve_state_ref(
    spec: TwinSpec, node: Node, ref: str | None, fallback: str | None = None
) -> tuple[str, str] | None:
    """Resolve a state reference ('var' or 'node.var') seen from ``node`` to (node id, var)."""
    ref = ref or fallback
    if ref is None:
        return None
    if "." in ref:
        nid, var = ref.split(".", 1)
        return nid, var
    if (
        node.kind == "sensor"
        and node.observes
        and "." in node.observes
        and ref == node.observes.split(".", 1)[1]
    ):
        return tuple(node.observes.split(".", 1))  # type: ignore[return-value]
    return node.id, ref


def signal_target(spec: TwinSpec, node: Node, signal) -> tuple[str, str]:
    """(node id, state variable) that a signal observes."""
    default = node.observes if node.kind == "sensor" else signal.name
    res = resolve_state_ref(spec, node, signal.state, default)
    assert res is not None
    return res


def _check_references(
    c: IssueCollector, spec: TwinSpec, node: Node, path: Path, known: set[str], skip: set[str]
) -> None:
    if node.observes is not None:
        if "." not in node.observes:
            c.add(
                (*path, "observes"),
                "observes must name a node and one of its states",
                code="bad-reference",
                expected="'<node>.<state>'",
                found=node.observes,
            )
        else:
            nid, var = node.observes.split(".", 1)
            _check_state_ref(c, spec, (*path, "observes"), nid, var, known, skip)
    for k, sig in enumerate(node.signals):
        spath = (*path, "signals", k)
        if node.kind == "sensor" and sig.state is None and node.observes is None:
            continue  # already reported: sensor without observes
        nid, var = signal_target(spec, node, sig)
        ok = _check_state_ref(c, spec, (*spath, "state"), nid, var, known, skip)
        if ok and sig.unit is not None:
            target = spec.node(nid)
            sunit = target.state_unit(var)
            if (
                sunit is not None
                and units.compatible(sig.unit, sig.unit)
                and not units.compatible(sig.unit, sunit)
            ):
                c.add(
                    (*spath, "unit"),
                    f"signal {sig.name!r} unit does not match the state it observes ({nid}.{var})",
                    code="unit-mismatch",
                    expected=f"{units.dimension_name(sunit)} (e.g. {sunit or 'dimensionless'})",
                    found=sig.unit,
                )


def _check_state_ref(
    c: IssueCollector, spec: TwinSpec, path: Path, nid: str, var: str, known: set[str], skip: set[str]
) -> bool:
    if nid in skip:
        return False
    if nid not in known:
        c.add(
            path,
            f"reference to unknown node {nid!r}{did_you_mean(nid, sorted(known))}",
            code="unknown-node",
            found=nid,
        )
        return False
    target = spec.node(nid)
    if target.kind not in CATALOG:
        return False
    states = target.state_names()
    if var not in states:
        c.add(
            path,
            f"node {nid!r} ({target.kind}) has no state variable {var!r}{did_you_mean(var, states)}",
            code="unknown-state",
            expected="one of " + (", ".join(states) or "(none declared)"),
            found=var,
        )
        return False
    return True


# -- edges ----------------------------------------------------------------------------------


def _check_edge(
    c: IssueCollector, spec: TwinSpec, edge: Edge, path: Path, known: set[str], index: dict[str, int]
) -> None:
    for end in ("source", "target"):
        nid = getattr(edge, end)
        if nid not in known:
            c.add(
                (*path, end),
                f"edge {edge.key!r} points to unknown node {nid!r}{did_you_mean(nid, sorted(known))}",
                code="unknown-node",
                expected="an existing node id",
                found=nid,
            )
    if edge.source == edge.target:
        c.add(path, f"edge {edge.key!r} connects node {edge.source!r} to itself", code="kind-rule")
    ekd = EDGE_CATALOG.get(edge.kind)
    if ekd is None:
        c.add(
            (*path, "kind"),
            f"unknown edge kind {edge.kind!r}{did_you_mean(edge.kind, list(EDGE_CATALOG))}",
            code="unknown-kind",
            expected="one of " + ", ".join(EDGE_CATALOG),
            found=edge.kind,
        )
        return
    for name, param in edge.parameters.items():
        pdef = ekd.params.get(name)
        if pdef is None:
            c.add(
                (*path, "parameters", name),
                f"unknown parameter {name!r} for {edge.kind} edges{did_you_mean(name, list(ekd.params))}",
                code="unknown-parameter",
                expected="one of " + (", ".join(ekd.params) or "(none)"),
                found=name,
            )
            continue
        _check_param(c, spec, (*path, "parameters", name), param, pdef, f"edge {edge.key!r}")
    if edge.products is not None:
        if edge.kind != "material":
            c.add((*path, "products"), "only material edges carry products", code="kind-rule")
        for k, prod in enumerate(edge.products):
            if prod not in spec.products:
                c.add(
                    (*path, "products", k),
                    f"unknown product {prod!r}{did_you_mean(prod, spec.products)}",
                    code="unknown-product",
                    expected="one of " + (", ".join(spec.products) or "(none declared)"),
                    found=prod,
                )


# -- rules of each kind ----------------------------------------------------------------------

_NO_MATERIAL_OUT = {"sink": "a sink", "customer": "a customer"}
_NO_MATERIAL_IN = {"source": "a source", "supplier": "a supplier"}


def _check_kind_rules(c: IssueCollector, spec: TwinSpec, index: dict[str, int]) -> None:
    kind_of = {n.id: n.kind for n in spec.nodes}
    degree: Counter[str] = Counter()
    for j, e in enumerate(spec.edges):
        degree[e.source] += 1
        degree[e.target] += 1
        if e.kind != "material":
            continue
        sk, tk = kind_of.get(e.source), kind_of.get(e.target)
        if sk in _NO_MATERIAL_OUT:
            c.add(
                ("edges", j, "source"),
                f"{_NO_MATERIAL_OUT[sk]} ({e.source!r}) has no outgoing material flow",
                code="kind-rule",
                expected=f"an edge kind other than material out of {e.source!r}",
            )
        if tk in _NO_MATERIAL_IN:
            c.add(
                ("edges", j, "target"),
                f"{_NO_MATERIAL_IN[tk]} ({e.target!r}) has no incoming material flow",
                code="kind-rule",
                expected=f"an edge kind other than material into {e.target!r}",
            )
        sd, td = _DOMAIN.get(sk or ""), _DOMAIN.get(tk or "")
        if sd and td and sd != td:
            c.add(
                ("edges", j),
                f"a {sk} ({e.source!r}) carries {sd} and a {tk} ({e.target!r}) carries {td}: "
                "no material flows between them",
                code="kind-rule",
                expected=f"a {sd} node after {e.source!r}, or an information or dependency edge",
            )
        for end, k in (("source", sk), ("target", tk)):
            if k is not None and k in CATALOG and not CATALOG[k].material:
                c.add(
                    ("edges", j, end),
                    f"a {k} ({getattr(e, end)!r}) takes no part in material flow",
                    code="kind-rule",
                    expected="an information or dependency edge",
                )

    for i, n in enumerate(spec.nodes):
        path = ("nodes", i)
        if degree[n.id] == 0 and len(spec.nodes) > 1 and n.kind != "sensor":
            c.add(path, f"node {n.id!r} is not connected to anything", code="isolated", severity="warning")
        if n.kind not in CATALOG:
            continue
        p = n.parameters
        try:
            if n.kind == "buffer" and "capacity" in p and "initial_level" in p:
                if spec.get(n.id, "initial_level") > spec.get(n.id, "capacity"):
                    c.add(
                        (*path, "parameters", "initial_level"),
                        "initial level exceeds the buffer capacity",
                        code="physical-bounds",
                        expected=f"<= {spec.get(n.id, 'capacity'):g} item",
                        found=spec.get(n.id, "initial_level"),
                    )
            if n.kind == "tank" and "capacity" in p:
                cap = spec.get(n.id, "capacity")
                for lvl in ("initial_level", "high_level", "low_level"):
                    if lvl in p and spec.get(n.id, lvl) > cap:
                        c.add(
                            (*path, "parameters", lvl),
                            f"{lvl} exceeds the tank capacity",
                            code="physical-bounds",
                            expected=f"<= {cap:g} m^3",
                            found=spec.get(n.id, lvl),
                        )
                if (
                    "high_level" in p
                    and "low_level" in p
                    and spec.get(n.id, "low_level") >= spec.get(n.id, "high_level")
                ):
                    c.add(
                        (*path, "parameters", "low_level"),
                        "low-level alarm is not below the high-level alarm",
                        code="kind-rule",
                    )
            if n.kind in ("customer", "depot") and "time_window_start" in p and "time_window_end" in p:
                if spec.get(n.id, "time_window_start") > spec.get(n.id, "time_window_end"):
                    c.add(
                        (*path, "parameters", "time_window_end"),
                        "time window ends before it starts",
                        code="kind-rule",
                    )
            if n.kind in ("station", "pump", "valve"):
                has_model = any(k in p for k in ("mtbf", "mcbf", "failure_rate_base"))
                if has_model and "mttr" not in p:
                    c.add(
                        (*path, "parameters"),
                        f"node {n.id!r} can fail but has no repair time",
                        code="missing-field",
                        expected="mttr",
                    )
                if "mttr" in p and not has_model:
                    c.add(
                        (*path, "parameters", "mttr"),
                        "mttr without a failure model is ignored",
                        code="kind-rule",
                        severity="warning",
                        expected="mtbf, mcbf or failure_rate_base",
                    )
        except (UnitError, KeyError, ValueError):
            continue  # the parameter itself is invalid and already reported
