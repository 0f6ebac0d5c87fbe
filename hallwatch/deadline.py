"""Case deadlines in statutory working days, with their explanation.

A deadline is computed when a fact changes it and the result is recorded in that
fact's event, so a replay never recomputes it under a newer calendar. The steps that
produced it are kept so that (a) each case can explain its deadline and (b) a
provisional deadline can be recomputed, as a new event, once an official year loads.

Rules: the start day is not counted (Civil Code art. 201); an immediate case is due at
the end of its acceptance day; a clock stop (Administrative Licensing Law art. 45) —
from the suspension date up to, not including, the resumption date — gives back the
working days the deadline had counted inside it, and only those: not the acceptance
day, not days off, not days after the due date; an approved extension adds its days to
the current due date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hallwatch.calendar import WorkCalendar, end_of_day, local_date, start_of_day

BASE, SUSPENSION, EXTENSION = "base", "suspension", "extension"


def _day(text: Any) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Step:
    """One step of a deadline: the base period, a clock stop added back, or an extension.

    ``start`` is the base step's acceptance date or a suspension's first day; ``until``
    the resumption date (not counted); ``due_date`` the due date after this step."""

    kind: str
    event: str
    working_days: int
    start: date | None = None
    until: date | None = None
    due_date: date | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "event": self.event}
        if self.start is not None:
            out["from"] = self.start.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        out["working_days"] = self.working_days
        if self.due_date is not None:
            out["due_date"] = self.due_date.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        return cls(kind=str(data["kind"]), event=str(data["event"]),
                   working_days=int(data.get("working_days") or 0),
                   start=_day(data.get("from")), until=_day(data.get("until")),
                   due_date=_day(data.get("due_date")))

    def planned(self) -> Step:
        """The step as planned, before any calendar turned it into a due date."""
        return Step(self.kind, self.event, 0 if self.kind == SUSPENSION else self.working_days,
                    self.start, self.until)


@dataclass(frozen=True)
class Deadline:
    """When a case is due, its yellow moment, and how both were computed."""

    due_at: datetime
    yellow_at: datetime | None
    provisional: bool
    calendar: tuple[str, ...]
    immediate: bool
    steps: tuple[Step, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "due_at": self.due_at.isoformat(),
            "yellow_at": self.yellow_at.isoformat() if self.yellow_at else None,
            "provisional": self.provisional,
            "calendar": list(self.calendar),
            "immediate": self.immediate,
            "steps": [s.as_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Deadline:
        yellow = data.get("yellow_at")
        return cls(due_at=datetime.fromisoformat(data["due_at"]),
                   yellow_at=datetime.fromisoformat(yellow) if yellow else None,
                   provisional=bool(data.get("provisional")),
                   calendar=tuple(data.get("calendar") or ()),
                   immediate=bool(data.get("immediate")),
                   steps=tuple(Step.from_dict(s) for s in data.get("steps") or ()))

    @property
    def accepted_on(self) -> date:
        first = self.steps[0]
        assert first.kind == BASE and first.start is not None
        return first.start

    def touches_year(self, year: int) -> bool:
        return touches_year(self.calendar, year)


def _replay(calendar: WorkCalendar, plan: list[Step], immediate: bool) -> Deadline:
    """Apply each step of ``plan`` in order under ``calendar``."""
    steps: list[Step] = []
    versions: set[str] = set()
    due: date | None = None
    accepted_on: date | None = None
    for step in plan:
        if step.kind == BASE:
            assert step.start is not None
            accepted_on = step.start
            span = calendar.add_working_days(step.start, step.working_days)
            due = span.day
            versions.update(span.versions)
            steps.append(Step(BASE, step.event, step.working_days, step.start, None, due))
            continue
        assert due is not None and accepted_on is not None, "a deadline starts with its base"
        if step.kind == SUSPENSION:
            assert step.start is not None and step.until is not None
            added, due, used = _stop(calendar, accepted_on, due, step.start, step.until)
            versions.update(used)
        else:
            added = step.working_days
            span = calendar.add_working_days(due, added)
            versions.update(span.versions)
            due = span.day
        steps.append(Step(step.kind, step.event, added, step.start, step.until, due))
    assert due is not None
    yellow = None if immediate else start_of_day(calendar.previous_working_day(due))
    return Deadline(due_at=end_of_day(due), yellow_at=yellow,
                    provisional=any(":estimated:" in v for v in versions),
                    calendar=tuple(sorted(versions)), immediate=immediate, steps=tuple(steps))


def _stop(calendar: WorkCalendar, accepted_on: date, due: date, since: date, until: date
          ) -> tuple[int, date, tuple[str, ...]]:
    """A clock stop [since, until): the working days the deadline counted inside it, and
    the due date after it.

    The deadline counted only working days after the acceptance day up to its due date,
    so a stop starting on the acceptance day or on a day off gives back only the counted
    working days inside it, and a stop after the due date gives back nothing. The days
    given back run again from the resumption date."""
    first = max(since, date.fromordinal(accepted_on.toordinal() + 1))
    last = min(until, date.fromordinal(due.toordinal() + 1))
    counted = calendar.working_days_between(first, last) if first < last else None
    if counted is None or counted.count == 0:
        return 0, due, counted.versions if counted else ()
    if until <= due:
        span = calendar.add_working_days(due, counted.count)
    else:  # the stop outlasted the due date: what was left runs from the resumption date
        span = calendar.add_working_days(date.fromordinal(until.toordinal() - 1),
                                         counted.count)
    return counted.count, span.day, (*counted.versions, *span.versions)


def base(calendar: WorkCalendar, accepted_at: datetime, promised_days: int | None,
         event_id: str) -> Deadline:
    """The deadline at acceptance: immediate (``promised_days`` None) or promised."""
    step = Step(BASE, event_id, promised_days or 0, local_date(accepted_at))
    return _replay(calendar, [step], immediate=promised_days is None)


def supplement_due(calendar: WorkCalendar, accepted_at: datetime, days: int
                   ) -> tuple[datetime, bool, tuple[str, ...]]:
    """End of the ``days``-th working day after acceptance, whether it is provisional, and
    the calendar versions it depended on."""
    span = calendar.add_working_days(local_date(accepted_at), days)
    return end_of_day(span.day), span.provisional, tuple(sorted(span.versions))


def add_suspension(calendar: WorkCalendar, deadline: Deadline, since: date, until: date,
                   event_id: str) -> Deadline:
    step = Step(SUSPENSION, event_id, 0, since, until)
    return _replay(calendar, [*(s.planned() for s in deadline.steps), step],
                   deadline.immediate)


def add_extension(calendar: WorkCalendar, deadline: Deadline, extra_days: int,
                  event_id: str) -> Deadline:
    step = Step(EXTENSION, event_id, extra_days)
    return _replay(calendar, [*(s.planned() for s in deadline.steps), step],
                   deadline.immediate)


def recompute(calendar: WorkCalendar, deadline: Deadline) -> Deadline:
    """The same steps under ``calendar`` (used when an official year is loaded)."""
    return _replay(calendar, [s.planned() for s in deadline.steps], deadline.immediate)


def touches_year(versions: tuple[str, ...] | list[str], year: int) -> bool:
    return any(v.startswith(f"{year}:") for v in versions)
