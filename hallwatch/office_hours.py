"""Office hours (measures art. 11): summer 8:30–11:30, 13:30–17:00; winter 8:30–11:30,
13:00–16:30, on working days. Season start dates are local settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from hallwatch.calendar import CHINA_TZ, WorkCalendar

MORNING = (time(8, 30), time(11, 30))
SUMMER_AFTERNOON = (time(13, 30), time(17, 0))
WINTER_AFTERNOON = (time(13, 0), time(16, 30))


@dataclass(frozen=True)
class Seasons:
    """Summer runs from ``summer_start`` (inclusive) to ``winter_start`` (exclusive)."""

    summer_start: tuple[int, int] = (5, 1)
    winter_start: tuple[int, int] = (10, 1)

    def is_summer(self, day: date) -> bool:
        return self.summer_start <= (day.month, day.day) < self.winter_start


def classify(moment: datetime, calendar: WorkCalendar, seasons: Seasons) -> str:
    """``"in"`` during office hours on a working day, else ``"out"`` (after-hours work)."""
    local = moment.astimezone(CHINA_TZ)
    if not calendar.is_workday(local.date()):
        return "out"
    afternoon = SUMMER_AFTERNOON if seasons.is_summer(local.date()) else WINTER_AFTERNOON
    now = local.time()
    for start, end in (MORNING, afternoon):
        if start <= now < end:
            return "in"
    return "out"
