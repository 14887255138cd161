"""Typed errors of the data layer."""

from __future__ import annotations

from twinforge.errors import TwinforgeError


class DataError(TwinforgeError):
    """Data that cannot be read or stored as asked (a bad timestamp, a duration, a query)."""


class MappingError(DataError):
    """A mapping (file columns or MQTT topics → twin signals) that does not fit the twin."""


class StoreError(DataError):
    """The time-series store cannot be opened or used (locked by another process, wrong schema)."""


class BrokerError(DataError):
    """An MQTT broker cannot be reached, started or used."""
