"""Statutory working-day calendar (measures art. 18; Administrative Licensing Law art. 82).

A working day is a weekday that is not a statutory holiday, or a make-up working day
(调休) announced by the State Council even when it falls on a weekend.

Each year has one source:
- ``announced``: the State Council notice, as packaged by ``chinese-calendar``;
- ``official``: a notice the bureau loaded later (``hallwatch calendar load``);
- ``estimated``: no notice yet. Statutory holiday dates are estimated (the lunar
  festivals computed by ``holidays``) and only weekends are days off besides them;
  make-up days cannot be guessed, so every deadline touching such a year is provisional.

The calendar does no I/O: loaded years are handed to it as :class:`YearRules`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property

import chinese_calendar
import holidays as holiday_rules
from chinese_calendar import constants as announced_data

CHINA_TZ = timezone(timedelta(hours=8))
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class YearRules:
    """The days off and make-up working days of one calendar year."""

    year: int
    source: str  # "announced" | "official" | "estimated"
    holidays: frozenset[date]
    workdays: frozenset[date]
    reference: str = ""

    @cached_property
    def version(self) -> str:
        """A short, stable name for exactly this set of dates (computed once: hot path)."""
        digest = hashlib.sha256()
        for day in sorted(self.holidays):
            digest.update(b"h" + day.isoformat().encode())
        for day in sorted(self.workdays):
            digest.update(b"w" + day.isoformat().encode())
        return f"{self.year}:{self.source}:{digest.hexdigest()[:8]}"

    @property
    def provisional(self) -> bool:
        return self.source == "estimated"

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def as_dict(self) -> dict[str, object]:
        return {
            "year": self.year,
            "source": self.source,
            "reference": self.reference,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], source: str = "official") -> YearRules:
        """Build a year from a loaded notice; raises ValueError naming the bad field."""
        year = data.get("year")
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            raise ValueError("year: must be an integer between 2000 and 2100")
        days: dict[str, frozenset[date]] = {}
        for key in ("holidays", "workdays"):
            raw = data.get(key)
            if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
                raise ValueError(f"{key}: must be a list of YYYY-MM-DD strings")
            parsed: set[date] = set()
            for index, text in enumerate(raw):
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    raise ValueError(f"{key}[{index}]: {text!r} is not a YYYY-MM-DD date") from None
                if day.year != year:
                    raise ValueError(f"{key}[{index}]: {text} is not in {year}")
                parsed.add(day)
            days[key] = frozenset(parsed)
        overlap = days["holidays"] & days["workdays"]
        if overlap:
            raise ValueError(f"workdays: {min(overlap)} is also listed as a holiday")
        reference = data.get("reference", "")
        return cls(year, source, days["holidays"], days["workdays"], str(reference))


def announced_year(year: int) -> YearRules | None:
    """The year as packaged by chinese-calendar, or None when it has no notice."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    offs = frozenset(d for d in announced_data.holidays if d.year == year)
    works = frozenset(d for d in announced_data.workdays if d.year == year)
    return YearRules(year, "announced", offs, works, "chinese-calendar")


def estimated_year(year: int) -> YearRules:
    """Statutory holiday dates only (no observed or make-up days): a provisional year."""
    statutory = holiday_rules.country_holidays("CN", years=year)
    offs = frozenset(d for d, name in statutory.items() if "observed" not in name.lower())
    return YearRules(year, "estimated", offs, frozenset(), "estimated statutory dates")


@dataclass
class WorkCalendar:
    """Working-day arithmetic over years from their best available source."""

    loaded: dict[int, YearRules] = field(default_factory=dict)
    _cache: dict[int, YearRules] = field(default_factory=dict, repr=False)

    def with_year(self, rules: YearRules) -> WorkCalendar:
        """A new calendar in which ``rules`` replaces whatever that year had."""
        return WorkCalendar({**self.loaded, rules.year: rules})

    def year(self, year: int) -> YearRules:
        if year in self.loaded:
            return self.loaded[year]
        if year not in self._cache:
            self._cache[year] = announced_year(year) or estimated_year(year)
        return self._cache[year]

    def is_workday(self, day: date) -> bool:
        return self.year(day.year).is_workday(day)

    def add_working_days(self, start: date, count: int) -> WorkingDaySpan:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        years = {start.year}
        remaining = count
        while remaining:
            day += timedelta(days=1)
            years.add(day.year)
            if self.is_workday(day):
                remaining -= 1
        return WorkingDaySpan(day, self._versions(years))

    def end_of_working_day(self, start: date, count: int) -> datetime:
        """The end (23:59:59 +08:00) of the ``count``-th working day after ``start``."""
        return end_of_day(self.add_working_days(start, count).day)

    def working_days_between(self, first: date, stop: date) -> WorkingDaySpan:
        """How many working days lie in ``[first, stop)``."""
        count = 0
        day = first
        years = {first.year}
        while day < stop:
            years.add(day.year)
            if self.is_workday(day):
                count += 1
            day += timedelta(days=1)
        return WorkingDaySpan(first, self._versions(years), count)

    def previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def _versions(self, years: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.year(y).version for y in sorted(set(years)))


@dataclass(frozen=True)
class WorkingDaySpan:
    """A result of working-day arithmetic and the calendar years it depended on."""

    day: date
    versions: tuple[str, ...]
    count: int = 0

    @property
    def provisional(self) -> bool:
        return any(":estimated:" in v for v in self.versions)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, CHINA_TZ)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), CHINA_TZ)


def local_date(moment: datetime) -> date:
    """The calendar date in China of an aware moment."""
    return moment.astimezone(CHINA_TZ).date()
