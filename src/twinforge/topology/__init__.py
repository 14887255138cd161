"""Learning a twin's topology from sensor data: which nodes connect, in which direction, how sure.

>>> from twinforge.topology import read_signals, infer_topology, accept_edges
>>> data = read_signals("line.csv", twin)          # columns mapped onto the twin's nodes
>>> proposal = infer_topology(data, twin=twin)
>>> edges = proposal.proposed(min_confidence=0.5)  # source -> target, lag, confidence, evidence
>>> new_twin, diff = accept_edges(twin, edges)     # validated by the spec; diff.render()

See docs/topology.md for the method and its measured accuracy.
"""

from twinforge.topology.infer import (
    ProposedEdge,
    TopologyAcceptError,
    TopologyProposal,
    accept_edges,
    edge_kind_for,
    infer_topology,
    twin_from_signals,
)
from twinforge.topology.score import DEFAULT_CALIBRATION, FEATURES, Calibration, fit_calibration
from twinforge.topology.signals import (
    ITEM_STATES,
    SignalData,
    SignalInfo,
    TopologyInputError,
    read_signals,
    signals_from_frame,
    with_item_sensors,
)

__all__ = [
    "DEFAULT_CALIBRATION",
    "FEATURES",
    "ITEM_STATES",
    "Calibration",
    "ProposedEdge",
    "SignalData",
    "SignalInfo",
    "TopologyAcceptError",
    "TopologyInputError",
    "TopologyProposal",
    "accept_edges",
    "edge_kind_for",
    "fit_calibration",
    "infer_topology",
    "read_signals",
    "signals_from_frame",
    "twin_from_signals",
    "with_item_sensors",
]
