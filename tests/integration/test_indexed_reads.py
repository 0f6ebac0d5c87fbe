"""Reads that stay lookups by key as the stores grow: a case's alerts, pages of alerts past
10,000, and the intake's periodic calendar check (real SQLite, PostgreSQL and chDB)."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from hallwatch.calendar import YearRules
from services.common.clickhouse import DATABASE
from services.common.messages import Message
from services.intake.service import build
from tests.builders import accepted
from tests.conftest import BUREAU_KEY, bearer
from tests.world import World

YEAR_2027 = {"year": 2027, "reference": "国办发明电〔2026〕9号",
             "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"], "workdays": []}


@pytest.fixture
def world(settings, clock):
    world = World(settings, clock)
    yield world
    world.close()


def alert_view(n: int, case_no: str, raised_at: str) -> dict:
    """An alert as supervision publishes it (the plain form the sink also reads)."""
    return {"alert_id": f"00000000-0000-4000-8000-{n:012d}", "rule": "deadline.overdue",
            "severity": "red", "status": "raised", "watch": f"case:{case_no}",
            "hall_id": "H1", "case_no": case_no, "raised_at": raised_at,
            "updated_at": raised_at, "evidence": [], "detail": "", "notice_due_at": None,
            "rules_version": "supervision.v1", "history": [], "version": 1, "position": n}


def sink_alerts(world: World, count: int, cases: int) -> None:
    """``count`` alerts spread over ``cases`` cases (O0…), written through the sink in
    batches as the projections write them; many share a moment."""
    views = world.projections.views
    batch = []
    for n in range(count):
        raised = f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:00:00+08:00"
        batch.append(Message("supervision.alerts", 0, n, "", alert_view(n, f"O{n % cases}",
                                                                         raised)))
        if len(batch) == 5000:
            views.write(batch)
            batch = []
    if batch:
        views.write(batch)


def pages(world: World, **params) -> list[dict]:
    answers, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = world.client.get("/v1/alerts", params=query, headers=bearer(BUREAU_KEY))
        assert response.status_code == 200, response.text
        answers.append(response.json())
        cursor = response.json()["next"]
        if cursor is None:
            return answers


def test_alerts_page_past_ten_thousand_in_order_with_none_twice(world):
    sink_alerts(world, 12_345, cases=3_000)
    answers = pages(world, limit=5000)
    assert [len(a["alerts"]) for a in answers] == [5000, 5000, 2345]
    assert {a["count"] for a in answers} == {12_345}
    listed = [(alert["raised_at"], alert["alert_id"]) for a in answers for alert in a["alerts"]]
    assert len(set(listed)) == 12_345
    newest_first = sorted(listed, key=lambda k: k[1])  # ties in id order, then...
    newest_first.sort(key=lambda k: k[0], reverse=True)  # ...newest first (a stable sort)
    assert listed == newest_first


def test_a_cases_alerts_are_read_by_key_without_reading_every_alert(world, clock):
    world.send_on_time(accepted("C1", time="2026-09-20T10:00:00+08:00"))  # reported late
    world.settle()
    own = sorted(a["alert_id"] for a in world.alerts(case="C1"))
    assert own
    sink_alerts(world, 60_000, cases=30_000)  # everyone else's: 8 granules of rows
    client = world.projections.views.client
    client.set_client_setting("max_rows_to_read", 30_000)  # reading every alert is refused
    try:
        with pytest.raises(DatabaseError, match="TOO_MANY_ROWS"):
            client.query(f"SELECT count() FROM {DATABASE}.alerts FINAL WHERE case_no = 'C1'")
        view = world.client.get("/v1/cases/C1", headers=bearer(BUREAU_KEY))
        assert view.status_code == 200, view.text
        assert sorted(f["alert_id"] for f in view.json()["findings"]) == own
        other = world.alerts(case="O17")
        assert [a["alert_id"] for a in other] == [alert_view(n, "", "")["alert_id"]
                                                  for n in (17, 30_017)]  # newest first
    finally:
        client.set_client_setting("max_rows_to_read", 0)


def test_the_calendar_check_reads_only_what_was_written_since_it_last_looked(intake, clock):
    store = intake.store
    for n in range(20):
        store.record(accepted(f"C{n}"), "H1")
    store._calendar_checked = 0.0  # as if the refresh interval had passed
    store.refresh_calendar()
    # No year was found, yet the next look starts at the head, not at the start again.
    assert store._calendar_seen == store.recorder.max_notification_id()

    other = build(intake.store_settings, clock)
    other.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "cli")
    other.store.close()
    store._calendar_checked = 0.0
    store.refresh_calendar()
    assert store.calendar.year(2027).source == "official"
    assert store._calendar_seen == store.recorder.max_notification_id()

    later = build(intake.store_settings, clock)  # starts by reading each year by its id
    try:
        assert later.store.calendar.year(2027).source == "official"
        assert later.store._calendar_seen == store.recorder.max_notification_id()
    finally:
        later.store.close()
