"""One replication: components built from a plan, wired, started from a state, run, measured."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.errors import did_you_mean
from twinforge.sim.components import COMPONENTS, Component, HydraulicNetwork, MaterialNode
from twinforge.sim.components.flow import Buffer, Conveyor, Sink, Source
from twinforge.sim.components.station import Station
from twinforge.sim.errors import SimulationError
from twinforge.sim.kernel import Kernel, StopSimulation
from twinforge.sim.plan import ModelPlan
from twinforge.sim.series import CounterRecorder, Series, StateRecorder
from twinforge.sim.streams import Streams
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG

DAY = 86400.0

#: Units of starting-state keys that are not catalogue state variables.
EXTRA_STATE_UNITS = {"repair_remaining": "s", "age": "s", "busy": "", "cycles": "cycle"}

KpiRow = tuple[str, str, str, float, str]  # kpi, node, metric, value, unit


@dataclass
class RunOptions:
    """What one replication does besides running: measurement window, recording, watches."""

    horizon: float
    warmup: float = 0.0
    record: tuple[str, ...] = ()  # series: "node.state" or "wip"
    returned: tuple[str, ...] | None = None  # series handed back (default: every recorded one)
    telemetry: bool = False
    kpis: dict[str, str] = field(default_factory=dict)  # user-defined KPI expressions
    state: Mapping[str, Mapping[str, Any]] | None = None
    day_offset: float = 0.0  # seconds of the production day already elapsed at time 0
    events: list[Any] = field(default_factory=list)  # early-warning event definitions
    stop_when_all_events: bool = False


@dataclass
class ReplicationResult:
    replication: int
    kpis: list[KpiRow]
    series: dict[str, Series] = field(default_factory=dict)
    telemetry: Any = None  # pandas DataFrame (node, signal, t, value) when requested
    events: dict[str, float] = field(default_factory=dict)  # event name: time (NaN: did not happen)
    sim_events: int = 0
    end_time: float = 0.0
    kpi_notes: dict[str, str] = field(default_factory=dict)  # user KPI: why it is NaN here


def _state_unit(kind: str, name: str) -> str | None:
    if name in EXTRA_STATE_UNITS:
        return EXTRA_STATE_UNITS[name]
    kd = CATALOG.get(kind)
    sd = kd.states.get(name) if kd else None
    return sd.unit if sd else None


def state_number(kind: str, node: str, name: str, value: Any) -> float:
    """A starting-state value as a number in the state's unit (quantity strings are converted)."""
    unit = _state_unit(kind, name)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number, given = units.parse_quantity(value)
            return units.convert(number, given or unit, unit) if given else number
        except Exception as exc:
            raise SimulationError(
                f"starting state {node}.{name}: cannot read {value!r} as a value in {unit or 'no unit'} ({exc})"
            ) from None
    raise SimulationError(f"starting state {node}.{name}: expected a number, found {value!r}")


class Model:
    """A twin's components for one replication, on one kernel with one set of random streams."""

    def __init__(self, plan: ModelPlan, seed: int, replication: int, options: RunOptions) -> None:
        self.plan = plan
        self.options = options
        self.replication = replication
        self.kernel = Kernel()
        self.streams = Streams(seed, replication)
        self.initial_product = plan.products[0] if plan.products else None
        self.components: dict[str, Component] = {}
        for nid, node in plan.nodes.items():
            if node.kind in COMPONENTS:
                self.components[nid] = COMPONENTS[node.kind](self, node)
        material = {k: c for k, c in self.components.items() if isinstance(c, MaterialNode)}
        for c in material.values():
            c.wire(material)
        self.hydraulics = HydraulicNetwork(self, plan.pumps)
        self.sinks = [c for c in self.components.values() if isinstance(c, Sink)]
        self.wip = 0
        self._wip_t = 0.0
        self._wip_area = 0.0
        self._wip_rec: CounterRecorder | None = None
        self.recorders: dict[tuple[str, str], StateRecorder] = {}
        self.sensor_outages: dict[str, list[tuple[float, float]]] = {}
        self.daily: dict[str, list[tuple[float, float, float]]] = {s.id: [] for s in self.sinks}
        self._day_start_total = {s.id: 0 for s in self.sinks}
        self.watches: list[Any] = []
        self._measure_from = 0.0

    # -- items -------------------------------------------------------------------------------------
    def item_entered(self) -> None:
        now = self.kernel.now
        self._wip_area += self.wip * (now - self._wip_t)
        self._wip_t = now
        self.wip += 1
        if self._wip_rec is not None:
            self._wip_rec.add(now, self.wip)

    def item_left(self, item: Any, scrapped: bool = False) -> None:
        now = self.kernel.now
        self._wip_area += self.wip * (now - self._wip_t)
        self._wip_t = now
        self.wip -= 1
        if self._wip_rec is not None:
            self._wip_rec.add(now, self.wip)

    # -- set-up ------------------------------------------------------------------------------------
    def component(self, node: str) -> Component:
        if node not in self.components:
            hint = did_you_mean(node, self.components)
            kind = self.plan.nodes[node].kind if node in self.plan.nodes else None
            what = f"a {kind} has no simulated state" if kind else "no such simulated node"
            raise SimulationError(f"{node!r}: {what}{hint}")
        return self.components[node]

    def apply_state(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        for node, values in state.items():
            comp = self.component(node)
            if not isinstance(values, Mapping):
                raise SimulationError(f"starting state of {node!r} must map state names to values")
            for name, value in values.items():
                comp.set_state(name, state_number(comp.kind, node, name, value))

    def record(self, node: str, state: str) -> StateRecorder:
        key = (node, state)
        if key not in self.recorders:
            comp = self.component(node)
            if state not in comp.STATES and not (comp.kind == "pump" and state.startswith("acceleration")):
                raise SimulationError(
                    f"{node!r} ({comp.kind}) has no simulated state {state!r}; "
                    f"recordable: {', '.join(comp.STATES)}"
                )
            rec = StateRecorder(comp, state)
            comp.observers.append(rec)
            self.recorders[key] = rec
        return self.recorders[key]

    def _setpoint(self, arg: tuple[Component, str, float]) -> None:
        comp, name, value = arg
        comp.set_parameter(name, value)

    def _sensor_down(self, arg: tuple[str, float, float]) -> None:
        node, start, end = arg
        self.sensor_outages.setdefault(node, []).append((start, end))

    def _prepare(self) -> None:
        opts = self.options
        if opts.state:
            self.apply_state(opts.state)
        for name in opts.record:
            if name == "wip":
                self._wip_rec = CounterRecorder()
            else:
                node, _, state = name.partition(".")
                if not state:
                    raise SimulationError(f"series {name!r}: expected 'wip' or '<node>.<state>'")
                self.record(node, state)
        if opts.telemetry:
            for sig in self.plan.signals:
                if (sig.target, sig.state) not in self.plan.custom_states:
                    self.record(sig.target, sig.state)
        kernel = self.kernel
        for node, start, duration in self.plan.outages:
            if self.plan.nodes[node].kind == "sensor":
                self._sensor_down((node, start, start + duration))
                continue
            comp = self.component(node)
            kernel.at(start, comp.go_down, "outage")
            kernel.at(start + duration, comp.go_up, "outage")
        for node, name, value, at in self.plan.setpoints:
            kernel.at(at, self._setpoint, (self.component(node), name, value))
        for event in opts.events:
            from twinforge.sim.warning import install_watch

            self.watches.append(install_watch(self, event))
        if opts.warmup > 0:
            kernel.at(opts.warmup, self._end_warmup)
        if any("daily_target" in s.plan.values for s in self.sinks):
            first = DAY - (opts.day_offset % DAY)
            if first <= opts.horizon + 1e-9:
                kernel.at(first, self._day_end)
        for c in self.components.values():
            if isinstance(c, Station) and c.observers:  # its 'queue' is the level in front of it
                for p in c.preds:
                    if isinstance(p, Buffer | Conveyor):
                        p.dependents.append(c)
        for c in self.components.values():
            c.begin()
        material = {k: c for k, c in self.components.items() if isinstance(c, MaterialNode)}
        for c in material.values():
            c.wire(material)  # bind routes to the (possibly specialised) receivers
        for c in self.components.values():
            if isinstance(c, MaterialNode) and not isinstance(c, Source | Sink):
                if not c.preds:
                    c.check_exhausted()
        self.hydraulics.solve()
        if self._wip_rec is not None:
            self._wip_rec.add(0.0, self.wip)
        for rec in self.recorders.values():
            rec.update()

    def _end_warmup(self, _: Any = None) -> None:
        for c in self.components.values():
            c.finish()
            c.reset_stats()
        now = self.kernel.now
        self._wip_area = 0.0
        self._wip_t = now
        self._measure_from = now

    def _day_end(self, _: Any = None) -> None:
        now = self.kernel.now
        for s in self.sinks:
            start_total = self._day_start_total[s.id]
            made = s.total - start_total
            if not self.daily[s.id]:
                made += s.count_offset
            self.daily[s.id].append((now - DAY, now, float(made)))
            self._day_start_total[s.id] = s.total
        if now + DAY <= self.options.horizon + 1e-9:
            self.kernel.at(now + DAY, self._day_end)

    def watch_fired(self) -> None:
        if self.options.stop_when_all_events and all(w.time is not None for w in self.watches):
            raise StopSimulation

    # -- run -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Apply the starting state, install recorders and watches, schedule the first events."""
        self._prepare()

    def advance(self, until: float) -> bool:
        """Run to ``until`` (for chunked runs after :meth:`start`); True if stopped early."""
        stopped = self.kernel.run(until)
        if not stopped:
            self.kernel.now = until
        return stopped

    def run(self) -> ReplicationResult:
        horizon = self.options.horizon
        if self.options.warmup >= horizon and horizon > 0:
            raise SimulationError(
                f"warm-up ({self.options.warmup:g} s) must be shorter than the horizon ({horizon:g} s)"
            )
        self._prepare()
        stopped = self.kernel.run(horizon)
        if not stopped:
            self.kernel.now = horizon
        return self.result()

    def result(self) -> ReplicationResult:
        """End the run at the current time: KPIs, the series asked for, watches, telemetry (after
        :meth:`run`, or after :meth:`start` and :meth:`advance` in steps)."""
        for c in self.components.values():
            c.finish()
        now = self.kernel.now
        self._wip_area += self.wip * (now - self._wip_t)
        self._wip_t = now
        result = ReplicationResult(
            replication=self.replication,
            kpis=self.kpis(),
            sim_events=self.kernel.events,
            end_time=now,
        )
        returned = self.options.record if self.options.returned is None else self.options.returned
        for name in returned:
            result.series[name] = self.series(name)
        for w in self.watches:
            result.events[w.name] = math.nan if w.time is None else w.time
        if self.options.kpis:
            from twinforge.sim.expressions import evaluate_kpis

            rows, result.kpi_notes = evaluate_kpis(self.options.kpis, result.kpis, self)
            result.kpis += rows
        if self.options.telemetry:
            from twinforge.sim.telemetry import generate

            result.telemetry = generate(self, 0.0, now)
        return result

    def series(self, name: str) -> Series:
        end = self.kernel.now
        if name == "wip":
            if self._wip_rec is None:
                raise SimulationError("series 'wip' was not recorded")
            return self._wip_rec.series(end, "wip")
        node, _, state = name.partition(".")
        if (node, state) in self.plan.custom_states:
            v = self.plan.custom_states[(node, state)]
            z = np.zeros(1)
            return Series(name, z, z + v, z + v, z.copy(), z.copy(), end)
        if (node, state) not in self.recorders:
            raise SimulationError(f"series {name!r} was not recorded")
        return self.recorders[(node, state)].series(end, name)

    # -- KPIs ----------------------------------------------------------------------------------------
    def kpis(self) -> list[KpiRow]:
        period = self.kernel.now - self._measure_from
        rows: list[KpiRow] = []
        per_metric: dict[str, float] = {}
        for nid, comp in self.components.items():
            if comp.plan.meta.get("implicit"):
                continue
            for metric, value, unit in comp.kpis(period):
                rows.append((f"{nid}.{metric}", nid, metric, float(value), unit))
                if metric in (
                    "energy",
                    "energy_cost",
                    "operating_cost",
                    "material_cost",
                    "revenue",
                    "failures",
                    "scrapped",
                    "downtime",
                ):
                    per_metric[metric] = per_metric.get(metric, 0.0) + float(value)
        cur = self.plan.currency
        system: list[tuple[str, float, str]] = []
        if self.plan.has_items:
            done = sum(s.count for s in self.sinks)
            lt = sum(s._lt_sum for s in self.sinks)
            system += [
                ("throughput", done / period * 3600.0 if period > 0 else math.nan, "item/h"),
                ("output", float(done), "item"),
                ("wip", self._wip_area / period if period > 0 else math.nan, "item"),
                ("cycle_time", lt / done if done else math.nan, "s"),
                ("scrapped", per_metric.get("scrapped", 0.0), "item"),
            ]
            targets = [s for s in self.sinks if "daily_target" in s.plan.values]
            if targets:
                system.append(("service_level", self._service_level(targets, period), ""))
        cost = sum(per_metric.get(k, 0.0) for k in ("energy_cost", "operating_cost", "material_cost"))
        system += [
            ("energy", per_metric.get("energy", 0.0), "kWh"),
            ("energy_cost", per_metric.get("energy_cost", 0.0), cur),
            ("operating_cost", per_metric.get("operating_cost", 0.0), cur),
            ("material_cost", per_metric.get("material_cost", 0.0), cur),
            ("cost", cost, cur),
            ("revenue", per_metric.get("revenue", 0.0), cur),
            ("profit", per_metric.get("revenue", 0.0) - cost, cur),
            ("failures", per_metric.get("failures", 0.0), ""),
            ("downtime", per_metric.get("downtime", 0.0), "h"),
        ]
        return [(m, "", m, float(v), u) for m, v, u in system] + rows

    def _service_level(self, sinks: list[Sink], period: float) -> float:
        """Share of complete days in the measurement window on which every sink with a
        ``daily_target`` met it; with no complete day, whether the output met the target pro rata."""
        met_days = []
        for s in sinks:
            target = s.plan.values["daily_target"]
            days = [
                made >= target - 1e-9
                for start, end, made in self.daily[s.id]
                if end <= self.kernel.now + 1e-9
                and (start >= self._measure_from - 1e-9 or not self._measure_from)
            ]
            if days:
                met_days.append(days)
        if met_days and all(len(d) == len(met_days[0]) for d in met_days) and len(met_days) == len(sinks):
            return float(np.mean([all(day) for day in zip(*met_days, strict=True)]))
        if met_days:
            return float(np.mean([np.mean(d) for d in met_days]))
        ok = all(s.count >= s.plan.values["daily_target"] * period / DAY - 1e-9 for s in sinks)
        return 1.0 if ok else 0.0


def run_replication(plan: ModelPlan, seed: int, replication: int, options: RunOptions) -> ReplicationResult:
    """Build and run one replication."""
    return Model(plan, seed, replication, options).run()


def start_state(twin: Any, node: str, name: str, seed: int = 0) -> float:
    """A state variable of ``node`` at the start of a run: levels from their initial parameters,
    flows, pressures, currents and temperatures from the solved network, wear and queues empty.
    What the twin itself says a state is when no live data is connected."""
    from twinforge.sim.plan import compile_twin

    model = Model(compile_twin(twin), seed, 0, RunOptions(horizon=0.0))
    model.start()
    return float(model.component(node).state_value(name))
