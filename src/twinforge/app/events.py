"""Live events of a running workspace, fanned out to every subscriber.

Producers (the ingest writer thread, monitors, jobs) call :meth:`EventBus.publish` from any thread.
Each subscriber gets its own bounded queue and receives every event of the topics and twins it
asked for, in order, each with a sequence number so a client can tell whether it missed any. A
subscriber that falls so far behind that its queue fills is closed (its last event says so) rather
than slowing the producers or growing without bound: a slow client loses its connection, never
the service its data.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: the kinds of event a workspace publishes
TOPICS = ("values", "alerts", "jobs", "twins", "warnings", "status")


@dataclass(frozen=True)
class Event:
    """One live event: ``topic`` (see :data:`TOPICS`), the twin it is about (None: the workspace),
    a JSON-ready ``data`` dict, its sequence number and when it was published (Unix seconds)."""

    seq: int
    topic: str
    twin: str | None
    data: dict[str, Any]
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "topic": self.topic, "twin": self.twin, "at": self.at, "data": self.data}


@dataclass
class Subscription:
    """What one subscriber receives. Read with :meth:`get` (async, for a WebSocket) or
    :meth:`get_sync` (a thread, a test); :meth:`close` when done."""

    bus: EventBus
    topics: frozenset[str]
    twins: frozenset[str] | None
    maxsize: int
    loop: asyncio.AbstractEventLoop | None = None
    closed: bool = False
    overflowed: bool = False
    received: int = 0
    _aqueue: asyncio.Queue[Event | None] | None = field(default=None, repr=False)
    _squeue: queue.Queue[Event | None] | None = field(default=None, repr=False)

    def wants(self, event: Event) -> bool:
        return event.topic in self.topics and (
            self.twins is None or event.twin is None or event.twin in self.twins
        )

    def _offer(self, event: Event | None) -> bool:
        """Queue an event (from any thread); False when the queue is full. The end marker (None)
        always fits, so a reader is never left waiting."""
        if self._squeue is not None:
            if event is not None and self._squeue.qsize() >= self.maxsize:
                return False
            self._squeue.put_nowait(event)
            return True
        assert self.loop is not None and self._aqueue is not None
        if event is not None and self._aqueue.qsize() >= self.maxsize:
            return False
        try:
            self.loop.call_soon_threadsafe(self._aqueue.put_nowait, event)
        except RuntimeError:  # the subscriber's loop is gone
            return False
        return True

    async def get(self) -> Event | None:
        """The next event; None once the subscription is closed."""
        assert self._aqueue is not None, "an async subscription: use subscribe(..., loop=...)"
        if self.closed and self._aqueue.empty():
            return None
        event = await self._aqueue.get()
        if event is not None:
            self.received += 1
        return event

    def get_sync(self, timeout: float | None = None) -> Event | None:
        """The next event (waiting up to ``timeout`` s); None when closed or on timeout."""
        assert self._squeue is not None, "a thread subscription: use subscribe(..., loop=None)"
        try:
            event = self._squeue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is not None:
            self.received += 1
        return event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus._remove(self)
            self._offer(None)


class EventBus:
    """Publish/subscribe for the workspace's live events (thread-safe)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.published = 0
        self.dropped_subscribers = 0

    def subscribe(
        self,
        topics: Iterable[str] = TOPICS,
        twins: Iterable[str] | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """A new subscription to ``topics`` of ``twins`` (None: all twins). With ``loop`` it is read
        with ``await sub.get()`` on that loop; without, with ``sub.get_sync()``."""
        wanted = frozenset(topics)
        unknown = wanted - set(TOPICS)
        if unknown:
            raise ValueError(f"unknown topic(s) {sorted(unknown)}; expected some of {list(TOPICS)}")
        size = maxsize or self.maxsize
        sub = Subscription(self, wanted, frozenset(twins) if twins is not None else None, size, loop=loop)
        if loop is not None:
            sub._aqueue = asyncio.Queue()
        else:
            sub._squeue = queue.Queue()
        with self._lock:
            self._subs.append(sub)
        return sub

    def publish(self, topic: str, data: dict[str, Any], twin: str | None = None) -> Event:
        """Send an event to every subscriber that wants it (from any thread)."""
        event = Event(next(self._seq), topic, twin, data, time.time())
        with self._lock:
            subs = list(self._subs)
            self.published += 1
        for sub in subs:
            if sub.closed or not sub.wants(event):
                continue
            if not sub._offer(event):
                # too far behind: close it with a reason rather than block or drop silently
                sub.overflowed = True
                self.dropped_subscribers += 1
                sub.closed = True
                self._remove(sub)
                sub._offer(None)
        return event

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)


__all__ = ["TOPICS", "Event", "EventBus", "Subscription"]
