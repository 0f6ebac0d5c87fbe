"""Aggregates beside the case: hall streams (posts, complaints, one-off records), the
idempotency receipt of each accepted event, and loaded calendar years."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch import catalogue
from hallwatch.case import NAMESPACE
from hallwatch.catalogue import Fact
from hallwatch.errors import ImpossibleSequence, InvalidEvent

# Hall-event lifecycles: action -> (states it may follow, state after).
POST = {
    "post.absence_noticed": ((None, "present"), "absent"),
    "post.resumed": (("absent",), "present"),
}
COMPLAINT = {
    "complaint.received": ((None,), "open"),
    "complaint.resolved": (("open",), "resolved"),
}


def stream_key(fact: Fact) -> str:
    """Which stream a hall event belongs to: a post (window), a complaint, or itself."""
    return catalogue.stream_key(fact.type, fact.hall_id, fact.subject, fact.data, fact.id)


@lru_cache(maxsize=65_536)  # bounded; asked for on each event of the stream
def stream_id(key: str) -> UUID:
    return uuid5(NAMESPACE, "stream/" + key)


def _next(table: dict[str, tuple[tuple[str | None, ...], str]], state: str | None,
          action: str) -> str | None:
    if action not in table:
        return state
    allowed, after = table[action]
    if state not in allowed:
        raise ImpossibleSequence(f"{action} cannot follow state {state or '(none)'}", "type")
    return after


# Records stating a span of time: (start field, end field, what the span is).
SPANS = {"service.after_hours": ("start", "end", "the service"),
         "liaison.reported": ("period_start", "period_end", "the period reported")}


def _check_span(fact: Fact) -> None:
    """A span of time (an after-hours service, a liaison report's period) cannot end
    before it starts (refused, 422, naming the end field)."""
    first, last, what = SPANS[fact.type]
    start = catalogue.parse_time(str(fact.data.get(first, "")), f"data.{first}")
    end = catalogue.parse_time(str(fact.data.get(last, "")), f"data.{last}")
    if end < start:
        raise InvalidEvent(f"{what} ends at {end.isoformat()}, before it starts at "
                           f"{start.isoformat()}", f"data.{last}")


class HallStream(Aggregate):
    """A post's absences, a complaint's handling, or a single recorded service."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return stream_id(key)

    @classmethod
    def open(cls, fact: Fact, recorded_at: datetime | None = None) -> HallStream:
        if fact.type in SPANS:
            _check_span(fact)
        key = stream_key(fact)
        return cls(key=key, hall_id=fact.hall_id, fact=fact.envelope,
                   state=_next({**POST, **COMPLAINT}, None, fact.type),
                   recorded_at=(recorded_at or fact.time).isoformat())

    @event("Opened")
    def __init__(self, key: str, hall_id: str, fact: dict[str, Any], state: str | None,
                 recorded_at: str) -> None:
        self.key = key
        self.hall_id = hall_id
        self.state = state

    def record(self, fact: Fact, recorded_at: datetime | None = None) -> None:
        if self.key.startswith("record/"):
            raise ImpossibleSequence("this record is complete; send a new event id", "id")
        self._record(fact=fact.envelope, state=_next({**POST, **COMPLAINT}, self.state,
                                                     fact.type),
                     recorded_at=(recorded_at or fact.time).isoformat())

    @event("FactRecorded")
    def _record(self, fact: dict[str, Any], state: str | None, recorded_at: str) -> None:
        self.state = state


class Receipt(Aggregate):
    """Proof that an event id from a hall was accepted, with its content fingerprint.

    Saved atomically with the fact, so a retried POST finds it and answers the same.
    """

    @staticmethod
    @lru_cache(maxsize=16_384)  # bounded; asked for three times while an event is stored
    def create_id(hall_id: str, event_id: str) -> UUID:
        return uuid5(NAMESPACE, f"receipt/{hall_id}/{event_id}")

    @event("Issued")
    def __init__(self, hall_id: str, event_id: str, digest: str, stream: str,
                 sequence: int) -> None:
        self.hall_id = hall_id
        self.event_id = event_id
        self.digest = digest
        self.stream = stream
        self.sequence = sequence


class CalendarYear(Aggregate):
    """A year's official holiday notice as loaded by the bureau (each load an event)."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid5(NAMESPACE, f"calendar/{year}")

    @event("Loaded")
    def __init__(self, year: int, rules: dict[str, Any], calendar_version: str,
                 loaded_by: str, loaded_at: str) -> None:
        self.year = year
        self.rules = rules
        self.calendar_version = calendar_version

    @event("Reloaded")
    def reload(self, rules: dict[str, Any], calendar_version: str, loaded_by: str,
               loaded_at: str) -> None:
        self.rules = rules
        self.calendar_version = calendar_version
