"""Rebuilding the views replays the logs into shadow tables and swaps them in, while reads
keep answering."""

from __future__ import annotations

import threading
import time

from services.common.clickhouse import DATABASE
from services.common.messages import alert_message, to_cloudevent
from services.projections.rebuild import Replay, rebuild
from services.projections.views import apply_schema
from tests.builders import accepted, completed
from tests.conftest import BUREAU_KEY, bearer
from tests.world import World


def month(world, clock):
    for n in range(1, 7):
        world.send_on_time(accepted(f"R{n}", time=f"2026-10-{8 + n:02d}T09:00:00+08:00",
                                    promised_days=2))
    for n in (1, 2, 3):
        world.send_on_time(completed(f"R{n}", f"2026-10-{9 + n:02d}T15:00:00+08:00"))
    clock.set("2026-10-30T10:00:00+08:00")
    world.settle()


def test_a_rebuild_under_reads_gives_the_live_views_and_never_an_empty_answer(settings,
                                                                            clock):
    world = World(settings, clock)
    month(world, clock)
    views = world.projections.views
    # A row no log holds: the rebuild must not keep it.
    views.client.command(f"INSERT INTO {DATABASE}.cases (case_no, hall_id, status, provisional,"
                         " summary, version, position) VALUES ('ZZ', 'H9', 'accepted', false,"
                         " '{{}}', 1, 0)")
    answers: list[tuple[int, int]] = []
    failures: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            bulletin = world.client.get("/v1/bulletins/2026-10", headers=bearer(BUREAU_KEY))
            cases = world.client.get("/v1/cases", params={"hall": "H1"},
                                     headers=bearer(BUREAU_KEY))
            if bulletin.status_code != 200 or cases.status_code != 200:
                failures.append(f"{bulletin.status_code} {cases.status_code}")
                continue
            accepted_h1 = sum(r["accepted"] for r in bulletin.json()["rows"]
                              if r["hall_id"] == "H1")
            answers.append((accepted_h1, cases.json()["count"]))

    def wait_for_reads(count: int) -> None:
        deadline = time.monotonic() + 120
        while len(answers) < count and not failures and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a condition with a deadline
        assert len(answers) >= count, failures

    live_before_swap: dict = {}

    def before_swap() -> None:
        # The shadows are full; the live tables still answer, and still take new events.
        seen = len(answers)
        wait_for_reads(seen + 2)
        world.send_on_time(accepted("R7", time="2026-10-29T09:00:00+08:00", promised_days=2))
        world.settle()
        live_before_swap.update(views.snapshot())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_for_reads(1)
        positions = rebuild(views.client, [
            Replay("hall", world.intake.store, to_cloudevent),
            Replay("alerts", world.supervision.app, alert_message)], batch_size=3,
            before_swap=before_swap)
        wait_for_reads(len(answers) + 2)
    finally:
        stop.set()
        reader.join()
    assert not failures
    # Every answer was whole: 6 or 7 cases of H1 (never none, never part of them).
    assert {cases for _, cases in answers} <= {6, 7} and answers[-1] == (7, 7)
    assert positions["hall"] > 0 and positions["alerts"] > 0
    rebuilt = views.snapshot()
    expected = dict(live_before_swap)
    expected["cases"] = [r for r in expected["cases"] if r[0] != "ZZ"]
    assert rebuilt == expected
    tables = {r[0] for r in views.client.query(
        f"SELECT name FROM system.tables WHERE database = '{DATABASE}'").result_rows}
    assert not any(t.endswith("__rebuild") for t in tables)
    world.close()


def test_the_schema_applies_again_without_change(settings, clock):
    world = World(settings, clock)
    month(world, clock)
    views = world.projections.views
    before = views.snapshot()
    assert apply_schema(views.client) == ["0001_views", "0002_alerts_by_case",
                                          "0003_narrow_columns", "0004_dashboard_tables",
                                          "0005_cases_by_hall", "0006_bulletin_columns",
                                          "0007_day_staff"]
    assert views.snapshot() == before
    world.close()
