"""Simulation speed: twinforge's kernel vs the same models written directly in SimPy.

Two models, each built twice with identical parameters:

- M/M/1: Poisson arrivals (rate 0.8), one exponential server (rate 1), unlimited queue;
- a line of 5 stations with exponential process times (means 0.8, 0.85, 0.9, 0.85, 0.8), a finite
  buffer of 10 in front of each, blocking after service, and a source (exponential 1.0) that
  blocks when the first buffer is full.

The SimPy versions are what one would write by hand: a source process, a ``Resource`` (M/M/1) or
``Store`` buffers with a process per station (line). Both count the same thing — items that
reached the end — and the rate is items per second of wall time (best of ``--repeat`` runs, so
that noise from other processes on the machine hurts both the same way).

Last line: ``sim_speed mm1_ratio=<x> line_ratio=<y>`` (twinforge items/s over SimPy items/s).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simpy
import yaml

from benchmarks._record import markdown_table, record
from twinforge.sim import Model, RunOptions, compile_twin
from twinforge.spec import loads_spec

LINE_MEANS = (0.8, 0.85, 0.9, 0.85, 0.8)
BUFFER = 10


# -- SimPy, written directly -------------------------------------------------------------------


def simpy_mm1(horizon: float, seed: int) -> int:
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = random.Random(seed)
    done = [0]

    def customer(env):
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0))
        done[0] += 1

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(0.8))
            env.process(customer(env))

    env.process(source(env))
    env.run(until=horizon)
    return done[0]


def simpy_line(horizon: float, seed: int) -> int:
    env = simpy.Environment()
    rng = random.Random(seed)
    buffers = [simpy.Store(env, capacity=BUFFER) for _ in LINE_MEANS]
    done = [0]

    def source(env):
        n = 0
        while True:
            yield env.timeout(rng.expovariate(1.0))
            yield buffers[0].put(n)  # blocks while the first buffer is full
            n += 1

    def station(env, i, mean):
        while True:
            item = yield buffers[i].get()
            yield env.timeout(rng.expovariate(1.0 / mean))
            if i + 1 < len(buffers):
                yield buffers[i + 1].put(item)  # blocking after service
            else:
                done[0] += 1

    env.process(source(env))
    for i, mean in enumerate(LINE_MEANS):
        env.process(station(env, i, mean))
    env.run(until=horizon)
    return done[0]


# -- the same models as twins -------------------------------------------------------------------


def exp(mean: float) -> dict:
    return {"distribution": {"type": "exponential", "mean": mean}, "unit": "s"}


def twin_mm1():
    return loads_spec(
        yaml.safe_dump(
            {
                "twinforge": 1,
                "name": "mm1",
                "nodes": [
                    {"id": "src", "kind": "source", "parameters": {"interarrival_time": exp(1.25)}},
                    {"id": "queue", "kind": "buffer", "parameters": {"capacity": 10**9}},
                    {"id": "server", "kind": "station", "parameters": {"process_time": exp(1.0)}},
                    {"id": "done", "kind": "sink"},
                ],
                "edges": [
                    {"source": "src", "target": "queue"},
                    {"source": "queue", "target": "server"},
                    {"source": "server", "target": "done"},
                ],
            }
        )
    )


def twin_line():
    nodes = [{"id": "src", "kind": "source", "parameters": {"interarrival_time": exp(1.0)}}]
    edges = []
    prev = "src"
    for i, mean in enumerate(LINE_MEANS, start=1):
        nodes.append({"id": f"b{i}", "kind": "buffer", "parameters": {"capacity": BUFFER}})
        nodes.append({"id": f"s{i}", "kind": "station", "parameters": {"process_time": exp(mean)}})
        edges += [{"source": prev, "target": f"b{i}"}, {"source": f"b{i}", "target": f"s{i}"}]
        prev = f"s{i}"
    nodes.append({"id": "done", "kind": "sink"})
    edges.append({"source": prev, "target": "done"})
    return loads_spec(yaml.safe_dump({"twinforge": 1, "name": "line5", "nodes": nodes, "edges": edges}))


def twinforge_run(plan, horizon: float, seed: int) -> tuple[int, int]:
    model = Model(plan, seed, 0, RunOptions(horizon=horizon))
    result = model.run()
    done = next(r[3] for r in result.kpis if r[0] == "output")
    return int(done), result.sim_events


def measure(fn) -> tuple[int, int, float, float]:
    """(items, events, wall seconds, CPU seconds of this process) of one run."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    w1, c1 = time.perf_counter(), time.process_time()
    items, events = out if isinstance(out, tuple) else (out, 0)
    return items, events, w1 - w0, c1 - c0


def compare(simpy_fn, twin_fn, repeat: int) -> dict[str, dict[str, float]]:
    """Runs alternate (SimPy, twinforge, SimPy, ...) so that changing load hits both alike; the
    best rate of each is kept, by wall time and by CPU time."""
    best: dict[str, dict[str, float]] = {}
    for k in range(repeat):
        for name, fn in (("simpy", simpy_fn), ("twinforge", twin_fn)):
            items, events, wall, cpu = measure(lambda fn=fn, seed=100 + k: fn(seed))
            cur = best.setdefault(
                name,
                {
                    "items": items,
                    "events": events,
                    "wall": wall,
                    "cpu": cpu,
                    "wall_rate": 0.0,
                    "cpu_rate": 0.0,
                },
            )
            if items / wall > cur["wall_rate"]:
                cur.update(wall_rate=items / wall, wall=wall, items=items, events=events)
            if items / cpu > cur["cpu_rate"]:
                cur.update(cpu_rate=items / cpu, cpu=cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon-mm1", type=float, default=150_000.0)
    parser.add_argument("--horizon-line", type=float, default=80_000.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    mm1_plan = compile_twin(twin_mm1())
    line_plan = compile_twin(twin_line())
    rows = []
    ratios: dict[str, tuple[float, float]] = {}
    for name, horizon, sp, plan in (
        ("M/M/1", args.horizon_mm1, simpy_mm1, mm1_plan),
        ("5-station line, buffers of 10", args.horizon_line, simpy_line, line_plan),
    ):
        best = compare(
            lambda seed, sp=sp, h=horizon: sp(h, seed),
            lambda seed, plan=plan, h=horizon: twinforge_run(plan, h, seed),
            args.repeat,
        )
        s_, t_ = best["simpy"], best["twinforge"]
        cpu_ratio = t_["cpu_rate"] / s_["cpu_rate"]
        wall_ratio = t_["wall_rate"] / s_["wall_rate"]
        ratios[name] = (cpu_ratio, wall_ratio)
        rows.append(
            [
                name,
                "SimPy (direct)",
                int(s_["items"]),
                f"{s_['cpu_rate']:,.0f}",
                f"{s_['wall_rate']:,.0f}",
                "",
                "",
            ]
        )
        rows.append(
            [
                name,
                f"twinforge ({t_['events'] / t_['items']:.1f} events/item)",
                int(t_["items"]),
                f"{t_['cpu_rate']:,.0f}",
                f"{t_['wall_rate']:,.0f}",
                f"{cpu_ratio:.2f}×",
                f"{wall_ratio:.2f}×",
            ]
        )
    headers = ["model", "engine", "items", "items/CPU-s", "items/wall-s", "ratio (CPU)", "ratio (wall)"]
    print(markdown_table(headers, rows))
    mm1_ratio, line_ratio = ratios["M/M/1"][0], ratios["5-station line, buffers of 10"][0]
    goal = "met" if min(mm1_ratio, line_ratio) >= 2.0 else "MISSED"
    if not args.no_record:
        record(
            "sim_speed",
            "Simulation speed: twinforge vs SimPy",
            f"Items that reached the end of the model per second, best of {args.repeat} alternating runs "
            f"of each engine over the same simulated horizon (M/M/1: {args.horizon_mm1:g} s, line: "
            f"{args.horizon_line:g} s). The SimPy versions are the same models written directly with "
            "processes, a `Resource` (M/M/1) and `Store`s (line). The headline ratio uses CPU seconds of "
            "the benchmark process, which other tenants of this shared machine disturb less than wall "
            "time; the wall-time ratio is shown next to it.\n\n"
            + markdown_table(headers, rows)
            + f"\n\nGoal: twinforge at least 2× plain SimPy on both models — **{goal}** "
            f"(M/M/1 {mm1_ratio:.2f}×, line {line_ratio:.2f}×, by CPU time).\n"
            "\nWhere the time goes: twinforge executes one kernel event per item and station (2 per item "
            "for M/M/1, 6 for the line) and hands items between components with direct method calls; "
            "SimPy needs about three events per item and station (get, timeout, put), each resuming a "
            "generator. The remaining cost in twinforge is Python call overhead of the hand-over "
            "protocol (offer / wait / on_space) that lets any component feed any other.\n",
        )
    print(f"sim_speed mm1_ratio={mm1_ratio:.2f} line_ratio={line_ratio:.2f}")


if __name__ == "__main__":
    main()
