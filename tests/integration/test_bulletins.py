"""Periodic bulletins and the live dashboard, computed by ClickHouse (chDB) from a worked
October 2026 scenario whose every number is derived by hand below."""

from __future__ import annotations

import pytest

from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, HALL_KEY, bearer
from tests.world import World


@pytest.fixture
def october(settings, clock):
    world = World(settings, clock)
    send = world.send_on_time
    # Hall H1
    send(accepted("C1", time="2026-10-08T09:00:00+08:00"))  # due 10-15, yellow 10-14
    send(completed("C1", "2026-10-09T10:00:00+08:00"))  # on time, early, 1 working day
    send(accepted("C2", time="2026-10-08T09:00:00+08:00", promised_days=2))  # due Sat 10-10
    send(completed("C2", "2026-10-12T10:00:00+08:00"))  # late; 10-09, 10-10, 10-12 used
    send(accepted("C3", time="2026-10-08T09:00:00+08:00"))
    send(event("case.extended", "C3", "2026-10-09T09:00:00+08:00",
               {"extra_days": 3, "reason": "需实地核查", "approved_by": "L1",
                "applicant_notified": True}))  # due 10-20
    send(event("case.extended", "C3", "2026-10-09T10:00:00+08:00",
               {"extra_days": 2, "reason": "再延", "applicant_notified": True}))  # unapproved
    send(accepted("C4", time="2026-10-08T09:00:00+08:00"))
    send(event("case.rejected", "C4", "2026-10-09T09:00:00+08:00",
               {"category": "out_of_scope", "reason": "不属于本厅", "legal_basis": "办法第十七条",
                "notice_no": "BY-1", "review_rights_told": True}))
    send(event("case.rated", "C1", "2026-10-10T09:00:00+08:00", {"satisfaction": 5}))
    send(event("case.rating_rectified", "C1", "2026-10-12T09:00:00+08:00",
               {"action": "回访致歉"}))
    for case in ("C1", "C2"):  # decisions delivered in time (行政许可法 art. 44)
        send(event("case.delivered", case, "2026-10-13T10:00:00+08:00", {"method": "window"}))
    # Hall H2: one case in September, one in October, both on time.
    send(accepted("D0", hall="H2", time="2026-09-21T09:00:00+08:00"))
    send(completed("D0", "2026-09-22T09:00:00+08:00", hall="H2"))
    send(accepted("D1", hall="H2", time="2026-10-08T09:00:00+08:00"))
    send(completed("D1", "2026-10-14T10:00:00+08:00", hall="H2"))  # on time, not early
    clock.set("2026-10-31T12:00:00+08:00")
    world.settle()
    yield world
    world.close()


def bulletin(world, **params):
    response = world.client.get("/v1/bulletins", params=params, headers=bearer(BUREAU_KEY))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_monthly_bulletin_per_hall_counts_what_happened(october):
    report = bulletin(october, **{"from": "2026-10-01", "to": "2026-11-01"})
    h1, h2 = sorted(report["rows"], key=lambda r: r["hall_id"])
    assert (h1["accepted"], h1["completed"], h1["on_time"], h1["early"]) == (4, 2, 1, 1)
    assert h1["on_time_rate"] == 0.5 and h1["early_rate"] == 0.5
    assert h1["avg_working_days_used"] == 2.0  # (1 + 3) / 2
    assert h1["avg_working_days_promised"] == 3.5  # (5 + 2) / 2
    assert h1["overdue"] == 2  # C2 completed late; C3 open past 10-20
    assert (h1["extensions"], h1["extensions_approved"], h1["extensions_unapproved"]) == (2, 1, 1)
    assert h1["rejections_by_category"] == {"out_of_scope": 1}
    assert (h1["ratings"], h1["bad_reviews"], h1["bad_reviews_rectified"]) == (1, 1, 1)
    assert h1["satisfaction_rate"] == 0.0 and h1["rectification_rate"] == 1.0  # graded 5
    assert (h1["yellow_warnings"], h1["red_warnings"]) == (2, 2)  # C2 and C3
    assert h1["warnings_cleared"] == 3  # C2's red on completion, each yellow by its red
    assert h1["unapproved_extensions"] == 1 and h1["findings"] == 1
    assert (h2["accepted"], h2["completed"], h2["on_time_rate"], h2["early"]) == (1, 1, 1.0, 0)
    assert h2["yellow_warnings"] == 1 and h2["warnings_cleared"] == 1  # D1 closed in its day


def test_the_bulletin_ranks_halls_against_the_previous_period(october):
    report = bulletin(october, **{"from": "2026-10-01", "to": "2026-11-01"})
    ranks = {r["hall_id"]: (r["rank"], r["previous_rank"], r["rank_change"])
             for r in report["rows"]}
    assert ranks == {"H2": (1, 1, 0), "H1": (2, None, None)}  # H1 had no September work
    assert report["red_list"] == [{"hall_id": "H2"}]
    assert report["black_list"] == [{"hall_id": "H1"}]
    assert report["previous_period"] == {"from": "2026-09-01", "to": "2026-10-01"}


def test_a_bulletin_of_the_current_month_counts_only_deadlines_already_passed(october, clock):
    clock.set("2026-10-16T12:00:00+08:00")  # C3 is due 10-20: not overdue yet
    report = bulletin(october, **{"from": "2026-10-01", "to": "2026-11-01"})
    h1 = next(r for r in report["rows"] if r["hall_id"] == "H1")
    assert h1["overdue"] == 1  # only C2


def test_a_bulletin_can_be_cut_per_window(october):
    report = bulletin(october, **{"from": "2026-10-01", "to": "2026-11-01", "by": "window"})
    assert {(r["hall_id"], r["window_id"]) for r in report["rows"]} == {("H1", "W01"),
                                                                        ("H2", "W01")}


@pytest.mark.parametrize("params,field", [
    ({"from": "2026-10-01", "to": "2026-09-01"}, "to"),
    ({"from": "2026-13-01", "to": "2026-11-01"}, "from"),
    ({"from": "2026-10-01", "to": "2026-11-01", "by": "planet"}, "by"),
])
def test_a_malformed_bulletin_request_answers_422_with_the_field(october, params, field):
    response = october.client.get("/v1/bulletins", params=params, headers=bearer(BUREAU_KEY))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_halls_cannot_read_bulletins(october):
    response = october.client.get("/v1/bulletins", params={"from": "2026-10-01",
                                                           "to": "2026-11-01"},
                                  headers=bearer(HALL_KEY))
    assert response.status_code == 403


def test_the_dashboard_shows_each_halls_lights_and_open_alerts(october, clock):
    clock.set("2026-10-19T10:00:00+08:00")  # C3 is in its yellow day (due 10-20)
    board = october.client.get("/v1/dashboard", headers=bearer(BUREAU_KEY)).json()
    h1 = next(h for h in board["halls"] if h["hall_id"] == "H1")
    assert (h1["green"], h1["yellow"], h1["red"]) == (0, 1, 0)
    assert h1["open_alerts"] == {"red": 1, "finding": 1}  # alerts as judged at 10-31
    clock.set("2026-10-21T10:00:00+08:00")
    board = october.client.get("/v1/dashboard", headers=bearer(BUREAU_KEY)).json()
    h1 = next(h for h in board["halls"] if h["hall_id"] == "H1")
    assert (h1["yellow"], h1["red"]) == (0, 1)
    page = october.client.get("/dashboard")
    assert page.status_code == 200 and "/v1/dashboard" in page.text
