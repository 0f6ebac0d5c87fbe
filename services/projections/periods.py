"""Named bulletin periods: ``2026-W47`` (ISO week), ``2026-11``, ``2026-Q4``, ``2026-H2``,
``2026``. A period is the half-open range of China-time dates [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = {"week": "周", "month": "月", "quarter": "季度", "half": "半年", "year": "年"}
_PATTERNS = (
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("half", re.compile(r"^(\d{4})-H([12])$")),
    ("year", re.compile(r"^(\d{4})()$")),
)
_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}


@dataclass(frozen=True)
class Period:
    name: str
    kind: str
    start: date
    end: date  # exclusive

    @property
    def label(self) -> str:
        """The period in Chinese, as printed on the bulletin."""
        y = self.start.year
        if self.kind == "week":
            iso = self.start.isocalendar()
            last = self.end - timedelta(days=1)
            return (f"{iso.year}年第{iso.week}周({self.start.month}月{self.start.day}日—"
                    f"{last.month}月{last.day}日)")
        if self.kind == "month":
            return f"{y}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{y}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == "half":
            return f"{y}年{'上' if self.start.month == 1 else '下'}半年"
        if self.kind == "year":
            return f"{y}年"
        return f"{self.start.isoformat()}至{(self.end - timedelta(days=1)).isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "label": self.label}

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` periods of the same kind later (negative: earlier)."""
        if self.kind == "week":
            start = self.start + timedelta(weeks=steps)
            iso = start.isocalendar()
            return Period(f"{iso.year}-W{iso.week:02d}", "week", start,
                          start + timedelta(weeks=1))
        if self.kind == "range":
            length = self.end - self.start
            return range_period(self.start + steps * length, self.end + steps * length)
        months = _MONTHS[self.kind]
        index = self.start.year * 12 + self.start.month - 1 + steps * months
        return _of_months(self.kind, index // 12, index % 12 + 1)

    def previous(self) -> Period:
        """环比: the period just before."""
        return self.shifted(-1)

    def year_ago(self) -> Period:
        """同比: the same period a year before (the same ISO week number for weeks)."""
        if self.kind == "week":
            iso = self.start.isocalendar()
            week = min(iso.week, date(iso.year - 1, 12, 28).isocalendar().week)
            return parse(f"{iso.year - 1}-W{week:02d}")
        if self.kind == "range":
            return range_period(_minus_year(self.start), _minus_year(self.end))
        return self.shifted(-12 // _MONTHS[self.kind])


def _minus_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _of_months(kind: str, year: int, month: int) -> Period:
    months = _MONTHS[kind]
    index = year * 12 + month - 1 + months
    end = date(index // 12, index % 12 + 1, 1)
    start = date(year, month, 1)
    if kind == "month":
        name = f"{year}-{month:02d}"
    elif kind == "quarter":
        name = f"{year}-Q{(month - 1) // 3 + 1}"
    elif kind == "half":
        name = f"{year}-H{(month - 1) // 6 + 1}"
    else:
        name = f"{year}"
    return Period(name, kind, start, end)


def parse(name: str) -> Period:
    """The named period; raises ValueError saying which forms are understood."""
    for kind, pattern in _PATTERNS:
        match = pattern.match(name)
        if not match:
            continue
        year, part = int(match.group(1)), match.group(2)
        if not 2000 <= year <= 2100:
            break
        if kind == "week":
            try:
                start = date.fromisocalendar(year, int(part), 1)
            except ValueError:
                break
            return Period(name, kind, start, start + timedelta(weeks=1))
        if kind == "month":
            if not 1 <= int(part) <= 12:
                break
            return _of_months(kind, year, int(part))
        if kind == "quarter":
            return _of_months(kind, year, (int(part) - 1) * 3 + 1)
        if kind == "half":
            return _of_months(kind, year, (int(part) - 1) * 6 + 1)
        return _of_months(kind, year, 1)
    raise ValueError(f"{name!r} is not a period: use 2026-W47, 2026-11, 2026-Q4, 2026-H2 "
                     "or 2026")


def range_period(start: date, end: date) -> Period:
    """An arbitrary [start, end) (the older from/to form); whole months become months."""
    if start.day == 1 and end.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month
        for kind, size in _MONTHS.items():
            if months == size and (start.month - 1) % size == 0:
                return _of_months(kind, start.year, start.month)
    if start.weekday() == 0 and end - start == timedelta(weeks=1):
        iso = start.isocalendar()
        return Period(f"{iso.year}-W{iso.week:02d}", "week", start, end)
    return Period(f"{start.isoformat()}..{end.isoformat()}", "range", start, end)
