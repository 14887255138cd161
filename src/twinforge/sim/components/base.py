"""What every component shares: identity, state access, observers, and the item-flow protocol.

Item flow is synchronous hand-over between components, never a kernel event:

- ``receiver.offer(item) -> bool`` hands an item over now, or refuses (no room, down);
- a sender that was refused calls ``receiver.wait(sender)`` and keeps the item (it is *blocked*);
- when the receiver gains room it calls ``sender.on_space(receiver)`` for waiting senders, in the
  order they started waiting, until it is full again.

Buffers, stations, conveyors and sources all act as senders, so "a station pulls from the buffer
in front of it" and "a blocked station pushes into the buffer behind it" are the same mechanism.

An item is the tuple ``(release_time, product)``; ``product`` is None in single-product twins.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twinforge.sim.errors import SimulationError

if TYPE_CHECKING:
    from twinforge.sim.model import Model
    from twinforge.sim.plan import NodePlan

Item = tuple[float, str | None]


class Component:
    """Base of every simulated node."""

    kind = ""
    STATES: tuple[str, ...] = ()

    def __init__(self, model: Model, plan: NodePlan) -> None:
        self.model = model
        self.kernel = model.kernel
        self.id = plan.id
        self.plan = plan
        self.observers: list[Any] = []  # objects with .update(component); recorders and watches
        self.on_failure: list[Callable[[Component, float], None]] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def begin(self) -> None:
        """Schedule the first events (after wiring and the starting state)."""

    def reset_stats(self) -> None:
        """Start of the measurement period (end of warm-up)."""

    def finish(self) -> None:
        """Bring time integrals up to the current time."""

    def kpis(self, period: float) -> list[tuple[str, float, str]]:
        """``(metric, value, unit)`` over a measurement period of ``period`` seconds."""
        return []

    # -- state -----------------------------------------------------------------------------------
    def state_value(self, name: str) -> float:
        raise SimulationError(f"{self.kind} {self.id!r} has no simulated state {name!r}")

    def state_segment(self, name: str) -> tuple[float, float, float, float]:
        """The state's trajectory from now until the next event of this component, as
        ``(v0, c, k, s)`` with ``value(now + d) = c + (v0 - c) * exp(-k d) + s d``."""
        v = self.state_value(name)
        return (v, v, 0.0, 0.0)

    def set_state(self, name: str, value: float) -> None:
        raise SimulationError(
            f"{self.kind} {self.id!r}: the starting state cannot set {name!r}"
            + (f"; settable: {', '.join(self.SETTABLE)}" if getattr(self, "SETTABLE", ()) else "")
        )

    def set_parameter(self, name: str, value: float) -> None:
        raise SimulationError(f"{self.kind} {self.id!r}: setpoint {name!r} is not simulated")

    def go_down(self, reason: str) -> None:
        raise SimulationError(f"{self.kind} {self.id!r} cannot be taken down in the simulator")

    def go_up(self, reason: str) -> None:
        raise SimulationError(f"{self.kind} {self.id!r} cannot be taken down in the simulator")

    def changed(self) -> None:
        """Tell observers (recorders, early-warning watches) that the state changed."""
        for o in self.observers:
            o.update(self)

    def fire_failure(self) -> None:
        for cb in self.on_failure:
            cb(self, self.kernel.now)


class MaterialNode(Component):
    """A component items flow through: offer / wait / on_space, routing to successors."""

    def __init__(self, model: Model, plan: NodePlan) -> None:
        super().__init__(model, plan)
        self.waiting: deque[MaterialNode] = deque()
        self.succ: list[tuple[MaterialNode, frozenset[str] | None, float]] = []
        self.preds: list[MaterialNode] = []
        self.exhausted = False  # no item will ever arrive again and the node is empty
        self._preds_done = 0
        self._rr = 0
        self._chosen: MaterialNode | None = None
        self._route_u = None
        self.dependents: list[Component] = []  # components whose state derives from ours

    def whole_count(self, what: str, value: float, capacity: int) -> int:
        """An initial count of items (buffer level, conveyor occupancy), checked against capacity."""
        if value < 0 or value > capacity or value != int(value):
            raise SimulationError(
                f"{self.kind} {self.id!r}: {what} must be a whole number in 0..{capacity}, found {value:g}"
            )
        return int(value)

    # -- wiring ----------------------------------------------------------------------------------
    def wire(self, nodes: dict[str, MaterialNode]) -> None:
        self.succ = [(nodes[e.target], e.products, e.weight) for e in self.plan.successors]
        self.preds = [nodes[p] for p in self.plan.predecessors]
        policy = self.plan.routing
        if len(self.succ) == 1 and self.succ[0][1] is None:
            self.route = self.succ[0][0].offer  # type: ignore[method-assign]
        elif policy == "round_robin":
            self.route = self._route_round_robin  # type: ignore[method-assign]
        elif policy == "random":
            self.route = self._route_random  # type: ignore[method-assign]
            self._route_u = self.model.streams.uniforms(self.id, "routing")
        elif policy == "shortest_queue":
            self.route = self._route_shortest  # type: ignore[method-assign]
        else:
            self.route = self._route_first  # type: ignore[method-assign]

    # -- receiving -------------------------------------------------------------------------------
    def offer(self, item: Item) -> bool:
        raise NotImplementedError

    def has_space(self) -> bool:
        raise NotImplementedError

    def load(self) -> float:
        """Items held (for shortest-queue routing)."""
        return 0.0

    def wait(self, sender: MaterialNode) -> None:
        if sender not in self.waiting:
            self.waiting.append(sender)

    def space(self) -> None:
        """Room became free: let waiting senders hand over items while there is room."""
        waiting = self.waiting
        while waiting and self.has_space():
            waiting.popleft().on_space(self)

    # -- sending ---------------------------------------------------------------------------------
    def on_space(self, receiver: MaterialNode) -> None:
        """``receiver`` has room: try to hand over what this node holds."""

    def route(self, item: Item) -> bool:  # replaced in wire()
        raise NotImplementedError

    def _route_first(self, item: Item) -> bool:
        product = item[1]
        for node, products, _ in self.succ:
            if (products is None or product in products) and node.offer(item):
                return True
        return False

    def _route_round_robin(self, item: Item) -> bool:
        product = item[1]
        n = len(self.succ)
        start = self._rr
        for k in range(n):
            i = (start + k) % n
            node, products, _ = self.succ[i]
            if (products is None or product in products) and node.offer(item):
                self._rr = (i + 1) % n
                return True
        return False

    def _route_random(self, item: Item) -> bool:
        # The successor is drawn once per item (weights from edge metadata.weight) and kept until
        # the item is handed over: strict probabilistic routing, as in a Jackson network.
        if self._chosen is None:
            product = item[1]
            options = [(n, w) for n, p, w in self.succ if p is None or product in p]
            if not options:
                raise SimulationError(f"{self.id!r}: no successor accepts product {product!r}")
            total = sum(w for _, w in options)
            x = next(self._route_u) * total  # type: ignore[arg-type]
            chosen = options[-1][0]
            for n, w in options:
                if x < w:
                    chosen = n
                    break
                x -= w
            self._chosen = chosen
        if self._chosen.offer(item):
            self._chosen = None
            return True
        return False

    def _route_shortest(self, item: Item) -> bool:
        product = item[1]
        options = sorted(
            (node for node, products, _ in self.succ if products is None or product in products),
            key=lambda n: n.load(),
        )
        return any(node.offer(item) for node in options)

    def wait_for(self, item: Item) -> None:
        """Register as blocked at every successor that could take ``item``."""
        if self._chosen is not None:
            self._chosen.wait(self)
            return
        product = item[1]
        for node, products, _ in self.succ:
            if products is None or product in products:
                node.wait(self)

    # -- exhaustion ------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return True

    def pred_exhausted(self) -> None:
        self._preds_done += 1
        self.check_exhausted()

    def check_exhausted(self) -> None:
        if not self.exhausted and self._preds_done >= len(self.preds) and self.is_empty():
            self.mark_exhausted()

    def mark_exhausted(self) -> None:
        self.exhausted = True
        for node, _, _ in self.succ:
            node.pred_exhausted()
