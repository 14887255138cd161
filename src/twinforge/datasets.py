"""Where the reference data sets live (SKAB, C-MAPSS, CVRP): ``../shared/data`` next to the
project, or the folder named by ``TWINFORGE_DATA``. twinforge never downloads data."""

from __future__ import annotations

import os
from pathlib import Path

from twinforge.errors import TwinforgeError

#: the eight signals of the SKAB testbed, as its CSV files name their columns
SKAB_SIGNALS = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
]


def reference_data_dir() -> Path:
    env = os.environ.get("TWINFORGE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def reference_data(name: str) -> Path:
    """Path of one reference data set folder (``skab``, ``cmapss``, ``cvrp``); a clear error when absent."""
    path = reference_data_dir() / name
    if not path.is_dir():
        raise TwinforgeError(
            f"reference data {name!r} not found at {path}; set TWINFORGE_DATA to the folder holding "
            "skab/, cmapss/ and cvrp/"
        )
    return path
