"""Liquid flow: tanks, pumps and valves on physical edges (a simple, documented approximation).

Flows are piecewise constant between events, so tank levels are piecewise linear and every
threshold crossing (empty, low alarm, restart, high alarm, full) is computed exactly and scheduled.
The network is re-solved at every event that changes it (setpoint, failure, repair, outage,
threshold crossing).

Hydraulic approximation
    Each pump has one path (found by following physical edges): suction tank and valves before it,
    valves and discharge tank after it. Its flow is
    ``Q = flow_rate * speed * product(valve openings on its path)`` while it runs, else 0. A failed
    valve or a valve in an outage is closed. A pump whose suction tank runs empty stops (dry-run
    protection) and restarts when the level is back above ``low_level`` (5 % of capacity without
    one). A tank's level follows ``dV/dt = inflow - pump suction - outflow_rate``; demand that an
    empty tank cannot serve is counted as unmet, inflow into a full tank as overflow.

Derived pump quantities (affinity laws: Q ~ n, H ~ n^2, P ~ n^3, with ``n = speed`` and
``x = Q / (flow_rate * n)`` the throttling of the path, 1 when every valve is open)
    - head ``H = head * n^2 * (1.2 - 0.2 x^2)`` (shut-off head 1.2x rated); pressure ``rho g H``
      in bar;
    - electrical power ``P = power * n^3 * (0.5 + 0.5 x)`` (throttling lowers the power of a
      centrifugal pump, to about half at shut-off); without a rated ``power``,
      ``rho g Q_rated head / efficiency``;
    - current ``I = 0.25 A + P / (U pf)`` with supply ``U = 230 V`` and power factor 0.85; the
      voltage sags as ``U - 0.8 Ohm * I``;
    - vibration velocity ``v = 2.8 mm/s * n^2 * (1 + 1.5 (1 - x)^2)`` (recirculation at part load
      raises vibration), 0.05 mm/s when stopped; acceleration RMS ``2 pi f v / g0`` at the running
      frequency ``f = 50 Hz * n`` (every state named ``acceleration*`` is an accelerometer);
    - motor temperature: first order towards ``25 degC + 64 K * P / P_rated`` with a 20 min time
      constant (so a pump at rated power settles near 89 degC, like the SKAB test rig).
    The constants can be changed per pump in ``metadata.sim`` (keys of :data:`PUMP_DEFAULTS`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from twinforge.sim.components.base import Component
from twinforge.sim.components.failures import OperatingClock
from twinforge.sim.components.thermal import FirstOrderThermal
from twinforge.sim.errors import SimulationError

if TYPE_CHECKING:
    from twinforge.sim.model import Model
    from twinforge.sim.plan import NodePlan, PumpPath

RHO_G = 1000.0 * 9.80665  # water, N/m^3
G0 = 9.80665

PUMP_DEFAULTS = {
    "ambient_temperature": 25.0,  # degC
    "temperature_rise": 64.0,  # K at rated power
    "thermal_time_constant": 1200.0,  # s
    "supply_voltage": 230.0,  # V
    "power_factor": 0.85,
    "magnetising_current": 0.25,  # A
    "winding_resistance": 0.8,  # Ohm (voltage sag)
    "vibration_rated": 2.8,  # mm/s at rated speed, open valves
    "vibration_stopped": 0.05,  # mm/s
    "line_frequency": 50.0,  # Hz at speed 1
}

#: Relative process noise (std) added to derived pump signals in telemetry (AR(1), 10 s memory).
PROCESS_NOISE = {"flow": 0.01, "current": 0.01, "pressure": 0.01, "vibration": 0.05, "acceleration": 0.05}


class Tank(Component):
    kind = "tank"
    STATES = ("level", "temperature")
    SETTABLE = ("level", "temperature")

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        v = plan.values
        self.capacity = float(v["capacity"])
        self.level = float(v.get("initial_level", 0.0))
        self.high = v.get("high_level")
        self.low = v.get("low_level")
        self.outflow = float(v.get("outflow_rate", 0.0))  # m^3/s
        self.restart = self.low if self.low is not None else 0.05 * self.capacity
        self.temperature = float(plan.initial.get("temperature", 25.0))
        self.rate = 0.0  # m^3/s, until the next event
        self.spill = 0.0  # m^3/s overflowing
        self.unmet = 0.0  # m^3/s of demand not served
        self._epoch = 0
        self._in_high = False
        self._in_low = False
        self.reset_stats()

    def reset_stats(self) -> None:
        self._t = self.kernel.now
        self._area = 0.0
        self.min_level = self.max_level = self.level
        self._a_high = self._a_low = 0.0
        self.high_alarms = self.low_alarms = 0
        self.overflow = 0.0
        self.unmet_volume = 0.0

    def advance(self, now: float) -> None:
        dt = now - self._t
        if dt <= 0:
            return
        start = self.level
        end = min(max(start + self.rate * dt, 0.0), self.capacity)
        mid = (start + end) / 2
        self._area += mid * dt
        if self.high is not None and mid >= self.high:
            self._a_high += dt
        if self.low is not None and mid <= self.low:
            self._a_low += dt
        self.overflow += self.spill * dt
        self.unmet_volume += self.unmet * dt
        self.level = end
        self.min_level = min(self.min_level, end)
        self.max_level = max(self.max_level, end)
        self._t = now

    def finish(self) -> None:
        self.advance(self.kernel.now)

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        p = period if period > 0 else math.nan
        return [
            ("mean_level", self._area / p, "m^3"),
            ("min_level", self.min_level, "m^3"),
            ("max_level", self.max_level, "m^3"),
            ("above_high", self._a_high / p, ""),
            ("below_low", self._a_low / p, ""),
            ("high_alarms", float(self.high_alarms), ""),
            ("low_alarms", float(self.low_alarms), ""),
            ("overflow", self.overflow, "m^3"),
            ("unmet_demand", self.unmet_volume, "m^3"),
        ]

    def update_alarms(self) -> None:
        """Count alarms raised: the level enters the high (low) band, or starts in it."""
        eps = 1e-12 * max(self.capacity, 1.0)
        if self.high is not None:
            in_high = self.level > self.high + eps or (abs(self.level - self.high) <= eps and self.rate >= 0)
            if in_high and not self._in_high:
                self.high_alarms += 1
            self._in_high = in_high
        if self.low is not None:
            in_low = self.level < self.low - eps or (abs(self.level - self.low) <= eps and self.rate <= 0)
            if in_low and not self._in_low:
                self.low_alarms += 1
            self._in_low = in_low

    def thresholds(self) -> list[float]:
        out = {0.0, self.capacity, self.restart}
        for x in (self.high, self.low):
            if x is not None:
                out.add(x)
        return sorted(out)

    def state_value(self, name: str) -> float:
        if name == "level":
            now = self.kernel.now
            return min(max(self.level + self.rate * (now - self._t), 0.0), self.capacity)
        if name == "temperature":
            return self.temperature
        return super().state_value(name)

    def state_segment(self, name: str) -> tuple[float, float, float, float]:
        if name == "level":
            v = self.state_value("level")
            return (v, v, 0.0, self.rate)
        return super().state_segment(name)

    def set_state(self, name: str, value: float) -> None:
        if name == "level":
            if not 0 <= value <= self.capacity:
                raise SimulationError(f"tank {self.id!r}: level must be in 0..{self.capacity:g} m^3")
            self.level = value
            self.min_level = self.max_level = value
        elif name == "temperature":
            self.temperature = value
        else:
            super().set_state(name, value)

    def set_parameter(self, name: str, value: float) -> None:
        self.model.hydraulics.solve()  # bring levels to now first
        if name == "high_level":
            self.high = value
        elif name == "low_level":
            self.low = value
            self.restart = value
        elif name == "outflow_rate":
            self.outflow = value
        else:
            super().set_parameter(name, value)
        self.model.hydraulics.solve()


class _Repairable(Component):
    """Failure and outage bookkeeping shared by valves and pumps. A subclass sets ``_failed``,
    ``_outages``, ``_ttr`` (repair-time sampler or None) and ``_clock``, and its ``_update``
    applies the resulting up/down state to the hydraulics."""

    _failed: bool
    _outages: int
    _clock: OperatingClock | None
    _init_repair: float | None
    down: bool

    def _update(self) -> None:
        raise NotImplementedError

    def _draw_ttr(self) -> float:
        return next(self._ttr) if self._ttr is not None else 0.0

    def _repair_in(self, duration: float) -> None:
        self.kernel.after(duration, self._repair)

    def _repair(self, _: object = None) -> None:
        self._failed = False
        if self._clock is not None:
            self._clock.renew()
        self._update()

    def set_state(self, name: str, value: float) -> None:
        if name == "status":
            self._failed = value == 0.0
            self.down = self._failed
        elif name == "repair_remaining":
            self._failed = True
            self.down = True
            self._init_repair = value
        else:
            super().set_state(name, value)

    def go_down(self, reason: str) -> None:
        self._outages += 1
        self._update()

    def go_up(self, reason: str) -> None:
        self._outages = max(self._outages - 1, 0)
        self._update()


class Valve(_Repairable):
    kind = "valve"
    STATES = ("opening", "flow", "status")
    SETTABLE = ("opening", "status", "repair_remaining")

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        self.opening = float(plan.values.get("opening", 1.0))
        self.flow = 0.0  # m^3/s
        self.down = False
        self._failed = False
        self._outages = 0
        self.failures = 0
        self._clock: OperatingClock | None = None
        self._ttr = None
        self._init_repair: float | None = None
        if "mtbf" in plan.dists:
            self._ttr = model.streams.sampler(plan.dists["mttr"], self.id, "mttr")
            ttf = model.streams.sampler(plan.dists["mtbf"], self.id, "mtbf")
            self._clock = OperatingClock(self.kernel, ttf, self._fail)
        if "mcbf" in plan.dists:
            raise SimulationError(
                f"valve {self.id!r}: failures by cycles (mcbf) are not simulated for valves"
            )

    def effective_opening(self) -> float:
        return 0.0 if self.down else self.opening

    def begin(self) -> None:
        if self._failed:
            self._repair_in(self._init_repair if self._init_repair is not None else self._draw_ttr())
        elif self._clock is not None:
            self._clock.start()

    def _fail(self) -> None:
        self.failures += 1
        self.fire_failure()
        self._failed = True
        self.down = True
        self.model.hydraulics.solve()
        self._repair_in(self._draw_ttr())

    def _update(self) -> None:
        self.down = self._failed or self._outages > 0
        if self._clock is not None:
            if self.down:
                self._clock.stop()
            else:
                self._clock.start()
        self.model.hydraulics.solve()

    def set_parameter(self, name: str, value: float) -> None:
        if name != "opening":
            super().set_parameter(name, value)
        self.model.hydraulics.solve()
        self.opening = value
        self.model.hydraulics.solve()

    def state_value(self, name: str) -> float:
        if name == "opening":
            return self.effective_opening()
        if name == "flow":
            return self.flow * 3600.0
        if name == "status":
            return 0.0 if self.down else 1.0
        return super().state_value(name)

    def set_state(self, name: str, value: float) -> None:
        if name == "opening":
            if not 0 <= value <= 1:
                raise SimulationError(f"valve {self.id!r}: opening must be in 0..1")
            self.opening = value
        else:
            super().set_state(name, value)

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        return [("failures", float(self.failures), "")]


class Pump(_Repairable):
    kind = "pump"
    STATES = (
        "status",
        "flow",
        "vibration",
        "acceleration",
        "current",
        "voltage",
        "pressure",
        "temperature",
        "power",
    )
    SETTABLE = ("status", "repair_remaining", "temperature", "age")

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        v = plan.values
        self.const = {**PUMP_DEFAULTS, **{k: float(x) for k, x in plan.meta.get("sim", {}).items()}}
        unknown = set(plan.meta.get("sim", {})) - set(PUMP_DEFAULTS)
        if unknown:
            raise SimulationError(
                f"pump {self.id!r}: unknown metadata.sim keys {sorted(unknown)}; "
                f"known: {', '.join(PUMP_DEFAULTS)}"
            )
        self.flow_rate = float(v["flow_rate"])  # m^3/s at speed 1
        self.speed = float(v.get("speed", 1.0))
        self.head = float(v.get("head", 20.0))
        eff = float(v.get("efficiency", 0.6)) or 0.6
        rated = v.get("power")
        self.rated_power = float(rated) if rated else RHO_G * self.flow_rate * self.head / eff / 1000.0  # kW
        self.energy_price = float(v.get("energy_price", 0.0))
        self.down = False
        self._failed = False
        self._outages = 0
        self.dry = False
        self.q = 0.0  # m^3/s
        self.x = 1.0  # throttling
        c = self.const
        t0 = float(plan.initial.get("temperature", c["ambient_temperature"]))
        self.thermal = FirstOrderThermal(c["ambient_temperature"], c["thermal_time_constant"], t0)
        self._clock: OperatingClock | None = None
        self._ttr = None
        self._init_repair: float | None = None
        self._age = 0.0
        if "mcbf" in plan.dists:
            raise SimulationError(f"pump {self.id!r}: failures by cycles (mcbf) are not simulated for pumps")
        if "mtbf" in plan.dists:
            self._ttr = model.streams.sampler(plan.dists["mttr"], self.id, "mttr")
            ttf = model.streams.sampler(plan.dists["mtbf"], self.id, "mtbf")
            self._clock = OperatingClock(self.kernel, ttf, self._fail)
        self.failures = 0
        self.reset_stats()

    def reset_stats(self) -> None:
        self._t = self.kernel.now
        self._energy = 0.0
        self._volume = 0.0
        self._a_down = 0.0
        self._a_dry = 0.0
        self._a_failed = 0.0
        self.failures = 0

    def _acc(self) -> None:
        now = self.kernel.now
        dt = now - self._t
        if dt > 0:
            self._t = now
            self._energy += self.power() * dt / 3600.0
            self._volume += self.q * dt
            if self.down:
                self._a_down += dt
                if self._failed:
                    self._a_failed += dt
            elif self.dry:
                self._a_dry += dt

    def finish(self) -> None:
        self._acc()

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        p = period if period > 0 else math.nan
        return [
            ("pumped", self._volume, "m^3"),
            ("mean_flow", self._volume / p * 3600.0, "m^3/h"),
            ("energy", self._energy, "kWh"),
            ("energy_cost", self._energy * self.energy_price, self.model.plan.currency),
            ("down", self._a_down / p, ""),
            ("dry", self._a_dry / p, ""),
            ("downtime", self._a_down / 3600.0, "h"),
            ("failure_downtime", self._a_failed / 3600.0, "h"),
            ("failures", float(self.failures), ""),
        ]

    @property
    def running(self) -> bool:
        return not self.down and not self.dry and self.speed > 0

    def set_flow(self, q: float, throttle: float) -> None:
        self._acc()
        self.q = q
        self.x = throttle
        self.thermal.drive(self.kernel.now, self._heating())
        if self._clock is not None:
            if self.running:
                self._clock.start()
            else:
                self._clock.stop()

    def _heating(self) -> float:
        c = self.const
        share = self.power() / self.rated_power if self.rated_power > 0 else 0.0
        return c["temperature_rise"] * share / c["thermal_time_constant"]

    # derived quantities -------------------------------------------------------------------------
    def power(self) -> float:
        if not self.running:
            return 0.0
        n = self.speed
        return self.rated_power * n**3 * (0.5 + 0.5 * self.x)

    def head_now(self) -> float:
        if not self.running:
            return 0.0
        return self.head * self.speed**2 * (1.2 - 0.2 * self.x * self.x)

    def current(self) -> float:
        if not self.running:
            return 0.0
        c = self.const
        return c["magnetising_current"] + 1000.0 * self.power() / (c["supply_voltage"] * c["power_factor"])

    def vibration(self) -> float:
        c = self.const
        if not self.running:
            return c["vibration_stopped"]
        return c["vibration_rated"] * self.speed**2 * (1.0 + 1.5 * (1.0 - self.x) ** 2)

    def acceleration(self) -> float:
        f = self.const["line_frequency"] * (self.speed if self.running else 1.0)
        return 2 * math.pi * f * self.vibration() / 1000.0 / G0

    def state_value(self, name: str) -> float:
        match name:
            case "status":
                return 0.0 if self.down else 1.0
            case "flow":
                return self.q * 3600.0
            case "vibration":
                return self.vibration()
            case "current":
                return self.current()
            case "voltage":
                return self.const["supply_voltage"] - self.const["winding_resistance"] * self.current()
            case "pressure":
                return RHO_G * self.head_now() / 1e5
            case "temperature":
                return self.thermal.value(self.kernel.now)
            case "power":
                return self.power()
        if name.startswith("acceleration"):
            return self.acceleration()
        return super().state_value(name)

    def state_segment(self, name: str) -> tuple[float, float, float, float]:
        if name == "temperature":
            return self.thermal.segment(self.kernel.now)
        return super().state_segment(name)

    # failures, outages, setpoints ----------------------------------------------------------------
    def begin(self) -> None:
        if self._clock is not None and self._age:
            self._clock.renew(age=self._age)
        if self._failed:
            self._repair_in(self._init_repair if self._init_repair is not None else self._draw_ttr())

    def _fail(self) -> None:
        self.failures += 1
        self.fire_failure()
        self._failed = True
        self._update()
        self._repair_in(self._draw_ttr())

    def _update(self) -> None:
        self._acc()
        self.down = self._failed or self._outages > 0
        self.model.hydraulics.solve()

    def set_parameter(self, name: str, value: float) -> None:
        if name != "speed":
            super().set_parameter(name, value)
        self.model.hydraulics.solve()
        self._acc()
        self.speed = value
        self.model.hydraulics.solve()

    def set_state(self, name: str, value: float) -> None:
        if name == "temperature":
            self.thermal.set(self.kernel.now, value)
        elif name == "age":
            self._age = value
        else:
            super().set_state(name, value)


class HydraulicNetwork:
    """Solves pump flows and tank levels; schedules tank threshold crossings."""

    def __init__(self, model: Model, paths: list[PumpPath]) -> None:
        self.model = model
        self.kernel = model.kernel
        comps = model.components
        self.paths = [
            (
                comps[p.pump],
                comps[p.suction_tank] if p.suction_tank else None,
                [comps[v] for v in p.suction_valves + p.discharge_valves],
                comps[p.discharge_tank] if p.discharge_tank else None,
                [comps[j] for j in p.junctions if j in comps],
            )
            for p in paths
        ]
        self.tanks: list[Tank] = [c for c in comps.values() if isinstance(c, Tank)]
        self.valves: list[Valve] = [c for c in comps.values() if isinstance(c, Valve)]
        self.active = bool(self.tanks or self.paths)
        self._solving = False

    def solve(self) -> None:
        if not self.active or self._solving:
            return
        self._solving = True
        try:
            self._solve()
        finally:
            self._solving = False

    def _solve(self) -> None:
        now = self.kernel.now
        for t in self.tanks:
            t.advance(now)
        for path in self.paths:
            path[0]._acc()
        inflow = {id(t): 0.0 for t in self.tanks}
        draw = {id(t): 0.0 for t in self.tanks}
        for v in self.valves:
            v.flow = 0.0
        touched = []
        for pump, s_tank, valves, d_tank, junctions in self.paths:
            if s_tank is not None:
                if s_tank.level <= 1e-12 * max(s_tank.capacity, 1.0):
                    pump.dry = True
                elif pump.dry and s_tank.level >= s_tank.restart - 1e-12:
                    pump.dry = False
            throttle = 1.0
            for v in valves:
                throttle *= v.effective_opening()
            q = pump.flow_rate * pump.speed * throttle if pump.running else 0.0
            pump.set_flow(q, throttle)
            for v in valves:
                v.flow += q
            for j in junctions:
                j.flow = q * 3600.0
            if s_tank is not None:
                draw[id(s_tank)] += q
            if d_tank is not None:
                inflow[id(d_tank)] += q
            touched.append(pump)
        for t in self.tanks:
            rate = inflow[id(t)] - draw[id(t)] - t.outflow
            t.spill = t.unmet = 0.0
            if t.level >= t.capacity - 1e-12 and rate > 0:
                t.spill, rate = rate, 0.0
            elif t.level <= 1e-12 and rate < 0:
                t.unmet, rate = -rate, 0.0
            t.rate = rate
            t.update_alarms()
            self._schedule(t)
            if t.observers:
                t.changed()
        for pump in touched:
            if pump.observers:
                pump.changed()
        for v in self.valves:
            if v.observers:
                v.changed()

    def _schedule(self, t: Tank) -> None:
        t._epoch += 1
        if t.rate == 0:
            return
        level = t.level
        if t.rate > 0:
            ahead = [x for x in t.thresholds() if x > level + 1e-12]
            if not ahead:
                return
            target = ahead[0]
        else:
            behind = [x for x in t.thresholds() if x < level - 1e-12]
            if not behind:
                return
            target = behind[-1]
        self.kernel.after((target - level) / t.rate, self._crossing, (t, t._epoch, target))

    def _crossing(self, arg: tuple[Tank, int, float]) -> None:
        tank, epoch, target = arg
        if epoch != tank._epoch:
            return
        tank.advance(self.kernel.now)
        tank.level = target  # remove rounding drift
        self.solve()
