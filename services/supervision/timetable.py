"""When each watch's next timer and each notice's deadline come due, earliest first."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from uuid import UUID


class Timetable:
    """The next due moment per aggregate, with the earliest found without scanning them
    all: a heap of (moment, id) beside a dict of the current moment, where an entry whose
    moment is no longer current is dropped when it reaches the top (lazy deletion).

    Not thread-safe: the caller holds its lock.
    """

    def __init__(self) -> None:
        self._current: dict[UUID, tuple[datetime, str]] = {}
        self._heap: list[tuple[datetime, UUID]] = []

    def __len__(self) -> int:
        return len(self._current)

    def __iter__(self) -> Iterator[UUID]:
        return iter(list(self._current))

    def set(self, ident: UUID, at: datetime, key: str = "") -> None:
        """``ident`` comes due at ``at`` (``key``: what the caller needs to know of it)."""
        if self._current.get(ident) == (at, key):
            return
        self._current[ident] = (at, key)
        heapq.heappush(self._heap, (at, ident))
        if len(self._heap) > 2 * len(self._current) + 1024:
            self._heap = [(at, i) for i, (at, _) in self._current.items()]
            heapq.heapify(self._heap)

    def discard(self, ident: UUID) -> None:
        self._current.pop(ident, None)

    def earliest(self) -> datetime | None:
        while self._heap:
            at, ident = self._heap[0]
            current = self._current.get(ident)
            if current is not None and current[0] == at:
                return at
            heapq.heappop(self._heap)
        return None

    def due(self, now: datetime) -> list[tuple[UUID, str]]:
        """Every (id, key) due by ``now``, earliest first; they stay until discarded or
        set to a later moment."""
        found: dict[UUID, str] = {}
        while self._heap and self._heap[0][0] <= now:
            at, ident = heapq.heappop(self._heap)
            current = self._current.get(ident)
            if current is not None and current[0] == at and ident not in found:
                found[ident] = current[1]
        for ident in found:
            heapq.heappush(self._heap, (self._current[ident][0], ident))
        return list(found.items())
