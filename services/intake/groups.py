"""Group commit: concurrent single-event requests share one store transaction.

Each ``POST /v1/events`` hands its event to one committer thread and waits. The committer
blocks while nothing is pending (no polling, no timer); when woken it takes every event
that is waiting (at most ``limit``), records them together in one transaction, and only
then answers each waiter with its own result. Events that arrive while a commit is running
form the next group, so under load groups grow by themselves and when idle an event is
committed at once, alone.

Each event keeps the answer it would have had alone: the store judges the events of a
group one by one in arrival order and reports one result each (a refused event stores
nothing and does not stop the others; an unexpected failure makes the store retry the
group event by event, so each waiter learns exactly whether its own event is stored).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from services.common.metrics import GROUP_EVENTS

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass(frozen=True)
class Pending(Generic[R]):
    """One waiting request: its event, the hall its key writes for, and its answer."""

    envelope: dict[str, Any]
    caller_hall: str | None
    answer: Future[R]


# Recording a group: one result per pending event, in order (an Exception: not stored).
Commit = Callable[[Sequence[tuple[dict[str, Any], str | None]]], Sequence[R | Exception]]


class GroupCommitter(Generic[R]):
    """A thread that commits waiting events in groups of at most ``limit``.

    ``commit`` must return one result per event, in order; it runs on this thread only,
    so groups are committed one after another. Started on the first ``submit``;
    ``close`` finishes what is queued and stops it.
    """

    def __init__(self, commit: Commit[R], limit: int, name: str = "group-commit") -> None:
        self._commit = commit
        self._limit = limit
        self._name = name
        self._queue: queue.SimpleQueue[Pending[R] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, envelope: dict[str, Any], caller_hall: str | None) -> Future[R]:
        """Queue one event; the future is resolved after the commit that holds it."""
        answer: Future[R] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the intake is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
            self._queue.put(Pending(envelope, caller_hall, answer))
        return answer

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking events, commit those already queued, and end the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()  # blocks while idle: nothing to do, no CPU used
            if first is None:
                return
            group, stopping = [first], False
            while len(group) < self._limit:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            self._commit_group(group)
            if stopping:
                return

    def _commit_group(self, waiting: list[Pending[R]]) -> None:
        # A request whose client went away (its future cancelled) is left out: it was
        # never answered, so its event is not stored and the client may send it again.
        group = [p for p in waiting if p.answer.set_running_or_notify_cancel()]
        if not group:
            return
        try:
            results = list(self._commit([(p.envelope, p.caller_hall) for p in group]))
            if len(results) != len(group):
                raise AssertionError(f"{len(results)} results for {len(group)} events")
        except Exception as error:  # the store answers per event; this is a last resort
            log.exception("a group of %d events failed before any was answered", len(group))
            results = [error] * len(group)
        GROUP_EVENTS.observe(len(group))
        for pending, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                pending.answer.set_exception(result)
            else:
                pending.answer.set_result(result)
