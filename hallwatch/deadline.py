"""Case deadlines in statutory working days, with their explanation.

A deadline is computed when a fact changes it and the result is recorded in that
fact's event, so a replay never recomputes it under a newer calendar. The steps that
produced it are kept so that (a) each case can explain its deadline and (b) a
provisional deadline can be recomputed, as a new event, once an official year loads.

Rules: the start day is not counted (Civil Code art. 201); an immediate case is due at
the end of its acceptance day; working days spent suspended — from the suspension date
up to, not including, the resumption date — are added back (Administrative Licensing
Law art. 45); an approved extension adds its days to the current due date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hallwatch.calendar import WorkCalendar, end_of_day, local_date, start_of_day

Deadline = dict[str, Any]


def _finish(calendar: WorkCalendar, steps: list[dict[str, Any]], versions: set[str],
            immediate: bool) -> Deadline:
    due_day = date.fromisoformat(steps[-1]["due_date"])
    yellow = None if immediate else start_of_day(calendar.previous_working_day(due_day))
    return {
        "due_at": end_of_day(due_day).isoformat(),
        "yellow_at": yellow.isoformat() if yellow else None,
        "provisional": any(":estimated:" in v for v in versions),
        "calendar": sorted(versions),
        "immediate": immediate,
        "steps": steps,
    }


def _replay(calendar: WorkCalendar, plan: list[dict[str, Any]], immediate: bool) -> Deadline:
    """Apply each step of ``plan`` in order under ``calendar``."""
    steps: list[dict[str, Any]] = []
    versions: set[str] = set()
    due: date | None = None
    for step in plan:
        kind = step["kind"]
        if kind == "base":
            start = date.fromisoformat(step["from"])
            span = calendar.add_working_days(start, step["working_days"])
            due = span.day
            versions.update(span.versions)
            steps.append({**step, "due_date": due.isoformat()})
            continue
        assert due is not None, "a deadline starts with its base step"
        if kind == "suspension":
            gap = calendar.working_days_between(
                date.fromisoformat(step["from"]), date.fromisoformat(step["until"])
            )
            versions.update(gap.versions)
            added = gap.count
        else:  # extension
            added = step["working_days"]
        span = calendar.add_working_days(due, added)
        versions.update(span.versions)
        due = span.day
        steps.append({**step, "working_days": added, "due_date": due.isoformat()})
    return _finish(calendar, steps, versions, immediate)


def _plan(deadline: Deadline) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "due_date"} for s in deadline["steps"]]


def base(calendar: WorkCalendar, accepted_at: datetime, promised_days: int | None,
         event_id: str) -> Deadline:
    """The deadline at acceptance: immediate (``promised_days`` None) or promised."""
    accepted_on = local_date(accepted_at)
    step = {"kind": "base", "event": event_id, "from": accepted_on.isoformat(),
            "working_days": promised_days or 0}
    return _replay(calendar, [step], immediate=promised_days is None)


def supplement_due(calendar: WorkCalendar, accepted_at: datetime, days: int
                   ) -> tuple[str, bool, list[str]]:
    """End of the ``days``-th working day after acceptance, whether it is provisional, and
    the calendar versions it depended on."""
    accepted_on = local_date(accepted_at)
    span = calendar.add_working_days(accepted_on, days)
    return end_of_day(span.day).isoformat(), span.provisional, sorted(span.versions)


def add_suspension(calendar: WorkCalendar, deadline: Deadline, since: date, until: date,
                   event_id: str) -> Deadline:
    step = {"kind": "suspension", "event": event_id, "from": since.isoformat(),
            "until": until.isoformat(), "working_days": 0}
    return _replay(calendar, [*_plan(deadline), step], deadline["immediate"])


def add_extension(calendar: WorkCalendar, deadline: Deadline, extra_days: int,
                  event_id: str) -> Deadline:
    step = {"kind": "extension", "event": event_id, "working_days": extra_days}
    return _replay(calendar, [*_plan(deadline), step], deadline["immediate"])


def recompute(calendar: WorkCalendar, deadline: Deadline) -> Deadline:
    """The same steps under ``calendar`` (used when an official year is loaded)."""
    return _replay(calendar, _plan(deadline), deadline["immediate"])


def touches_year(versions: list[str], year: int) -> bool:
    return any(v.startswith(f"{year}:") for v in versions)
