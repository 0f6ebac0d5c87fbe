"""The ClickHouse views (chDB) fed from real Kafka and from the embedded log."""

from __future__ import annotations

import uuid

import pytest

from services.common.clickhouse import connect
from services.common.relay import Relay, producer
from services.common.sources import KafkaSource, LogSource
from services.intake.service import build
from services.projections.views import Views
from tests.builders import accepted, completed


@pytest.fixture
def views(tmp_path):
    client = connect(f"chdb:///{tmp_path / 'chdb'}")
    yield Views(client)
    client.close()


def drain(source, views, rounds=40):
    for _ in range(rounds):
        batch = source.poll(1000, 0.5)
        if batch:
            views.write(batch)
            source.commit(batch)


def test_the_embedded_log_source_builds_the_case_view(settings, clock, views):
    intake = build(settings, clock)
    intake.store.record(accepted("C1"), "H1")
    intake.store.record(completed("C1", "2026-10-09T10:00:00+08:00"), "H1")
    source = LogSource(intake.store, lambda: views.load_position("t"),
                       lambda p: views.save_position("t", p))
    drain(source, views, rounds=2)
    case = views.case("C1")
    assert case.status == "completed"
    assert case.due_at.isoformat() == "2026-10-13T23:59:59+08:00"
    assert [e["type"] for e in views.history("C1")] == ["cn.gov.hall.case.accepted",
                                                       "cn.gov.hall.case.completed"]
    assert views.load_position("t") == intake.store.recorder.max_notification_id()


def test_writing_the_same_batch_twice_changes_nothing(settings, clock, views):
    intake = build(settings, clock)
    intake.store.record(accepted("C1"), "H1")
    intake.store.record(completed("C1", "2026-10-09T10:00:00+08:00"), "H1")
    batch = LogSource(intake.store, lambda: 0, lambda p: None).poll(100, 0)
    views.write(batch)
    once = views.snapshot()
    views.write(batch)
    views.write(batch[:1])  # an older state of the case arriving again
    assert views.snapshot() == once


def test_a_case_read_takes_each_rows_latest_version_from_unmerged_parts(
        settings, clock, views):
    """The case, its alerts and its history are read by key without FINAL: with every
    write in a part of its own (nothing merged), each still comes once, as it stands."""
    from services.common.clickhouse import DATABASE
    from services.common.messages import Message

    intake = build(settings, clock)
    intake.store.record(accepted("C1"), "H1")
    intake.store.record(completed("C1", "2026-10-09T10:00:00+08:00"), "H1")
    batch = LogSource(intake.store, lambda: 0, lambda p: None).poll(100, 0)
    views.client.command(f"SYSTEM STOP MERGES {DATABASE}.cases")
    views.client.command(f"SYSTEM STOP MERGES {DATABASE}.alerts")
    views.client.command(f"SYSTEM STOP MERGES {DATABASE}.events")
    alert = {"alert_id": "A1", "rule": "deadline.warning", "severity": "yellow",
             "status": "raised", "hall_id": "H1", "case_no": "C1", "window_id": "",
             "staff_id": "", "raised_at": "2026-10-08T09:00:00+08:00",
             "updated_at": "2026-10-08T09:00:00+08:00", "notice_due_at": None,
             "version": 1, "position": 1}
    newer = {**alert, "status": "cleared", "updated_at": "2026-10-09T10:00:00+08:00",
             "version": 2, "position": 2}
    other = {**alert, "alert_id": "A2", "raised_at": "2026-10-09T09:00:00+08:00"}
    for part in ([*batch, Message("alerts", 0, 1, "C1", alert)],
                 [Message("alerts", 0, 2, "C1", newer)], batch[:1],  # an older state again
                 [Message("alerts", 0, 3, "C1", other)], [Message("alerts", 0, 2, "C1", newer)]):
        views.write(part)
    assert views.client.query(f"SELECT count() FROM {DATABASE}.cases").result_rows[0][0] == 2
    assert views.case("C1").status == "completed"
    assert [(a["alert_id"], a["status"]) for a in views.case_alerts("C1")] == [
        ("A2", "raised"), ("A1", "cleared")]  # newest first
    assert [e["type"] for e in views.history("C1")] == ["cn.gov.hall.case.accepted",
                                                       "cn.gov.hall.case.completed"]


def test_a_kafka_consumer_group_feeds_the_views_and_commits_after_writing(
        pg_settings, clock, kafka, views):
    topic = f"hall.events.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic)
    intake = build(pg_settings, clock)
    for n in range(5):
        intake.store.record(accepted(f"C{n}"), "H1")
    Relay(intake.store, producer(kafka.bootstrap), topic).run_once()
    group = f"g-{uuid.uuid4().hex[:6]}"
    source = KafkaSource(kafka.bootstrap, [topic], group)
    drain(source, views, rounds=20)
    source.close()
    assert all(views.case(f"C{n}").status == "accepted" for n in range(5))
    again = KafkaSource(kafka.bootstrap, [topic], group)
    assert again.poll(100, 3) == []  # everything was committed
    again.close()
    intake.store.close()


def test_the_views_never_hold_an_applicants_personal_data_in_clear(settings, clock, views):
    intake = build(settings, clock)
    person = {"name": "欧阳小明", "id_number": "220402199001011234", "phone": "13912345678"}
    intake.store.record(accepted("C1", applicant=person), "H1")
    source = LogSource(intake.store, lambda: 0, lambda p: None)
    views.write(source.poll(100, 0))
    everything = str(views.snapshot())
    for secret in ("欧阳小明", "220402199001011234", "13912345678", "小明"):
        assert secret not in everything
    assert "欧***" in everything  # masked, not dropped: the name's first character stays
    intake.store.close()
