"""When each watch's next timer and each notice's deadline come due, earliest first."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
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

    def due(self, now: datetime, limit: int | None = None,
            wanted: Callable[[str], bool] | None = None) -> list[tuple[UUID, str]]:
        """(id, key) due by ``now``, earliest first: at most ``limit`` of those whose key
        is ``wanted`` (all by default). They stay until discarded or set to a later
        moment. Costs O((found + unwanted due) log n), never a scan of every entry."""
        found: dict[UUID, str] = {}
        passed: list[tuple[datetime, UUID]] = []
        while self._heap and self._heap[0][0] <= now and (limit is None or len(found) < limit):
            at, ident = heapq.heappop(self._heap)
            current = self._current.get(ident)
            if current is None or current[0] != at or ident in found:
                continue  # superseded: dropped for good
            if wanted is None or wanted(current[1]):
                found[ident] = current[1]
            passed.append((at, ident))
        for entry in passed:
            heapq.heappush(self._heap, entry)
        return list(found.items())

    def entries(self) -> Iterator[tuple[UUID, datetime, str]]:
        """Every (id, moment, key), in no particular order."""
        for ident, (at, key) in list(self._current.items()):
            yield ident, at, key
