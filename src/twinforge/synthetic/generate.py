"""Labelled synthetic telemetry: a twin's simulation with a fault from the library.

One run (:func:`generate`):

1. the twin is simulated (``twinforge.sim.iter_telemetry``) with the fault's timed setpoints as a
   scenario (the part of the fault the simulator models, e.g. a valve's opening);
   (with a fitted normal model: the mean of :data:`NORMAL_MODEL_REPLICATIONS` replications, so
   the simulator's own process noise is averaged out and the fitted noise replaces it);
2. the samples are put on one time grid (the fastest signal's period; slower signals hold their
   last sample, as a historian does);
3. the fault's physical relations change the signals it affects (:meth:`Fault.apply`);
4. when the twin carries a fitted normal model (``metadata.synthetic.normal``, see
   :mod:`twinforge.synthetic.normal`) its sensor gains and correlated noise are added;
5. sensor faults change the measured values (:meth:`Fault.measure`); values are clipped to each
   instrument's range.

The label ``anomaly`` is 1 from the fault's onset on. Every random draw comes from ``seed``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twinforge.spec import TwinSpec
from twinforge.synthetic.faults import (
    FAULT_KINDS,
    Fault,
    SyntheticError,
    TwinSignals,
    applicable_faults,
    make_fault,
)
from twinforge.synthetic.normal import NormalModel

MAX_DURATION_S = 7 * 86400.0
NORMAL_MODEL_REPLICATIONS = 4


@dataclass
class SyntheticRun:
    """One labelled run: ``frame`` (index ``t`` in seconds, one column per signal), ``anomaly``
    (0/1 per row) and the fault (None for a normal run)."""

    frame: pd.DataFrame
    anomaly: np.ndarray
    fault: Fault | None
    twin: str
    seed: int

    @property
    def label(self) -> str:
        return self.fault.kind if self.fault is not None else "normal"

    def labelled(self) -> pd.DataFrame:
        out = self.frame.copy()
        out["anomaly"] = self.anomaly
        out["fault"] = np.where(self.anomaly == 1, self.label, "normal")
        out["fault_node"] = np.where(self.anomaly == 1, self.fault.node if self.fault else "", "")
        return out

    def to_csv(self, path: str | Path) -> Path:
        p = Path(path)
        try:
            self.labelled().to_csv(p, index_label="t", float_format="%.6g")
        except OSError as exc:
            raise SyntheticError(f"cannot write {p}: {exc.strerror or exc}") from None
        return p


def normal_model(spec: TwinSpec) -> NormalModel | None:
    """The twin's fitted normal model, if its metadata has one."""
    data = (spec.metadata or {}).get("synthetic", {})
    if not isinstance(data, dict) or "normal" not in data:
        return None
    return NormalModel.from_metadata(data["normal"])


def _rng(seed: int, fault: Fault | None) -> np.random.Generator:
    tag = zlib.crc32(f"{fault.kind}:{fault.node}".encode()) if fault is not None else 0
    return np.random.default_rng([int(seed), tag])


def generate(
    spec: TwinSpec,
    fault: Fault | None = None,
    *,
    duration_s: float = 1200.0,
    seed: int = 0,
    signals: TwinSignals | None = None,
    replications: int | None = None,
) -> SyntheticRun:
    """Simulate ``spec`` for ``duration_s`` seconds with ``fault`` (None: normal operation).

    ``replications``: simulated replications averaged for the physical level (default: 1, or
    :data:`NORMAL_MODEL_REPLICATIONS` when the twin has a fitted normal model)."""
    from twinforge.scenario.models import Scenario
    from twinforge.sim import iter_telemetry

    if not 0 < duration_s <= MAX_DURATION_S:
        raise SyntheticError(f"duration must be in (0, {MAX_DURATION_S:g}] s; got {duration_s:g}")
    sig = signals if signals is not None else TwinSignals(spec)
    if not sig.refs:
        raise SyntheticError(f"twin {spec.name!r} has no signals to generate telemetry for")
    scenario = None
    if fault is not None:
        fault.check(sig)
        if fault.onset_s >= duration_s:
            raise SyntheticError(
                f"fault onset {fault.onset_s:g} s is not before the end of the run ({duration_s:g} s)"
            )
        steps = fault.interventions(sig)
        if steps:
            scenario = Scenario.model_validate(
                {"scenario": 1, "name": f"synthetic-{fault.kind}", "interventions": steps}
            )
    col_of = {(n, s): c for c, n, s, *_ in sig.refs}
    model = normal_model(spec)
    # with a fitted normal model, the physical level is the mean of several replications (the
    # simulator's own process noise averaged out); the fitted model then supplies the noise
    reps = replications or (NORMAL_MODEL_REPLICATIONS if model is not None else 1)
    rows = [
        (col_of[(x.node, x.signal)], x.t, x.value)
        for rep in range(reps)
        for x in iter_telemetry(spec, horizon=duration_s, seed=seed, replication=rep, scenario=scenario)
        if (x.node, x.signal) in col_of
    ]
    step = min(p for *_r, p in sig.refs)
    grid = np.arange(0.0, duration_s - 1e-9, step)
    if rows:
        tidy = pd.DataFrame(rows, columns=["column", "t", "value"])
        wide = tidy.pivot_table(index="t", columns="column", values="value", aggfunc="mean")
    else:
        wide = pd.DataFrame(index=pd.Index([], name="t"))
    wide = wide.reindex(columns=sig.columns)
    wide = wide.reindex(wide.index.union(grid)).sort_index().ffill().bfill().reindex(grid)
    if wide.isna().any().any():  # a signal with no sample at all (e.g. a sensor in outage)
        empty = [c for c in wide.columns if wide[c].isna().all()]
        raise SyntheticError(f"twin {spec.name!r}: the simulation gave no samples of {empty}")
    wide.index = pd.Index(grid, name="t")
    frame = wide.astype(float)
    rng = _rng(seed, fault)
    if fault is not None:
        fault.apply(frame, sig, rng)
    if model is not None:
        model.apply(frame, rng)
    if fault is not None:
        fault.measure(frame, sig, rng)
    ranges = {(s.node, s.signal): s.range for s in sig.plan.signals}
    for c, n, s, *_ in sig.refs:
        rg = ranges.get((n, s))
        if rg is not None:
            frame[c] = frame[c].clip(rg[0], rg[1])
    anomaly = (grid >= fault.onset_s).astype(int) if fault is not None else np.zeros(len(grid), dtype=int)
    return SyntheticRun(frame, anomaly, fault, spec.name, seed)


def random_fault(
    kind: str,
    node: str,
    rng: np.random.Generator,
    *,
    duration_s: float,
    severity: tuple[float, float] = (0.3, 1.0),
) -> Fault:
    """A fault of ``kind`` at ``node`` with a random severity, onset (40-60 % of the run) and ramp (0-120 s)."""
    return make_fault(
        kind,
        node,
        severity=float(rng.uniform(*severity)),
        onset_s=float(np.round(rng.uniform(0.4, 0.6) * duration_s)),
        ramp_s=float(np.round(rng.uniform(0.0, 120.0))),
    )


def fault_runs(
    spec: TwinSpec,
    seeds: list[int] | range,
    *,
    duration_s: float = 1200.0,
    kinds: tuple[str, ...] = FAULT_KINDS,
    normal_runs: int = 1,
) -> Iterator[SyntheticRun]:
    """For each seed: ``normal_runs`` normal runs, then one run of every applicable (fault, node)
    of ``kinds`` with random severity, onset and ramp drawn from the seed."""
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise SyntheticError(f"unknown fault(s) {unknown}; expected some of {list(FAULT_KINDS)}")
    sig = TwinSignals(spec)
    pairs = [(k, n) for k, n in applicable_faults(sig) if k in kinds]
    for seed in seeds:
        rng = np.random.default_rng([int(seed), 7])
        for j in range(normal_runs):
            yield generate(spec, None, duration_s=duration_s, seed=int(seed) * 1000 + j, signals=sig)
        for i, (kind, node) in enumerate(pairs):
            fault = random_fault(kind, node, rng, duration_s=duration_s)
            yield generate(spec, fault, duration_s=duration_s, seed=int(seed) * 1000 + 100 + i, signals=sig)


__all__ = ["SyntheticRun", "fault_runs", "generate", "normal_model", "random_fault"]
