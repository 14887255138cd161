from __future__ import annotations

import os

import pytest

from twinforge.spec import loads_spec


def line_twin(
    name: str,
    interarrival: dict | float,
    stations: list[dict],
    buffers: list[int | None] | None = None,
    extra_nodes: str = "",
) -> object:
    """A serial line: source -> [buffer] -> station -> ... -> sink, built as YAML.

    ``stations`` are parameter mappings (YAML flow text is generated); ``buffers[i]`` is the
    capacity of the buffer in front of station i (None: no buffer)."""
    import yaml

    buffers = buffers if buffers is not None else [None] * len(stations)
    ia = interarrival if isinstance(interarrival, dict) else {"value": interarrival, "unit": "s"}
    nodes = [{"id": "src", "kind": "source", "parameters": {"interarrival_time": ia}}]
    edges = []
    prev = "src"
    for i, (params, cap) in enumerate(zip(stations, buffers, strict=True)):
        if cap is not None:
            nodes.append({"id": f"b{i + 1}", "kind": "buffer", "parameters": {"capacity": cap}})
            edges.append({"source": prev, "target": f"b{i + 1}"})
            prev = f"b{i + 1}"
        nodes.append({"id": f"s{i + 1}", "kind": "station", "parameters": params})
        edges.append({"source": prev, "target": f"s{i + 1}"})
        prev = f"s{i + 1}"
    nodes.append({"id": "out", "kind": "sink"})
    edges.append({"source": prev, "target": "out"})
    text = yaml.safe_dump({"twinforge": 1, "name": name, "nodes": nodes, "edges": edges}, sort_keys=False)
    return loads_spec(text + extra_nodes)


def exp(mean: float) -> dict:
    return {"distribution": {"type": "exponential", "mean": mean}, "unit": "s"}


def const(value: float, unit: str = "s") -> dict:
    return {"value": value, "unit": unit}


class TwinBuilder:
    """Small twins for tests: ``tw.line(...)``, distributions ``tw.exp(mean)``, ``tw.const(v)``."""

    line = staticmethod(line_twin)
    exp = staticmethod(exp)
    const = staticmethod(const)


@pytest.fixture
def tw() -> TwinBuilder:
    return TwinBuilder()


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray 'cluster' with 2 CPUs, started once per test session."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
