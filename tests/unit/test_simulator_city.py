"""The simulated city: deterministic, valid event by event, in lifecycle order, and
breaking the rules at the configured rates."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest

from hallwatch import lifecycle
from hallwatch.calendar import CHINA_TZ, WorkCalendar
from hallwatch.catalogue import parse_time
from hallwatch.hall import COMPLAINT, POST
from hallwatch.office_hours import Seasons, classify
from services.intake import validation
from services.simulator import directory
from services.simulator.city import City, Planned, Rates

HALLS = directory.load()
WEEK = [date(2026, 3, 2) + timedelta(days=n) for n in range(7)]  # Monday to Sunday


def plan(seed: int = 3, rates: Rates | None = None, days: list[date] = WEEK) -> list[Planned]:
    city = City(HALLS, seed, rates, scale=0.5)
    return [p for day in days for p in city.plan_day(day)]


def test_the_same_seed_plans_the_same_city_and_another_seed_another() -> None:
    first, again, other = plan(3), plan(3), plan(4)
    assert [p.envelope for p in first] == [p.envelope for p in again]
    assert [p.envelope for p in first] != [p.envelope for p in other]


def test_every_planned_event_passes_the_intakes_schemas() -> None:
    for planned in plan():
        validation.validate(planned.envelope)


def test_each_case_and_post_follows_its_lifecycle_in_time_order_and_is_reported_in_order() -> None:
    streams: dict[str, list[Planned]] = defaultdict(list)
    for planned in sorted(plan()):  # the order they are sent in
        kind = planned.type
        key = (planned.envelope["subject"] if kind.startswith("case.") else
               f"{planned.hall_id}/{planned.envelope['subject']}" if kind.startswith("post.")
               else planned.envelope["data"].get("complaint_no", planned.envelope["id"]))
        streams[key].append(planned)
    cases = 0
    for events in streams.values():
        times = [parse_time(p.envelope["time"]) for p in events]
        assert times == sorted(times)
        assert all(p.send_at >= p.time for p in events)
        status: str | None = None
        for planned in events:
            if planned.type.startswith("case."):
                status = lifecycle.next_status(status, planned.type)
            else:
                table = {**POST, **COMPLAINT}
                if planned.type in table:
                    allowed, after = table[planned.type]
                    assert status in allowed, (planned.type, status)
                    status = after
        cases += events[0].type.startswith("case.")
    assert cases > 500


def test_cases_use_the_directorys_matters_windows_and_staff() -> None:
    matters = {m.code: m for h in HALLS for m in h.matters}
    windows = {w.id: (h.id, w) for h in HALLS for w in h.windows}
    for planned in plan():
        data = planned.envelope["data"]
        if planned.type in ("case.accepted", "case.tolerance_accepted"):
            matter = matters[data["matter_code"]]
            hall, window = windows[data["window_id"]]
            assert (data["matter_name"], data["kind"], hall) == (
                matter.name, matter.kind, planned.hall_id)
            assert data["staff_id"] in (window.a_post, window.b_post)
            assert data.get("promised_days") == (matter.promised_days or None)
            if planned.type == "case.tolerance_accepted":
                assert set(data["missing_materials"]) <= set(matter.tolerable)
        if planned.type == "post.absence_noticed" and data.get("substitute_staff_id"):
            assert data["substitute_staff_id"] == windows[data["window_id"]][1].b_post


def test_arrivals_come_on_working_days_in_office_hours_with_a_morning_peak() -> None:
    calendar, seasons = WorkCalendar(), Seasons()
    openings = [p for p in plan() if p.type in ("case.accepted", "case.tolerance_accepted",
                                                 "case.notice_issued")]
    first_events = {}
    for planned in openings:
        first_events.setdefault(planned.envelope["subject"], planned)
    regular = list(first_events.values())
    days = {p.time.astimezone(CHINA_TZ).date() for p in regular}
    assert days == {d for d in WEEK if calendar.is_workday(d)}
    in_hours = sum(classify(p.time, calendar, seasons) == "in" for p in regular)
    assert in_hours / len(regular) > 0.95  # the rest: served after closing (延时服务)
    hours = Counter(p.time.astimezone(CHINA_TZ).hour for p in regular)
    assert hours[9] + hours[10] > hours[8] + hours[11]


def test_violations_follow_their_rates() -> None:
    none = Rates(second_notice=0, unapproved_extension=0, late_extension=0,
                 unnotified_extension=0, incomplete_rejection=0, uncovered_absence=0,
                 uninformed_suspension=0, late_report=0, late_completion=0,
                 immediate_next_day=0, unrectified=0, absence_overrun=0,
                 complaint_overdue=0, supplement_late=0)
    clean = plan(rates=none)
    assert not [p for p in clean if p.type == "post.absence_noticed"
                and not p.envelope["data"].get("substitute_staff_id")]
    assert not [p for p in clean if p.type == "case.extended"
                and "approved_by" not in p.envelope["data"]]
    assert all(p.send_at == p.time for p in clean)
    noisy = plan(rates=Rates(uncovered_absence=1, unapproved_extension=1, extension=0.5,
                             late_report=0.5))
    absences = [p for p in noisy if p.type == "post.absence_noticed"]
    assert absences and all("substitute_staff_id" not in p.envelope["data"] for p in absences)
    extensions = [p for p in noisy if p.type == "case.extended"]
    assert extensions and all("approved_by" not in p.envelope["data"] for p in extensions)
    late = [p for p in noisy if p.send_at - p.time > timedelta(hours=24)]
    assert late


def test_rates_are_parsed_by_name_and_refused_when_unknown_or_out_of_range() -> None:
    assert Rates.parse("late_completion=0.5, inquiries=20").late_completion == 0.5
    with pytest.raises(ValueError, match="unknown rate 'lateness'"):
        Rates.parse("lateness=0.1")
    with pytest.raises(ValueError, match="between 0 and 1"):
        Rates.parse("bad_review=2")


def test_a_day_off_has_no_arrivals_and_stories_before_the_start_are_left_out() -> None:
    city = City(HALLS, 3, scale=0.5)
    assert city.plan_day(date(2026, 3, 7)) == []  # a Saturday
    noon = datetime(2026, 3, 3, 12, 0, tzinfo=CHINA_TZ)
    afternoon = city.plan_day(date(2026, 3, 3), not_before=noon)
    whole = City(HALLS, 3, scale=0.5).plan_day(date(2026, 3, 3))
    assert afternoon and len(afternoon) < len(whole)
    assert min(p.time for p in afternoon) >= noon
