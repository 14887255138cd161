"""Early warning: from the twin's current state, how likely is an event within a horizon, and when?

Event definitions are typed (pydantic, discriminated by ``kind``):

- ``buffer_overflow``: a buffer reaches its capacity (for a tank: the level reaches capacity);
- ``target_missed``: a sink misses its ``daily_target`` — checked at each end of the production
  day inside the horizon, and at the horizon pro rata (the time of the event is the check time);
- ``threshold``: a state crosses a threshold (``above`` / ``below``), e.g. ``filler.temperature``
  above 60 degC. The state may be named through a sensor's signal (``filler_temp.temperature``);
  the noise-free state is compared (measurement noise would only add false alarms). Continuous
  states (temperatures, tank levels) are watched exactly: the crossing time is solved from the
  state's trajectory between events;
- ``failure``: a node (station, pump, valve) fails (outages in a scenario do not count).

:func:`early_warning` runs replications forward from a starting state ``{node: {state: value}}``
and reports, per event, the probability it happens within the horizon (Wilson interval) and the
expected time until it happens given that it does (t interval). A replication stops as soon as
every watched event has happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from scipy import stats

from twinforge.sim.errors import SimulationError

if TYPE_CHECKING:
    from twinforge.sim.model import Model
    from twinforge.sim.montecarlo import Progress

DAY = 86400.0


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Label in the results (default: generated)")


class BufferOverflow(_Event):
    kind: Literal["buffer_overflow"] = "buffer_overflow"
    buffer: str = Field(description="Buffer (or tank) id")

    def label(self) -> str:
        return self.name or f"{self.buffer} full"


class TargetMissed(_Event):
    kind: Literal["target_missed"] = "target_missed"
    sink: str = Field(description="Sink with a daily_target")

    def label(self) -> str:
        return self.name or f"{self.sink} misses daily target"


class ThresholdCrossing(_Event):
    kind: Literal["threshold"] = "threshold"
    state: str = Field(description="'node.state', or 'sensor.signal' for the state a signal observes")
    above: float | None = None
    below: float | None = None
    unit: str | None = Field(default=None, description="Unit of the threshold (default: the state's unit)")

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdCrossing:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        if "." not in self.state:
            raise ValueError("state must be '<node>.<state>'")
        return self

    def label(self) -> str:
        op, x = (">", self.above) if self.above is not None else ("<", self.below)
        return self.name or f"{self.state} {op} {x:g}" + (f" {self.unit}" if self.unit else "")


class NodeFailure(_Event):
    kind: Literal["failure"] = "failure"
    node: str

    def label(self) -> str:
        return self.name or f"{self.node} fails"


EarlyWarningEvent = Annotated[
    BufferOverflow | TargetMissed | ThresholdCrossing | NodeFailure, Field(discriminator="kind")
]
_EVENT_ADAPTER: TypeAdapter = TypeAdapter(EarlyWarningEvent)


def parse_event(data: Any) -> BufferOverflow | TargetMissed | ThresholdCrossing | NodeFailure:
    if isinstance(data, BufferOverflow | TargetMissed | ThresholdCrossing | NodeFailure):
        return data
    from pydantic import ValidationError

    try:
        return _EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SimulationError(f"invalid early-warning event {data!r}: {where}: {first['msg']}") from None


# -- watches (installed in a model) ---------------------------------------------------------------


class Watch:
    def __init__(self, model: Model, name: str) -> None:
        self.model = model
        self.name = name
        self.time: float | None = None

    def fire(self, *_: Any) -> None:
        if self.time is None:
            self.time = self.model.kernel.now
            self.model.watch_fired()


class ThresholdWatch(Watch):
    """Observer of one state: fires when it crosses; schedules the exact crossing time of
    continuous trajectories between events."""

    def __init__(
        self, model: Model, name: str, component: Any, state: str, above: bool, value: float
    ) -> None:
        super().__init__(model, name)
        self.component = component
        self.state = state
        self.above = above
        self.value = value
        self._epoch = 0

    def crossed(self, v: float) -> bool:
        return v > self.value if self.above else v < self.value

    def update(self, component: Any = None) -> None:
        if self.time is not None:
            return
        v0, c, k, s = self.component.state_segment(self.state)
        slope = s - k * (v0 - c)
        at_threshold = abs(v0 - self.value) <= 1e-9 * max(1.0, abs(self.value))
        if self.crossed(v0) or (at_threshold and (slope > 0 if self.above else slope < 0)):
            self.fire()
            return
        self._epoch += 1
        d = _crossing_delay(v0, c, k, s, self.value, self.above)
        if d is not None:
            self.model.kernel.after(d, self._check, self._epoch)

    def _check(self, epoch: int) -> None:
        if epoch != self._epoch or self.time is not None:
            return
        v = self.component.state_value(self.state)
        # the crossing time is solved exactly; allow rounding at the threshold itself
        if self.crossed(v) or abs(v - self.value) <= 1e-9 * max(1.0, abs(self.value)):
            self.fire()
        else:
            self.update()


def _crossing_delay(v0: float, c: float, k: float, s: float, x: float, above: bool) -> float | None:
    """Time until ``c + (v0 - c) exp(-k d) + s d`` passes ``x`` (None: never, before it changes)."""
    if k == 0.0:
        if s == 0.0:
            return None
        d = (x - v0) / s
        return d if d > 0 and ((s > 0) == above) else None
    if s != 0.0:
        return None  # not produced by any component
    # relaxation from v0 towards c: reaches x only if x lies strictly between them
    if above and not (v0 < x < c):
        return None
    if not above and not (c < x < v0):
        return None
    return -math.log((x - c) / (v0 - c)) / k


class TargetWatch(Watch):
    """Checks a sink's output against its daily target at each day end and at the horizon."""

    def __init__(self, model: Model, name: str, sink: Any) -> None:
        super().__init__(model, name)
        self.sink = sink
        self.target = sink.plan.values["daily_target"]
        opts = model.options
        self.offset = opts.day_offset % DAY
        self.day_start_total = 0
        self.first_day = True
        kernel = model.kernel
        if DAY - self.offset <= opts.horizon + 1e-9:
            kernel.at(DAY - self.offset, self._day_end)
        if opts.horizon < math.inf and not math.isclose(
            (opts.horizon + self.offset) % DAY, 0.0, abs_tol=1e-6
        ):
            kernel.at(opts.horizon, self._horizon_check)

    def _made_today(self) -> float:
        made = self.sink.total - self.day_start_total
        return made + (self.sink.count_offset if self.first_day else 0.0)

    def _day_end(self, _: Any = None) -> None:
        if self._made_today() < self.target - 1e-9:
            self.fire()
        self.day_start_total = self.sink.total
        self.first_day = False
        kernel = self.model.kernel
        if kernel.now + DAY <= self.model.options.horizon + 1e-9:
            kernel.at(kernel.now + DAY, self._day_end)

    def _horizon_check(self, _: Any = None) -> None:
        now = self.model.kernel.now
        elapsed = (self.offset + now) % DAY if not self.first_day else self.offset + now
        if self._made_today() < self.target * elapsed / DAY - 1e-9:
            self.fire()


def install_watch(model: Model, event: Any) -> Watch:
    from twinforge.sim.components import Buffer, Sink, Tank

    event = parse_event(event)
    name = event.label()
    match event:
        case BufferOverflow():
            comp = model.component(event.buffer)
            if isinstance(comp, Buffer):
                w = Watch(model, name)
                comp.on_full.append(w.fire)
                return w
            if isinstance(comp, Tank):
                tw = ThresholdWatch(model, name, comp, "level", True, comp.capacity * (1 - 1e-9))
                comp.observers.append(tw)
                model.kernel.at(model.kernel.now, lambda _: tw.update())
                return tw
            raise SimulationError(f"buffer_overflow: {event.buffer!r} is a {comp.kind}, not a buffer or tank")
        case NodeFailure():
            comp = model.component(event.node)
            if comp.kind not in ("station", "pump", "valve"):
                raise SimulationError(
                    f"failure: {event.node!r} is a {comp.kind}; only stations, pumps and valves fail"
                )
            w = Watch(model, name)
            comp.on_failure.append(w.fire)
            return w
        case TargetMissed():
            comp = model.component(event.sink)
            if not isinstance(comp, Sink) or "daily_target" not in comp.plan.values:
                raise SimulationError(f"target_missed: {event.sink!r} is not a sink with a daily_target")
            return TargetWatch(model, name, comp)
        case ThresholdCrossing():
            node, state, scale, offset = _resolve_state(model, event.state)
            comp = model.component(node)
            if state not in comp.STATES and not (comp.kind == "pump" and state.startswith("acceleration")):
                raise SimulationError(
                    f"threshold: {node!r} ({comp.kind}) has no simulated state {state!r}; "
                    f"available: {', '.join(comp.STATES)}"
                )
            raw = event.above if event.above is not None else event.below
            assert raw is not None
            value = _to_state_unit(model, node, state, raw, event.unit, scale, offset)
            above = event.above is not None
            if scale < 0:
                above = not above
            tw = ThresholdWatch(model, name, comp, state, above, value)
            comp.observers.append(tw)
            model.kernel.at(model.kernel.now, lambda _: tw.update())
            return tw
    raise SimulationError(f"unsupported event {event!r}")  # pragma: no cover


def _resolve_state(model: Model, ref: str) -> tuple[str, str, float, float]:
    """'node.state' or 'sensor.signal' -> (node, state, scale, offset) of signal = scale*state+offset."""
    node, _, name = ref.partition(".")
    for sig in model.plan.signals:
        if sig.node == node and sig.signal == name and model.plan.nodes[node].kind == "sensor":
            return sig.target, sig.state, sig.scale, sig.offset
    if node in model.plan.nodes and model.plan.nodes[node].kind == "sensor":
        raise SimulationError(f"threshold: sensor {node!r} has no signal {name!r}")
    return node, name, 1.0, 0.0


def _to_state_unit(
    model: Model, node: str, state: str, value: float, unit: str | None, scale: float, offset: float
) -> float:
    from twinforge.spec import units
    from twinforge.spec.catalog import CATALOG

    kind = model.plan.nodes[node].kind
    sd = CATALOG[kind].states.get(state) if kind in CATALOG else None
    state_unit = sd.unit if sd else None
    if unit is not None:
        try:
            return units.convert(value, unit, state_unit)
        except Exception as exc:
            raise SimulationError(f"threshold on {node}.{state}: {exc}") from None
    return (value - offset) / scale  # in the signal's unit when named through a signal


# -- defaults and the entry point -----------------------------------------------------------------


def default_events(twin: Any) -> list[Any]:
    """Events worth watching in a twin: buffer overflows, missed daily targets, failures of nodes
    with a failure model, temperatures above ``max_temperature``, tank level alarms."""
    events: list[Any] = []
    for n in twin.nodes:
        p = n.parameters
        if n.kind == "buffer":
            events.append(BufferOverflow(buffer=n.id))
        elif n.kind == "sink" and "daily_target" in p:
            events.append(TargetMissed(sink=n.id))
        elif n.kind in ("station", "pump", "valve") and any(
            k in p for k in ("mtbf", "mcbf", "failure_rate_base")
        ):
            events.append(NodeFailure(node=n.id))
        if (
            n.kind == "station"
            and ("heating_rate" in p or "temperature" in n.state)
            and "max_temperature" in p
        ):
            events.append(
                ThresholdCrossing(
                    state=f"{n.id}.temperature", above=twin.get(n.id, "max_temperature", unit="degC")
                )
            )
        if n.kind == "pump" and "max_temperature" in p:
            events.append(
                ThresholdCrossing(
                    state=f"{n.id}.temperature", above=twin.get(n.id, "max_temperature", unit="degC")
                )
            )
        if n.kind == "tank":
            if "high_level" in p:
                events.append(
                    ThresholdCrossing(state=f"{n.id}.level", above=twin.get(n.id, "high_level", unit="m^3"))
                )
            if "low_level" in p:
                events.append(
                    ThresholdCrossing(state=f"{n.id}.level", below=twin.get(n.id, "low_level", unit="m^3"))
                )
    return events


def starting_state(twin: Any, state: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Split an observed state into what the simulator starts from and what it computes itself.

    Live data observes more than a simulation can be started from: a pump's flow, current or
    vibration follow from its speed, valves and tank, so they are outputs, not inputs. Returns
    ``(settable, ignored)``: the mapping restricted to each component's settable states, and the
    ``node.state`` names left out. Unknown nodes are still refused by the simulator."""
    from twinforge.sim.components.flow import Buffer, Conveyor, Sink, Source
    from twinforge.sim.components.hydraulics import Pump, Tank, Valve
    from twinforge.sim.components.station import Station

    settable_by_kind = {
        c.kind: set(c.SETTABLE) for c in (Source, Buffer, Conveyor, Sink, Station, Tank, Valve, Pump)
    }
    kinds = {n.id: n.kind for n in twin.nodes}
    kept: dict[str, dict[str, Any]] = {}
    ignored: list[str] = []
    for node, values in state_mapping(state).items():
        allowed = settable_by_kind.get(kinds.get(node, ""))
        for name, value in values.items():
            if allowed is None or name in allowed:
                kept.setdefault(node, {})[name] = value
            else:
                ignored.append(f"{node}.{name}")
    return kept, ignored


def state_mapping(state: Any) -> dict[str, dict[str, Any]]:
    """Accept ``{node: {state: value}}`` or an object that offers one (``to_mapping()``,
    ``as_mapping()``, ``to_dict()`` or a ``values`` mapping) — e.g. a live-data ``TwinState``."""
    if state is None:
        return {}
    if isinstance(state, Mapping):
        return {str(k): dict(v) for k, v in state.items()}
    for attr in ("to_mapping", "as_mapping", "to_dict"):
        fn = getattr(state, attr, None)
        if callable(fn):
            return state_mapping(fn())
    values = getattr(state, "values", None)
    if isinstance(values, Mapping):
        return state_mapping(values)
    raise SimulationError(
        f"a starting state must be a mapping {{node: {{state: value}}}}, found {type(state).__name__}"
    )


@dataclass
class EarlyWarningResult:
    table: pd.DataFrame  # one row per event
    times: pd.DataFrame  # replication x event: time of the event in hours (NaN: did not happen)
    horizon: float
    replications: int
    events: list[Any] = field(default_factory=list)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def early_warning(
    twin: Any,
    state: Any = None,
    horizon: float | str = "8 h",
    events: Sequence[Any] | None = None,
    *,
    reps: int = 200,
    seed: int = 0,
    scenario: Any = None,
    day_elapsed: float | str = 0.0,
    backend: str = "local",
    workers: int = 1,
    confidence: float = 0.95,
    progress: Progress = False,
) -> EarlyWarningResult:
    """Probability and expected time of named events within ``horizon`` from a starting ``state``.

    ``state`` is ``{node: {state: value}}`` (values in the state's unit, or quantity strings such
    as ``"64 degC"``): buffer ``level``; station ``status`` (0 down), ``repair_remaining`` (time
    left of a repair; else a fresh repair time is drawn), ``temperature``, ``wear``, ``busy``
    (items in process), ``age`` (operating time since the last repair); sink ``count`` (items
    already received today, with ``day_elapsed`` the time since the production day began); tank
    ``level``; pump ``status``/``repair_remaining``/``temperature``/``age``; valve ``opening``.
    ``events`` default to :func:`default_events`."""
    from twinforge.sim.montecarlo import run_replications
    from twinforge.sim.plan import parse_duration

    spec = twin
    evs = [parse_event(e) for e in (events if events is not None else default_events(spec))]
    if not evs:
        raise SimulationError("no events to watch (give events=[...]; the twin has none by default)")
    labels = [e.label() for e in evs]
    dupes = {x for x in labels if labels.count(x) > 1}
    if dupes:
        raise SimulationError(
            f"event names must be unique; repeated: {', '.join(sorted(dupes))} (set 'name')"
        )
    h = parse_duration(horizon, "horizon")
    if h <= 0:
        raise SimulationError("horizon must be positive")
    mc = run_replications(
        spec,
        reps=reps,
        horizon=h,
        seed=seed,
        scenario=scenario,
        state=state_mapping(state),
        events=evs,
        day_elapsed=day_elapsed,
        backend=backend,
        workers=workers,
        progress=progress,
    )
    times = mc.events.pivot(index="replication", columns="event", values="time_h")[labels]
    rows = []
    for e, label in zip(evs, labels, strict=True):
        t = times[label].to_numpy(dtype=float)
        happened = t[~np.isnan(t)]
        k, n = len(happened), len(t)
        lo, hi = wilson_interval(k, n, confidence)
        if k:
            mean = float(happened.mean())
            if k > 1:
                half = stats.t.ppf(0.5 + confidence / 2, k - 1) * happened.std(ddof=1) / math.sqrt(k)
            else:
                half = math.nan
            t_lo, t_hi = mean - half, mean + half
            median = float(np.median(happened))
        else:
            mean = t_lo = t_hi = median = math.nan
        rows.append(
            {
                "event": label,
                "kind": e.kind,
                "probability": k / n,
                "probability_low": lo,
                "probability_high": hi,
                "expected_time_h": mean,
                "time_low_h": max(t_lo, 0.0) if not math.isnan(t_lo) else math.nan,
                "time_high_h": t_hi,
                "median_time_h": median,
                "occurrences": k,
                "replications": n,
            }
        )
    table = pd.DataFrame(rows)
    return EarlyWarningResult(table=table, times=times, horizon=h, replications=reps, events=evs)
