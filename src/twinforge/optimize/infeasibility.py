"""Why no flow plan exists, in the twin's own terms.

Two complementary answers, both from HiGHS:

* **Minimal violations** (elastic relaxation): every demand row and contracted minimum gets a
  non-negative shortfall variable and the total shortfall is minimised. The result says how much
  cannot be delivered where ("demand of cola at C_berlin cannot be met: short by 120 item/day"),
  and the shadow prices of that relaxed problem name the bottlenecks that hold it back
  ("binding: supply_capacity of S1 (cola), supply_capacity of S3 (cola)"). Only demand rows and
  minimum flows force flow into the network, so relaxing them always restores feasibility, for LPs
  and MIPs alike.
* **A conflicting set** (HiGHS IIS, irreducible strategy, LP only): a set of the model's named rows
  that cannot hold together, though dropping any one of them leaves the rest satisfiable. When
  the LP relaxation is feasible but the MIP is not (exclusivity, open/close decisions), the IIS is
  computed for the LP with the binary decisions fixed at the elastic solution's choice and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy
import networkx as nx
import numpy as np

from twinforge.optimize.flow import (
    FLOW_UNIT,
    ConstraintReport,
    FlowModel,
    _fmt,
    _run,
    constraint_reports,
    scenario_remarks,
)

#: Rows that state the twin's limits (what a person can change), as opposed to bookkeeping.
LIMIT_KINDS = (
    "supply_capacity",
    "node_capacity",
    "edge_capacity",
    "min_flow",
    "demand",
    "forbid_flow",
    "restrict_partners",
    "exclusive",
    "active_link",
    "open_link",
    "use_link",
)


@dataclass(frozen=True)
class Shortfall:
    """A demand (or contracted minimum flow) the network cannot meet, and by how much."""

    constraint: str
    kind: str
    entity: str
    product: str | None
    label: str
    required: float
    achievable: float
    short: float
    bottlenecks: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.label} cannot be met: short by {_fmt(self.short)} {FLOW_UNIT}"
        text += f" (needs {_fmt(self.required)}, at most {_fmt(self.achievable)} possible)"
        if self.bottlenecks:
            text += "; binding: " + ", ".join(self.bottlenecks)
        return text


@dataclass(frozen=True)
class ConflictMember:
    """One member of the conflicting set (a row of the model, or a fixed decision)."""

    name: str
    kind: str
    entity: str
    product: str | None
    label: str
    side: str  # "<=", ">=", "=", "fixed"
    bound: float
    unit: str
    intervention: str | None = None
    baseline: float | None = None
    note: str | None = None

    def describe(self) -> str:
        if self.kind in ("forbid_flow", "restrict_partners", "exclusive") or self.side == "fixed":
            text = self.label
        else:
            sign = {"<=": "≤", ">=": "≥", "=": "="}[self.side]
            unit = f" {self.unit}" if self.unit else ""
            text = f"{self.label} {sign} {_fmt(self.bound)}{unit}"
        extra = scenario_remarks(self.kind, self.baseline, self.note, self.intervention, self.unit)
        return text + (f" [{'; '.join(extra)}]" if extra else "")


@dataclass
class InfeasibilityExplanation:
    """Why the flow model of a twin (under a scenario) has no feasible plan."""

    twin: str
    scenario: str | None
    interventions: list[str]
    shortfalls: list[Shortfall]
    conflict: list[ConflictMember]
    conservation: list[str]  # "node (product)" whose flow conservation is part of the conflict
    method: str
    bottlenecks: list[ConstraintReport]
    implicated: list[str]  # scenario interventions among the conflict or the bottlenecks
    decisions: list[str] = field(default_factory=list)  # binary choices the IIS was computed under
    structural: list[str] = field(default_factory=list)  # removed/added nodes and edges (not rows)

    @property
    def total_short(self) -> float:
        return sum(s.short for s in self.shortfalls)

    @property
    def conflict_names(self) -> list[str]:
        return [c.name for c in self.conflict]

    def lines(self) -> list[str]:
        head = f"no flow plan of twin {self.twin!r}"
        if self.scenario:
            head += f" under scenario {self.scenario!r}"
        head += " meets every demand and constraint"
        out = [head]
        if self.shortfalls:
            out.append(f"minimal violations (total short {_fmt(self.total_short)} {FLOW_UNIT}):")
            out += [f"  - {s.describe()}" for s in self.shortfalls]
        if self.conflict:
            out.append(f"conflicting constraints ({self.method}):")
            demands = [c for c in self.conflict if c.kind == "demand"]
            grouped = len(demands) > 3
            for c in self.conflict:
                if not (grouped and c.kind == "demand"):
                    out.append(f"  - {c.describe()}")
            if grouped:  # one line per product: many demand rows are usually one story
                by_product: dict[str | None, list[ConflictMember]] = {}
                for c in demands:
                    by_product.setdefault(c.product, []).append(c)
                for product, members in by_product.items():
                    items = ", ".join(
                        f"{c.entity} {_fmt(c.bound)}"
                        + (f" (was {_fmt(c.baseline)})" if c.baseline is not None else "")
                        for c in members
                    )
                    what = f"demand of {product}" if product else "demand"
                    out.append(f"  - {what} ({FLOW_UNIT}): {items}")
            if self.conservation:
                out.append(f"  - with flow conservation at {', '.join(self.conservation)}")
        if self.implicated:
            out.append("scenario interventions involved: " + "; ".join(self.implicated))
        if self.structural:
            out.append("the scenario also changed the network: " + "; ".join(self.structural))
        return out

    def render(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict:
        return {
            "twin": self.twin,
            "scenario": self.scenario,
            "method": self.method,
            "shortfalls": [
                {
                    "constraint": s.constraint,
                    "label": s.label,
                    "entity": s.entity,
                    "product": s.product,
                    "required": s.required,
                    "achievable": s.achievable,
                    "short": s.short,
                    "bottlenecks": s.bottlenecks,
                    "text": s.describe(),
                }
                for s in self.shortfalls
            ],
            "conflict": [
                {
                    "name": c.name,
                    "label": c.label,
                    "entity": c.entity,
                    "product": c.product,
                    "text": c.describe(),
                }
                for c in self.conflict
            ],
            "conservation": self.conservation,
            "decisions": self.decisions,
            "implicated": self.implicated,
            "structural": self.structural,
            "text": self.render(),
        }


# -- elastic relaxation ----------------------------------------------------------------------------


def _flow_graph(model: FlowModel) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(model.node_kind)
    for e in model.edges.values():
        g.add_edge(e.source, e.target)
    return g


def _relevant(model: FlowModel, g: nx.DiGraph, row_kind: str, entity: str):
    """A test: could a row about an entity (node id, edge key, 'a,b' pair) limit a shortfall at
    ``entity``? Yes when it lies upstream (demand) or on either side (minimum flow)."""
    if row_kind == "demand":
        nodes = nx.ancestors(g, entity) | {entity}
    else:  # min_flow on an edge: what feeds its source and what absorbs its target
        e = model.edges[entity]
        nodes = nx.ancestors(g, e.source) | {e.source} | nx.descendants(g, e.target) | {e.target}

    def test(ref: str) -> bool:
        if ref in nodes:
            return True
        if ref in model.edges:
            e = model.edges[ref]
            return e.source in nodes and e.target in nodes
        return any(part in nodes for part in ref.split(","))

    return test


def _elastic(model: FlowModel) -> tuple[np.ndarray, np.ndarray | None, dict[int, int], dict[int, float]]:
    """Minimal total shortfall, then the cheapest plan achieving it.

    Returns the plan's values, the shadow prices of the shortfall problem (an LP; binary decisions
    fixed at the plan's choice), the shortfall column -> row map and the fixed decisions.
    """
    h, slack_of = model.to_highs(elastic=True)
    first = _run(h, want_duals=False)
    if first.values is None or first.objective is None:
        return np.zeros(len(model.columns) + len(slack_of)), None, slack_of, {}
    least = first.objective
    h2, _ = model.to_highs(elastic=True, shortfall_cap=least * (1 + 1e-9) + 1e-9)
    second = _run(h2, want_duals=False)
    values = second.values if second.values is not None else first.values
    # only the exclusivity choices are fixed: open/use decisions are economic, and with costs out
    # of the shortfall problem their relaxation simply opens what helps
    fixed = {j: float(round(values[j])) for j in model.binary_columns if model.columns[j].kind == "active"}
    lp, _ = model.to_highs(elastic=True, relax=True, fixed=fixed or None)
    duals = _run(lp, want_duals=True).row_duals
    return values, duals, slack_of, fixed


def _iis(model: FlowModel, fixed: dict[int, float] | None) -> tuple[list[int], list[tuple[int, int]]] | None:
    """Rows (and column bounds) of an irreducible infeasible subsystem of the LP, or None."""
    h, _ = model.to_highs(relax=True, fixed=fixed)
    h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyIrreducible))
    h.run()
    status = h.getModelStatus()
    if status not in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return None
    st, iis = h.getIis()
    if st == highspy.HighsStatus.kError or not iis.valid_:
        return None
    cols = [(int(j), int(b)) for j, b in zip(iis.col_index_, iis.col_bound_, strict=False)]
    return [int(i) for i in iis.row_index_], cols


def explain_infeasibility(model: FlowModel) -> InfeasibilityExplanation:
    """Explain why ``model`` has no feasible plan (call it after a solve reported infeasible)."""
    tol = model.options.tolerance
    values, duals, slack_of, fixed = _elastic(model)
    all_fixed = {j: float(round(values[j])) for j in model.binary_columns}
    n = len(model.columns)
    reports = constraint_reports(model, values[:n], duals)
    # bottlenecks of the relaxed problem: limits whose relaxation would cut the shortfall
    bottlenecks = [
        r
        for r in reports
        if r.kind in LIMIT_KINDS and r.kind != "demand" and r.dual is not None and abs(r.dual) > 1e-7
    ]
    bottlenecks.sort(key=lambda r: (-abs(r.dual or 0.0), r.name))
    g = _flow_graph(model)
    shortfalls = []
    for j, i in slack_of.items():
        short = float(values[j])
        if short <= 1e3 * tol:
            continue
        row = model.rows[i]
        required = row.lower
        relevant = _relevant(model, g, row.kind, row.entity)
        names = [
            b.label
            for b in bottlenecks
            if relevant(b.entity)
            and (b.product is None or row.product is None or b.product == model.product_label(row.product))
        ]
        shortfalls.append(
            Shortfall(
                constraint=row.name,
                kind=row.kind,
                entity=row.entity,
                product=model.product_label(row.product),
                label=row.label,
                required=required,
                achievable=required - short,
                short=short,
                bottlenecks=names,
            )
        )
    shortfalls.sort(key=lambda s: -s.short)

    # the conflicting set: IIS of the LP relaxation, else of the LP with the elastic choice fixed
    decisions: list[str] = []
    found = _iis(model, None)
    iis_fixed: dict[int, float] = {}
    method = "HiGHS IIS, irreducible: drop any one and the rest can hold"
    for choice in (fixed, all_fixed):
        if found is not None or not choice:
            continue
        found = _iis(model, choice)
        if found is not None:
            iis_fixed = choice
            method = (
                "HiGHS IIS of the LP with the binary decisions fixed at the best plan's choice, irreducible"
            )
    conflict: list[ConflictMember] = []
    conservation: list[str] = []
    if found is not None:
        rows, cols = found
        for i in rows:
            r = model.rows[i]
            product = model.product_label(r.product)
            if r.kind == "balance":
                conservation.append(r.entity + (f" ({product})" if product else ""))
                continue
            if r.kind in ("active_link", "open_link", "use_link") and r.switch in iis_fixed:
                continue  # said by the fixed decision itself
            bound = r.rhs if r.switch is None else (r.bound or 0.0) * iis_fixed.get(r.switch, 1.0)
            conflict.append(
                ConflictMember(
                    name=r.name,
                    kind=r.kind,
                    entity=r.entity,
                    product=product,
                    label=r.label,
                    side=r.sense,
                    bound=float(bound),
                    unit=r.unit,
                    intervention=r.intervention,
                    baseline=r.baseline,
                    note=r.note,
                )
            )
        closed = set()
        for j, _bound_status in cols:
            if j not in iis_fixed or iis_fixed[j] > 0.5:
                continue  # bounds of continuous columns are x >= 0; an open decision's capacity row says it
            c = model.columns[j]
            closed.add(c.entity)
            decisions.append(_decision_text(c.kind, c.entity, iis_fixed[j]))
            conflict.append(
                ConflictMember(
                    name=c.name,
                    kind=c.kind,
                    entity=c.entity,
                    product=None,
                    label=_decision_text(c.kind, c.entity, iis_fixed[j]),
                    side="fixed",
                    bound=iis_fixed[j],
                    unit="",
                )
            )
        for r in model.rows:  # the exclusivity that forced a node out is part of the story
            if r.kind == "exclusive" and closed & set(r.entity.split(",")):
                conflict.append(
                    ConflictMember(
                        name=r.name,
                        kind=r.kind,
                        entity=r.entity,
                        product=None,
                        label=r.label,
                        side=r.sense,
                        bound=r.rhs,
                        unit="",
                        intervention=r.intervention,
                    )
                )
        order = {k: i for i, k in enumerate(LIMIT_KINDS)}
        conflict.sort(key=lambda c: (order.get(c.kind, len(order)), c.name))
    else:
        method = "elastic relaxation (no IIS available)"

    implicated: list[str] = []
    for item in [*conflict, *bottlenecks]:
        for text in (item.intervention or "").split("; "):
            if text and text not in implicated:
                implicated.append(text)
    structural = [
        text
        for text in model.interventions
        if (text.startswith(("remove ", "add ")) or text.endswith(" removed (unavailable)"))
        and text not in implicated
    ]
    return InfeasibilityExplanation(
        twin=model.twin.name,
        scenario=model.scenario,
        interventions=list(model.interventions),
        shortfalls=shortfalls,
        conflict=conflict,
        conservation=list(dict.fromkeys(conservation)),
        method=method,
        bottlenecks=bottlenecks,
        implicated=implicated,
        decisions=decisions,
        structural=structural,
    )


def _decision_text(kind: str, entity: str, value: float) -> str:
    on = value > 0.5
    if kind == "open":
        return f"{entity} {'open' if on else 'closed'}"
    if kind == "use":
        return f"lane {entity} {'used' if on else 'unused'}"
    return f"{entity} {'used' if on else 'not used'} (exclusivity)"
