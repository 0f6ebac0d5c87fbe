from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hallwatch.calendar import WorkCalendar, YearRules

CAL = WorkCalendar()
DAYS_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


def test_2026_make_up_saturdays_are_working_days():
    for day in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                date(2026, 9, 20), date(2026, 10, 10)):
        assert day.weekday() >= 5
        assert CAL.is_workday(day), day


def test_2026_national_day_week_is_off():
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))


def test_five_working_days_from_september_30_fall_on_october_13():
    assert CAL.add_working_days(date(2026, 9, 30), 5).day == date(2026, 10, 13)


def test_spring_festival_holiday_is_skipped():
    # Friday 2026-02-13 + 1 working day: the make-up Saturday 02-14.
    assert CAL.add_working_days(date(2026, 2, 13), 1).day == date(2026, 2, 14)
    # Saturday 02-14 + 1: the festival runs 02-15..02-23, so Tuesday 02-24.
    assert CAL.add_working_days(date(2026, 2, 14), 1).day == date(2026, 2, 24)


def test_2026_is_announced_and_2027_is_estimated():
    assert not CAL.year(2026).provisional
    assert CAL.year(2027).provisional
    assert date(2027, 10, 1) in CAL.year(2027).holidays


def test_a_deadline_crossing_into_2027_is_provisional():
    span = CAL.add_working_days(date(2026, 12, 24), 10)
    assert span.provisional
    assert span.day.year == 2027
    assert not CAL.add_working_days(date(2026, 12, 1), 10).provisional


def test_loading_an_official_year_replaces_the_estimate():
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04"],
                                    "workdays": ["2027-01-09"]})
    loaded = CAL.with_year(official)
    assert not loaded.year(2027).provisional
    assert not loaded.is_workday(date(2027, 1, 4))
    assert loaded.is_workday(date(2027, 1, 9))


def test_a_malformed_official_year_names_the_bad_field():
    for bad, field in (({"year": 2027, "holidays": ["2027-13-01"], "workdays": []},
                        "holidays[0]"),
                       ({"year": 2027, "holidays": [], "workdays": ["2026-01-01"]},
                        "workdays[0]"),
                       ({"year": "x", "holidays": [], "workdays": []}, "year")):
        try:
            YearRules.from_dict(bad)
        except ValueError as error:
            assert str(error).startswith(field)
        else:
            raise AssertionError(f"accepted {bad}")


@given(DAYS_2026, st.integers(min_value=1, max_value=40))
def test_the_nth_working_day_is_a_working_day_after_the_start(start, n):
    due = CAL.add_working_days(start, n).day
    assert due > start
    assert CAL.is_workday(due)


@given(DAYS_2026, st.integers(min_value=0, max_value=40))
def test_exactly_n_working_days_lie_between_start_and_due(start, n):
    due = CAL.add_working_days(start, n).day
    after_start = start + timedelta(days=1)
    assert CAL.working_days_between(after_start, due + timedelta(days=1)).count == n


@given(DAYS_2026, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_adding_working_days_composes(start, a, b):
    once = CAL.add_working_days(start, a + b).day
    twice = CAL.add_working_days(CAL.add_working_days(start, a).day, b).day
    assert once == twice


@given(DAYS_2026, st.integers(min_value=1, max_value=30))
def test_more_days_never_give_an_earlier_due_date(start, n):
    assert CAL.add_working_days(start, n).day > CAL.add_working_days(start, n - 1).day
