"""Supervision at scale, shown small: timers and events share the judge, and start-up
reads the index's checkpoint instead of the whole log (real SQLite stores, fixed clock)."""

from __future__ import annotations

import pytest

from hallwatch.calendar import YearRules
from services.supervision.app import Supervision, load_rules
from tests.builders import accepted, completed, event
from tests.world import World

YEAR_2027 = {"year": 2027, "reference": "国办发明电〔2026〕9号",
             "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"], "workdays": []}


def raised(world: World, rule: str | None = None) -> list[str]:
    app = world.supervision.app
    rules = [app.mapper.to_domain_event(n).rule for n in world.stored_alerts()]
    return [r for r in rules if rule is None or r == rule]


def test_an_event_posted_during_a_due_time_storm_is_judged_in_the_next_round(settings, clock):
    clock.set("2026-09-30T10:05:00+08:00")
    world = World(settings, clock)
    cases = 24
    for n in range(cases):
        world.send(accepted(f"C{n}"))  # each due 2026-10-13 23:59:59
    world.settle()
    assert raised(world) == []
    service = world.supervision
    service.timers_per_round = 5
    clock.set("2026-10-20T09:00:00+08:00")  # every warning and deadline has passed at once
    world.send(accepted("C99", time="2026-10-20T08:30:00+08:00"))
    world.send(event("case.rejected", "C99", "2026-10-20T08:55:00+08:00",
                     {"category": "out_of_scope", "reason": "不属于本厅职能"}))

    service.step(wait=0)  # the first round of the storm
    assert raised(world, "rejection.incomplete") == ["rejection.incomplete"]
    assert len(raised(world, "deadline.overdue")) == 5  # only the round's share of timers
    assert service.app.backlog

    rounds = 1
    while service.app.backlog:
        service.step(wait=0)
        rounds += 1
    assert rounds == -(-cases // 5)  # 5 a round, nothing fired twice, nothing left behind
    assert len(raised(world, "deadline.overdue")) == cases
    assert len(raised(world, "deadline.warning")) == cases
    world.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request):
    """Embedded settings on each kind of event store."""
    return request.getfixturevalue("settings" if request.param == "sqlite" else "pg_settings")


def test_start_up_reads_the_open_timers_not_the_history_and_restores_them_exactly(
        store_settings, clock):
    settings = store_settings
    clock.set("2026-09-30T10:05:00+08:00")
    world = World(settings, clock)
    world.intake.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "bureau")
    for n in range(12):
        world.send(accepted(f"C{n}"))
    for n in range(8):  # closed cases: history that leaves no timer behind
        world.send(completed(f"C{n}", "2026-09-30T10:04:00+08:00"))
    world.settle()
    timetable = world.supervision.app.timetable()
    assert len(timetable) == 4
    world.close()

    again = World(settings, clock)
    app = again.supervision.app
    assert app.restored == (4 + 1, 0)  # 4 timers and the year; no notification replayed
    assert app.timetable() == timetable
    assert app.calendar.year(2027).source == "official"
    for n in range(100, 160):  # ten times the history, the same open timers
        again.send(accepted(f"C{n}"))
        again.send(completed(f"C{n}", "2026-09-30T10:04:00+08:00"))
    again.settle()
    assert app.timetable() == timetable
    again.close()

    third = World(settings, clock)
    assert third.supervision.app.restored == (4 + 1, 0)
    assert third.supervision.app.timetable() == timetable
    clock.set("2026-10-20T09:00:00+08:00")
    third.settle()  # the restored timers fire as the originals would have
    assert sorted(raised(third)) == ["deadline.overdue"] * 4 + ["deadline.warning"] * 4
    third.close()


def test_after_a_crash_start_up_replays_only_the_log_after_the_checkpoint(store_settings,
                                                                          clock):
    settings = store_settings
    clock.set("2026-09-30T10:05:00+08:00")
    world = World(settings, clock)
    for n in range(6):
        world.send(accepted(f"C{n}"))
    world.settle()
    world.close()  # a clean stop writes the checkpoint
    world = World(settings, clock)
    world.supervision.app.checkpoint_seconds = 3600  # it crashes before its next checkpoint
    for n in range(6, 10):
        world.send(accepted(f"C{n}"))
    world.send(completed("C0", "2026-09-30T10:04:00+08:00"))
    world.settle()
    timetable = world.supervision.app.timetable()
    written = world.supervision.app.recorder.max_notification_id()

    # No clean stop: a second process starts on the same store while the first still runs.
    crashed = Supervision(settings, clock, load_rules(settings.rules_file))
    try:
        rows, replayed = crashed.restored
        assert rows == 6 and 0 < replayed <= written - 6
        assert crashed.timetable() == timetable
    finally:
        crashed.close()
        world.close()
