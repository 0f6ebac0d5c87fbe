"""Calendar years loaded by the bureau, as recorded in an application's own store."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application

from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.hall import CalendarYear
from services.common import storage

TOPICS = [f"{CalendarYear.__module__}:{CalendarYear.__qualname__}.{name}"
          for name in ("Loaded", "Reloaded")]
YEARS = range(2000, 2101)  # the years a loaded notice may be for (YearRules.from_dict)


def follow_years(app: Application[Any], calendar: WorkCalendar, seen: int
                 ) -> tuple[WorkCalendar, int]:
    """``calendar`` with every year recorded after position ``seen``; the new position:
    the head of the log as it stood when looking, whether or not a year was found there,
    so the next look reads only what was written since (never the whole log again)."""
    head = app.recorder.max_notification_id() or 0
    if head <= seen:
        return calendar, seen
    if seen == 0:  # the first look: each year's aggregate by its id (indexed), no log scan
        stored = storage.existing(app, (CalendarYear.create_id(y) for y in YEARS))
        for ident in sorted(stored):
            year: Any = app.repository.get(ident)
            calendar = calendar.with_year(YearRules.from_dict(year.rules))
        return calendar, head
    for notification in storage.read_log(app, seen, topics=TOPICS, page=100, stop=head):
        event: Any = app.mapper.to_domain_event(notification)
        calendar = calendar.with_year(YearRules.from_dict(event.rules))
    return calendar, head


def year_loaded(app: Application[Any], rules: YearRules, loaded_by: str, at: str
                ) -> CalendarYear:
    """The year's aggregate with the load as a pending event (a reload of a year already
    loaded is a new event of that year); the caller saves it."""
    ident = CalendarYear.create_id(rules.year)
    if ident in app.repository:
        year: CalendarYear = app.repository.get(ident)
        year.reload(rules=rules.as_dict(), calendar_version=rules.version, loaded_by=loaded_by,
                    loaded_at=at)
        return year
    return CalendarYear(year=rules.year, rules=rules.as_dict(), calendar_version=rules.version,
                        loaded_by=loaded_by, loaded_at=at)


def record_year(app: Application[Any], rules: YearRules, loaded_by: str, at: str) -> None:
    app.save(year_loaded(app, rules, loaded_by, at))
