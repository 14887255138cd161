"""The universal twin model: a typed graph of nodes and edges with parameters, state and signals.

These pydantic models check *structure* (types, required fields, shapes). Meaning (known kinds and
parameters, units, bounds, references, kind rules) is checked by :mod:`twinforge.spec.validate`,
which needs the whole twin and collects every issue in one pass.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twinforge.errors import UnitError, UnknownEntityError, did_you_mean
from twinforge.spec import units
from twinforge.spec.catalog import (
    CATALOG,
    EDGE_CATALOG,
    EDGE_KIND_ALIASES,
    KIND_ALIASES,
    ParamDef,
    StateDef,
)
from twinforge.spec.distributions import Distribution

SPEC_VERSION = 1
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]*$"


class Parameter(BaseModel):
    """A parameter value with its unit, optional bounds, distribution and per-product values.

    Shorthands accepted on input: a number (``3``: in the catalogue unit) or a quantity string
    (``"2.5 min"``). ``value`` is the nominal value; for a stochastic parameter it defaults to the
    mean of ``distribution``.
    """

    model_config = ConfigDict(extra="forbid")

    value: float | None = None
    unit: str | None = None
    bounds: tuple[float | None, float | None] | None = None
    distribution: Distribution | None = None
    by_product: dict[str, float] | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"value": float(data)}
        if isinstance(data, int | float):
            return {"value": data}
        if isinstance(data, str):
            try:
                value, unit = units.parse_quantity(data)
            except UnitError as exc:
                raise ValueError(str(exc)) from None
            return {"value": value, "unit": unit or None}
        return data

    @model_validator(mode="after")
    def _has_value(self) -> Parameter:
        if self.value is None and self.distribution is None and not self.by_product:
            raise ValueError("a parameter needs a value, a distribution or by_product values")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"value must be a finite number, found {self.value}")
        return self

    @property
    def nominal(self) -> float | None:
        """The nominal value: ``value``, else the distribution mean, else None (per-product only)."""
        if self.value is not None:
            return self.value
        if self.distribution is not None:
            return self.distribution.mean()
        return None

    def for_product(self, product: str | None) -> float | None:
        if product is not None and self.by_product and product in self.by_product:
            return self.by_product[product]
        return self.nominal

    def converted(
        self, to_unit: str | None, product: str | None = None, default_unit: str | None = None
    ) -> float:
        """The value in ``to_unit``; a parameter written without a unit is in ``default_unit``
        (its catalogue unit)."""
        value = self.for_product(product)
        if value is None:
            raise ValueError("parameter has no value for this product")
        return units.convert(value, self.unit if self.unit is not None else default_unit, to_unit)


class StateVar(BaseModel):
    """A state variable declared (or customised) on a node."""

    model_config = ConfigDict(extra="forbid")

    unit: str | None = None
    initial: float | None = None
    bounds: tuple[float | None, float | None] | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"initial": data}
        if isinstance(data, str):
            value, unit = units.parse_quantity(data)
            return {"initial": value, "unit": unit or None}
        return data


class Signal(BaseModel):
    """A telemetry channel: what it observes, in which unit, how often."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-. ]*$")
    state: str | None = Field(
        default=None,
        description="State variable observed: 'var' on this node, or 'node.var' on another node. "
        "Defaults to the sensor's `observes`, or to the signal name.",
    )
    unit: str | None = None
    period: float | str = Field(
        default=1.0, description="Sampling period: seconds, or a quantity such as '1 min'"
    )
    noise_std: float = Field(default=0.0, ge=0, description="Measurement noise (std, in the signal unit)")
    range: tuple[float, float] | None = Field(default=None, description="Measuring range of the instrument")
    description: str | None = None

    @property
    def period_s(self) -> float:
        if isinstance(self.period, int | float):
            return float(self.period)
        value, unit = units.parse_quantity(self.period)
        return units.convert(value, unit or "s", "s")


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float | None = None
    y: float | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    site: str | None = None


class Node(BaseModel):
    """One element of the twin: an asset, a process step, a store, a partner or a sensor."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    kind: str
    name: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    location: Location | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    state: dict[str, StateVar] = Field(default_factory=dict)
    signals: list[Signal] = Field(default_factory=list)
    observes: str | None = Field(default=None, description="Sensors only: 'node.state' observed")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip().lower().replace(" ", "_").replace("-", "_")
            return KIND_ALIASES[text].value if text in KIND_ALIASES else text
        return v

    # -- catalogue lookups ---------------------------------------------------------------
    @property
    def known_kind(self) -> bool:
        return self.kind in CATALOG

    def param_def(self, name: str) -> ParamDef | None:
        kd = CATALOG.get(self.kind)
        return kd.params.get(name) if kd else None

    def state_names(self) -> list[str]:
        kd = CATALOG.get(self.kind)
        names = list(kd.states) if kd else []
        names += [s for s in self.state if s not in names]
        return names

    def state_def(self, name: str) -> StateDef | None:
        kd = CATALOG.get(self.kind)
        return kd.states.get(name) if kd else None

    def state_unit(self, name: str) -> str | None:
        if name in self.state and self.state[name].unit is not None:
            return self.state[name].unit
        sd = self.state_def(name)
        return sd.unit if sd else None

    def signal(self, name: str) -> Signal:
        for s in self.signals:
            if s.name == name:
                return s
        raise UnknownEntityError(
            f"node {self.id!r} has no signal {name!r}{did_you_mean(name, [s.name for s in self.signals])}"
        )


class Edge(BaseModel):
    """A directed relation between two nodes: material, energy, information, physical or dependency."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    source: str
    target: str
    kind: str = "material"
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    products: list[str] | None = Field(
        default=None, description="Products allowed on this edge (all when absent)"
    )
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip().lower().replace(" ", "_").replace("-", "_")
            return EDGE_KIND_ALIASES[text].value if text in EDGE_KIND_ALIASES else text
        return v

    @property
    def key(self) -> str:
        """The edge's identity: its ``id``, else ``source->target``."""
        return self.id or f"{self.source}->{self.target}"

    def param_def(self, name: str) -> ParamDef | None:
        kd = EDGE_CATALOG.get(self.kind)
        return kd.params.get(name) if kd else None


class PlanningRules(BaseModel):
    """What a plan computed from the twin must respect, as operations-research models state it.

    ``demand``: ``exact`` (every customer receives exactly its demand) or ``at_least`` (at least its
    demand; more is allowed when it is cheaper or a contract minimum forces it).
    ``integer_flows``: shipments are whole items (pallets, containers): the flow plan is a MIP.
    """

    model_config = ConfigDict(extra="forbid")

    demand: Literal["exact", "at_least"] = "exact"
    integer_flows: bool = False


class TwinSpec(BaseModel):
    """A whole twin. Load one with :func:`twinforge.spec.load_spec`; it is validated on load."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: Literal[1] = Field(default=SPEC_VERSION, alias="twinforge", description="Spec format version")
    name: str
    description: str | None = None
    currency: str = Field(default="EUR", description="Currency of every cost in this twin")
    products: list[str] = Field(default_factory=list, description="Products (commodities) that flow")
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    planning: PlanningRules | None = Field(
        default=None,
        description="Rules for plans computed from the twin (demand met exactly or at least; whole-item flows)",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    # -- lookups -------------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def has_node(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self.nodes)

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise UnknownEntityError(
            f"twin {self.name!r} has no node {node_id!r}{did_you_mean(node_id, self.node_ids())}"
        )

    def edge(self, key: str) -> Edge:
        for e in self.edges:
            if e.key == key or e.id == key:
                return e
        keys = [e.key for e in self.edges]
        raise UnknownEntityError(f"twin {self.name!r} has no edge {key!r}{did_you_mean(key, keys)}")

    def edges_between(self, source: str, target: str) -> list[Edge]:
        return [e for e in self.edges if e.source == source and e.target == target]

    def element(self, ref: str) -> Node | Edge:
        """A node by id, or an edge by id or ``source->target``."""
        if self.has_node(ref):
            return self.node(ref)
        if any(e.key == ref or e.id == ref for e in self.edges):
            return self.edge(ref)
        choices = self.node_ids() + [e.key for e in self.edges]
        raise UnknownEntityError(
            f"twin {self.name!r} has no node or edge {ref!r}{did_you_mean(ref, choices)}"
        )

    # -- typed parameter access ----------------------------------------------------------
    def param_unit(self, ref: str, name: str) -> str:
        """The catalogue unit of a parameter (in this twin's currency)."""
        el = self.element(ref)
        pdef = self._param_def(el, name)
        if pdef is None:
            p = el.parameters.get(name)
            return (p.unit or "") if p else ""
        return pdef.unit_for(self.currency)

    def _param_def(self, el: Node | Edge, name: str) -> ParamDef | None:
        pdef = el.param_def(name)
        if pdef is None and not (isinstance(el, Node) and el.kind == "custom" and name in el.parameters):
            kd = CATALOG.get(el.kind) if isinstance(el, Node) else EDGE_CATALOG.get(el.kind)
            choices = list(kd.params) if kd else []
            what = f"kind {el.kind!r}" if isinstance(el, Node) else f"{el.kind} edges"
            raise UnknownEntityError(
                f"{'node' if isinstance(el, Node) else 'edge'} {_ref(el)!r} ({what}) has no parameter "
                f"{name!r}{did_you_mean(name, choices)}; valid: {', '.join(choices) or 'none'}"
            )
        return pdef

    def get(self, ref: str, name: str, unit: str | None = None, product: str | None = None) -> float:
        """Value of a parameter in ``unit`` (default: the catalogue unit). Defaults apply."""
        el = self.element(ref)
        pdef = self._param_def(el, name)
        target = unit if unit is not None else (pdef.unit_for(self.currency) if pdef else None)
        p = el.parameters.get(name)
        if p is not None and p.for_product(product) is not None:
            cat_unit = pdef.unit_for(self.currency) if pdef else None
            return p.converted(target if target is not None else p.unit, product, default_unit=cat_unit)
        if pdef is not None and pdef.default is not None:
            return units.convert(pdef.default, pdef.unit_for(self.currency), target)
        raise UnknownEntityError(
            f"{_ref(el)!r} has no value for {name!r}" + (f" (product {product!r})" if product else "")
        )

    def has_value(self, ref: str, name: str, product: str | None = None) -> bool:
        try:
            self.get(ref, name, product=product)
        except UnknownEntityError:
            return False
        return True

    def set(
        self,
        ref: str,
        name: str,
        value: float | str,
        unit: str | None = None,
        product: str | None = None,
    ) -> None:
        """Set a parameter, converting units and checking bounds. Keeps the file's own unit and
        rescales a distribution so that its shape is kept."""
        from twinforge.spec.validate import check_param_value

        el = self.element(ref)
        pdef = self._param_def(el, name)
        if isinstance(value, str):
            value, text_unit = units.parse_quantity(value)
            unit = text_unit or unit
        existing = el.parameters.get(name)
        store_unit = (
            existing.unit
            if existing is not None and existing.unit
            else (pdef.unit_for(self.currency) if pdef else unit)
        )
        in_unit = unit if unit is not None else (pdef.unit_for(self.currency) if pdef else store_unit)
        new_value = units.convert(float(value), in_unit, store_unit)
        check_param_value(self, el, name, new_value, store_unit, product=product)
        if existing is None:
            existing = Parameter(value=new_value, unit=store_unit or None)
            if product is not None:
                existing = Parameter(by_product={product: new_value}, unit=store_unit or None)
            el.parameters[name] = existing
            return
        if product is not None:
            existing.by_product = {**(existing.by_product or {}), product: new_value}
            return
        if existing.distribution is not None and existing.distribution.mean() != 0:
            existing.distribution = existing.distribution.with_mean(new_value)
        existing.value = new_value
        if existing.by_product:
            # a plain set applies to every product
            existing.by_product = {k: new_value for k in existing.by_product}

    def scale(self, ref: str, name: str, factor: float, product: str | None = None) -> None:
        """Multiply a parameter (its value, distribution and per-product values) by ``factor``."""
        from twinforge.spec.validate import check_param_value

        el = self.element(ref)
        pdef = self._param_def(el, name)
        existing = el.parameters.get(name)
        if existing is None:
            if pdef is None or pdef.default is None:
                raise UnknownEntityError(f"{_ref(el)!r} has no value for {name!r} to scale")
            existing = Parameter(value=pdef.default, unit=pdef.unit_for(self.currency))
        updated = existing.model_copy(deep=True)
        if product is not None:
            base = updated.for_product(product)
            if base is None:
                raise UnknownEntityError(f"{_ref(el)!r} has no value of {name!r} for product {product!r}")
            updated.by_product = {**(updated.by_product or {}), product: base * factor}
        else:
            if updated.value is not None:
                updated.value *= factor
            if updated.distribution is not None:
                updated.distribution = updated.distribution.scaled(factor)
            if updated.by_product:
                updated.by_product = {k: v * factor for k, v in updated.by_product.items()}
        for prod, val in [(product, updated.for_product(product))] if product else [(None, updated.nominal)]:
            if val is not None:
                check_param_value(self, el, name, val, updated.unit, product=prod)
        for prod, val in (updated.by_product or {}).items():
            check_param_value(self, el, name, val, updated.unit, product=prod)
        el.parameters[name] = updated

    # -- graph ---------------------------------------------------------------------------
    def graph(self):  # -> TwinGraph (import cycle avoided)
        from twinforge.spec.graph import TwinGraph

        return TwinGraph(self)

    def copy_deep(self) -> TwinSpec:
        return copy.deepcopy(self)

    def check(self) -> TwinSpec:
        """Validate meaning (kinds, parameters, units, bounds, references); raise SpecError."""
        from twinforge.spec.validate import validate_spec_or_raise

        validate_spec_or_raise(self)
        return self


def _ref(el: Node | Edge) -> str:
    return el.id if isinstance(el, Node) else el.key
