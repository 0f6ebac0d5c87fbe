"""A published hall event as every consumer reads it: parsed once, typed.

The event store publishes each stored event as a structured CloudEvent with hallwatch's
extensions (``hwposition``, ``hwsequence``, ``hwrecordedtime``, ``hwcase``, ``hwchain``,
``hwstate``; see docs/events.md). :meth:`HallMessage.from_cloudevent` reads that wire
form once, where a consumer receives it; nothing downstream looks at the wire dict again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hallwatch.catalogue import TYPE_PREFIX, parse_time, short_type, stream_key
from hallwatch.summary import CaseSummary

HALLWATCH_SOURCE = "/hallwatch"  # events hallwatch itself emits speak for no hall
HALL_SOURCE_PREFIX = "/halls/"
YEAR_LOADED = "calendar.year_loaded"
DEADLINE_RECOMPUTED = "case.deadline_recomputed"


def hall_of_source(source: str) -> str | None:
    """The hall a CloudEvent ``source`` names (``/halls/{hall_id}``), or None."""
    return source.removeprefix(HALL_SOURCE_PREFIX) if source.startswith(HALL_SOURCE_PREFIX) \
        else None


@dataclass(frozen=True)
class HallMessage:
    """One published hall event (or one of hallwatch's own: a loaded calendar year, a
    recomputed deadline).

    ``type`` is the short type (``case.accepted``); ``hall_id`` the hall it concerns
    (from the case for hallwatch's own case events; None for a calendar year);
    ``recorded_time`` when the event store took it; ``position`` its place in the store's
    log; ``case`` the case summary after it (case events), and ``case_text`` the same as
    the JSON text it was published as (for sinks that keep it verbatim); ``state`` a hall
    stream's state after it (post and complaint events)."""

    id: str
    type: str
    subject: str
    hall_id: str | None
    time: datetime
    recorded_time: datetime
    position: int
    sequence: int
    data: Mapping[str, Any] = field(default_factory=dict)
    case: CaseSummary | None = None
    case_text: str | None = None
    chain: str | None = None
    state: str | None = None
    from_hallwatch: bool = False

    @classmethod
    def from_cloudevent(cls, value: Mapping[str, Any]) -> HallMessage:
        """Parse the published wire form (raises KeyError/ValueError if it is not one)."""
        ce_type = str(value["type"])
        if not ce_type.startswith(TYPE_PREFIX):
            raise ValueError(f"not a hall event type: {ce_type!r}")
        source = str(value["source"])
        case_text = value.get("hwcase") or None
        case = CaseSummary.from_dict(json.loads(case_text)) if case_text else None
        time = parse_time(str(value["time"]))
        recorded = value.get("hwrecordedtime")
        state = json.loads(value["hwstate"]).get("state") if value.get("hwstate") else None
        data = value.get("data")
        return cls(
            id=str(value["id"]), type=short_type(ce_type), subject=str(value["subject"]),
            hall_id=case.hall_id if case else hall_of_source(source), time=time,
            recorded_time=parse_time(str(recorded)) if recorded else time,
            position=int(value.get("hwposition") or 0),
            sequence=int(value.get("hwsequence") or 0),
            data=data if isinstance(data, dict) else {}, case=case, case_text=case_text,
            chain=value.get("hwchain"), state=state,
            from_hallwatch=source == HALLWATCH_SOURCE)

    @property
    def watch_key(self) -> str:
        """Which watch judges this event."""
        return stream_key(self.type, self.hall_id, self.subject, self.data, self.id)

    @property
    def is_case_event(self) -> bool:
        return self.case is not None
