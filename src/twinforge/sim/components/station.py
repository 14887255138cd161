"""Station: ``servers`` parallel servers processing items, with blocking after service.

Process time
    drawn from ``process_time`` (per product from ``by_product`` when given), plus a ``setup_time``
    draw when the product differs from the previous item's (none before the first item), divided
    by the ``speed`` setpoint (a setpoint change applies to items that start after it).
Blocking after service
    a finished item stays on its server until a successor takes it; the server is *blocked*.
Failures (any combination)
    - by operating time (``mtbf``): each item reserves ``work / servers`` of the remaining time to
      failure when it starts; the item whose work exhausts it fails the station part-way, exactly
      when the clock runs out (exact for one server; for several servers the clock advances with
      server-busy time / servers);
    - by cycles (``mcbf``): the station fails right after the item that completes the cycle count;
    - by a state-driven hazard (``failure_rate_base``, see :mod:`.failures`).
    A failure or outage pre-empts the items in process, which resume their remaining work when the
    station is back up. Repair (``mttr``) renews the station: new time/cycles to failure, wear 0.
Continuous state
    temperature (first-order, heating ``heating_rate * speed * busy share``), wear
    (``+= wear_per_cycle`` per item), and derived power and vibration (see :meth:`vibration`).
Time shares (per server; they sum to 1)
    busy (processing and setup), blocked, starved (empty while items may still come), idle (empty
    while nothing can come any more: every upstream source has finished), down (failed or outage).
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappush
from typing import TYPE_CHECKING

from twinforge.sim.components.base import Item, MaterialNode
from twinforge.sim.components.failures import StateHazard
from twinforge.sim.components.thermal import FirstOrderThermal
from twinforge.sim.errors import SimulationError

if TYPE_CHECKING:
    from twinforge.sim.model import Model
    from twinforge.sim.plan import NodePlan

#: Vibration model of a station (mm/s RMS): idle baseline and busy level at speed 1, new machine.
VIBRATION_IDLE = 0.4
VIBRATION_BUSY = 2.0


class Station(MaterialNode):
    kind = "station"
    STATES = ("status", "temperature", "wear", "queue", "busy", "vibration", "power")
    SETTABLE = ("status", "repair_remaining", "temperature", "wear", "busy", "age", "cycles")

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        v = plan.values
        streams = model.streams
        self.servers = int(v.get("servers", 1))
        self.speed = float(v.get("speed", 1.0))
        pt = plan.dists.get("process_time")
        self._pt = streams.sampler(pt, self.id, "process_time") if pt is not None else None
        self._pt_product = {
            p: streams.sampler(d, self.id, f"process_time[{p}]")
            for p, d in plan.by_product.get("process_time", {}).items()
        }
        setup = plan.dists.get("setup_time")
        self._setup = (
            streams.sampler(setup, self.id, "setup_time") if setup is not None and setup.mean() > 0 else None
        )
        self._last_product: str | None = None
        self._setup_pending = 0.0
        self._setups_of: dict[int, float] = {}  # job token: setup time it includes
        self.scrap_rate = float(v.get("scrap_rate", 0.0))
        self._scrap_u = streams.uniforms(self.id, "scrap") if self.scrap_rate > 0 else None
        # failures
        self._ttr = streams.sampler(plan.dists["mttr"], self.id, "mttr") if "mttr" in plan.dists else None
        mtbf = plan.dists.get("mtbf")
        self._ttf = streams.sampler(mtbf, self.id, "mtbf") if mtbf is not None else None
        self._ttf_left = next(self._ttf) if self._ttf is not None else math.inf
        self._clock_on = self._ttf is not None
        self._clock_epoch = 0
        self._clock_pending = False
        mcbf = plan.dists.get("mcbf")
        self._cbf = streams.sampler(mcbf, self.id, "mcbf") if mcbf is not None else None
        self._cycles_left = next(self._cbf) if self._cbf is not None else math.inf
        # thermal and wear
        self.ambient = float(v.get("ambient_temperature", 25.0))
        self.heating = float(v.get("heating_rate", 0.0))  # K/s at full load and speed 1
        tau = float(v.get("cooling_time_constant", 1800.0))
        t0 = float(plan.initial.get("temperature", self.ambient))
        self.thermal = FirstOrderThermal(self.ambient, tau, t0)
        self._thermal_on = self.heating > 0 or t0 != self.ambient
        self.wear = float(plan.initial.get("wear", 0.0))
        self.wear_per_cycle = float(v.get("wear_per_cycle", 0.0))
        self.hazard: StateHazard | None = None
        if v.get("failure_rate_base", 0.0) > 0:
            self._thermal_on = True
            self.hazard = StateHazard(
                self.kernel,
                base=v["failure_rate_base"],
                k_temp=float(v.get("hazard_temperature_coefficient", 0.0)),
                k_wear=float(v.get("hazard_wear_coefficient", 0.0)),
                ambient=self.ambient,
                temperature=self.thermal.value,
                temp_bound=lambda now: self.thermal.bound(now, self.heating * self.speed),
                wear=lambda: self.wear,
                exponentials=streams.exponentials(self.id, "hazard"),
                uniforms=streams.uniforms(self.id, "hazard_accept"),
                on_fail=lambda: self._fail("hazard"),
            )
        self.power_busy = float(v.get("power_busy", 0.0))
        self.power_idle = float(v.get("power_idle", 0.0))
        # dynamic state
        self.free = self.servers  # servers holding nothing
        self.n_busy = 0
        self.blocked: deque[tuple[Item, float]] = deque()  # finished items and when they blocked
        self._jobs: dict[int, tuple[Item, float, float, float]] = {}  # token: item, start, end, reserved
        self._token = 0
        self._suspended: list[tuple[Item, float, float]] = []  # item, remaining work, setup in it
        self.down = False
        self._failed = False
        self._outages = 0
        self._down_since = 0.0
        self._failure_since = 0.0
        self._exh_since = math.inf
        self._heap = self.kernel._heap
        self._counter = self.kernel._counter
        self._plain = False  # decided in begin()
        self._complete_cb = self._complete
        self._simple = not self._pt_product and self._setup is None and self._pt is not None
        self._repair_epoch = 0
        self._repair_due = math.inf
        self._init_repair: float | None = None
        self._init_busy = 0
        self.cycles = 0
        # statistics
        self.reset_stats()

    # -- statistics ------------------------------------------------------------------------------
    # Times are accumulated per job and per interval (not per event): a job adds its processing time
    # when it ends, a blocked item its blocking time when it leaves, a down period its length when it
    # ends. Work in progress at the end of warm-up is subtracted up front, and added at the end.
    def reset_stats(self) -> None:
        now = self.kernel.now
        self._from = now
        self._busy_acc = -sum(now - start for _, start, _, _ in self._jobs.values())
        self._blocked_acc = -sum(now - t for _, t in self.blocked)
        self._down_acc = 0.0  # down periods count from max(start, self._from)
        self._failed_acc = 0.0
        self._exh_down = 0.0
        self.processed = 0
        self.scrapped = 0
        self.failures = 0
        self.setup_total = 0.0
        self.setups = 0

    def finish(self) -> None:
        now = self.kernel.now
        self._busy = self._busy_acc + sum(now - start for _, start, _, _ in self._jobs.values())
        self._blocked = self._blocked_acc + sum(now - t for _, t in self.blocked)
        down_now = (now - max(self._down_since, self._from)) if self.down else 0.0
        self._down = self._down_acc + down_now
        failed_now = now - max(self._failure_since, self._from) if self._failed and self.down else 0.0
        self._failed_time = self._failed_acc + failed_now
        idle = 0.0
        if self.exhausted:
            since = max(self._exh_since, self._from)
            exh_down = self._exh_down + (now - max(self._down_since, since) if self.down else 0.0)
            idle = self.servers * max(now - since - exh_down, 0.0)
        self._idle = idle

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        c = self.servers
        span = period * c if period > 0 else math.nan
        busy = self._busy / span
        blocked = self._blocked / span
        down_share = self._down / period if period > 0 else math.nan
        idle = self._idle / span
        starved = max(1.0 - busy - blocked - down_share - idle, 0.0)
        up_hours = (period - self._down) / 3600.0
        energy = self.power_idle * up_hours + (self.power_busy - self.power_idle) * self._busy / c / 3600.0
        cost_h = float(self.plan.values.get("cost_per_hour", 0.0))
        price = float(self.plan.values.get("energy_price", 0.0))
        return [
            ("processed", float(self.processed), "item"),
            ("busy", busy, ""),
            ("blocked", blocked, ""),
            ("starved", starved, ""),
            ("idle", idle, ""),
            ("down", down_share, ""),
            ("setup", self.setup_total / span, ""),
            ("downtime", self._down / 3600.0, "h"),
            ("failure_downtime", self._failed_time / 3600.0, "h"),
            ("failures", float(self.failures), ""),
            ("scrapped", float(self.scrapped), "item"),
            ("energy", energy, "kWh"),
            ("energy_cost", energy * price, self.model.plan.currency),
            ("operating_cost", cost_h * up_hours, self.model.plan.currency),
        ]

    # -- item flow -------------------------------------------------------------------------------
    def has_space(self) -> bool:
        return self.free > 0 and not self.down

    def load(self) -> float:
        return float(self.servers - self.free) + sum(
            p.load() for p in self.preds if p.kind in ("buffer", "conveyor")
        )

    def is_empty(self) -> bool:
        return self.free == self.servers

    def offer(self, item: Item) -> bool:
        if self.free and not self.down:
            self._start(item, -1.0)
            return True
        return False

    def _offer_fast(self, item: Item) -> bool:
        """``offer`` for a station without setups, per-product times or observers (most stations):
        :meth:`_start` inlined."""
        if self.free and not self.down:
            self.free -= 1
            self.n_busy += 1
            now = self.kernel.now
            work = next(self._pt) / self.speed  # type: ignore[arg-type]
            reserved = 0.0
            if self._clock_on and not self._clock_pending:
                share = work / self.servers
                if self._ttf_left > share:
                    self._ttf_left -= share
                    reserved = share
                else:
                    reserved = self._ttf_left
                    self._ttf_left = 0.0
                    self._clock_pending = True
                    self._clock_epoch += 1
                    heappush(
                        self._heap,
                        (
                            now + reserved * self.servers,
                            next(self._counter),
                            self._clock_failure,
                            self._clock_epoch,
                        ),
                    )
            end = now + work
            self._token = token = self._token + 1
            self._jobs[token] = (item, now, end, reserved)
            heappush(self._heap, (end, next(self._counter), self._complete_cb, token))
            if self._thermal_on:
                self._drive()
            return True
        return False

    def _complete_fast(self, token: int) -> None:
        job = self._jobs.pop(token, None)
        if job is None:
            return  # pre-empted
        item = job[0]
        self._busy_acc += job[2] - job[1]
        self.n_busy -= 1
        self.processed += 1
        if self.route(item):
            self.free += 1
            waiting = self.waiting
            while waiting and self.free and not self.down:
                waiting.popleft().on_space(self)
            if self.free == self.servers and self._preds_done >= len(self.preds):
                self.check_exhausted()
        else:
            self.blocked.append((item, self.kernel.now))
            self.wait_for(item)

    def space(self) -> None:
        waiting = self.waiting
        while waiting and self.free and not self.down:
            waiting.popleft().on_space(self)

    def _work(self, item: Item) -> float:
        product = item[1]
        sampler = self._pt_product.get(product) if product is not None else None
        work = next(sampler if sampler is not None else self._pt) / self.speed  # type: ignore[arg-type]
        if self._setup is not None and product != self._last_product:
            if self._last_product is not None:
                s = next(self._setup)
                work += s
                self._setup_pending = s  # counted when the item completes
                self.setups += 1
            self._last_product = product
        return work

    def _start(self, item: Item, work: float) -> None:
        self.free -= 1
        self.n_busy += 1
        if work < 0.0:
            work = next(self._pt) / self.speed if self._simple else self._work(item)  # type: ignore[arg-type]
        now = self.kernel.now
        reserved = 0.0
        if self._clock_on and not self._clock_pending:
            share = work / self.servers
            if self._ttf_left > share:
                self._ttf_left -= share
                reserved = share
            else:
                reserved = self._ttf_left
                self._ttf_left = 0.0
                self._clock_pending = True
                self._clock_epoch += 1
                heappush(
                    self._heap,
                    (
                        now + reserved * self.servers,
                        next(self._counter),
                        self._clock_failure,
                        self._clock_epoch,
                    ),
                )
        self._token = token = self._token + 1
        if self._setup_pending:
            self._setups_of[token] = self._setup_pending
            self._setup_pending = 0.0
        end = now + work
        self._jobs[token] = (item, now, end, reserved)
        heappush(self._heap, (end, next(self._counter), self._complete_cb, token))
        if self._thermal_on:
            self._drive()
        if self.observers:
            self.changed()

    def _complete(self, token: int) -> None:
        job = self._jobs.pop(token, None)
        if job is None:
            return  # pre-empted
        item = job[0]
        self._busy_acc += job[2] - job[1]
        self.n_busy -= 1
        self.processed += 1
        if self._plain:
            if self.route(item):
                self.free += 1
            else:
                self.blocked.append((item, self.kernel.now))
                self.wait_for(item)
        elif self._complete_extras(item, token):
            return
        if self.free:
            waiting = self.waiting
            while waiting and self.free and not self.down:
                waiting.popleft().on_space(self)
            if self.free == self.servers and self._preds_done >= len(self.preds):
                self.check_exhausted()
        if self.observers:
            self.changed()

    def _complete_extras(self, item: Item, token: int) -> bool:
        """Setup time, wear, scrap, temperature and cycle-count failures after an item; True if the
        station failed (the caller then stops)."""
        self.cycles += 1
        if self._setups_of:
            self.setup_total += self._setups_of.pop(token, 0.0)
        if self.wear_per_cycle:
            self.wear += self.wear_per_cycle
            if self.hazard is not None:
                self.hazard.wear_changed(self.wear)
        if self._scrap_u is not None and next(self._scrap_u) < self.scrap_rate:
            self.scrapped += 1
            self.model.item_left(item, scrapped=True)
            self.free += 1
        elif self.route(item):
            self.free += 1
        else:
            self.blocked.append((item, self.kernel.now))
            self.wait_for(item)
        if self._thermal_on:
            self._drive()
        if self._cbf is not None:
            self._cycles_left -= 1
            if self._cycles_left <= 0 and not self.down:
                self._fail("cycles")
                return True
        return False

    def on_space(self, receiver: MaterialNode) -> None:
        freed = False
        blocked = self.blocked
        while blocked:
            item, since = blocked[0]
            if not self.route(item):
                self.wait_for(item)
                break
            blocked.popleft()
            self._blocked_acc += self.kernel.now - since
            self.free += 1
            freed = True
        if freed:
            self.space()
            if self.free == self.servers and self._preds_done >= len(self.preds):
                self.check_exhausted()
            if self.observers:
                self.changed()

    def mark_exhausted(self) -> None:
        self._exh_since = self.kernel.now
        super().mark_exhausted()

    # -- failures and outages --------------------------------------------------------------------
    def _clock_failure(self, epoch: int) -> None:
        if epoch != self._clock_epoch or self.down:
            return
        self._clock_pending = False
        self._fail("operating time")

    def _fail(self, cause: str) -> None:
        self.failures += 1
        self.fire_failure()
        self.go_down("failure")
        self._schedule_repair(next(self._ttr))  # type: ignore[arg-type]

    def _schedule_repair(self, duration: float) -> None:
        self._repair_epoch += 1
        self._repair_due = self.kernel.now + duration
        self.kernel.at(self._repair_due, self._repair, self._repair_epoch)

    def _repair(self, epoch: int) -> None:
        if epoch != self._repair_epoch:
            return
        self._repair_due = math.inf
        self.renew()
        self.go_up("failure")

    def renew(self, age: float = 0.0, cycles: float = 0.0) -> None:
        """As good as new: fresh time and cycles to failure, no wear."""
        if self._ttf is not None:
            self._ttf_left = max(next(self._ttf) - age, 0.0)
            self._clock_pending = False
            self._clock_epoch += 1
        if self._cbf is not None:
            self._cycles_left = next(self._cbf) - cycles
        self.wear = 0.0

    def go_down(self, reason: str) -> None:
        was_down = self.down
        if reason == "failure":
            self._failed = True
            self._failure_since = self.kernel.now
        else:
            self._outages += 1
        if was_down:
            if self.observers:
                self.changed()
            return
        self.down = True
        now = self.kernel.now
        self._down_since = now
        c = self.servers
        for token, (item, start, end, reserved) in self._jobs.items():
            self._busy_acc += now - start
            refund = reserved - (now - start) / c
            if refund > 0.0 and self._ttf is not None:
                self._ttf_left += refund
            self._suspended.append((item, end - now, self._setups_of.pop(token, 0.0)))
        self._jobs.clear()
        self.n_busy = 0
        self._clock_pending = False
        self._clock_epoch += 1
        if self.hazard is not None:
            self.hazard.stop()
        if self._thermal_on:
            self._drive()
        if self.observers:
            self.changed()

    def go_up(self, reason: str) -> None:
        now = self.kernel.now
        if reason == "failure":
            if self._failed and self.down:
                # failure time ends now even if an outage keeps the station down
                self._failed_acc += now - max(self._failure_since, self._from)
            self._failed = False
        else:
            self._outages = max(self._outages - 1, 0)
        if self._failed or self._outages or not self.down:
            return
        self.down = False
        self._down_acc += now - max(self._down_since, self._from)
        if self.exhausted:
            self._exh_down += now - max(self._down_since, self._exh_since, self._from)
        suspended, self._suspended = self._suspended, []
        self.free += len(suspended)
        for item, remaining, setup in suspended:
            self._setup_pending = setup
            self._start(item, max(remaining, 0.0))
        if self.hazard is not None:
            self.hazard.plan()
        if self._thermal_on:
            self._drive()
        self.space()
        if self.observers:
            self.changed()

    # -- continuous state ------------------------------------------------------------------------
    def _drive(self) -> None:
        busy_share = self.n_busy / self.servers
        self.thermal.drive(self.kernel.now, self.heating * self.speed * busy_share)

    def vibration(self) -> float:
        """Vibration velocity RMS (mm/s): 0 when down; idle ``0.4``; at full load
        ``2.0 * speed^2 * (1 + wear)`` (unbalance grows with the square of speed and with wear);
        linear in the busy share between them."""
        if self.down:
            return 0.0
        busy_share = self.n_busy / self.servers
        full = VIBRATION_BUSY * self.speed * self.speed * (1.0 + self.wear)
        return VIBRATION_IDLE + (full - VIBRATION_IDLE) * busy_share

    def power(self) -> float:
        if self.down:
            return 0.0
        return self.power_idle + (self.power_busy - self.power_idle) * self.n_busy / self.servers

    def state_value(self, name: str) -> float:
        match name:
            case "status":
                return 0.0 if self.down else 1.0
            case "temperature":
                return self.thermal.value(self.kernel.now)
            case "wear":
                return self.wear
            case "queue":
                return float(sum(p.load() for p in self.preds if p.kind in ("buffer", "conveyor")))
            case "busy":
                return float(self.n_busy)
            case "vibration":
                return self.vibration()
            case "power":
                return self.power()
        return super().state_value(name)

    def state_segment(self, name: str) -> tuple[float, float, float, float]:
        if name == "temperature":
            return self.thermal.segment(self.kernel.now)
        return super().state_segment(name)

    def set_parameter(self, name: str, value: float) -> None:
        if name != "speed":
            super().set_parameter(name, value)
        if value <= 0:
            raise SimulationError(f"station {self.id!r}: speed must be positive, found {value}")
        self.speed = value
        if self._thermal_on:
            self._drive()
        if self.hazard is not None and self.hazard.active:
            self.hazard.plan()
        if self.observers:
            self.changed()

    # -- starting state --------------------------------------------------------------------------
    def set_state(self, name: str, value: float) -> None:
        match name:
            case "status":
                if value not in (0.0, 1.0):
                    raise SimulationError(f"station {self.id!r}: status must be 1 (up) or 0 (down)")
                self._failed = value == 0.0
                self.down = self._failed
            case "repair_remaining":
                if value < 0:
                    raise SimulationError(f"station {self.id!r}: repair_remaining must be >= 0")
                self._init_repair = value
                self._failed = True
                self.down = True
            case "temperature":
                self.thermal.set(self.kernel.now, value)
                self._thermal_on = True
            case "wear":
                if value < 0:
                    raise SimulationError(f"station {self.id!r}: wear must be >= 0")
                self.wear = value
            case "busy":
                if not 0 <= value <= self.servers or value != int(value):
                    raise SimulationError(
                        f"station {self.id!r}: busy must be a whole number of servers in 0..{self.servers}"
                    )
                self._init_busy = int(value)
            case "age":
                self.renew(age=value, cycles=0.0)
            case "cycles":
                if self._cbf is not None:
                    self._cycles_left -= value
            case _:
                super().set_state(name, value)

    def begin(self) -> None:
        self._plain = not (
            self.wear_per_cycle
            or self._scrap_u is not None
            or self._thermal_on
            or self._cbf is not None
            or self._setup is not None
        )
        if self._plain and not self.observers:
            self._complete_cb = self._complete_fast
        if self._simple and not self.observers:
            self.offer = self._offer_fast  # type: ignore[method-assign]
        # items already in process at the start (fresh process times: residuals are unknown)
        product = self.model.initial_product
        for _ in range(self._init_busy):
            self.model.item_entered()
            if self.down:
                self.free -= 1
                self._suspended.append(((self.kernel.now, product), self._work((0.0, product)), 0.0))
            else:
                self._start((self.kernel.now, product), -1.0)
        if self._failed:
            remaining = self._init_repair
            if remaining is None:
                remaining = next(self._ttr) if self._ttr is not None else 0.0
            self._schedule_repair(remaining)
        elif self.hazard is not None:
            self.hazard.plan()
        if self._thermal_on:
            self._drive()
