from datetime import date

import pytest

from services.projections.periods import parse, range_period


@pytest.mark.parametrize("name,start,end,label", [
    ("2026-W47", date(2026, 11, 16), date(2026, 11, 23), "2026年第47周(11月16日—11月22日)"),
    ("2026-11", date(2026, 11, 1), date(2026, 12, 1), "2026年11月"),
    ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "2026年第4季度"),
    ("2026-H2", date(2026, 7, 1), date(2027, 1, 1), "2026年下半年"),
    ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026年"),
])
def test_a_named_period_covers_its_days(name, start, end, label):
    period = parse(name)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize("name,previous,year_ago", [
    ("2026-W01", "2025-W52", "2025-W01"),
    ("2026-W53", "2026-W52", "2025-W52"),  # 2025 has no week 53
    ("2026-01", "2025-12", "2025-01"),
    ("2026-Q1", "2025-Q4", "2025-Q1"),
    ("2026-H1", "2025-H2", "2025-H1"),
    ("2026", "2025", "2025"),
])
def test_a_period_compares_with_the_one_before_and_the_same_a_year_before(name, previous,
                                                                          year_ago):
    period = parse(name)
    assert (period.previous().name, period.year_ago().name) == (previous, year_ago)


@pytest.mark.parametrize("name", ["2026-13", "2026-00", "2026-W54", "2026-Q5", "2026-H3",
                                  "26-11", "2026-11-01", "1999", ""])
def test_anything_else_is_not_a_period(name):
    with pytest.raises(ValueError, match="is not a period"):
        parse(name)


def test_a_date_range_of_a_whole_month_or_week_is_that_named_period():
    assert range_period(date(2026, 10, 1), date(2026, 11, 1)).name == "2026-10"
    assert range_period(date(2026, 10, 1), date(2027, 1, 1)).name == "2026-Q4"
    assert range_period(date(2026, 10, 5), date(2026, 10, 12)).name == "2026-W41"
    odd = range_period(date(2026, 10, 3), date(2026, 10, 13))
    assert (odd.kind, odd.previous().start, odd.previous().end) == (
        "range", date(2026, 9, 23), date(2026, 10, 3))
