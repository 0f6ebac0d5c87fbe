"""A hall's events reach the bureau's view: embedded, and as separate production processes
on PostgreSQL + Kafka + ClickHouse (chDB), including crashes and a full replay."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka import KafkaConsumer

from tests.builders import accepted, completed
from tests.conftest import BUREAU_KEY, HALL_KEY
from tests.e2e.procs import call, dump_views, post_event, wait_for

pytestmark = pytest.mark.slow


def case_view(url: str, case_no: str) -> dict | None:
    status, body = call(f"{url}/v1/cases/{case_no}", "GET", BUREAU_KEY)
    return body if status == 200 else None


def post(url: str, body: dict) -> int:
    return post_event(url, body, HALL_KEY)


def run_scenario(intake_url: str, query_url: str, findings: set[str] = frozenset()) -> None:
    """Promised 5 working days, accepted 2026-09-30: due 2026-10-13 (Golden Week skipped)."""
    assert post(intake_url, accepted("LY-1")) == 201
    view = wait_for(lambda: case_view(query_url, "LY-1"), what="the case view")
    assert view["case_no"] == "LY-1"
    assert view["hall_id"] == "H1"
    assert view["matter_code"] == "M0001"
    assert view["kind"] == "promised"
    assert view["status"] == "accepted"
    assert view["accepted_at"] == "2026-09-30T10:00:00+08:00"
    assert view["due_at"] == "2026-10-13T23:59:59+08:00"
    assert view["light"] == "yellow"  # the clock says 10-12, the working day before
    assert view["provisional"] is False
    # Recorded 12 days after it happened, under a clock in its warning day.
    wait_for(lambda: {f["rule"] for f in (case_view(query_url, "LY-1") or {}).get(
        "findings", [])} == findings, what=f"findings {findings}")
    post(intake_url, completed("LY-1", "2026-10-12T09:00:00+08:00"))
    done = wait_for(lambda: (v := case_view(query_url, "LY-1")) and v["status"] == "completed"
                    and v, what="completion")
    assert done["light"] == "none"
    status, _ = call(f"{query_url}/v1/cases/NOPE", "GET", BUREAU_KEY)
    assert status == 404


def test_embedded_serve_shows_the_case_with_its_due_date(embedded, tmp_path):
    run_scenario(embedded.url, embedded.url, {"report.late", "deadline.warning"})
    assert (tmp_path / "var" / "events.db").exists()
    assert (tmp_path / "var" / "chdb").is_dir()


def test_production_processes_show_the_case_with_its_due_date(production):
    _, start = production
    intake = start("intake")
    start("relay")
    projections = start("projections")
    run_scenario(intake.url, projections.url)


def kafka_positions(bootstrap: str, topic: str, expected: int) -> list[dict]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=10_000)
    values = [json.loads(r.value) for r in consumer]
    consumer.close()
    return values


def test_killing_relay_and_projections_mid_stream_loses_nothing_and_replay_is_identical(
        production, tmp_path):
    env, start = production
    intake = start("intake")
    relay = start("relay")
    projections = start("projections")
    cases = [f"LY-{n:03d}" for n in range(40)]
    for n, case in enumerate(cases):
        post(intake.url, accepted(case))
        if n == 10:
            relay.kill()
        if n == 15:
            projections.kill()
        if n == 20:
            relay = start("relay")
        if n == 25:
            projections = start("projections")
    for n, case in enumerate(cases[:20]):
        post(intake.url, completed(case, "2026-10-09T10:00:00+08:00"))
        if n == 5:
            relay.kill()
            relay = start("relay")
            projections.kill()
            projections = start("projections")

    def all_right() -> bool:
        for n, case in enumerate(cases):
            view = case_view(projections.url, case)
            want = "completed" if n < 20 else "accepted"
            if not view or view["status"] != want:
                return False
        return True

    wait_for(all_right, timeout=120, what="every case in its final state")

    # Kafka has every event, in store order per case (duplicates allowed).
    values = kafka_positions(env["HALLWATCH_KAFKA_BOOTSTRAP"], env["HALLWATCH_HALL_TOPIC"], 60)
    seen: dict[str, list[int]] = {}
    for value in values:
        seen.setdefault(value["subject"], []).append(value["hwposition"])
    assert sorted(seen) == sorted(cases)
    for positions in seen.values():
        assert positions == sorted(positions)
    assert len({p for ps in seen.values() for p in ps}) == 60

    # Replaying hall.events from offset 0 into empty views gives identical views.
    fresh = tmp_path / "chdb-b"
    replay = start("projections", log_name="replay", HALLWATCH_CLICKHOUSE=f"chdb:///{fresh}",
                   HALLWATCH_CONSUMER_GROUP=f"replay-{uuid.uuid4().hex[:6]}")
    wait_for(lambda: all((v := case_view(replay.url, c)) and v["status"] ==
                         ("completed" if n < 20 else "accepted")
                         for n, c in enumerate(cases)), timeout=120, what="the replay")
    projections.stop()
    replay.stop()
    original = dump_views(tmp_path / "chdb-a")
    replayed = dump_views(fresh)
    assert len(original["cases"]) == 40
    assert len(original["events"]) == 60
    assert replayed == original
