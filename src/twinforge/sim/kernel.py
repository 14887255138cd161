"""The simulation kernel: an event calendar on a binary heap, and nothing else.

An event is ``(time, sequence, callback, argument)``. :meth:`Kernel.run` pops events in time order
(ties in the order they were scheduled), sets :attr:`Kernel.now` and calls ``callback(argument)``.
There are no processes, generators or event objects: components are plain objects whose methods
are the callbacks, and they cancel an event by ignoring it when it fires (each component keeps a
token and compares it). This is SimPy's core idea — a heap of timed callbacks — without the
generator machinery, which is what makes it several times faster.

A callback may raise :class:`StopSimulation` to end the run early (the kernel then keeps ``now``
at the time of that event).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import count
from typing import Any


class StopSimulation(Exception):
    """Raised by a callback to end :meth:`Kernel.run` at the current time."""


class Kernel:
    """Event calendar. Schedule with :meth:`at` / :meth:`after`; execute with :meth:`run`."""

    __slots__ = ("_counter", "_heap", "events", "now")

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)
        self._heap: list[tuple[float, int, Callable[[Any], Any], Any]] = []
        self._counter = count()
        self.events = 0  # events executed so far

    def at(self, time: float, callback: Callable[[Any], Any], arg: Any = None) -> None:
        """Call ``callback(arg)`` at absolute ``time`` (not before :attr:`now`)."""
        if time < self.now:
            time = self.now
        heappush(self._heap, (time, next(self._counter), callback, arg))

    def after(self, delay: float, callback: Callable[[Any], Any], arg: Any = None) -> None:
        """Call ``callback(arg)`` ``delay`` time units from now."""
        heappush(self._heap, (self.now + delay, next(self._counter), callback, arg))

    def peek(self) -> float:
        """Time of the next event (``inf`` when the calendar is empty)."""
        return self._heap[0][0] if self._heap else math.inf

    def pending(self) -> int:
        return len(self._heap)

    def run(self, until: float = math.inf) -> bool:
        """Execute events up to and including time ``until``; return True if stopped early.

        Afterwards :attr:`now` is ``until`` (when finite and not stopped early), so the run can be
        continued with a later ``until``.
        """
        heap = self._heap
        pop = heappop
        executed = 0
        try:
            while heap and heap[0][0] <= until:
                t, _, callback, arg = pop(heap)
                self.now = t
                executed += 1
                callback(arg)
        except StopSimulation:
            self.events += executed
            return True
        self.events += executed
        if until != math.inf and until > self.now:
            self.now = until
        return False
