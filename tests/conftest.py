from __future__ import annotations

from pathlib import Path

import pytest

from twinforge.data import MosquittoBroker
from twinforge.data.brokers import mosquitto_binary

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


@pytest.fixture
def mosquitto(tmp_path: Path):
    """A real mosquitto on a free loopback port, with twinforge's no-drop configuration."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto binary not installed (.ci/run installs it with apt-get install mosquitto)")
    broker = MosquittoBroker(data_dir=tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.close()
