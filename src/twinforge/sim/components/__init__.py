"""Component behaviours, one class per node kind, kept apart from the kernel."""

from twinforge.sim.components.base import Component, Item, MaterialNode
from twinforge.sim.components.flow import Buffer, Conveyor, Junction, Sink, Source
from twinforge.sim.components.hydraulics import HydraulicNetwork, Pump, Tank, Valve
from twinforge.sim.components.station import Station

COMPONENTS: dict[str, type[Component]] = {
    "source": Source,
    "station": Station,
    "buffer": Buffer,
    "conveyor": Conveyor,
    "sink": Sink,
    "junction": Junction,
    "tank": Tank,
    "pump": Pump,
    "valve": Valve,
}

#: Simulated state variables of each kind (what signals, thresholds and time series may observe).
STATE_NAMES: dict[str, tuple[str, ...]] = {kind: cls.STATES for kind, cls in COMPONENTS.items()}

__all__ = [
    "COMPONENTS",
    "STATE_NAMES",
    "Buffer",
    "Component",
    "Conveyor",
    "HydraulicNetwork",
    "Item",
    "MaterialNode",
    "Pump",
    "Sink",
    "Source",
    "Station",
    "Tank",
    "Valve",
]
