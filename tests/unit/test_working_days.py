"""Working-day arithmetic against a deliberately naive model of the calendar.

The model counts day by day: a promised case is due on the Nth working day after its
acceptance day that lies outside every clock stop [suspended, resumed). The code
computes the same thing in steps (base period, then each stop's counted working days
added back); hypothesis looks for a history where the two disagree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hallwatch import deadline as deadlines
from hallwatch.calendar import CHINA_TZ, WorkCalendar

CAL = WorkCalendar()


def naive_due(accepted_on: date, days: int, stops: list[tuple[date, date]]) -> date:
    day, left = accepted_on, days
    while left:
        day += timedelta(days=1)
        stopped = any(since <= day < until for since, until in stops)
        if CAL.is_workday(day) and not stopped:
            left -= 1
    return day


@st.composite
def histories(draw):
    accepted_on = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 330)))
    days = draw(st.integers(0, 25))
    stops, cursor = [], accepted_on
    for _ in range(draw(st.integers(0, 3))):
        since = cursor + timedelta(days=draw(st.integers(0, 12)))
        until = since + timedelta(days=draw(st.integers(0, 20)))
        stops.append((since, until))
        cursor = until
    return accepted_on, days, stops


@settings(max_examples=400, deadline=None)
@given(histories())
def test_a_deadline_with_clock_stops_matches_the_day_by_day_count(history):
    accepted_on, days, stops = history
    at = datetime.combine(accepted_on, datetime.min.time(), CHINA_TZ) + timedelta(hours=10)
    deadline = deadlines.base(CAL, at, days or None, "acc")
    for n, (since, until) in enumerate(stops):
        deadline = deadlines.add_suspension(CAL, deadline, since, until, f"stop-{n}")
    assert deadline.due_at.date() == naive_due(accepted_on, days, stops)
    assert deadlines.recompute(CAL, deadline) == deadline


def _accepted_2026(day: str) -> deadlines.Deadline:
    return deadlines.base(CAL, datetime.fromisoformat(f"{day}T10:00:00+08:00"), 5, "acc")


def test_a_stop_from_the_acceptance_day_gives_back_only_the_days_counted():
    # Accepted Mon 11-02, 5 working days: due Mon 11-09. Suspended the same Monday,
    # resumed Wed 11-04: only Tue 11-03 had been counted, so one day comes back.
    deadline = deadlines.add_suspension(CAL, _accepted_2026("2026-11-02"),
                                        date(2026, 11, 2), date(2026, 11, 4), "s")
    assert deadline.steps[-1].working_days == 1
    assert deadline.due_at.date() == date(2026, 11, 10)


def test_a_stop_starting_on_a_day_off_gives_back_only_the_working_days_inside_it():
    # Accepted Fri 11-06 (due Fri 11-13); suspended Sat 11-07, resumed Tue 11-10: the
    # weekend was never counted, Mon 11-09 was.
    deadline = deadlines.add_suspension(CAL, _accepted_2026("2026-11-06"),
                                        date(2026, 11, 7), date(2026, 11, 10), "s")
    assert deadline.steps[-1].working_days == 1
    assert deadline.due_at.date() == date(2026, 11, 16)


def test_a_stop_after_the_due_date_gives_nothing_back():
    deadline = deadlines.add_suspension(CAL, _accepted_2026("2026-11-02"),
                                        date(2026, 11, 10), date(2026, 11, 20), "s")
    assert deadline.steps[-1].working_days == 0
    assert deadline.due_at.date() == date(2026, 11, 9)


def test_a_stop_outlasting_the_due_date_runs_the_days_left_from_the_resumption():
    # Due Mon 11-09; stopped Thu 11-05 .. Mon 11-16: 11-05, 11-06, 11-09 were counted and
    # run again from Mon 11-16: due Wed 11-18.
    deadline = deadlines.add_suspension(CAL, _accepted_2026("2026-11-02"),
                                        date(2026, 11, 5), date(2026, 11, 16), "s")
    assert deadline.steps[-1].working_days == 3
    assert deadline.due_at.date() == date(2026, 11, 18)
