from datetime import date

from services.projections.bulletin import previous_period


def test_a_monthly_bulletin_compares_with_the_month_before():
    assert previous_period(date(2026, 10, 1), date(2026, 11, 1)) == (date(2026, 9, 1),
                                                                     date(2026, 10, 1))


def test_a_quarterly_bulletin_compares_with_the_quarter_before_across_a_year_end():
    assert previous_period(date(2026, 1, 1), date(2026, 4, 1)) == (date(2025, 10, 1),
                                                                   date(2026, 1, 1))


def test_a_weekly_bulletin_compares_with_the_week_before():
    assert previous_period(date(2026, 10, 5), date(2026, 10, 12)) == (date(2026, 9, 28),
                                                                      date(2026, 10, 5))
