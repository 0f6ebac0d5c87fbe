"""Live views: every hall and window with its counters now, and pages of cases.

Monday 2026-10-19 10:00, hall H1 [window / staff]:
  L1 [W01 S01] accepted 10-12, promised 5 → due today (10-19): yellow since 10-16.
  L2 [W01 S01] accepted 10-08, promised 2 → due 10-10: red.
  L3 [W02 S02, matter M2] accepted 10-16, promised 5 → due 10-23: green.
  L4 [W01 S03] immediate, accepted 09:00 and completed 09:30 today: no light.
  L5 [W02 S02] accepted 10-12, promised 2, suspended the same day: green (clock stopped).
  S01 left W01 at 09:10 with nobody covering; S04 serves after hours at W02 08:00–11:00.
Hall H2: M1 accepted today, promised 5: green.
"""

from __future__ import annotations

import pytest

from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, HALL2_KEY, HALL_KEY, bearer
from tests.world import World

NOW = "2026-10-19T10:00:00+08:00"


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    from tests.conftest import FixedClock, embedded_settings

    clock = FixedClock(NOW)
    world = World(embedded_settings(tmp_path_factory.mktemp("live") / "var"), clock)
    send = world.send_on_time
    send(accepted("L1", time="2026-10-12T09:00:00+08:00", window_id="W01", staff_id="S01"))
    send(accepted("L2", time="2026-10-08T09:00:00+08:00", promised_days=2))
    send(accepted("L3", time="2026-10-16T09:00:00+08:00", window_id="W02", staff_id="S02",
                  matter_code="M2"))
    send(accepted("L4", time="2026-10-19T09:00:00+08:00", kind="immediate", staff_id="S03"))
    send(completed("L4", "2026-10-19T09:30:00+08:00"))
    send(accepted("L5", time="2026-10-12T09:00:00+08:00", promised_days=2, window_id="W02",
                  staff_id="S02"))
    send(event("case.suspended", "L5", "2026-10-12T14:00:00+08:00", {
        "procedure": "site_survey", "reason": "现场勘查", "applicant_informed": True}))
    send(event("post.absence_noticed", "W01", "2026-10-19T09:10:00+08:00", {
        "window_id": "W01", "staff_id": "S01", "reason": "取件",
        "expected_return": "2026-10-19T11:00:00+08:00"}))
    send(event("service.after_hours", "W02", "2026-10-19T08:00:00+08:00", {
        "staff_id": "S04", "window_id": "W02", "start": "2026-10-19T08:00:00+08:00",
        "end": "2026-10-19T11:00:00+08:00", "by_appointment": True}))
    send(accepted("M1", hall="H2", time="2026-10-19T09:00:00+08:00"))
    clock.set(NOW)
    world.settle()
    yield world
    world.close()


def get(world, path, key=BUREAU_KEY, **params):
    response = world.client.get(path, params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def test_every_hall_shows_its_counters_now(today):
    halls = {h["hall_id"]: h for h in get(today, "/v1/halls")["halls"]}
    assert set(halls) == {"H1", "H2"}
    h1 = halls["H1"]
    assert {k: h1[k] for k in ("green", "yellow", "red", "suspended", "due_today",
                               "accepted_today", "decided_today", "staff_on_post",
                               "staff_absent", "posts_uncovered",
                               "after_hours_in_progress")} == {
        "green": 2, "yellow": 1, "red": 1, "suspended": 1, "due_today": 1,
        "accepted_today": 1, "decided_today": 1,
        "staff_on_post": 2,  # S03 handled L4, S04 serves after hours; S01 is away
        "staff_absent": 1, "posts_uncovered": 1, "after_hours_in_progress": 1}
    assert h1["open_alerts"] == {"red": 1, "yellow": 1, "finding": 1}  # L2, L1, S01
    assert (halls["H2"]["green"], halls["H2"]["accepted_today"]) == (1, 1)


def test_a_halls_windows_split_its_counters(today):
    windows = {w["window_id"]: w for w in get(today, "/v1/halls/H1/windows")["windows"]}
    assert set(windows) == {"W01", "W02"}
    w1, w2 = windows["W01"], windows["W02"]
    assert (w1["yellow"], w1["red"], w1["green"], w1["staff_absent"], w1["posts_uncovered"],
            w1["staff_on_post"]) == (1, 1, 0, 1, 1, 1)
    assert w1["open_alerts"] == {"red": 1, "yellow": 1, "finding": 1}
    assert (w2["green"], w2["suspended"], w2["after_hours_in_progress"],
            w2["open_alerts"]) == (2, 1, 1, {})


def test_cases_come_in_pages_with_a_cursor(today):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"hall": "H1", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = get(today, "/v1/cases", **params)
        seen += [c["case_no"] for c in page["cases"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert (seen, pages) == (["L1", "L2", "L3", "L4", "L5"], 3)


@pytest.mark.parametrize("params,expected", [
    ({"light": "red"}, ["L2"]), ({"light": "yellow"}, ["L1"]),
    ({"light": "green", "hall": "H1"}, ["L3", "L5"]), ({"status": "suspended"}, ["L5"]),
    ({"matter": "M2"}, ["L3"]), ({"window": "W02", "hall": "H1"}, ["L3", "L5"]),
    ({"light": "none"}, ["L4"]), ({"light": "none", "hall": "H1"}, ["L4"]),
    ({"status": "completed", "hall": "H1"}, ["L4"]),
])
def test_cases_filter_by_light_status_matter_and_window(today, params, expected):
    page = get(today, "/v1/cases", **params)
    assert [c["case_no"] for c in page["cases"]] == expected
    assert all(c["light"] == params.get("light", c["light"]) for c in page["cases"])


def test_each_halls_light_counters_agree_with_the_lights_on_its_cases(today):
    """The counters count by comparisons (live.CASES), the pages show live.LIGHT."""
    for hall in get(today, "/v1/halls")["halls"]:
        cases = get(today, "/v1/cases", hall=hall["hall_id"])["cases"]
        lights = [c["light"] for c in cases]
        assert {light: hall[light] for light in ("green", "yellow", "red")} == {
            light: lights.count(light) for light in ("green", "yellow", "red")}


def test_a_hall_sees_only_its_own_cases_and_counters(today):
    assert [c["case_no"] for c in get(today, "/v1/cases", HALL2_KEY)["cases"]] == ["M1"]
    assert [h["hall_id"] for h in get(today, "/v1/halls", HALL2_KEY)["halls"]] == ["H2"]
    for path in ("/v1/cases?hall=H2", "/v1/halls/H2/windows"):
        assert today.client.get(path, headers=bearer(HALL_KEY)).status_code == 403


@pytest.mark.parametrize("params,field", [
    ({"light": "purple"}, "light"), ({"status": "lost"}, "status"),
    ({"cursor": "!!!"}, "cursor"), ({"limit": 0}, "limit"),
])
def test_a_malformed_case_query_answers_422(today, params, field):
    response = today.client.get("/v1/cases", params=params, headers=bearer(BUREAU_KEY))
    assert response.status_code == 422
    assert field in response.text


def test_a_value_is_never_sql(today):
    page = get(today, "/v1/cases", hall="H1' OR '1'='1")
    assert page["cases"] == []


def test_the_dashboard_shows_each_halls_lights_and_open_alerts(today):
    board = get(today, "/v1/dashboard")
    h1 = next(h for h in board["halls"] if h["hall_id"] == "H1")
    assert (h1["green"], h1["yellow"], h1["red"], h1["suspended"]) == (1, 1, 1, 1)
    assert h1["open_alerts"] == {"red": 1, "yellow": 1, "finding": 1}
    page = today.client.get("/dashboard", follow_redirects=False)  # now the console
    assert page.status_code == 301 and page.headers["location"] == "/console"


def test_cases_written_before_the_clock_column_existed_keep_their_lights(today):
    """Schema 3 gave the suspension day a column; the sink writes it, and rows written
    before it existed compute it from their summary, so no light changes on upgrade."""
    from datetime import datetime

    from hallwatch.calendar import CHINA_TZ
    from services.common.clickhouse import DATABASE
    from services.projections.views import CASE_COLUMNS, apply_schema

    client = today.projections.views.client

    def suspended_since() -> dict[str, datetime | None]:
        return dict(client.query(f"SELECT case_no, suspended_since FROM {DATABASE}.cases "
                                 "FINAL").result_rows)

    before = get(today, "/v1/halls")
    written = suspended_since()
    assert written["L5"] == datetime(2026, 10, 12, tzinfo=CHINA_TZ)
    assert {no for no, day in written.items() if day is not None} == {"L5"}
    old = [c for c in CASE_COLUMNS if c != "suspended_since"]
    rows = client.query(f"SELECT {', '.join(old)} FROM {DATABASE}.cases FINAL").result_rows
    client.command(f"ALTER TABLE {DATABASE}.cases DROP COLUMN suspended_since")
    try:
        client.command(f"TRUNCATE TABLE {DATABASE}.cases")
        client.insert(f"{DATABASE}.cases", [list(r) for r in rows], column_names=old)
    finally:
        apply_schema(client)
    assert suspended_since() == written
    assert get(today, "/v1/halls") == before


def test_the_counters_do_not_move_when_the_days_events_are_written_twice(today):
    """The after-hours counter reads the day's staff events without FINAL: a redelivered
    event, not yet merged away, must count once (and so must a person's row written
    again in day_staff, read with FINAL)."""
    from services.common.clickhouse import DATABASE

    client = today.projections.views.client
    halls, windows = get(today, "/v1/halls"), get(today, "/v1/halls/H1/windows")
    assert any(h["after_hours_in_progress"] and h["posts_uncovered"] for h in halls["halls"])
    client.command(f"INSERT INTO {DATABASE}.day_events SELECT * FROM {DATABASE}.day_events")
    client.command(f"INSERT INTO {DATABASE}.day_staff SELECT * FROM {DATABASE}.day_staff")
    try:
        assert get(today, "/v1/halls") == halls
        assert get(today, "/v1/halls/H1/windows") == windows
    finally:
        client.command(f"OPTIMIZE TABLE {DATABASE}.day_events FINAL")
        client.command(f"OPTIMIZE TABLE {DATABASE}.day_staff FINAL")


def _rows(client, sql: str) -> list[tuple]:
    from services.common.clickhouse import DATABASE

    return client.query(sql.replace("{db}", DATABASE)).result_rows


def test_the_dashboard_tables_hold_the_open_cases_and_each_cases_days(today):
    client = today.projections.views.client
    assert _rows(client, "SELECT case_no, status FROM {db}.open_cases FINAL "
                         "ORDER BY case_no") == [
        ("L1", "accepted"), ("L2", "accepted"), ("L3", "accepted"), ("L5", "suspended"),
        ("M1", "accepted")]  # L4 was decided: its row is written closed, and hidden
    days = _rows(client, "SELECT toString(day), kind, case_no FROM {db}.case_days FINAL "
                         "WHERE day >= '2026-10-16' ORDER BY day, kind, case_no")
    assert days == [("2026-10-16", "accepted", "L3"), ("2026-10-19", "accepted", "L4"),
                    ("2026-10-19", "accepted", "M1"), ("2026-10-19", "decided", "L4")]


def test_views_written_before_the_dashboard_tables_existed_fill_them_once(today):
    from services.projections.views import apply_schema

    client = today.projections.views.client
    halls, windows = get(today, "/v1/halls"), get(today, "/v1/halls/H1/windows")
    order = {"open_cases": "case_no, version", "case_days": "case_no, version",
             "day_events": "id", "cases_by_hall": "case_no, version",
             "day_staff": "day, hall_id, window_id, staff_id"}
    tables = tuple(order)
    before = {t: _rows(client, f"SELECT * FROM {{db}}.{t} FINAL ORDER BY {order[t]}")
              for t in tables}
    assert len(before["day_events"]) > 5
    for table in tables:
        client.command(f"DROP TABLE hallwatch.{table}")
    apply_schema(client)  # schemas 4, 5 and 7 create them and copy from the views
    assert {t: _rows(client, f"SELECT * FROM {{db}}.{t} FINAL ORDER BY {order[t]}")
            for t in tables} == before
    apply_schema(client)  # and only once: the copy needs the table empty
    assert _rows(client, "SELECT count() FROM {db}.case_days") == [(len(before["case_days"]),)]
    assert get(today, "/v1/halls") == halls
    assert get(today, "/v1/halls/H1/windows") == windows


def test_the_sink_drops_closed_cases_from_the_open_table_and_a_replay_keeps_them_out(
        today, monkeypatch):
    """Runs last: it decides L1."""
    from services.common.sources import LogSource
    from services.projections import views as views_module

    client = today.projections.views.client
    closed = "SELECT count() FROM {db}.open_cases WHERE closed"
    monkeypatch.setattr(views_module, "CLEANUP_EVERY", 10**9)
    today.send_on_time(completed("L1", "2026-10-19T09:50:00+08:00"))
    today.settle()
    # L1's row: hidden by FINAL, not merged away (a merge that drops rows by itself waits
    # for parts a minute old)
    assert _rows(client, closed + " AND case_no = 'L1'") == [(1,)]
    monkeypatch.setattr(views_module, "CLEANUP_EVERY", 1)
    today.send_on_time(event("case.rated", "L1", "2026-10-19T09:55:00+08:00",
                             {"satisfaction": 1}))
    today.settle()  # another closed row: the sink asks for a CLEANUP merge
    assert _rows(client, closed) == [(0,)]
    assert _rows(client, "SELECT case_no FROM {db}.open_cases ORDER BY case_no") == [
        ("L2",), ("L3",), ("L5",), ("M1",)]
    replay = LogSource(today.intake.store, lambda: 0, lambda position: None)
    replayed = []
    while batch := replay.poll(1000, 0):  # every hall event again, as after a crash...
        for message in batch:  # ... each alone: a case's older versions come back first
            today.projections.views.write([message])
            replayed.append(message.key)
        replay.commit(batch)
    assert replayed.count("L1") == 3
    assert _rows(client, "SELECT case_no FROM {db}.open_cases FINAL ORDER BY case_no") == [
        ("L2",), ("L3",), ("L5",), ("M1",)]
    (h1,) = [h for h in get(today, "/v1/halls")["halls"] if h["hall_id"] == "H1"]
    assert h1["decided_today"] == 2 and h1["yellow"] == 0
