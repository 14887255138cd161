from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def bottling_line():
    from twinforge.spec import load_spec

    return load_spec(EXAMPLES / "bottling_line.yaml")


@pytest.fixture
def supply_chain():
    from twinforge.spec import load_spec

    return load_spec(EXAMPLES / "supply_chain.yaml")


@pytest.fixture
def pump_station():
    from twinforge.spec import load_spec

    return load_spec(EXAMPLES / "pump_station.yaml")


@pytest.fixture
def warehouse():
    """The warehouse dev twin (a source, parallel pick zones, a sorter, pack benches)."""
    from twinforge.spec import load_spec

    return load_spec(ROOT / "benchmarks" / "ask" / "dev" / "warehouse_picking.yaml")
