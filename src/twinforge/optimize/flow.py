"""Network flow optimisation built from a twin's graph (LP/MIP, solved with HiGHS).

The twin already says what flows where: suppliers with capacities and prices, plants and
warehouses with capacities and processing costs, customers with demands, material edges with
shipping costs, capacities and contracted minimums. :func:`build_flow_model` turns that into a
multi-commodity min-cost flow model whose every row carries a name in the twin's own terms
(``capacity[P1]``, ``demand[C_berlin,cola]``, ``forbid_flow[S2->P1,cola]``), and
:func:`optimize_flow` solves it and returns a :class:`FlowPlan`: the objective and its breakdown,
the flows, node throughput and utilisation, binding constraints with their shadow prices, and
unmet demand. A scenario (:mod:`twinforge.scenario`) applies to the plan as it applies to the twin;
:func:`compare_flow` answers "what if" against the baseline. When a scenario makes the plan
impossible, :class:`InfeasibleFlowError` carries an explanation (see
:mod:`twinforge.optimize.infeasibility`).

Planning units: flows in ``item/day``, unit costs in ``<currency>/item``, fixed costs and the
objective in ``<currency>/day``. Every value is read with the twin's typed access
(``twin.get(ref, name, unit=..., product=...)``), so a twin written in pallets per hour or in
cents is converted, never misread. See ``docs/optimize_flow.md`` for the formulation.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import math
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import highspy
import numpy as np
import pandas as pd

from twinforge.errors import TwinforgeError, UnknownEntityError
from twinforge.scenario import (
    AppliedScenario,
    Exclusive,
    ForbidFlow,
    Outage,
    RestrictPartners,
    ScaleDemand,
    ScaleParameter,
    Scenario,
    SetParameter,
    apply_scenario,
)
from twinforge.spec import units
from twinforge.spec.models import Edge, Node, TwinSpec

if TYPE_CHECKING:
    from twinforge.optimize.infeasibility import InfeasibilityExplanation

#: Unit of every flow, capacity and demand in the plan.
FLOW_UNIT = "item/day"
#: The parameters the flow model reads, per kind (``edge`` for lanes). Others, such as lead times
#: or distances, do not change a daily flow plan.
FLOW_PARAMETERS: dict[str, set[str]] = {
    "supplier": {"supply_capacity", "cost_per_unit"},
    "plant": {"capacity", "processing_cost", "fixed_cost"},
    "warehouse": {"capacity", "handling_cost"},
    "customer": {"demand", "unmet_penalty"},
    "edge": {"capacity", "cost_per_unit", "fixed_cost", "min_flow"},
}
#: Node kinds the flow model understands.
FLOW_KINDS = ("supplier", "plant", "warehouse", "customer")
#: Kinds that pass material on (throughput limited by ``capacity``, charged per item handled).
TRANSSHIPMENT_KINDS = {"plant": "processing_cost", "warehouse": "handling_cost"}
#: Scenario operations a flow plan honours.
FLOW_SCENARIO_OPS = frozenset(
    {
        "set_parameter",
        "scale_parameter",
        "scale_demand",
        "remove_node",
        "add_edge",
        "remove_edge",
        "forbid_flow",
        "restrict_partners",
        "exclusive",
        "outage",
    }
)
#: Cost components of the objective, in the order they are reported.
COST_COMPONENTS = ("purchase", "processing", "transport", "fixed", "penalty")
#: The single commodity of a twin that declares no products.
IMPLICIT_PRODUCT = "item"

INF = math.inf
_banner_silenced = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance. HiGHS prints a banner to the process's stdout when the first
    instance is created, before any option can turn logging off; that one time, stdout is pointed
    at /dev/null so that command output stays clean."""
    global _banner_silenced
    if _banner_silenced:
        h = highspy.Highs()
    else:
        _banner_silenced = True
        saved = None
        try:
            sys.stdout.flush()
            saved = os.dup(1)
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                h = highspy.Highs()
                with contextlib.suppress(Exception):
                    ctypes.CDLL(None).fflush(None)
        except OSError:
            h = highspy.Highs()
        finally:
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


class FlowModelError(TwinforgeError):
    """The twin (or scenario) cannot be turned into a flow model: what, where, and what is expected."""


class FlowSolverError(TwinforgeError):
    """HiGHS stopped without a usable plan (time limit before any feasible plan, numerical trouble)."""


class InfeasibleFlowError(TwinforgeError):
    """No plan meets every demand and constraint. ``explanation`` says which constraints conflict."""

    def __init__(self, explanation: InfeasibilityExplanation, baseline: FlowPlan | None = None) -> None:
        self.explanation = explanation
        self.baseline = baseline
        super().__init__(explanation.render())


# -- options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowOptions:
    """How to build and solve the flow model.

    ``integer``: whole items on every lane (flows, purchases and shortfalls are integers); ``None``
    (the default) takes the twin's ``planning.integer_flows``.
    ``fixed_costs``: model plant and lane fixed costs as open/use decisions (a MIP); ``False``
    drops them for a pure LP (the fixed component is then 0). ``planning_period``: the period one
    daily plan covers, for outages (seconds or a quantity such as ``"1 day"``).
    """

    integer: bool | None = None
    fixed_costs: bool = True
    time_limit: float | None = None
    mip_rel_gap: float = 1e-6
    planning_period: float | str = 86400.0
    tolerance: float = 1e-6

    @property
    def period_s(self) -> float:
        if isinstance(self.planning_period, int | float):
            seconds = float(self.planning_period)
        else:
            value, unit = units.parse_quantity(self.planning_period)
            seconds = units.convert(value, unit or "s", "s")
        if seconds <= 0:
            raise FlowModelError(f"planning_period must be positive, found {self.planning_period!r}")
        return seconds


# -- model -----------------------------------------------------------------------------------------


@dataclass
class Column:
    """One decision variable."""

    name: str
    kind: Literal["flow", "supply", "unmet", "open", "use", "active"]
    entity: str  # edge key or node id
    product: str | None
    lower: float = 0.0
    upper: float = INF
    integer: bool = False
    costs: dict[str, float] = field(default_factory=dict)  # cost component -> coefficient

    @property
    def cost(self) -> float:
        return sum(self.costs.values())

    @property
    def binary(self) -> bool:
        return self.kind in ("open", "use", "active")


@dataclass
class Row:
    """One constraint, named in the twin's terms.

    A *switched* row reads ``sum(terms) <= bound * switch`` where ``switch`` is a binary column
    (a plant that must be open to carry flow); it is stored as ``sum(terms) - bound*switch <= 0``.
    """

    name: str
    kind: str
    entity: str
    product: str | None
    label: str
    lower: float
    upper: float
    terms: dict[int, float]
    switch: int | None = None
    bound: float | None = None
    intervention: str | None = None
    note: str | None = None
    baseline: float | None = None  # the value in the base twin when a scenario changed it
    unit: str = FLOW_UNIT

    @property
    def sense(self) -> str:
        if self.lower == self.upper:
            return "="
        return "<=" if self.lower == -INF else ">="

    @property
    def rhs(self) -> float:
        if self.switch is not None and self.bound is not None:
            return self.bound
        return self.upper if self.sense in ("<=", "=") else self.lower


@dataclass
class FlowModel:
    """The flow model of one twin: named columns and rows, ready for HiGHS."""

    twin: TwinSpec
    options: FlowOptions
    products: list[str]
    implicit_product: bool
    columns: list[Column] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scenario: str | None = None
    interventions: list[str] = field(default_factory=list)
    edges: dict[str, Edge] = field(default_factory=dict)
    node_kind: dict[str, str] = field(default_factory=dict)
    flow_cols: dict[tuple[str, str], int] = field(default_factory=dict)
    supply_cols: dict[tuple[str, str], int] = field(default_factory=dict)
    unmet_cols: dict[tuple[str, str], int] = field(default_factory=dict)
    open_cols: dict[str, int] = field(default_factory=dict)  # plant open (fixed cost)
    use_cols: dict[str, int] = field(default_factory=dict)  # lane used (fixed cost)
    active_cols: dict[str, int] = field(default_factory=dict)  # node carries flow (exclusivity)
    demand: dict[tuple[str, str], float] = field(default_factory=dict)
    penalty: dict[tuple[str, str], float] = field(default_factory=dict)
    node_capacity: dict[str, float] = field(default_factory=dict)  # total over products
    node_product_capacity: dict[tuple[str, str], float] = field(default_factory=dict)
    handled: dict[str, set[str]] = field(default_factory=dict)  # node -> products it handles
    big_m: float = 0.0

    @property
    def currency(self) -> str:
        return self.twin.currency

    @property
    def cost_unit(self) -> str:
        return f"{self.currency}/item"

    @property
    def objective_unit(self) -> str:
        return f"{self.currency}/day"

    @property
    def has_integers(self) -> bool:
        return any(c.integer for c in self.columns)

    @property
    def binary_columns(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.binary]

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise UnknownEntityError(f"flow model has no constraint {name!r}")

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise UnknownEntityError(f"flow model has no variable {name!r}")

    def product_label(self, product: str | None) -> str | None:
        return None if self.implicit_product else product

    # -- HiGHS -----------------------------------------------------------------------------------
    def to_highs(
        self,
        *,
        relax: bool = False,
        fixed: dict[int, float] | None = None,
        elastic: bool = False,
        shortfall_cap: float | None = None,
    ) -> tuple[highspy.Highs, dict[int, int]]:
        """A HiGHS instance holding this model.

        ``relax``: drop integrality. ``fixed``: column index -> value to fix. ``elastic``: add a
        non-negative shortfall column to every demand and min-flow row and minimise total
        shortfall (the costs are dropped) — always feasible; used to explain infeasibility.
        Returns the instance and, for ``elastic``, a map shortfall column -> row index.
        """
        n_cols = len(self.columns)
        zero_costs = elastic and shortfall_cap is None
        cost = np.array([0.0 if zero_costs else c.cost for c in self.columns], dtype=float)
        lower = np.array([c.lower for c in self.columns], dtype=float)
        upper = np.array([c.upper for c in self.columns], dtype=float)
        for j, value in (fixed or {}).items():
            lower[j] = upper[j] = value
        names = [c.name for c in self.columns]
        integrality = [c.integer and not relax for c in self.columns]
        row_terms = [dict(r.terms) for r in self.rows]
        slack_of: dict[int, int] = {}
        if elastic:
            extra_cost, extra_lower, extra_upper = [], [], []
            for i, r in enumerate(self.rows):
                if r.kind in ("demand", "min_flow"):
                    j = n_cols + len(slack_of)
                    slack_of[j] = i
                    row_terms[i][j] = 1.0
                    names.append(f"shortfall[{r.name}]")
                    extra_cost.append(1.0 if zero_costs else 0.0)
                    extra_lower.append(0.0)
                    extra_upper.append(INF)
                    integrality.append(False)
            cost = np.concatenate([cost, extra_cost])
            lower = np.concatenate([lower, extra_lower])
            upper = np.concatenate([upper, extra_upper])
        lp = highspy.HighsLp()
        lp.num_col_ = len(cost)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = cost
        lp.col_lower_ = np.where(np.isinf(lower), -highspy.kHighsInf, lower)
        lp.col_upper_ = np.where(np.isinf(upper), highspy.kHighsInf, upper)
        lp.row_lower_ = np.array(
            [-highspy.kHighsInf if r.lower == -INF else r.lower for r in self.rows], dtype=float
        )
        lp.row_upper_ = np.array(
            [highspy.kHighsInf if r.upper == INF else r.upper for r in self.rows], dtype=float
        )
        starts, index, values = [0], [], []
        for terms in row_terms:
            for j, v in sorted(terms.items()):
                index.append(j)
                values.append(v)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = len(cost)
        lp.a_matrix_.num_row_ = len(self.rows)
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(values, dtype=float)
        lp.col_names_ = names
        lp.row_names_ = [r.name for r in self.rows]
        if any(integrality):
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
                for flag in integrality
            ]
        h = new_highs()
        h.setOptionValue("mip_rel_gap", float(self.options.mip_rel_gap))
        if self.options.time_limit is not None:
            h.setOptionValue("time_limit", float(self.options.time_limit))
        status = h.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise FlowSolverError(f"HiGHS refused the flow model of twin {self.twin.name!r}")
        if elastic and shortfall_cap is not None and slack_of:
            idx = np.array(sorted(slack_of), dtype=np.int32)
            h.addRow(-highspy.kHighsInf, float(shortfall_cap), len(idx), idx, np.ones(len(idx)))
        return h, slack_of

    def write(self, path: str) -> None:
        """Write the model (``.mps`` keeps the names exactly; ``.lp`` spells them with the
        characters that format allows: ``capacity(S1.to.P1)``) for inspection with other tools."""
        h, _ = self.to_highs()
        if str(path).lower().endswith(".lp"):
            for i, r in enumerate(self.rows):
                h.passRowName(i, _lp_name(r.name))
            for j, c in enumerate(self.columns):
                h.passColName(j, _lp_name(c.name))
        if h.writeModel(str(path)) == highspy.HighsStatus.kError:
            raise FlowSolverError(f"HiGHS could not write the model to {path}")

    def size(self) -> dict[str, int]:
        return {
            "variables": len(self.columns),
            "constraints": len(self.rows),
            "binaries": len(self.binary_columns),
            "integers": sum(1 for c in self.columns if c.integer and not c.binary),
        }


def _lp_name(name: str) -> str:
    """A name in the characters the CPLEX LP format accepts."""
    return name.replace("->", ".to.").replace("[", "(").replace("]", ")").replace("-", "_").replace(">", "")


# -- building --------------------------------------------------------------------------------------


def _material_edges(twin: TwinSpec) -> list[Edge]:
    return [e for e in twin.edges if e.kind == "material"]


class _Builder:
    def __init__(
        self,
        twin: TwinSpec,
        options: FlowOptions,
        base: TwinSpec | None,
        scenario: str | None,
        interventions: list[Any],
    ) -> None:
        self.twin = twin
        self.ops = list(interventions)
        self.base = base
        self.cur = twin.currency
        implicit = not twin.products
        self.m = FlowModel(
            twin=twin,
            options=options,
            products=list(twin.products) or [IMPLICIT_PRODUCT],
            implicit_product=implicit,
            scenario=scenario,
            interventions=[iv.describe() for iv in interventions],
        )
        self.active_rows: dict[str, int] = {}  # node -> its exclusivity link row
        self.exclusive_with: dict[str, list[str]] = {}

    # -- parameter access in planning units ------------------------------------------------------
    def _tp(self, p: str) -> str | None:
        """The product as the twin knows it (None for a twin without products)."""
        return None if self.m.implicit_product else p

    def value(
        self, twin: TwinSpec, ref: str, name: str, unit: str, product: str | None = None
    ) -> float | None:
        """``twin.get`` in ``unit``; None when the parameter has no value and no default."""
        try:
            return twin.get(ref, name, unit=unit, product=product)
        except UnknownEntityError:
            return None

    def lists_only(self, el: Node | Edge, name: str) -> set[str] | None:
        """Products of a parameter written per product only (no plain value), else None."""
        p = el.parameters.get(name)
        if p is None or not p.by_product or p.value is not None or p.distribution is not None:
            return None
        return set(p.by_product)

    def per_product(self, el: Node | Edge, name: str) -> bool:
        p = el.parameters.get(name)
        return p is not None and bool(p.by_product) and not self.m.implicit_product

    def base_value(self, ref: str, name: str, unit: str, product: str | None = None) -> float | None:
        if self.base is None:
            return None
        try:
            self.base.element(ref)
        except UnknownEntityError:
            return None
        return self.value(self.base, ref, name, unit, product)

    def attribute(self, ref: str, name: str, product: str | None) -> str | None:
        """The scenario interventions that changed parameter ``name`` of ``ref`` (for ``product``)."""
        found = []
        for iv in self.ops:
            if isinstance(iv, SetParameter | ScaleParameter):
                try:
                    same = self.twin.element(iv.target) is self.twin.element(ref)
                except UnknownEntityError:
                    same = False
                if same and iv.parameter == name and (iv.product is None or iv.product == product):
                    found.append(iv.describe())
            elif isinstance(iv, ScaleDemand) and name == "demand":
                if (iv.targets is None or ref in iv.targets) and (
                    iv.product is None or iv.product == product
                ):
                    found.append(iv.describe())
            elif isinstance(iv, Outage) and iv.target == ref and name in ("capacity", "supply_capacity"):
                found.append(iv.describe())
        return "; ".join(found) or None

    # -- structure -------------------------------------------------------------------------------
    def build(
        self,
        constraints: Iterable[ForbidFlow | RestrictPartners | Exclusive],
        outages: Iterable[Outage],
    ) -> FlowModel:
        twin, m = self.twin, self.m
        self.check_kinds()
        m.node_kind = {n.id: n.kind for n in twin.nodes if n.kind in FLOW_KINDS}
        for e in _material_edges(twin):
            m.edges[e.key] = e
        self.handled = m.handled = {nid: self.node_products(twin.node(nid)) for nid in m.node_kind}
        self.read_demand()
        total = sum(m.demand.values()) + self.total_min_flow()
        m.big_m = max(total, 1.0) + 1.0
        outage_share = self.outage_shares(outages)
        self.add_flow_columns()
        self.add_supplier_rows(outage_share)
        self.add_transshipment_rows(outage_share)
        self.add_customer_rows()
        self.add_edge_rows()
        for c in constraints:
            self.add_intervention(c)
        if not any(k == "customer" for k in m.node_kind.values()):
            raise FlowModelError(
                f"twin {twin.name!r} has no customer node: a flow plan needs demand to serve "
                f"(node kinds the flow model uses: {', '.join(FLOW_KINDS)})"
            )
        return m

    def check_kinds(self) -> None:
        wrong = []
        for e in _material_edges(self.twin):
            for nid in (e.source, e.target):
                kind = self.twin.node(nid).kind
                if kind not in FLOW_KINDS:
                    wrong.append(f"{nid!r} ({kind}, on material edge {e.key})")
        if wrong:
            seen = list(dict.fromkeys(wrong))
            raise FlowModelError(
                f"flow optimisation of twin {self.twin.name!r} works on "
                f"{', '.join(FLOW_KINDS)} nodes; cannot plan flows through "
                + ", ".join(seen[:6])
                + (f" and {len(seen) - 6} more" if len(seen) > 6 else "")
            )

    def node_products(self, node: Node) -> set[str]:
        """Products a node can handle: a parameter written per product only lists them."""
        products = set(self.m.products)
        if self.m.implicit_product:
            return products
        params = {
            "supplier": ("supply_capacity", "cost_per_unit"),
            "plant": ("capacity", "processing_cost"),
            "warehouse": ("capacity", "handling_cost"),
            "customer": (),
        }[node.kind]
        for name in params:
            listed = self.lists_only(node, name)
            if listed is not None:
                dropped = products - listed
                if dropped:
                    self.m.notes.append(
                        f"{node.id} handles no {', '.join(sorted(dropped))}: "
                        f"{name} lists only {', '.join(sorted(listed))}"
                    )
                products &= listed
        return products

    def edge_products(self, e: Edge) -> list[str]:
        """Products an edge carries: its ``products`` field (all when absent), limited to what the
        nodes at both ends handle. Per-product edge parameters limit only the products they list."""
        products = [
            p for p in self.m.products if self.m.implicit_product or e.products is None or p in e.products
        ]
        return [p for p in products if p in self.handled[e.source] and p in self.handled[e.target]]

    def total_min_flow(self) -> float:
        total = 0.0
        for e in self.m.edges.values():
            for p in self.m.products:
                total += self.value(self.twin, e.key, "min_flow", FLOW_UNIT, self._tp(p)) or 0.0
        return total

    def read_demand(self) -> None:
        m = self.m
        for nid, kind in m.node_kind.items():
            if kind != "customer":
                continue
            param = self.twin.node(nid).parameters.get("demand")
            if param is not None and not param.by_product and len(m.products) > 1:
                m.notes.append(
                    f"{nid}: demand is not written per product, so its value applies to each of "
                    f"{', '.join(m.products)} (write demand by_product to split it)"
                )
            for p in m.products:
                m.demand[(nid, p)] = self.value(self.twin, nid, "demand", FLOW_UNIT, self._tp(p)) or 0.0
                pen = self.value(self.twin, nid, "unmet_penalty", m.cost_unit, self._tp(p))
                if pen is not None:
                    m.penalty[(nid, p)] = pen

    def outage_shares(self, outages: Iterable[Outage]) -> dict[str, tuple[float, str]]:
        """Node -> (share of the planning period it is up, description)."""
        period = self.m.options.period_s
        spans: dict[str, list[tuple[float, float]]] = {}
        for o in outages:
            if o.target not in self.m.node_kind:
                where = (
                    "is no longer in the twin"
                    if not self.twin.has_node(o.target)
                    else "is not in the flow plan"
                )
                raise FlowModelError(
                    f"outage on {o.target!r} cannot apply to the flow plan: {o.target!r} {where} "
                    f"(outages apply to {', '.join(k for k in FLOW_KINDS if k != 'customer')} nodes)"
                )
            spans.setdefault(o.target, []).append((o.start, o.start + o.duration))
        out: dict[str, tuple[float, str]] = {}
        for nid, intervals in spans.items():
            down = 0.0
            cur_start, cur_end = None, None
            for s, e in sorted(intervals):
                if cur_end is None or s > cur_end:
                    if cur_end is not None:
                        down += cur_end - cur_start
                    cur_start, cur_end = s, e
                else:
                    cur_end = max(cur_end, e)
            if cur_end is not None:
                down += cur_end - cur_start
            share = max(0.0, 1.0 - down / period)
            out[nid] = (share, f"outage {down / 3600:g} h of a {period / 3600:g} h period")
            self.m.notes.append(
                f"{nid}: outage of {down / 3600:g} h in a {period / 3600:g} h planning period "
                f"leaves {share:.1%} of its capacity"
            )
        return out

    # -- columns ---------------------------------------------------------------------------------
    def add_column(self, col: Column) -> int:
        self.m.columns.append(col)
        return len(self.m.columns) - 1

    def switch_column(self, kind: str, entity: str, fixed: float) -> int:
        """A yes/no decision that carries a fixed cost: a plant open, a lane used."""
        return self.add_column(
            Column(
                name=f"{kind}[{entity}]",
                kind=kind,
                entity=entity,
                product=None,
                upper=1.0,
                integer=True,
                costs={"fixed": fixed},
            )
        )

    def link_row(self, kind: str, entity: str, flows: dict[int, float], switch: int, label: str) -> int:
        """Big-M row: the ``flows`` of ``entity`` are zero unless the yes/no ``switch`` is 1."""
        big_m = self.m.big_m
        return self.add_row(
            Row(
                name=f"{kind}[{entity}]",
                kind=kind,
                entity=entity,
                product=None,
                label=label,
                lower=-INF,
                upper=0.0,
                terms={**flows, switch: -big_m},
                switch=switch,
                bound=big_m,
            )
        )

    def add_row(self, row: Row) -> int:
        self.m.rows.append(row)
        return len(self.m.rows) - 1

    def pname(self, base: str, *parts: str | None) -> str:
        keep = [x for x in parts if x is not None]
        return f"{base}[{','.join(keep)}]"

    def add_flow_columns(self) -> None:
        m, twin, integer = self.m, self.twin, self.m.options.integer
        for key, e in m.edges.items():
            target_kind = m.node_kind[e.target]
            for p in self.edge_products(e):
                tp = self._tp(p)
                costs = {"transport": self.value(twin, key, "cost_per_unit", m.cost_unit, tp) or 0.0}
                if target_kind in TRANSSHIPMENT_KINDS:
                    costs["processing"] = (
                        self.value(twin, e.target, TRANSSHIPMENT_KINDS[target_kind], m.cost_unit, tp) or 0.0
                    )
                m.flow_cols[(key, p)] = self.add_column(
                    Column(
                        name=self.pname("flow", key, m.product_label(p)),
                        kind="flow",
                        entity=key,
                        product=p,
                        integer=integer,
                        costs=costs,
                    )
                )
        for nid, kind in m.node_kind.items():
            for p in m.products:
                if kind == "supplier" and p in self.handled[nid]:
                    price = self.value(twin, nid, "cost_per_unit", m.cost_unit, self._tp(p)) or 0.0
                    m.supply_cols[(nid, p)] = self.add_column(
                        Column(
                            name=self.pname("purchase", nid, m.product_label(p)),
                            kind="supply",
                            entity=nid,
                            product=p,
                            integer=integer,
                            costs={"purchase": price},
                        )
                    )
                if kind == "customer" and (nid, p) in m.penalty and m.demand[(nid, p)] > 0:
                    m.unmet_cols[(nid, p)] = self.add_column(
                        Column(
                            name=self.pname("unmet", nid, m.product_label(p)),
                            kind="unmet",
                            entity=nid,
                            product=p,
                            upper=m.demand[(nid, p)],
                            integer=integer,
                            costs={"penalty": m.penalty[(nid, p)]},
                        )
                    )

    def inflow(self, nid: str, product: str | None = None) -> dict[int, float]:
        return {
            j: 1.0
            for (key, p), j in self.m.flow_cols.items()
            if self.m.edges[key].target == nid and (product is None or p == product)
        }

    def outflow(self, nid: str, product: str | None = None) -> dict[int, float]:
        return {
            j: 1.0
            for (key, p), j in self.m.flow_cols.items()
            if self.m.edges[key].source == nid and (product is None or p == product)
        }

    def net_inflow(self, nid: str, product: str) -> dict[int, float]:
        """Coefficients of (flow in - flow out) of one product at a node."""
        terms = self.inflow(nid, product)
        for j in self.outflow(nid, product):
            terms[j] = terms.get(j, 0.0) - 1.0
        return terms

    def add_balance_row(self, nid: str, product: str, terms: dict[int, float]) -> None:
        """Flow conservation of one product at a node: ``terms`` sum to zero."""
        self.add_row(
            Row(
                name=self.pname("balance", nid, self.m.product_label(product)),
                kind="balance",
                entity=nid,
                product=product,
                label=f"flow conservation at {nid}" + self.of(product),
                lower=0.0,
                upper=0.0,
                terms=terms,
            )
        )

    def purchases(self, nid: str, product: str | None = None) -> dict[int, float]:
        return {
            j: 1.0
            for (n, p), j in self.m.supply_cols.items()
            if n == nid and (product is None or p == product)
        }

    def throughput(self, nid: str, product: str | None = None) -> dict[int, float]:
        """What a node handles: purchases plus inflow for a supplier, inflow otherwise."""
        terms = self.inflow(nid, product)
        for (n, p), j in self.m.supply_cols.items():
            if n == nid and (product is None or p == product):
                terms[j] = 1.0
        return terms

    def changed_note(self, ref: str, name: str, value: float, unit: str, product: str | None) -> float | None:
        before = self.base_value(ref, name, unit, product)
        if before is None or math.isclose(before, value, rel_tol=1e-9, abs_tol=1e-9):
            return None
        return before

    # -- node rows -------------------------------------------------------------------------------
    def capacity_rows(
        self,
        nid: str,
        param: str,
        products: list[str],
        share: tuple[float, str] | None,
        switch: int | None,
    ) -> bool:
        """Rows limiting a node's throughput by ``param`` (total, or per product when written per
        product); an outage scales the limit. Returns whether every product the node handles is
        limited (so that a switched row alone keeps a closed plant empty)."""
        m, twin = self.m, self.twin
        node = twin.node(nid)
        factor, why = share if share is not None else (1.0, None)
        # a supplier's capacity limits what it supplies (purchases), not what passes through it
        used = self.purchases if param == "supply_capacity" else self.throughput
        groups: list[tuple[str | None, dict[int, float]]]
        if self.per_product(node, param):
            groups = [(p, used(nid, p)) for p in products]
        else:
            groups = [(None, used(nid))]
        limited = True
        for p, terms in groups:
            tp = self._tp(p) if p else None
            cap = self.value(twin, nid, param, FLOW_UNIT, tp)
            if cap is None:
                if factor > 0.0:
                    if factor < 1.0:
                        raise FlowModelError(
                            f"outage on {nid!r}: {nid} has no {param}, so a partial outage ({why}) "
                            f"cannot be expressed in a daily plan; give {nid} a {param}, or take it "
                            "out for the whole planning period"
                        )
                    limited = False
                    continue
                cap = 0.0  # down for the whole period
            if p is None:
                m.node_capacity[nid] = cap * factor
            else:
                m.node_product_capacity[(nid, p)] = cap * factor
            if not terms:
                continue
            before = self.changed_note(nid, param, cap, FLOW_UNIT, tp)
            if before is None and factor < 1.0:
                before = cap
            row = Row(
                name=self.pname(param, nid, m.product_label(p)),
                kind="supply_capacity" if param == "supply_capacity" else "node_capacity",
                entity=nid,
                product=p,
                label=f"{param} of {nid}" + self.of(p),
                lower=-INF,
                upper=cap * factor,
                terms=dict(terms),
                note=why,
                baseline=before,
                intervention=self.attribute(nid, param, p) if before is not None else None,
            )
            if switch is not None:
                row.terms[switch] = -cap * factor
                row.upper = 0.0
                row.switch = switch
                row.bound = cap * factor
            self.add_row(row)
        return limited

    def add_supplier_rows(self, outage_share: dict[str, tuple[float, str]]) -> None:
        m = self.m
        for nid, kind in m.node_kind.items():
            if kind != "supplier":
                continue
            products = [p for p in m.products if (nid, p) in m.supply_cols]
            for p in products:
                self.add_balance_row(nid, p, {m.supply_cols[(nid, p)]: 1.0, **self.net_inflow(nid, p)})
            self.capacity_rows(nid, "supply_capacity", products, outage_share.get(nid), None)

    def of(self, p: str | None) -> str:
        label = self.m.product_label(p)
        return f" ({label})" if label else ""

    def add_transshipment_rows(self, outage_share: dict[str, tuple[float, str]]) -> None:
        m, twin = self.m, self.twin
        for nid, kind in m.node_kind.items():
            if kind not in TRANSSHIPMENT_KINDS:
                continue
            products = [p for p in m.products if p in self.handled[nid]]
            for p in products:
                terms = self.net_inflow(nid, p)
                if terms:
                    self.add_balance_row(nid, p, terms)
            fixed = (
                (self.value(twin, nid, "fixed_cost", f"{self.cur}/day") or 0.0) if kind == "plant" else 0.0
            )
            switch = None
            if fixed > 0 and m.options.fixed_costs and self.inflow(nid):
                switch = self.switch_column("open", nid, fixed)
                m.open_cols[nid] = switch
            limited = self.capacity_rows(nid, "capacity", products, outage_share.get(nid), switch)
            if switch is not None and not limited:
                self.link_row(
                    "open_link", nid, self.inflow(nid), switch, f"{nid} carries flow only when open"
                )
            if fixed > 0 and not m.options.fixed_costs:
                m.notes.append(f"fixed cost of {nid} ({fixed:g} {self.cur}/day) ignored (pure LP)")

    @property
    def at_least(self) -> bool:
        """Whether the twin lets a customer receive more than its demand."""
        return bool(self.twin.planning and self.twin.planning.demand == "at_least")

    def add_customer_rows(self) -> None:
        m = self.m
        for nid, kind in m.node_kind.items():
            if kind != "customer":
                continue
            for p in m.products:
                terms = self.net_inflow(nid, p)
                if (nid, p) in m.unmet_cols:
                    terms[m.unmet_cols[(nid, p)]] = 1.0
                d = m.demand[(nid, p)]
                if not terms and d == 0:
                    continue
                before = self.changed_note(nid, "demand", d, FLOW_UNIT, self._tp(p))
                label = (
                    f"demand of {m.product_label(p)} at {nid}" if m.product_label(p) else f"demand at {nid}"
                )
                self.add_row(
                    Row(
                        name=self.pname("demand", nid, m.product_label(p)),
                        kind="demand",
                        entity=nid,
                        product=p,
                        label=label,
                        lower=d,
                        upper=INF if self.at_least else d,
                        terms=terms,
                        baseline=before,
                        intervention=self.attribute(nid, "demand", p) if before is not None else None,
                        note="shortfall allowed at the unmet penalty" if (nid, p) in m.unmet_cols else None,
                    )
                )

    # -- edge rows -------------------------------------------------------------------------------
    def add_edge_rows(self) -> None:
        m, twin = self.m, self.twin
        for key, e in m.edges.items():
            cols = {p: j for (k, p), j in m.flow_cols.items() if k == key}
            if not cols:
                if e.parameters:
                    m.notes.append(f"edge {key} carries no product the nodes at its ends handle")
                continue
            fixed = self.value(twin, key, "fixed_cost", f"{self.cur}/day") or 0.0
            switch = None
            if fixed > 0 and m.options.fixed_costs:
                switch = self.switch_column("use", key, fixed)
                m.use_cols[key] = switch
            elif fixed > 0:
                m.notes.append(f"fixed cost of lane {key} ({fixed:g} {self.cur}/day) ignored (pure LP)")
            groups: list[tuple[str | None, dict[int, float]]]
            if self.per_product(e, "capacity"):
                groups = [(p, {j: 1.0}) for p, j in cols.items()]
            else:
                groups = [(None, dict.fromkeys(cols.values(), 1.0))]
            limited = True  # every product on the lane has a capacity row
            for p, terms in groups:
                cap = self.value(twin, key, "capacity", FLOW_UNIT, self._tp(p) if p else None)
                if cap is None:
                    limited = False
                    continue
                label = f"capacity of {key}" + self.of(p)
                row = Row(
                    name=self.pname("capacity", key, m.product_label(p)),
                    kind="edge_capacity",
                    entity=key,
                    product=p,
                    label=label,
                    lower=-INF,
                    upper=cap,
                    terms=terms,
                    baseline=self.changed_note(key, "capacity", cap, FLOW_UNIT, self._tp(p) if p else None),
                )
                if row.baseline is not None:
                    row.intervention = self.attribute(key, "capacity", p)
                if switch is not None:
                    row.terms[switch] = -cap
                    row.upper = 0.0
                    row.switch = switch
                    row.bound = cap
                self.add_row(row)
            if switch is not None and not limited:
                self.link_row(
                    "use_link",
                    key,
                    dict.fromkeys(cols.values(), 1.0),
                    switch,
                    f"lane {key} carries flow only when used",
                )
            if self.per_product(e, "min_flow"):
                mgroups = [(p, {j: 1.0}) for p, j in cols.items()]
            else:
                mgroups = [(None, dict.fromkeys(cols.values(), 1.0))]
            for p, terms in mgroups:
                low = self.value(twin, key, "min_flow", FLOW_UNIT, self._tp(p) if p else None) or 0.0
                if low <= 0:
                    continue
                before = self.changed_note(key, "min_flow", low, FLOW_UNIT, self._tp(p) if p else None)
                self.add_row(
                    Row(
                        name=self.pname("min_flow", key, m.product_label(p)),
                        kind="min_flow",
                        entity=key,
                        product=p,
                        label=f"min_flow of {key}" + self.of(p),
                        lower=low,
                        upper=INF,
                        terms=terms,
                        baseline=before,
                        intervention=self.attribute(key, "min_flow", p) if before is not None else None,
                    )
                )

    # -- scenario constraints --------------------------------------------------------------------
    def add_intervention(self, c: ForbidFlow | RestrictPartners | Exclusive) -> None:
        m = self.m
        match c:
            case ForbidFlow():
                try:
                    key = self.twin.edge(c.edge).key
                except UnknownEntityError:
                    m.notes.append(f"{c.describe()}: the edge is no longer in the twin (nothing to forbid)")
                    return
                cols = {
                    p: j
                    for (k, p), j in m.flow_cols.items()
                    if k == key and (c.product is None or p == c.product)
                }
                if not cols:
                    m.notes.append(f"{c.describe()}: the lane carries no such product (nothing to forbid)")
                    return
                self.add_row(
                    Row(
                        name=self.pname("forbid_flow", key, c.product),
                        kind="forbid_flow",
                        entity=key,
                        product=c.product,
                        label=c.describe(),
                        lower=-INF,
                        upper=0.0,
                        terms=dict.fromkeys(cols.values(), 1.0),
                        intervention=c.describe(),
                    )
                )
            case RestrictPartners():
                if c.target not in m.node_kind:
                    m.notes.append(f"{c.describe()}: {c.target} is no longer in the twin")
                    return
                for key, e in m.edges.items():
                    if c.direction == "serve_only":
                        excluded = e.source == c.target and e.target not in c.partners
                    else:
                        excluded = e.target == c.target and e.source not in c.partners
                    if not excluded:
                        continue
                    cols = [j for (k, _p), j in m.flow_cols.items() if k == key]
                    if not cols:
                        continue
                    self.add_row(
                        Row(
                            name=f"restrict_partners[{c.target},{key}]",
                            kind="restrict_partners",
                            entity=key,
                            product=None,
                            label=f"{c.describe()}: no flow on {key}",
                            lower=-INF,
                            upper=0.0,
                            terms=dict.fromkeys(cols, 1.0),
                            intervention=c.describe(),
                        )
                    )
            case Exclusive():
                a, b = c.nodes
                missing = [n for n in (a, b) if n not in m.node_kind]
                if missing:
                    m.notes.append(f"{c.describe()}: {', '.join(missing)} no longer in the twin (always met)")
                    return
                switches = [self.active_switch(n) for n in (a, b)]
                for node, other in ((a, b), (b, a)):
                    link = self.m.rows[self.active_rows[node]]
                    self.exclusive_with.setdefault(node, []).append(other)
                    link.label = f"{node} not used (exclusive with {', '.join(self.exclusive_with[node])})"
                    previous = [x for x in (link.intervention or "").split("; ") if x]
                    link.intervention = "; ".join([*previous, c.describe()])
                self.add_row(
                    Row(
                        name=f"exclusive[{a},{b}]",
                        kind="exclusive",
                        entity=f"{a},{b}",
                        product=None,
                        label=c.describe(),
                        lower=-INF,
                        upper=1.0,
                        terms=dict.fromkeys(switches, 1.0),
                        intervention=c.describe(),
                        unit="",
                    )
                )

    def active_switch(self, nid: str) -> int:
        m = self.m
        if nid in m.active_cols:
            return m.active_cols[nid]
        j = self.add_column(
            Column(name=f"active[{nid}]", kind="active", entity=nid, product=None, upper=1.0, integer=True)
        )
        m.active_cols[nid] = j
        self.active_rows[nid] = self.link_row(
            "active_link", nid, self.throughput(nid), j, f"{nid} carries flow only when chosen (exclusivity)"
        )
        return j


def prepare_scenario(
    twin: TwinSpec, scenario: Scenario | AppliedScenario, file: str | None = None
) -> AppliedScenario:
    """Apply ``scenario`` to ``twin`` and check that a flow plan can honour every intervention.

    Raises :class:`~twinforge.scenario.ScenarioError` listing each problem: interventions that do
    not fit the twin, and those a flow plan cannot apply (``setpoint``, ``set_arrival_rate``).
    """
    applied = scenario if isinstance(scenario, AppliedScenario) else apply_scenario(twin, scenario, file=file)
    applied.require_supported(set(FLOW_SCENARIO_OPS), "flow optimisation")
    return applied


def build_flow_model(
    twin: TwinSpec,
    scenario: Scenario | AppliedScenario | None = None,
    options: FlowOptions | None = None,
) -> FlowModel:
    """The flow model of ``twin`` (with ``scenario`` applied): named columns and rows.

    Raises :class:`FlowModelError` when the twin has nothing to plan or uses kinds the flow model
    does not know, and :class:`~twinforge.scenario.ScenarioError` for interventions a flow plan
    cannot honour (setpoints, arrival rates).
    """
    options = options or FlowOptions()
    if options.integer is None:
        options = dataclasses.replace(options, integer=bool(twin.planning and twin.planning.integer_flows))
    if scenario is None:
        return _Builder(twin, options, None, None, []).build([], [])
    applied = prepare_scenario(twin, scenario)
    outages = [t for t in applied.timed if isinstance(t, Outage)]
    builder = _Builder(
        applied.twin, options, applied.base, applied.scenario.name, list(applied.scenario.interventions)
    )
    return builder.build(applied.constraints, outages)


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostBreakdown:
    """The objective split by what it pays for (all in currency per day)."""

    purchase: float = 0.0
    processing: float = 0.0
    transport: float = 0.0
    fixed: float = 0.0
    penalty: float = 0.0

    @property
    def total(self) -> float:
        return self.purchase + self.processing + self.transport + self.fixed + self.penalty

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COST_COMPONENTS}


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x - round(x)) < 1e-6 * max(1.0, abs(x)):
        return f"{round(x):d}"
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.1f}"


def signed(x: float) -> str:
    """A shadow price with its sign (``-3``, ``+0.5``; exactly ``0`` when zero)."""
    return "0" if abs(x) < 1e-9 else f"{x:+,.4g}"


SCENARIO_ROW_KINDS = ("forbid_flow", "restrict_partners", "exclusive")


def scenario_remarks(
    kind: str, baseline: float | None, note: str | None, intervention: str | None, unit: str
) -> list[str]:
    """What a scenario did to a constraint: its value before, the outage arithmetic, the cause."""
    extra = []
    if baseline is not None:
        extra.append(f"was {_fmt(baseline)}" + (f" {unit}" if unit else ""))
    if note:
        extra.append(note)
    if intervention and kind not in SCENARIO_ROW_KINDS and kind != "active_link":
        extra.append(f"scenario: {intervention}")
    elif intervention:
        extra.append("scenario")
    return extra


@dataclass(frozen=True)
class ConstraintReport:
    """One named constraint of the solved model, in the twin's terms.

    ``dual`` (shadow price) is the change of the objective (currency/day) per unit increase of
    the constraint's bound (per item/day for flow constraints): a binding capacity has a
    negative shadow price (one more item/day of capacity saves that much), a demand row a
    positive one (one more item/day of demand costs that much).
    """

    name: str
    kind: str
    entity: str
    product: str | None
    label: str
    sense: str
    bound: float
    activity: float
    dual: float | None
    unit: str
    dual_unit: str
    binding: bool
    intervention: str | None = None
    note: str | None = None
    baseline: float | None = None

    @property
    def slack(self) -> float:
        return self.bound - self.activity if self.sense == "<=" else self.activity - self.bound

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.label}: "
        if self.kind in ("forbid_flow", "restrict_partners"):
            text += "binding" if self.binding else "not binding"
        elif self.kind == "demand":
            text += f"{_fmt(self.bound)}{unit}"
        else:
            text += f"{_fmt(self.bound)}{unit} " + (
                "binding" if self.binding else f"(uses {_fmt(self.activity)})"
            )
        if self.dual is not None:
            word = "marginal cost" if self.kind == "demand" else "shadow price"
            text += f", {word} {signed(self.dual)} {self.dual_unit}"
        extra = scenario_remarks(self.kind, self.baseline, self.note, self.intervention, self.unit)
        if extra:
            text += f" [{'; '.join(extra)}]"
        return text


@dataclass
class FlowPlan:
    """An optimal (or best found) flow plan.

    ``flows``: one row per lane and product carrying flow (edge, source, target, product, flow,
    cost_per_unit, transport_cost). ``nodes``: throughput, capacity and utilisation of every node.
    ``node_products``: the same per product. ``unmet``: demand, delivered and shortfall per customer
    and product. ``constraints``: every named constraint with activity and shadow price.
    """

    twin: str
    scenario: str | None
    interventions: list[str]
    status: str
    objective: float
    costs: CostBreakdown
    currency: str
    flows: pd.DataFrame
    nodes: pd.DataFrame
    node_products: pd.DataFrame
    unmet: pd.DataFrame
    constraints: list[ConstraintReport]
    mip: bool
    duals_from: str
    mip_gap: float | None
    solve_seconds: float
    size: dict[str, int]
    notes: list[str] = field(default_factory=list)
    solver_objective: float | None = None  # as HiGHS reported it (objective is recomputed from the flows)
    model: FlowModel | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)

    @property
    def unit(self) -> str:
        return FLOW_UNIT

    @property
    def objective_unit(self) -> str:
        return f"{self.currency}/day"

    @property
    def binding(self) -> list[ConstraintReport]:
        """Capacities, minimums and scenario restrictions at their bound, largest shadow price first."""
        found = [
            c
            for c in self.constraints
            if c.binding and c.kind not in ("demand", "balance", "open_link", "use_link", "active_link")
        ]
        return sorted(found, key=lambda c: (-abs(c.dual or 0.0), c.name))

    @property
    def demand_prices(self) -> list[ConstraintReport]:
        """Marginal cost of one more item/day of each demand."""
        return [c for c in self.constraints if c.kind == "demand"]

    def constraint(self, name: str) -> ConstraintReport:
        for c in self.constraints:
            if c.name == name:
                return c
        raise UnknownEntityError(f"plan has no constraint {name!r}")

    def flow(self, edge: str, product: str | None = None) -> float:
        """Flow on an edge (``'S1->P1'`` or its id), one product or all, in item/day."""
        rows = self.flows[(self.flows["edge"] == edge) | (self.flows["edge_id"] == edge)]
        if product is not None:
            rows = rows[rows["product"] == product]
        return float(rows["flow"].sum())

    def throughput(self, node: str) -> float:
        rows = self.nodes[self.nodes["node"] == node]
        if rows.empty:
            raise UnknownEntityError(f"plan has no node {node!r}")
        return float(rows["throughput"].iloc[0])

    @property
    def used_nodes(self) -> list[str]:
        return list(self.nodes.loc[self.nodes["used"], "node"])

    @property
    def total_unmet(self) -> float:
        return float(self.unmet["unmet"].sum()) if not self.unmet.empty else 0.0

    def top_flows(self, n: int = 10) -> pd.DataFrame:
        return self.flows.sort_values("flow", ascending=False, kind="stable").head(n).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "twin": self.twin,
            "scenario": self.scenario,
            "interventions": self.interventions,
            "status": self.status,
            "objective": self.objective,
            "objective_unit": self.objective_unit,
            "costs": self.costs.as_dict(),
            "mip": self.mip,
            "mip_gap": self.mip_gap,
            "duals_from": self.duals_from,
            "size": self.size,
            "flows": self.flows.to_dict(orient="records"),
            "nodes": self.nodes.to_dict(orient="records"),
            "unmet": self.unmet.to_dict(orient="records"),
            "binding": [
                {
                    "name": c.name,
                    "label": c.label,
                    "bound": c.bound,
                    "activity": c.activity,
                    "shadow_price": c.dual,
                    "unit": c.unit,
                    "shadow_price_unit": c.dual_unit,
                    "text": c.describe(),
                }
                for c in self.binding
            ],
            "demand_prices": [
                {"name": c.name, "label": c.label, "marginal_cost": c.dual, "unit": c.dual_unit}
                for c in self.demand_prices
            ],
            "notes": self.notes,
        }


# -- solving ---------------------------------------------------------------------------------------


@dataclass
class _Run:
    status: highspy.HighsModelStatus
    values: np.ndarray | None
    row_values: np.ndarray | None
    row_duals: np.ndarray | None
    objective: float | None
    mip_gap: float | None
    seconds: float


def _run(h: highspy.Highs, want_duals: bool, mip: bool = False) -> _Run:
    started = time.perf_counter()
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
        # presolve could not tell which; costs are non-negative and flows bounded below, so a clean
        # solve without presolve settles it (and leaves a model IIS can work on)
        h.setOptionValue("presolve", "off")
        h.run()
        status = h.getModelStatus()
    info = h.getInfo()
    seconds = time.perf_counter() - started
    if info.primal_solution_status != 2:
        return _Run(status, None, None, None, None, None, seconds)
    sol = h.getSolution()
    duals = np.array(sol.row_dual, dtype=float) if want_duals and sol.dual_valid else None
    gap = float(info.mip_gap) if mip else None
    return _Run(
        status,
        np.array(sol.col_value, dtype=float),
        np.array(sol.row_value, dtype=float),
        duals,
        float(info.objective_function_value),
        gap,
        seconds,
    )


def solve_flow_model(model: FlowModel) -> FlowPlan:
    """Solve ``model`` with HiGHS. Raises :class:`InfeasibleFlowError` (with an explanation) when
    no plan exists and :class:`FlowSolverError` when HiGHS stops without one."""
    h, _ = model.to_highs()
    run = _run(h, want_duals=not model.has_integers, mip=model.has_integers)
    status = run.status
    if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        from twinforge.optimize.infeasibility import explain_infeasibility

        raise InfeasibleFlowError(explain_infeasibility(model))
    if run.values is None:
        raise FlowSolverError(
            f"HiGHS stopped ({h.modelStatusToString(status)}) without a feasible flow plan for twin "
            f"{model.twin.name!r}"
            + (" — raise the time limit" if status == highspy.HighsModelStatus.kTimeLimit else "")
        )
    if status == highspy.HighsModelStatus.kOptimal:
        state = "optimal"
    elif status == highspy.HighsModelStatus.kTimeLimit:
        state = "time_limit"
    else:
        state = h.modelStatusToString(status).lower().replace(" ", "_")
    values = run.values
    duals = run.row_duals
    seconds = run.seconds
    duals_from = "LP"
    if model.has_integers:
        fixed = {j: float(round(values[j])) for j in model.binary_columns}
        lp, _ = model.to_highs(relax=True, fixed=fixed)
        fixed_run = _run(lp, want_duals=True)
        seconds += fixed_run.seconds
        duals = fixed_run.row_duals
        if fixed:
            duals_from = "LP with open/use decisions fixed at the MIP solution"
        else:
            duals_from = "LP relaxation of the integer flows"
        if any(c.integer and not c.binary for c in model.columns) and fixed:
            duals_from += " (flow integrality relaxed)"
    return _plan(model, float(run.objective or 0.0), values, duals, state, run.mip_gap, seconds, duals_from)


def _plan(
    model: FlowModel,
    solver_objective: float,
    values: np.ndarray,
    duals: np.ndarray | None,
    status: str,
    gap: float | None,
    seconds: float,
    duals_from: str,
) -> FlowPlan:
    tol = model.options.tolerance
    m = model
    values = np.where(np.abs(values) < tol, 0.0, values)
    if m.options.integer:
        for j, c in enumerate(m.columns):
            if c.integer:
                values[j] = float(round(values[j]))
    components = dict.fromkeys(COST_COMPONENTS, 0.0)
    for j, c in enumerate(m.columns):
        for comp, coef in c.costs.items():
            components[comp] += coef * values[j]
    costs = CostBreakdown(**{k: float(v) for k, v in components.items()})

    flow_records = []
    for (key, p), j in m.flow_cols.items():
        if values[j] <= tol:
            continue
        e = m.edges[key]
        col = m.columns[j]
        flow_records.append(
            {
                "edge": key,
                "edge_id": e.id or key,
                "source": e.source,
                "target": e.target,
                "product": m.product_label(p) or "",
                "flow": values[j],
                "cost_per_unit": col.costs.get("transport", 0.0),
                "transport_cost": col.costs.get("transport", 0.0) * values[j],
            }
        )
    flows = pd.DataFrame(
        flow_records,
        columns=["edge", "edge_id", "source", "target", "product", "flow", "cost_per_unit", "transport_cost"],
    )

    node_rows, node_product_rows, unmet_rows = [], [], []
    for nid, kind in m.node_kind.items():
        total = 0.0
        for p in m.products:
            inflow = sum(
                values[j] for (k, q), j in m.flow_cols.items() if q == p and m.edges[k].target == nid
            )
            outflow = sum(
                values[j] for (k, q), j in m.flow_cols.items() if q == p and m.edges[k].source == nid
            )
            purchase = values[m.supply_cols[(nid, p)]] if (nid, p) in m.supply_cols else 0.0
            if kind == "supplier":
                through = purchase + inflow
            elif kind == "customer":
                through = inflow - outflow
            else:
                through = inflow
            total += through
            cap = m.node_product_capacity.get((nid, p))
            node_product_rows.append(
                {
                    "node": nid,
                    "kind": kind,
                    "product": m.product_label(p) or "",
                    "throughput": through,
                    "capacity": cap if cap is not None else math.nan,
                    "utilisation": (through / cap if cap else math.nan) if cap is not None else math.nan,
                }
            )
            if kind == "customer":
                d = m.demand[(nid, p)]
                short = values[m.unmet_cols[(nid, p)]] if (nid, p) in m.unmet_cols else 0.0
                if d > 0 or short > 0:
                    pen = m.penalty.get((nid, p))
                    unmet_rows.append(
                        {
                            "customer": nid,
                            "product": m.product_label(p) or "",
                            "demand": d,
                            "delivered": through,
                            "unmet": short,
                            "penalty_per_unit": pen if pen is not None else math.nan,
                            "penalty": (pen or 0.0) * short,
                        }
                    )
        cap = m.node_capacity.get(nid)
        if cap is None:
            handled = sorted(m.handled.get(nid, ()))
            per = [m.node_product_capacity.get((nid, p)) for p in handled]
            cap = sum(per) if per and all(x is not None for x in per) else None  # type: ignore[misc]
        is_open = None
        if nid in m.open_cols:
            is_open = bool(values[m.open_cols[nid]] > 0.5)
        node_rows.append(
            {
                "node": nid,
                "kind": kind,
                "throughput": total,
                "capacity": cap if cap is not None else math.nan,
                "utilisation": (total / cap if cap else math.nan) if cap is not None else math.nan,
                "used": bool(total > tol),
                "open": is_open,
            }
        )
    nodes = pd.DataFrame(
        node_rows, columns=["node", "kind", "throughput", "capacity", "utilisation", "used", "open"]
    )
    node_products = pd.DataFrame(
        node_product_rows, columns=["node", "kind", "product", "throughput", "capacity", "utilisation"]
    )
    unmet = pd.DataFrame(
        [r for r in unmet_rows if r["unmet"] > tol],
        columns=["customer", "product", "demand", "delivered", "unmet", "penalty_per_unit", "penalty"],
    )

    reports = constraint_reports(m, values, duals)
    objective = float(sum(values[j] * c.cost for j, c in enumerate(m.columns)))
    return FlowPlan(
        solver_objective=solver_objective,
        twin=m.twin.name,
        scenario=m.scenario,
        interventions=list(m.interventions),
        status=status,
        objective=objective,
        costs=costs,
        currency=m.currency,
        flows=flows,
        nodes=nodes,
        node_products=node_products,
        unmet=unmet,
        constraints=reports,
        mip=m.has_integers,
        duals_from=duals_from,
        mip_gap=gap,
        solve_seconds=seconds,
        size=m.size(),
        notes=list(m.notes),
        model=m,
        values=values,
    )


def constraint_reports(
    model: FlowModel, values: np.ndarray, duals: np.ndarray | None
) -> list[ConstraintReport]:
    """Every named row of ``model`` evaluated at ``values`` (with shadow prices when given)."""
    tol = model.options.tolerance
    out = []
    for i, r in enumerate(model.rows):
        activity = sum(coef * values[j] for j, coef in r.terms.items() if j != r.switch)
        label = r.label
        switched_off = False
        if r.switch is not None and r.bound is not None:
            bound = r.bound * values[r.switch]
            switched_off = values[r.switch] < 0.5
            if switched_off and r.kind in ("node_capacity", "open_link"):
                label += f" ({r.entity} closed)"
            elif switched_off and r.kind in ("edge_capacity", "use_link"):
                label += " (lane unused)"
        else:
            bound = r.rhs
        dual = None if duals is None else float(duals[i])
        if dual is not None and abs(dual) < 1e-9:
            dual = 0.0
        scale = max(1.0, abs(bound))
        at_bound = r.sense != "=" and abs(activity - bound) <= 1e3 * tol * scale
        if switched_off or r.kind in (
            "forbid_flow",
            "restrict_partners",
            "exclusive",
            "active_link",
            "open_link",
            "use_link",
        ):
            binding = at_bound and dual is not None and abs(dual) > 1e-7
        else:
            binding = at_bound
        out.append(
            ConstraintReport(
                name=r.name,
                kind=r.kind,
                entity=r.entity,
                product=model.product_label(r.product),
                label=label,
                sense=r.sense,
                bound=float(bound),
                activity=float(activity),
                dual=dual,
                unit=r.unit,
                dual_unit=f"{model.currency}/item" if r.unit == FLOW_UNIT else f"{model.currency}/day",
                binding=bool(binding),
                intervention=r.intervention,
                note=r.note,
                baseline=r.baseline,
            )
        )
    return out


def optimize_flow(
    twin: TwinSpec,
    scenario: Scenario | AppliedScenario | FlowOptions | None = None,
    options: FlowOptions | None = None,
    **option_values: Any,
) -> FlowPlan:
    """The min-cost flow plan of ``twin`` (with ``scenario`` applied), solved with HiGHS.

    Options may be given as a :class:`FlowOptions` or as keywords (``integer=True``,
    ``fixed_costs=False``, ``time_limit=10``). Raises :class:`InfeasibleFlowError` with an
    explanation when no plan meets every demand.
    """
    if isinstance(scenario, FlowOptions):  # optimize_flow(twin, FlowOptions(...))
        scenario, options = None, scenario
    if option_values:
        base = options or FlowOptions()
        options = FlowOptions(**{**base.__dict__, **option_values})
    model = build_flow_model(twin, scenario, options)
    return solve_flow_model(model)


# -- what-if ---------------------------------------------------------------------------------------


@dataclass
class FlowComparison:
    """Baseline plan against a scenario plan."""

    baseline: FlowPlan
    scenario: FlowPlan
    changed_flows: pd.DataFrame  # edge, product, before, after, delta
    newly_used: list[str]
    newly_unused: list[str]
    removed_nodes: list[str]
    added_nodes: list[str]

    @property
    def objective_delta(self) -> float:
        return self.scenario.objective - self.baseline.objective

    @property
    def objective_delta_pct(self) -> float:
        base = self.baseline.objective
        return math.nan if base == 0 else 100.0 * self.objective_delta / base

    @property
    def cost_deltas(self) -> dict[str, float]:
        b, s = self.baseline.costs.as_dict(), self.scenario.costs.as_dict()
        return {k: s[k] - b[k] for k in COST_COMPONENTS}

    def summary(self) -> str:
        cur = self.baseline.currency
        parts = [
            f"objective {self.baseline.objective:,.2f} → {self.scenario.objective:,.2f} {cur}/day "
            f"({self.objective_delta:+,.2f}, {self.objective_delta_pct:+.1f}%)"
        ]
        if self.newly_used:
            parts.append("newly used: " + ", ".join(self.newly_used))
        if self.newly_unused:
            parts.append("no longer used: " + ", ".join(self.newly_unused))
        parts.append(f"{len(self.changed_flows)} lane/product flow(s) changed")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective_delta": self.objective_delta,
            "cost_deltas": self.cost_deltas,
            "changed_flows": self.changed_flows.to_dict(orient="records"),
            "newly_used": self.newly_used,
            "newly_unused": self.newly_unused,
            "removed_nodes": self.removed_nodes,
            "added_nodes": self.added_nodes,
        }


def compare_plans(baseline: FlowPlan, scenario: FlowPlan, tolerance: float = 1e-6) -> FlowComparison:
    """What changed from ``baseline`` to ``scenario``: flows, nodes used, cost components."""
    key = ["edge", "source", "target", "product"]
    before = baseline.flows[[*key, "flow"]].rename(columns={"flow": "before"})
    after = scenario.flows[[*key, "flow"]].rename(columns={"flow": "after"})
    joined = before.merge(after, on=key, how="outer").fillna({"before": 0.0, "after": 0.0})
    joined["delta"] = joined["after"] - joined["before"]
    changed = joined[joined["delta"].abs() > tolerance * 1e3].copy()
    changed = changed.reindex(changed["delta"].abs().sort_values(ascending=False, kind="stable").index)
    changed = changed.reset_index(drop=True)
    b_used = set(baseline.used_nodes)
    s_used = set(scenario.used_nodes)
    b_nodes = list(baseline.nodes["node"])
    s_nodes = list(scenario.nodes["node"])
    return FlowComparison(
        baseline=baseline,
        scenario=scenario,
        changed_flows=changed,
        newly_used=[n for n in s_nodes if n in s_used and n not in b_used],
        newly_unused=[n for n in b_nodes if n in b_used and n not in s_used and n in s_nodes],
        removed_nodes=[n for n in b_nodes if n not in s_nodes],
        added_nodes=[n for n in s_nodes if n not in b_nodes],
    )


def compare_flow(
    twin: TwinSpec,
    scenario: Scenario | AppliedScenario,
    options: FlowOptions | None = None,
    baseline: FlowPlan | None = None,
    **option_values: Any,
) -> FlowComparison:
    """Solve the baseline and the scenario and compare them.

    Raises :class:`InfeasibleFlowError` (carrying the baseline plan) when the scenario admits no
    plan.
    """
    if option_values:
        base = options or FlowOptions()
        options = FlowOptions(**{**base.__dict__, **option_values})
    baseline = baseline or optimize_flow(twin, None, options)
    try:
        changed = optimize_flow(twin, scenario, options)
    except InfeasibleFlowError as exc:
        raise InfeasibleFlowError(exc.explanation, baseline=baseline) from None
    return compare_plans(baseline, changed, (options or FlowOptions()).tolerance)
