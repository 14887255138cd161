"""The universal twin model: typed graph, catalogue, units, validation, io, queries, diff, schema."""

from twinforge.spec.catalog import CATALOG, EDGE_CATALOG, EdgeKind, NodeKind, ParamDef, StateDef
from twinforge.spec.diff import Change, SpecDiff, diff_specs
from twinforge.spec.distributions import Distribution
from twinforge.spec.graph import TwinGraph
from twinforge.spec.io import dump_spec, dumps_spec, load_spec, loads_spec, parse_spec, spec_to_data
from twinforge.spec.models import Edge, Location, Node, Parameter, Signal, StateVar, TwinSpec
from twinforge.spec.schema import kind_json_schema, twin_json_schema
from twinforge.spec.validate import validate_spec

__all__ = [
    "CATALOG",
    "EDGE_CATALOG",
    "Change",
    "Distribution",
    "Edge",
    "EdgeKind",
    "Location",
    "Node",
    "NodeKind",
    "ParamDef",
    "Parameter",
    "Signal",
    "SpecDiff",
    "StateDef",
    "StateVar",
    "TwinGraph",
    "TwinSpec",
    "diff_specs",
    "dump_spec",
    "dumps_spec",
    "kind_json_schema",
    "load_spec",
    "loads_spec",
    "parse_spec",
    "spec_to_data",
    "twin_json_schema",
    "validate_spec",
]
