"""Typed errors of the simulator."""

from __future__ import annotations

from twinforge.errors import TwinforgeError


class SimulationError(TwinforgeError):
    """A twin (or a scenario, a starting state, an option) cannot be simulated as given."""


class KpiExpressionError(SimulationError):
    """A user-defined KPI expression is invalid or refers to something unknown."""
