from __future__ import annotations

import pytest

from twinforge.spec import loads_spec

#: One station with known distributions between a source and a sink: fast to simulate, many
#: failures (so MTBF and MTTR are estimable in a few simulated days).
ONE_STATION = """
twinforge: 1
name: one-station
nodes:
  - id: src
    kind: source
    parameters:
      interarrival_time: {distribution: {type: exponential, mean: 20}, unit: s}
  - id: buf
    kind: buffer
    parameters: {capacity: 50, initial_level: 0}
  - id: press
    kind: station
    parameters:
      process_time: {distribution: {type: lognormal, mean: 15, std: 2}, unit: s}
      mtbf: {distribution: {type: weibull, shape: 1.5, scale: 2}, unit: h}
      mttr: {distribution: {type: lognormal, mean: 10, std: 3}, unit: min}
  - id: out
    kind: sink
edges:
  - {source: src, target: buf}
  - {source: buf, target: press}
  - {source: press, target: out}
"""


@pytest.fixture
def one_station():
    return loads_spec(ONE_STATION)


@pytest.fixture(scope="module")
def one_station_log():
    from twinforge.calibration import simulate_event_log

    return simulate_event_log(loads_spec(ONE_STATION), "10 days", seed=4)


@pytest.fixture(scope="module")
def one_station_result(one_station_log):
    from twinforge.calibration import calibrate_events

    return calibrate_events(loads_spec(ONE_STATION), one_station_log)
