"""Item-flow components other than the station: source, buffer, conveyor, sink, junction."""

from __future__ import annotations

import math
from collections import deque
from heapq import heappush
from typing import TYPE_CHECKING

from twinforge.sim.components.base import Item, MaterialNode
from twinforge.sim.errors import SimulationError

if TYPE_CHECKING:
    from twinforge.sim.model import Model
    from twinforge.sim.plan import NodePlan


class Source(MaterialNode):
    """Arrival process: every ``interarrival_time`` a batch of ``batch_size`` items, from
    ``start_time``, until ``max_arrivals`` items.

    A source *blocks* when its successor cannot take an item: it holds the items and the next
    inter-arrival time starts only once all of them have left (as a machine feeding a line would).
    With ``metadata.blocking: false`` it keeps its schedule instead and the items wait at the source
    (as deliveries that keep coming would); KPI ``waiting`` counts them at the end.
    An outage postpones an arrival that falls inside it to the end of the outage. The product of
    each item is drawn from ``metadata.product_mix`` (weights), else it is the twin's first product.
    """

    kind = "source"
    STATES = ("released",)
    SETTABLE = ("released",)

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        v = plan.values
        self._ia = model.streams.sampler(plan.dists["interarrival_time"], self.id, "interarrival_time")
        self.batch = max(int(v.get("batch_size", 1)), 1)
        self.start_time = float(v.get("start_time", 0.0))
        m = v.get("max_arrivals")
        self.max_arrivals = math.inf if m is None else int(m)
        self.created = 0
        self.pending: deque[str | None] = deque()
        self.down = False
        self._outages = 0
        self._due = False
        mix = plan.meta.get("product_mix")
        self._products: list[str] | None = None
        self._weights: list[float] = []
        if mix:
            self._products = list(mix)
            total = float(sum(mix.values()))
            acc = 0.0
            for p in self._products:
                acc += float(mix[p]) / total
                self._weights.append(acc)
            self._mix_u = model.streams.uniforms(self.id, "product_mix")
        self.product = model.initial_product
        self.blocking = bool(plan.meta.get("blocking", True))
        self._simple = self.batch == 1 and self.max_arrivals == math.inf and self._products is None
        self.reset_stats()

    def reset_stats(self) -> None:
        self.released = 0
        self._t = self.kernel.now
        self._a_blocked = 0.0

    def _acc(self) -> None:
        now = self.kernel.now
        if self.pending:
            self._a_blocked += now - self._t
        self._t = now

    def finish(self) -> None:
        self._acc()

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        cost = float(self.plan.values.get("cost_per_item", 0.0))
        return [
            ("released", float(self.released), "item"),
            ("waiting", float(len(self.pending)), "item"),
            ("blocked", self._a_blocked / period if period > 0 else math.nan, ""),
            ("material_cost", cost * self.released, self.model.plan.currency),
        ]

    def _draw_product(self) -> str | None:
        if self._products is None:
            return self.product
        u = next(self._mix_u)
        for p, w in zip(self._products, self._weights, strict=True):
            if u < w:
                return p
        return self._products[-1]

    def begin(self) -> None:
        if self.created < self.max_arrivals:
            self.kernel.at(self.start_time, self._arrive)
        else:
            self.mark_exhausted()

    def _arrive(self, _: object = None) -> None:
        if self.down:
            self._due = True
            return
        if self._simple and not self.pending:
            # one item, no product mix, no limit: the common case, kept short
            kernel = self.kernel
            now = kernel.now
            self.created += 1
            item = (now, self.product)
            if self.route(item):
                self.released += 1
                self.model.item_entered()
                heappush(kernel._heap, (now + next(self._ia), next(kernel._counter), self._arrive, None))
                if self.observers:
                    self.changed()
                return
            self._acc()
            self.pending.append(item[1])
            self.wait_for(item)
            if not self.blocking:
                self._schedule_next()
            return
        n = self.batch
        if self.max_arrivals != math.inf:
            n = int(min(n, self.max_arrivals - self.created))
        self.created += n
        self._acc()
        for _ in range(n):
            self.pending.append(self._draw_product())
        self._release()
        if not self.blocking or not self.pending:
            self._schedule_next()
        self._check_done()

    def _schedule_next(self) -> None:
        if self.created < self.max_arrivals:
            kernel = self.kernel
            heappush(kernel._heap, (kernel.now + next(self._ia), next(kernel._counter), self._arrive, None))

    def _check_done(self) -> None:
        if self.created >= self.max_arrivals and not self.pending and not self.exhausted:
            self.mark_exhausted()

    def _release(self) -> None:
        pending = self.pending
        now = self.kernel.now
        while pending:
            item = (now, pending[0])
            if not self.route(item):
                self.wait_for(item)
                break
            self._acc()
            pending.popleft()
            self.released += 1
            self.model.item_entered()
        if self.observers:
            self.changed()

    def _resume(self) -> None:
        self._release()
        if not self.pending:
            if self.blocking:
                self._schedule_next()
            self._check_done()

    def on_space(self, receiver: MaterialNode) -> None:
        if self.pending and not self.down:
            self._resume()

    def go_down(self, reason: str) -> None:
        self._outages += 1
        self.down = True

    def go_up(self, reason: str) -> None:
        self._outages = max(self._outages - 1, 0)
        if self._outages:
            return
        self.down = False
        if self.pending:
            self._resume()
        if self._due:
            self._due = False
            self._arrive()

    def is_empty(self) -> bool:
        return not self.pending

    def check_exhausted(self) -> None:
        pass  # a source is exhausted when its last item left (see _next)

    def state_value(self, name: str) -> float:
        if name == "released":
            return float(self.released)
        return super().state_value(name)

    def set_state(self, name: str, value: float) -> None:
        if name == "released":
            self.created = int(value)
        else:
            super().set_state(name, value)


class Buffer(MaterialNode):
    """A finite FIFO store (``capacity``, ``initial_level``). Upstream blocks when it is full.

    An item that finds the buffer empty and a successor ready passes straight through (it spends
    no time in the buffer)."""

    kind = "buffer"
    STATES = ("level",)
    SETTABLE = ("level",)

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        self.capacity = int(plan.values["capacity"])
        self.items: deque[tuple[float, Item]] = deque()
        self.level = 0
        self.on_full: list = []  # callbacks(component, time) when the level reaches capacity
        self._init_level = int(plan.values.get("initial_level", 0))
        self._full_since = 0.0
        self._empty_since = 0.0
        self._single: MaterialNode | None = None  # the only successor, when there is one
        self.reset_stats()

    def wire(self, nodes: dict[str, MaterialNode]) -> None:
        super().wire(nodes)
        if len(self.succ) == 1 and self.succ[0][1] is None and self.succ[0][0].kind != "junction":
            self._single = self.succ[0][0]

    # Statistics without per-event integration: the area under the level is the sum of the times
    # items spent in the buffer; full and empty times are summed at their transitions.
    def reset_stats(self) -> None:
        now = self.kernel.now
        self._from = now
        self._area = -sum(now - t for t, _ in self.items)
        self._a_full = 0.0
        self._a_empty = 0.0
        self.max_level = self.level
        self.entered = 0
        self.left = 0
        self._wait_sum = 0.0

    def finish(self) -> None:
        now = self.kernel.now
        self._area_total = self._area + sum(now - t for t, _ in self.items)
        self._full_total = self._a_full + (
            now - max(self._full_since, self._from) if self.level >= self.capacity else 0.0
        )
        self._empty_total = self._a_empty + (
            now - max(self._empty_since, self._from) if self.level == 0 else 0.0
        )

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        p = period if period > 0 else math.nan
        return [
            ("mean_level", self._area_total / p, "item"),
            ("max_level", float(self.max_level), "item"),
            ("full", self._full_total / p, ""),
            ("empty", self._empty_total / p, ""),
            ("mean_wait", self._wait_sum / self.left if self.left else math.nan, "s"),
            ("entered", float(self.entered), "item"),
        ]

    def has_space(self) -> bool:
        return self.level < self.capacity

    def load(self) -> float:
        return float(self.level)

    def is_empty(self) -> bool:
        return self.level == 0

    def offer(self, item: Item) -> bool:
        level = self.level
        if level == 0 and self.route(item):
            self.entered += 1
            self.left += 1
            return True
        if level >= self.capacity:
            return False
        now = self.kernel.now
        self.items.append((now, item))
        if level == 0:
            self._a_empty += now - max(self._empty_since, self._from)
            single = self._single
            if single is None:
                self.wait_for(item)
            elif self not in single.waiting:
                single.waiting.append(self)
        level += 1
        self.level = level
        self.entered += 1
        if level > self.max_level:
            self.max_level = level
        if level >= self.capacity:
            self._full_since = now
            for cb in self.on_full:
                cb(self, now)
        if self.observers:
            self.changed()
        for d in self.dependents:
            d.changed()
        return True

    def space(self) -> None:
        waiting = self.waiting
        while waiting and self.level < self.capacity:
            waiting.popleft().on_space(self)

    def on_space(self, receiver: MaterialNode) -> None:
        items = self.items
        if not items:
            return
        single = self._single
        if single is not None:
            # one successor: hand over while it has room, without probing it to refusal
            kernel = self.kernel
            while items and single.has_space():
                t_in, item = items.popleft()
                if not single.offer(item):
                    items.appendleft((t_in, item))
                    break
                now = kernel.now
                if self.level >= self.capacity:
                    self._a_full += now - max(self._full_since, self._from)
                self.level -= 1
                self.left += 1
                wait = now - t_in
                self._wait_sum += wait
                self._area += wait
                if self.level == 0:
                    self._empty_since = now
                if self.waiting:
                    self.space()
            if items and self not in single.waiting:
                single.waiting.append(self)
        else:
            while items:
                t_in, item = items[0]
                if not self.route(item):
                    self.wait_for(item)
                    break
                items.popleft()
                self._left_one(t_in)
        if self.level == 0 and self._preds_done >= len(self.preds):
            self.check_exhausted()
        if self.observers:
            self.changed()
        for d in self.dependents:
            d.changed()

    def _left_one(self, t_in: float) -> None:
        now = self.kernel.now
        if self.level >= self.capacity:
            self._a_full += now - max(self._full_since, self._from)
        self.level -= 1
        self.left += 1
        wait = now - t_in
        self._wait_sum += wait
        self._area += wait
        if self.level == 0:
            self._empty_since = now
        if self.waiting:
            self.space()

    def set_state(self, name: str, value: float) -> None:
        if name != "level":
            super().set_state(name, value)
        self._init_level = self.whole_count("level", value, self.capacity)

    def begin(self) -> None:
        product = self.model.initial_product
        now = self.kernel.now
        for _ in range(self._init_level):
            self.model.item_entered()
            self.items.append((now, (now, product)))
        self.level = len(self.items)
        self.max_level = self.level
        if self.level >= self.capacity:
            self._full_since = now
        if self.items:
            self.kernel.at(now, self._kick)

    def _kick(self, _: object = None) -> None:
        # hand the initial items to successors that are free at time zero
        if self.items:
            self.wait_for(self.items[0][1])
            for node, _, _ in self.succ:
                node.space()
        if self.level >= self.capacity:
            for cb in self.on_full:
                cb(self, self.kernel.now)

    def state_value(self, name: str) -> float:
        if name == "level":
            return float(self.level)
        return super().state_value(name)


class Conveyor(MaterialNode):
    """Moves items in ``transport_time`` (FIFO: no overtaking), holding at most ``capacity`` items.
    It accumulates: when the item at the end cannot leave, the items behind it keep moving up to
    the end. An outage stops the belt (transport times are extended by its length)."""

    kind = "conveyor"
    STATES = ("occupancy", "status")
    SETTABLE = ("occupancy",)

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        cap = plan.values.get("capacity")
        self.capacity = math.inf if cap is None else int(cap)
        self._tt = model.streams.sampler(plan.dists["transport_time"], self.id, "transport_time")
        self.items: deque[tuple[float, Item]] = deque()
        self._last_ready = -math.inf
        self._epoch = 0
        self.down = False
        self._outages = 0
        self._down_since = 0.0
        self._head_waiting = False
        self._init_occupancy = 0
        self.reset_stats()

    def reset_stats(self) -> None:
        self._t = self.kernel.now
        self._area = 0.0
        self._a_blocked = 0.0
        self._a_down = 0.0
        self.moved = 0

    def _acc(self) -> None:
        now = self.kernel.now
        dt = now - self._t
        if dt > 0.0:
            self._t = now
            self._area += len(self.items) * dt
            if self._head_waiting:
                self._a_blocked += dt
            if self.down:
                self._a_down += dt

    def finish(self) -> None:
        self._acc()

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        p = period if period > 0 else math.nan
        return [
            ("mean_occupancy", self._area / p, "item"),
            ("blocked", self._a_blocked / p, ""),
            ("down", self._a_down / p, ""),
            ("moved", float(self.moved), "item"),
        ]

    def has_space(self) -> bool:
        return len(self.items) < self.capacity and not self.down

    def load(self) -> float:
        return float(len(self.items))

    def is_empty(self) -> bool:
        return not self.items

    def offer(self, item: Item) -> bool:
        if self.down or len(self.items) >= self.capacity:
            return False
        self._acc()
        ready = self.kernel.now + next(self._tt)
        if ready < self._last_ready:
            ready = self._last_ready
        self._last_ready = ready
        self.items.append((ready, item))
        if len(self.items) == 1:
            self._epoch += 1
            self.kernel.at(ready, self._arrive_end, self._epoch)
        if self.observers:
            self.changed()
        return True

    def _arrive_end(self, epoch: int) -> None:
        if epoch != self._epoch or self.down:
            return
        self._deliver()

    def _deliver(self) -> None:
        items = self.items
        now = self.kernel.now
        moved = False
        while items and items[0][0] <= now:
            item = items[0][1]
            if not self.route(item):
                if not self._head_waiting:
                    self._acc()
                    self._head_waiting = True
                self.wait_for(item)
                break
            self._acc()
            self._head_waiting = False
            items.popleft()
            self.moved += 1
            moved = True
            self.space()
        if items and items[0][0] > now:
            self._epoch += 1
            self.kernel.at(items[0][0], self._arrive_end, self._epoch)
        if moved:
            if not items and self._preds_done >= len(self.preds):
                self.check_exhausted()
            if self.observers:
                self.changed()

    def on_space(self, receiver: MaterialNode) -> None:
        if not self.down and self.items and self.items[0][0] <= self.kernel.now:
            self._deliver()

    def go_down(self, reason: str) -> None:
        self._outages += 1
        if self.down:
            return
        self._acc()
        self.down = True
        self._down_since = self.kernel.now
        self._epoch += 1
        if self.observers:
            self.changed()

    def go_up(self, reason: str) -> None:
        self._outages = max(self._outages - 1, 0)
        if self._outages or not self.down:
            return
        self._acc()
        self.down = False
        now = self.kernel.now
        stopped = now - self._down_since
        since = self._down_since
        self.items = deque((r + stopped if r > since else r, it) for r, it in self.items)
        if self._last_ready > since:
            self._last_ready += stopped
        if self.items:
            self._epoch += 1
            self.kernel.at(max(self.items[0][0], now), self._arrive_end, self._epoch)
        self.space()
        if self.observers:
            self.changed()

    def set_state(self, name: str, value: float) -> None:
        if name != "occupancy":
            super().set_state(name, value)
        self._init_occupancy = self.whole_count("occupancy", value, self.capacity)

    def begin(self) -> None:
        # items already on the belt are spread evenly along it
        n = self._init_occupancy
        if n:
            mean_tt = self.plan.dists["transport_time"].mean()
            now = self.kernel.now
            product = self.model.initial_product
            for k in range(n):
                self.model.item_entered()
                self.items.append((now + mean_tt * (k + 1) / n, (now, product)))
            self._last_ready = self.items[-1][0]
            self._epoch += 1
            self.kernel.at(self.items[0][0], self._arrive_end, self._epoch)

    def state_value(self, name: str) -> float:
        if name == "occupancy":
            return float(len(self.items))
        if name == "status":
            return 0.0 if self.down else 1.0
        return super().state_value(name)


class Sink(MaterialNode):
    """Where items leave: counts, lead times (release to arrival), revenue, daily output."""

    kind = "sink"
    STATES = ("count",)
    SETTABLE = ("count",)

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        self.total = 0  # every item received (for the daily target, also across warm-up)
        self.count_offset = 0.0  # items received earlier today (starting state)
        self.reset_stats()

    def reset_stats(self) -> None:
        self.count = 0
        self._lt_sum = 0.0
        self._lt_sq = 0.0
        self._lt_max = 0.0

    def has_space(self) -> bool:
        return True

    def offer(self, item: Item) -> bool:
        self.count += 1
        self.total += 1
        lt = self.kernel.now - item[0]
        self._lt_sum += lt
        self._lt_sq += lt * lt
        if lt > self._lt_max:
            self._lt_max = lt
        self.model.item_left(item)
        if self.observers:
            self.changed()
        return True

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        n = self.count
        mean = self._lt_sum / n if n else math.nan
        std = math.sqrt(max(self._lt_sq / n - mean * mean, 0.0)) if n else math.nan
        price = float(self.plan.values.get("price_per_item", 0.0))
        return [
            ("count", float(n), "item"),
            ("throughput", n / period * 3600.0 if period > 0 else math.nan, "item/h"),
            ("cycle_time", mean, "s"),
            ("cycle_time_std", std, "s"),
            ("cycle_time_max", self._lt_max if n else math.nan, "s"),
            ("revenue", price * n, self.model.plan.currency),
        ]

    def state_value(self, name: str) -> float:
        if name == "count":
            return float(self.total + self.count_offset)
        return super().state_value(name)

    def set_state(self, name: str, value: float) -> None:
        if name != "count":
            super().set_state(name, value)
        if value < 0:
            raise SimulationError(f"sink {self.id!r}: count must be >= 0")
        self.count_offset = float(value)

    def check_exhausted(self) -> None:
        pass


class Junction(MaterialNode):
    """A merge/split point without storage: it hands an item on at once or refuses it. In a pipe
    network a junction only joins flows (see :mod:`.hydraulics`)."""

    kind = "junction"
    STATES = ("flow", "pressure", "temperature")

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        self.flow = 0.0  # m^3/h, set by the hydraulic network
        self.pressure = 0.0
        self.temperature = 25.0

    def has_space(self) -> bool:
        return True

    def offer(self, item: Item) -> bool:
        if self.route(item):
            return True
        self.wait_for(item)
        return False

    def space(self) -> None:
        # every waiting sender gets one try: the junction itself holds nothing
        senders = list(self.waiting)
        self.waiting.clear()
        for sender in senders:
            sender.on_space(self)

    def on_space(self, receiver: MaterialNode) -> None:
        self.space()

    def state_value(self, name: str) -> float:
        if name == "flow":
            return self.flow
        if name == "pressure":
            return self.pressure
        if name == "temperature":
            return self.temperature
        return super().state_value(name)
