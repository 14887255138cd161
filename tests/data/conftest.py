from __future__ import annotations

import pytest

from twinforge.data import DuckDBStore
from twinforge.spec import loads_spec

FLOW_RIG = """
twinforge: 1
name: flow-rig
nodes:
  - {id: tank, kind: tank, parameters: {capacity: 2 m^3}, state: {temperature: {initial: 20}}}
  - {id: pump, kind: pump, parameters: {flow_rate: 10 m^3/h}}
  - id: flow
    kind: sensor
    observes: pump.flow
    signals: [{name: q, unit: m^3/h, period: 1 s, range: [0, 50]}]
  - id: thermo
    kind: sensor
    observes: tank.temperature
    signals: [{name: t, unit: degC, period: 10 s, range: [-20, 120]}]
  - id: thermo_backup
    kind: sensor
    observes: tank.temperature
    signals: [{name: t, unit: K, period: 10 s}]
  - id: level
    kind: sensor
    observes: tank.level
    signals: [{name: v, period: 5 s}]
edges:
  - {source: tank, target: pump, kind: physical}
"""


@pytest.fixture
def flow_rig():
    """A small twin with a flow meter (m^3/h), two thermometers (degC, K) and a level signal
    without its own unit (it takes the state's m^3)."""
    return loads_spec(FLOW_RIG)


@pytest.fixture
def store():
    with DuckDBStore(":memory:") as s:
        yield s


@pytest.fixture
def skab_dir():
    from twinforge.datasets import reference_data
    from twinforge.errors import TwinforgeError

    try:
        return reference_data("skab")
    except TwinforgeError as exc:
        pytest.skip(f"SKAB reference data absent: {exc}")
