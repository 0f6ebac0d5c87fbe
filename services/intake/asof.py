"""As-of reads: a case as the system knew it at a moment, or when the log reached a
position — replayed from the event store (the views only know the present)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hallwatch.case import case_id
from hallwatch.errors import InvalidEvent, NotFound
from hallwatch.summary import CaseSummary
from services.intake.store import HallStore


@dataclass(frozen=True)
class Known:
    """The case's summary after its last event recorded by then, and that moment."""

    summary: CaseSummary
    moment: datetime  # the light is judged here
    sequence: int
    position: int


def known(store: HallStore, case_no: str, as_of: datetime | None = None,
          position: int | None = None) -> Known:
    """Exactly one of ``as_of`` (a moment) or ``position`` (a log position): the case
    after its last event recorded at or before it. For a position, the moment is when
    that last event was recorded."""
    if (as_of is None) == (position is None):
        raise InvalidEvent("give either as_of or position", "as_of")
    uuid = case_id(case_no)
    stored = store.recorder.select_events(uuid)
    if not stored:
        raise NotFound(f"case {case_no} is unknown", "case_no")
    found: Known | None = None
    for record in stored:
        at = store.position_of(uuid, record.originator_version)
        if position is not None and at > position:
            break
        event: Any = store.mapper.to_domain_event(record)
        recorded = datetime.fromisoformat(event.recorded_at)
        if as_of is not None and recorded > as_of:
            break
        found = Known(event.summary, as_of or recorded, event.originator_version, at)
    if found is None:
        when = f"by {as_of.isoformat()}" if as_of else f"at log position {position}"
        raise NotFound(f"case {case_no} had no events recorded {when}",
                       "as_of" if as_of else "position")
    return found


def reader(store: HallStore) -> Any:
    """``(case_no, as_of, position) -> (summary, moment)`` for the case route."""
    def read(case_no: str, as_of: datetime | None, position: int | None
             ) -> tuple[CaseSummary, datetime]:
        found = known(store, case_no, as_of, position)
        return found.summary, found.moment
    return read
