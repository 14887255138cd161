"""Sampled telemetry: sensors reading states with noise, generated after the fact.

During a run the simulator records only the *change points* of observed states (see
:mod:`twinforge.sim.series`); samples at each signal's ``period`` are computed afterwards with
numpy: exact state value, plus process noise for derived pump quantities (see
:data:`twinforge.sim.components.hydraulics.PROCESS_NOISE`), plus measurement noise
``N(0, noise_std)``, clipped to the instrument ``range``. A sensor in an outage produces no samples.
Sample times are multiples of the period from time zero.

:func:`iter_telemetry` streams samples over simulated time (chunk by chunk, for ever if no horizon
is given): the seam for a plant emulator that publishes them over MQTT.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from twinforge.sim.components.hydraulics import PROCESS_NOISE
from twinforge.sim.model import Model, RunOptions
from twinforge.sim.plan import ModelPlan, SignalPlan, compile_twin, parse_duration

COLUMNS = ["node", "signal", "t", "value"]
PROCESS_NOISE_MEMORY = 10.0  # s


class TelemetrySample(NamedTuple):
    node: str
    signal: str
    t: float  # seconds of simulated time
    value: float
    unit: str | None


def _rng(model: Model, sig: SignalPlan, purpose: str) -> np.random.Generator:
    cache = model.__dict__.setdefault("_telemetry_rngs", {})
    key = (sig.node, sig.signal, purpose)
    if key not in cache:
        cache[key] = model.streams.generator(sig.node, f"{purpose}:{sig.signal}")
    return cache[key]


def _process_noise(model: Model, sig: SignalPlan, n: int) -> np.ndarray | None:
    kind = model.plan.nodes[sig.target].kind
    if kind != "pump":
        return None
    base = "acceleration" if sig.state.startswith("acceleration") else sig.state
    std = PROCESS_NOISE.get(base)
    if not std or n == 0:
        return None
    phi = math.exp(-sig.period / PROCESS_NOISE_MEMORY)
    state = model.__dict__.setdefault("_telemetry_ar", {})
    key = (sig.node, sig.signal)
    eps = _rng(model, sig, "process_noise").standard_normal(n)
    zi = np.array([phi * state.get(key, 0.0)])
    x, _ = lfilter([math.sqrt(1 - phi * phi) * std], [1.0, -phi], eps, zi=zi)
    state[key] = float(x[-1])
    return x


def signal_values(model: Model, sig: SignalPlan, t_from: float, t_to: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample times in ``[t_from, t_to)`` and sampled values of one signal."""
    period = sig.period
    k0 = math.ceil(t_from / period - 1e-9)
    k1 = math.ceil(t_to / period - 1e-9)
    times = np.arange(k0, k1, dtype=float) * period
    if (sig.target, sig.state) in model.plan.custom_states:
        values = np.full(times.shape, model.plan.custom_states[(sig.target, sig.state)])
    else:
        values = model.recorders[(sig.target, sig.state)].series(t_to).at(times)
    noise = _process_noise(model, sig, len(times))
    if noise is not None:
        values = values * (1.0 + noise)
    values = values * sig.scale + sig.offset
    if sig.noise_std > 0 and len(times):
        values = values + _rng(model, sig, "noise").normal(0.0, sig.noise_std, len(times))
    if sig.range is not None:
        values = np.clip(values, sig.range[0], sig.range[1])
    keep = np.ones(len(times), dtype=bool)
    for node in {sig.node, sig.target}:
        for start, end in model.sensor_outages.get(node, ()):
            keep &= ~((times >= start) & (times < end))
    return times[keep], values[keep]


def generate(model: Model, t_from: float, t_to: float) -> pd.DataFrame:
    """Tidy telemetry ``(node, signal, t, value)`` of every signal for ``[t_from, t_to)``, by time."""
    parts = []
    for sig in model.plan.signals:
        times, values = signal_values(model, sig, t_from, t_to)
        if len(times):
            parts.append(
                pd.DataFrame(
                    {
                        "node": np.repeat(sig.node, len(times)),
                        "signal": np.repeat(sig.signal, len(times)),
                        "t": times,
                        "value": values,
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("t", "value") else object) for c in COLUMNS})
    df = pd.concat(parts, ignore_index=True)
    return df.sort_values(["t", "node", "signal"], kind="stable", ignore_index=True)


def iter_telemetry(
    twin: Any,
    *,
    horizon: float | str | None = None,
    seed: int = 0,
    replication: int = 0,
    scenario: Any = None,
    state: Mapping[str, Mapping[str, Any]] | None = None,
    chunk: float | str = 3600.0,
) -> Iterator[TelemetrySample]:
    """Telemetry samples in time order, simulated ``chunk`` by ``chunk`` (no horizon: endless).

    ``twin`` is a :class:`~twinforge.spec.TwinSpec` or a compiled :class:`ModelPlan`; ``state`` a
    starting state ``{node: {state: value}}``. Timestamps are seconds of simulated time from 0."""
    plan = twin if isinstance(twin, ModelPlan) else compile_twin(twin, scenario)
    end = math.inf if horizon is None else parse_duration(horizon, "horizon")
    step = parse_duration(chunk, "chunk")
    if step <= 0:
        from twinforge.sim.errors import SimulationError

        raise SimulationError("chunk must be a positive time")
    model = Model(plan, seed, replication, RunOptions(horizon=end, telemetry=True, state=state))
    model.start()
    units = {(s.node, s.signal): s.unit for s in plan.signals}
    t = 0.0
    while t < end:
        t_next = min(t + step, end)
        model.advance(t_next)
        frame = generate(model, t, t_next)
        for node, signal, ts, value in zip(
            frame["node"].tolist(),
            frame["signal"].tolist(),
            frame["t"].tolist(),
            frame["value"].tolist(),
            strict=True,
        ):
            yield TelemetrySample(node, signal, ts, value, units.get((node, signal)))
        for rec in model.recorders.values():
            rec.prune(t_next)
        t = t_next
