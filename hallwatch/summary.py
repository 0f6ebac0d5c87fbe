"""The case summary: a case as the bureau sees it after each event.

It travels with every case event (the ``hwcase`` extension of the published CloudEvent,
the ``summary`` column of the ClickHouse cases view), so views never recompute anything.
Its shape is ``schemas/case-summary.schema.json``; ``as_dict`` and ``from_dict`` are the
only conversions, used where it is stored or published. ``from_dict`` also reads the
summaries recorded before every field existed (missing fields take their defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from hallwatch.deadline import Deadline

_MOMENTS = ("accepted_at", "due_at", "yellow_at", "supplement_due_at", "closed_at",
            "last_event_at", "missed_due_at")
_LISTS = ("supplement_calendar", "notice_materials")


@dataclass(frozen=True)
class CaseSummary:
    case_no: str
    hall_id: str
    status: str
    matter_code: str | None = None
    matter_name: str | None = None
    kind: str | None = None  # "immediate" | "promised"
    promised_days: int | None = None
    accepted_at: datetime | None = None
    window_id: str | None = None
    staff_id: str | None = None
    receipt_no: str | None = None
    deadline: Deadline | None = None
    due_at: datetime | None = None
    yellow_at: datetime | None = None
    provisional: bool = False
    supplement_due_at: datetime | None = None
    supplement_pending: bool = False
    supplement_provisional: bool = False
    supplement_days: int | None = None
    supplement_calendar: tuple[str, ...] = ()
    suspended_since: date | None = None
    closed_at: datetime | None = None
    notice_materials: tuple[str, ...] = field(default=())
    rating: int | None = None
    rating_bad_open: bool = False
    extensions: int = 0
    working_days_used: int | None = None
    office_hours: str | None = None  # "in" | "out": when the last event happened
    last_event_at: datetime | None = None  # the latest time the case's events stated
    missed_due_at: datetime | None = None  # a due moment passed before a late extension

    def but(self, **changes: Any) -> CaseSummary:
        """A copy with ``changes`` (as ``dataclasses.replace``, which is many times slower:
        it re-runs ``__init__`` over every field, and the intake does this several times
        per event). Only declared fields may change."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"CaseSummary has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(CaseSummary)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime | date):
                value = value.isoformat()
            elif isinstance(value, Deadline):
                value = value.as_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseSummary:
        values: dict[str, Any] = {k: v for k, v in data.items() if k in _KNOWN}
        for name in _MOMENTS:
            text = values.get(name)
            values[name] = datetime.fromisoformat(text) if text else None
        since = values.get("suspended_since")
        values["suspended_since"] = date.fromisoformat(since) if since else None
        deadline = values.get("deadline")
        values["deadline"] = Deadline.from_dict(deadline) if deadline else None
        for name in _LISTS:
            values[name] = tuple(values.get(name) or ())
        return cls(**values)

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None


_FIELDS = tuple(f.name for f in fields(CaseSummary))
_KNOWN = frozenset(_FIELDS)
