"""The example twins that ship with twinforge."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from twinforge.errors import TwinforgeError

EXAMPLES = {
    "bottling_line": "bottling_line.yaml",
    "supply_chain": "supply_chain.yaml",
    "pump_station": "pump_station.yaml",
    "water_tower": "water_tower.yaml",
}


def examples_dir() -> Path:
    """Folder holding the example twins (inside the wheel, or ``examples/`` in a source checkout)."""
    packaged = Path(str(resources.files("twinforge"))) / "examples"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "examples"
    if checkout.is_dir():
        return checkout
    raise TwinforgeError("cannot find the example twins (neither packaged nor in a source checkout)")


def example_path(name: str) -> Path:
    """Path of an example twin by short name (``bottling_line``, ``supply_chain``, ``pump_station``, ``water_tower``)."""
    if name not in EXAMPLES:
        raise TwinforgeError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}")
    return examples_dir() / EXAMPLES[name]
