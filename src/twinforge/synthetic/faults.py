"""The fault library: physically modelled defects applied to a twin's telemetry.

Every fault has a ``kind``, a ``node`` it happens at, a ``severity`` in (0, 1], an ``onset_s``
(seconds from the start of the run) and a ``ramp_s`` over which it grows linearly from nothing to
full severity: ``r(t) = clip((t - onset_s) / ramp_s, 0, 1)`` (a step when ``ramp_s`` is 0).

A fault changes the run in up to two places, in this order (see :mod:`twinforge.synthetic.generate`):

1. **in the simulation**, where the twin models the quantity (:meth:`Fault.interventions`: timed
   setpoints of a scenario). A partly closed valve is the valve's ``opening`` stepped down in the
   simulator, which then computes flow, pressure, current, voltage, vibration and motor temperature
   from its hydraulics (affinity laws, see :mod:`twinforge.sim.components.hydraulics`); the water a
   leak loses is the suction tank's ``outflow_rate``, so the simulated tank level falls;
2. **on the physical signals** (before measurement noise), by documented relations where the
   simulator does not model the effect (:meth:`Fault.apply`): cavitation's head and flow drop and
   vibration bursts, an imbalance's once-per-revolution vibration and current ripple, a leak's
   pressure and flow at the pump. Motor current follows electrical power
   (``I = I_0 + (I - I_0) P/P_before`` with the magnetising current ``I_0``), supply voltage sags
   with current through the winding resistance (``ΔU = -R ΔI``), and motor temperature follows power
   with the motor's first-order thermal time constant (``ΔT = ΔT_rated (P/P_before - 1)``, filtered),
   using the pump constants of :data:`twinforge.sim.components.hydraulics.PUMP_DEFAULTS`;
3. sensor faults (drift, stuck, bias) act last, on the measured values (:meth:`Fault.measure`).

The models (``s`` severity, ``r`` ramp, ``x`` the pump's relative flow):

- ``valve_closure`` ("valve partly closed", at a valve): opening ``o = o_0 (1 - 0.8 s r)``, in steps
  of at most 10 s of the ramp; everything else comes from the simulator.
- ``leak`` (at a pump: its discharge line leaks ``q = 0.05 s r`` of the rated flow): the suction tank
  loses ``q`` (the simulated level falls, and once it reaches the tank's low level the simulator's
  dry-run protection stops the pump: a long or large leak ends in a trip); the lower system resistance moves the pump to ``x = 1 + q/2``
  so its head ``H ∝ 1.2 - 0.2 x²`` (the simulator's pump curve) and discharge pressure fall, power
  ``∝ 0.5 + 0.5 x`` rises; the flow meter (after the leak) reads ``Q (1 - q/2)``.
- ``cavitation`` (at a pump): vapour bubbles cut head by ``30 s r %`` and flow by ``15 s r %``;
  hydraulic power ``∝ Q H`` falls and with it current; flow and pressure become erratic (extra
  relative noise ``3 s r %``); bubble collapse raises vibration broadband, ``× (1 + 1.5 s r)`` with
  bursts ``× (1 + 0.5 s r |N(0, 1)|)``.
- ``imbalance`` (at a pump or station with vibration): the centrifugal force ``m e ω²`` adds a
  once-per-revolution component of ``3 s r`` times the normal vibration, in quadrature
  (``v = sqrt(v_0² + (3 s r v̄_0)²)``); the torque pulsation gives a current ripple of ``3 s r %``
  (aliased to a random frequency in 0.05-0.45 of the sampling rate); friction raises power by
  ``2 s r %``.
- ``sensor_bias`` (at a sensor): adds ``4 s r σ`` (σ: the signal's std before the onset);
  ``sensor_drift``: adds ``s σ`` per minute since the onset; ``sensor_stuck``: holds the
  value read at the onset (severity unused).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from scipy.signal import lfilter

from twinforge.errors import TwinforgeError
from twinforge.sim.components.hydraulics import PUMP_DEFAULTS
from twinforge.sim.plan import ModelPlan, compile_twin
from twinforge.spec import TwinSpec


class SyntheticError(TwinforgeError):
    """A fault or generation request that cannot be applied to this twin (unknown fault, node, ...)."""


#: Human names of the fault classes (what a diagnosis shows a person).
FAULT_NAMES: dict[str, str] = {
    "valve_closure": "valve partly closed",
    "leak": "leak",
    "cavitation": "cavitation",
    "imbalance": "rotor imbalance",
    "sensor_drift": "sensor drift",
    "sensor_stuck": "sensor stuck",
    "sensor_bias": "sensor bias",
}
FAULT_KINDS: tuple[str, ...] = tuple(FAULT_NAMES)

VIBRATION_STATES = ("vibration", "acceleration")


# -- the twin's signals, by physical role ------------------------------------------------------------


class TwinSignals:
    """The twin's telemetry columns and what each measures.

    A column is named after its signal when that name is unique in the twin, else ``node.signal``.
    """

    def __init__(self, spec: TwinSpec) -> None:
        self.spec = spec
        self.plan: ModelPlan = compile_twin(spec)
        self.kinds = {n.id: n.kind for n in spec.nodes}
        names = [s.signal for s in self.plan.signals]
        self.refs: list[
            tuple[str, str, str, str, str, float]
        ] = []  # column, node, signal, target, state, period
        for s in self.plan.signals:
            col = s.signal if names.count(s.signal) == 1 else f"{s.node}.{s.signal}"
            self.refs.append((col, s.node, s.signal, s.target, s.state, float(s.period)))
        self.columns = [r[0] for r in self.refs]
        self.pumps = {p.pump: p for p in self.plan.pumps}

    def of(self, target: str, *states: str) -> list[str]:
        """Columns measuring ``target``'s states (a state matches by prefix, e.g. ``acceleration_2``)."""
        return [c for c, _n, _s, t, st, _p in self.refs if t == target and st.startswith(states)]

    def of_sensor(self, node: str, signal: str | None = None) -> list[str]:
        return [c for c, n, s, *_ in self.refs if n == node and (signal is None or s == signal)]

    def nodes_of_kind(self, *kinds: str) -> list[str]:
        return [n for n, k in self.kinds.items() if k in kinds]

    def sensor_nodes(self) -> list[str]:
        return sorted({n for _c, n, *_ in self.refs})


def ramp(t: np.ndarray, onset_s: float, ramp_s: float) -> np.ndarray:
    """``r(t)``: 0 before the onset, rising linearly to 1 over ``ramp_s`` seconds, then 1."""
    t = np.asarray(t, dtype=float)
    if ramp_s <= 0:
        return (t >= onset_s).astype(float)
    return np.clip((t - onset_s) / ramp_s, 0.0, 1.0)


# -- faults ------------------------------------------------------------------------------------------


class Fault(BaseModel):
    """Base of every fault: where, how strong, when it starts and how fast it grows."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    node: str = Field(max_length=128, description="Node of the twin the fault happens at")
    severity: float = Field(0.6, gt=0.0, le=1.0, description="0 < severity <= 1 (1: the model's worst)")
    onset_s: float = Field(
        600.0, ge=0.0, allow_inf_nan=False, description="Start, seconds from the run's start"
    )
    ramp_s: float = Field(60.0, ge=0.0, allow_inf_nan=False, description="Seconds to reach full severity")

    #: Node kinds the fault can happen at.
    node_kinds: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return FAULT_NAMES[self.kind]

    def r(self, t: np.ndarray) -> np.ndarray:
        return ramp(t, self.onset_s, self.ramp_s)

    def check(self, sig: TwinSignals) -> None:
        """A clear error when the fault cannot happen at ``node`` of this twin."""
        if self.node not in sig.kinds:
            raise SyntheticError(
                f"fault {self.kind!r}: node {self.node!r} is not in twin {sig.spec.name!r}; "
                f"nodes where it can happen: {self.eligible(sig) or 'none'}"
            )
        if self.node not in self.eligible(sig):
            raise SyntheticError(
                f"fault {self.kind!r} cannot happen at {self.node!r} (a {sig.kinds[self.node]}): it needs "
                f"{self.needs()}; nodes of twin {sig.spec.name!r} where it can: {self.eligible(sig) or 'none'}"
            )

    def needs(self) -> str:
        return "a node of kind " + " or ".join(self.node_kinds)

    def eligible(self, sig: TwinSignals) -> list[str]:
        return sig.nodes_of_kind(*self.node_kinds)

    def interventions(self, sig: TwinSignals) -> list[dict[str, Any]]:
        """Timed setpoints for the simulator (the part of the fault the twin models)."""
        return []

    def apply(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        """Change the physical signals in ``frame`` (in place, before measurement noise)."""

    def measure(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        """Change the measured values (in place, after noise): sensor faults."""

    # helpers -------------------------------------------------------------------------------------
    def _steps(self) -> list[tuple[float, float]]:
        """(time, ramp fraction) of stepwise setpoints along the ramp, at most 10 s apart."""
        n = max(1, math.ceil(self.ramp_s / 10.0))
        return [(self.onset_s + self.ramp_s * k / n, k / n) for k in range(1, n + 1)]


def _motor_effects(frame: pd.DataFrame, sig: TwinSignals, pump: str, power_ratio: np.ndarray) -> None:
    """Current, voltage and motor temperature of ``pump`` after its power changed by ``power_ratio``."""
    k = PUMP_DEFAULTS
    meta = sig.plan.nodes[pump].meta.get("sim", {}) if pump in sig.plan.nodes else {}
    i0 = float(meta.get("magnetising_current", k["magnetising_current"]))
    res = float(meta.get("winding_resistance", k["winding_resistance"]))
    rise = float(meta.get("temperature_rise", k["temperature_rise"]))
    tau = float(meta.get("thermal_time_constant", k["thermal_time_constant"]))
    delta_i = np.zeros(len(frame))
    for col in sig.of(pump, "current"):
        before = frame[col].to_numpy()
        after = i0 + (before - i0) * power_ratio
        delta_i = after - before
        frame[col] = after
    for col in sig.of(pump, "voltage"):
        frame[col] = frame[col].to_numpy() - res * delta_i
    if len(frame) > 1:
        dt = float(np.median(np.diff(frame.index.to_numpy(dtype=float))))
        a = math.exp(-dt / tau)
        target = rise * (power_ratio - 1.0)
        lag = lfilter([1 - a], [1.0, -a], target)
        for col in sig.of(pump, "temperature"):
            frame[col] = frame[col].to_numpy() + lag


class ValveClosure(Fault):
    """A valve partly closed (a stuck actuator, debris, an operator error): simulated by the twin."""

    kind: Literal["valve_closure"] = "valve_closure"
    node_kinds: ClassVar[tuple[str, ...]] = ("valve",)

    def eligible(self, sig: TwinSignals) -> list[str]:
        on_path = {v for p in sig.plan.pumps for v in p.suction_valves + p.discharge_valves}
        return [n for n in sig.nodes_of_kind("valve") if n in on_path]

    def needs(self) -> str:
        return "a valve on a pump's path"

    def interventions(self, sig: TwinSignals) -> list[dict[str, Any]]:
        o0 = float(sig.plan.nodes[self.node].values.get("opening", 1.0))
        return [
            {
                "op": "setpoint",
                "target": self.node,
                "parameter": "opening",
                "value": o0 * (1.0 - 0.8 * self.severity * frac),
                "at": at,
            }
            for at, frac in self._steps()
        ]


class Leak(Fault):
    """A leak in a pump's discharge line: water lost from the circuit, pressure and flow down."""

    kind: Literal["leak"] = "leak"
    node_kinds: ClassVar[tuple[str, ...]] = ("pump",)

    def _rated_m3s(self, sig: TwinSignals) -> float:
        return float(sig.plan.nodes[self.node].values.get("flow_rate", 0.0))

    def interventions(self, sig: TwinSignals) -> list[dict[str, Any]]:
        tank = sig.pumps[self.node].suction_tank if self.node in sig.pumps else None
        if tank is None:
            return []
        q_rated = self._rated_m3s(sig) * 3600.0  # the plan holds SI (m^3/s); the setpoint takes m^3/h
        base = float(sig.plan.nodes[tank].values.get("outflow_rate", 0.0)) * 3600.0
        return [
            {
                "op": "setpoint",
                "target": tank,
                "parameter": "outflow_rate",
                "value": base + 0.05 * self.severity * frac * q_rated,
                "unit": "m^3/h",
                "at": at,
            }
            for at, frac in self._steps()
        ]

    def apply(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        q = 0.05 * self.severity * self.r(frame.index.to_numpy(dtype=float))
        x = 1.0 + q / 2.0
        for col in sig.of(self.node, "flow"):
            frame[col] = frame[col].to_numpy() * (1.0 - q / 2.0)
        for col in sig.of(self.node, "pressure"):
            frame[col] = frame[col].to_numpy() * (1.2 - 0.2 * x**2)
        _motor_effects(frame, sig, self.node, (0.5 + 0.5 * x))


class Cavitation(Fault):
    """Cavitation at a pump's inlet (suction pressure below the vapour pressure)."""

    kind: Literal["cavitation"] = "cavitation"
    node_kinds: ClassVar[tuple[str, ...]] = ("pump",)

    def apply(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        r = self.severity * self.r(frame.index.to_numpy(dtype=float))
        n = len(frame)
        head = 1.0 - 0.30 * r
        flow = 1.0 - 0.15 * r
        for col in sig.of(self.node, "flow"):
            frame[col] = frame[col].to_numpy() * flow * (1.0 + 0.03 * r * rng.standard_normal(n))
        for col in sig.of(self.node, "pressure"):
            frame[col] = frame[col].to_numpy() * head * (1.0 + 0.03 * r * rng.standard_normal(n))
        for col in sig.of(self.node, *VIBRATION_STATES):
            bursts = 1.0 + 0.5 * r * np.abs(rng.standard_normal(n))
            frame[col] = frame[col].to_numpy() * (1.0 + 1.5 * r) * bursts
        _motor_effects(frame, sig, self.node, flow * head)


class Imbalance(Fault):
    """Rotor imbalance (a lost balance weight, deposits, a damaged impeller)."""

    kind: Literal["imbalance"] = "imbalance"
    node_kinds: ClassVar[tuple[str, ...]] = ("pump", "station", "machine")

    def eligible(self, sig: TwinSignals) -> list[str]:
        return [n for n in sig.nodes_of_kind(*self.node_kinds) if sig.of(n, *VIBRATION_STATES)]

    def needs(self) -> str:
        return "a rotating machine (pump or station) with a vibration sensor"

    def apply(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        t = frame.index.to_numpy(dtype=float)
        r = self.severity * self.r(t)
        before = t < self.onset_s
        for col in sig.of(self.node, *VIBRATION_STATES):
            v = frame[col].to_numpy()
            ref = float(np.median(v[before])) if before.any() else float(np.median(v))
            frame[col] = np.sqrt(v**2 + (3.0 * r * ref) ** 2)
        if self.node in sig.pumps or sig.of(self.node, "current"):
            dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
            f_alias = rng.uniform(0.05, 0.45) / dt
            ripple = 1.0 + 0.03 * r * np.sin(2 * math.pi * f_alias * t + rng.uniform(0, 2 * math.pi))
            for col in sig.of(self.node, "current"):
                frame[col] = frame[col].to_numpy() * ripple
            _motor_effects(frame, sig, self.node, 1.0 + 0.02 * r)


class _SensorFault(Fault):
    node_kinds: ClassVar[tuple[str, ...]] = ("sensor",)
    signal: str | None = Field(None, max_length=128, description="Signal of the sensor (default: its first)")

    def eligible(self, sig: TwinSignals) -> list[str]:
        return [n for n in sig.sensor_nodes() if sig.kinds.get(n) == "sensor"]

    def needs(self) -> str:
        return "a sensor node with signals"

    def check(self, sig: TwinSignals) -> None:
        super().check(sig)
        if self.signal is not None and not sig.of_sensor(self.node, self.signal):
            names = [s for _c, n, s, *_ in sig.refs if n == self.node]
            raise SyntheticError(
                f"fault {self.kind!r}: {self.node!r} has no signal {self.signal!r}; its signals: {names}"
            )

    def column(self, sig: TwinSignals) -> str:
        return sig.of_sensor(self.node, self.signal)[0]

    def _sigma(self, values: np.ndarray, t: np.ndarray) -> float:
        before = values[t < self.onset_s]
        s = float(np.std(before)) if len(before) > 2 else float(np.std(values))
        # a noiseless simulated signal: 0.1 % of its level (an instrument's resolution)
        return max(s, 1e-3 * abs(float(np.mean(values))), 1e-6)


class SensorBias(_SensorFault):
    kind: Literal["sensor_bias"] = "sensor_bias"

    def measure(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        col = self.column(sig)
        t = frame.index.to_numpy(dtype=float)
        v = frame[col].to_numpy()
        frame[col] = v + 4.0 * self.severity * self.r(t) * self._sigma(v, t)


class SensorDrift(_SensorFault):
    kind: Literal["sensor_drift"] = "sensor_drift"

    def measure(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        col = self.column(sig)
        t = frame.index.to_numpy(dtype=float)
        v = frame[col].to_numpy()
        minutes = np.clip(t - self.onset_s, 0.0, None) / 60.0
        frame[col] = v + self.severity * self._sigma(v, t) * minutes


class SensorStuck(_SensorFault):
    kind: Literal["sensor_stuck"] = "sensor_stuck"

    def measure(self, frame: pd.DataFrame, sig: TwinSignals, rng: np.random.Generator) -> None:
        col = self.column(sig)
        t = frame.index.to_numpy(dtype=float)
        v = frame[col].to_numpy().copy()
        after = t >= self.onset_s
        if after.any():
            v[after] = v[int(np.argmax(after))]
        frame[col] = v


AnyFault = Annotated[
    ValveClosure | Leak | Cavitation | Imbalance | SensorBias | SensorDrift | SensorStuck,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Fault] = TypeAdapter(AnyFault)


def make_fault(kind: str, node: str, **params: Any) -> Fault:
    """A fault of ``kind`` at ``node``; a clear error for an unknown kind or bad parameters."""
    if kind not in FAULT_KINDS:
        raise SyntheticError(f"unknown fault {kind!r}; expected one of {list(FAULT_KINDS)}")
    try:
        return _ADAPTER.validate_python({"kind": kind, "node": node, **params})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'fault'}: {e['msg']}" for e in exc.errors()
        )
        raise SyntheticError(f"fault {kind!r} at {node!r}: {problems}") from None


def applicable_faults(spec: TwinSpec | TwinSignals) -> list[tuple[str, str]]:
    """Every (fault kind, node) this twin can have."""
    sig = spec if isinstance(spec, TwinSignals) else TwinSignals(spec)
    out = []
    for kind in FAULT_KINDS:
        proto = make_fault(kind, "_")
        out += [(kind, n) for n in proto.eligible(sig)]
    return out


__all__ = [
    "FAULT_KINDS",
    "FAULT_NAMES",
    "Cavitation",
    "Fault",
    "Imbalance",
    "Leak",
    "SensorBias",
    "SensorDrift",
    "SensorStuck",
    "SyntheticError",
    "TwinSignals",
    "ValveClosure",
    "applicable_faults",
    "make_fault",
    "ramp",
]
