"""The live alert feed: alerts the projection has just written, fanned out to every
connected console as server-sent events.

The projection worker (a thread) calls ``publish`` right after it writes a batch to the
views, so an alert reaches the page as soon as a reload of the list would show it. Each
subscriber is an asyncio queue on the server's event loop; a subscriber too slow to
drain ``MAX_QUEUED`` alerts is told to reload (``event: resync``) instead of holding
memory without bound.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

MAX_QUEUED = 1000
RESYNC: dict[str, Any] = {"resync": True}


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUED + 1))

    def offer(self, alert: dict[str, Any]) -> None:
        """On the event loop: queue ``alert``, or a resync marker once full."""
        if self.queue.qsize() < MAX_QUEUED:
            self.queue.put_nowait(alert)
        elif self.queue.qsize() == MAX_QUEUED:
            self.queue.put_nowait(RESYNC)


class Broadcaster:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, alerts: list[dict[str, Any]]) -> None:
        """From any thread: hand each alert to every subscriber's loop."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            for alert in alerts:
                try:
                    subscriber.loop.call_soon_threadsafe(subscriber.offer, alert)
                except RuntimeError:  # its loop has closed: the server is stopping
                    self.unsubscribe(subscriber)
                    break

    def __len__(self) -> int:
        with self._lock:
            return len(self._subscribers)
