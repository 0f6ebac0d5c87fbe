"""Cursor pages: every list answers ``next`` until the last page, and ``count`` is the
total over all pages. Real SQLite + chDB."""

from __future__ import annotations

import pytest

from tests.builders import accepted, completed
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, bearer
from tests.world import World


@pytest.fixture
def world(settings, clock):
    world = World(settings, clock)
    yield world
    world.close()


def pages(client, path: str, key: str, items: str, **params) -> list[dict]:
    """Every page of a list, following ``next``."""
    answers, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=bearer(key))
        assert response.status_code == 200, response.text
        answers.append(response.json())
        cursor = response.json()["next"]
        if cursor is None:
            return answers
        assert response.json()[items]  # a page before the last is never empty


def test_alerts_come_in_pages_that_together_are_the_whole_list(world, clock):
    for n in range(7):  # each reported days late: findings and warnings
        world.send(accepted(f"C{n}", time=f"2026-09-{20 + n}T10:00:00+08:00"))
    world.settle()
    everything = world.alerts()
    assert len(everything) >= 7
    answers = pages(world.client, "/v1/alerts", BUREAU_KEY, "alerts", limit=2)
    assert all(a["count"] == len(everything) for a in answers)
    assert all(len(a["alerts"]) <= 2 for a in answers)
    paged = [alert for a in answers for alert in a["alerts"]]
    assert [a["alert_id"] for a in paged] == [a["alert_id"] for a in everything]
    assert len(answers) == (len(everything) + 1) // 2


def test_alert_pages_keep_their_filters_and_a_halls_scope(world):
    world.send(accepted("C1", time="2026-09-20T10:00:00+08:00"))
    world.send(accepted("D1", time="2026-09-20T10:00:00+08:00", hall="H2"))
    world.settle()
    answers = pages(world.client, "/v1/alerts", HALL_KEY, "alerts", limit=1)
    seen = [alert for a in answers for alert in a["alerts"]]
    assert seen and {a["hall_id"] for a in seen} == {"H1"}
    assert answers[0]["count"] == len(seen)


def test_a_case_history_comes_in_pages_with_the_whole_chain_verified(world, clock):
    clock.set("2026-09-30T10:05:00+08:00")
    world.send(accepted("C1"))
    for day in range(1, 5):
        clock.set(f"2026-10-0{day}T10:05:00+08:00")
        world.send({**accepted("C1", time=f"2026-10-0{day}T10:00:00+08:00"),
                    "type": "cn.gov.hall.case.materials_supplemented",
                    "data": {"materials": [f"材料{day}"]}})
    clock.set("2026-10-09T10:05:00+08:00")
    world.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    answers = pages(world.client, "/v1/cases/C1/history", AUDITOR_KEY, "events", limit=2,
                    reason="核查分页")
    sequences = [e["sequence"] for a in answers for e in a["events"]]
    assert sequences == list(range(1, answers[0]["count"] + 1))
    assert answers[0]["count"] == len(sequences) >= 3
    assert all(a["verified"] is True for a in answers)
    assert len({a["chain_head"] for a in answers}) == 1


def test_a_cursor_not_given_out_by_the_list_answers_422(world):
    for cursor in ("%%%", "WzFd", "WyJhIiwxXQ"):  # not base64; [1]; ["a",1]
        response = world.client.get("/v1/alerts", params={"cursor": cursor},
                                    headers=bearer(BUREAU_KEY))
        assert response.status_code == 422 and response.json()["field"] == "cursor"
