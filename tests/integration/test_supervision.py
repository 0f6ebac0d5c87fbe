"""The supervision service on real stores: SQLite + chDB embedded, PostgreSQL + Kafka."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaConsumer

from hallwatch.watch import Watch
from services.common.messages import Message, to_cloudevent
from services.common.relay import Relay, producer
from services.intake.service import build as build_intake
from services.supervision.service import build as build_supervision
from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, HALL2_KEY, HALL_KEY, bearer
from tests.world import World


@pytest.fixture
def world(settings, clock):
    w = World(settings, clock)
    yield w
    w.close()


def test_a_deadline_passing_with_no_traffic_raises_its_warning_within_a_second(world, clock):
    clock.set("2026-10-13T23:59:00+08:00")
    world.send(accepted("C1"))  # due 2026-10-13 23:59:59
    app = world.supervision.app

    def raised() -> set[str]:
        return {app.mapper.to_domain_event(n).rule for n in world.stored_alerts()}

    def wait_for(rule: str) -> float:
        started = time.monotonic()
        while rule not in raised():
            assert time.monotonic() - started < 10, f"{rule} never came"
            time.sleep(0.02)
        return time.monotonic() - started

    world.supervision.start()
    try:
        wait_for("deadline.warning")  # its moment (10-12) had already passed
        time.sleep(0.5)  # no traffic at all from here on
        assert "deadline.overdue" not in raised()
        clock.set("2026-10-14T00:00:00+08:00")
        assert wait_for("deadline.overdue") < 1.0
    finally:
        world.supervision.stop.set()


def test_an_overdue_deadline_passed_while_down_raises_at_start_up_with_its_moment(
        settings, clock):
    clock.set("2026-09-30T10:05:00+08:00")
    first = World(settings, clock)
    first.send(accepted("C1"))
    first.settle()
    first.close()
    clock.set("2026-10-20T09:00:00+08:00")  # a week of downtime
    again = World(settings, clock)
    again.settle()
    reds = again.alerts(rule="deadline.overdue")
    assert [a["raised_at"] for a in reds] == ["2026-10-13T23:59:59+08:00"]
    (yellow,) = again.alerts(rule="deadline.warning")
    assert yellow["raised_at"] == "2026-10-12T00:00:00+08:00"
    assert yellow["status"] == "cleared"
    again.close()


def test_restarting_and_replaying_never_duplicates_an_alert(settings, clock):
    clock.set("2026-09-30T10:05:00+08:00")
    world = World(settings, clock)
    for n in range(5):
        world.send(accepted(f"C{n}"))
    clock.set("2026-10-20T09:00:00+08:00")
    world.settle()
    raised = len(world.stored_alerts())
    assert raised == 10  # a yellow and a red for each
    # Replay: the same log handed to the judge again, as after a crash before a commit.
    replay = world.intake.store.recorder.select_notifications(1, 1000)
    batch = [Message("log", 0, n.id, "", v) for n in replay
             if (v := to_cloudevent(world.intake.store, n))]
    world.supervision.app.handle(batch)
    world.close()
    restarted = World(settings, clock)
    restarted.settle()
    assert len(restarted.stored_alerts()) == raised
    assert len(restarted.alerts()) == raised
    restarted.close()


def test_a_warning_clears_itself_when_the_case_is_completed(world, clock):
    world.send_on_time(accepted("C1"))  # the clock is at 2026-10-12 10:00: yellow already
    world.settle()
    (yellow,) = world.alerts(case="C1")
    assert yellow["status"] == "raised" and yellow["severity"] == "yellow"
    world.send(completed("C1", "2026-10-12T09:55:00+08:00"))
    world.settle()
    (yellow,) = world.alerts(case="C1")
    assert yellow["status"] == "cleared"
    view = world.client.get("/v1/cases/C1", headers=bearer(BUREAU_KEY)).json()
    assert view["light"] == "none"
    assert [f["rule"] for f in view["findings"]] == ["deadline.warning"]


def test_the_bureau_acknowledges_notices_and_resolves_a_finding(world, clock):
    world.send_on_time(accepted("C1"))
    world.send(event("case.rejected", "C1", "2026-10-12T09:00:00+08:00",
                     {"category": "out_of_scope", "reason": "不属于本厅职能"}))
    world.settle()
    (finding,) = world.alerts(rule="rejection.incomplete")
    path = f"/v1/alerts/{finding['alert_id']}"
    ack = world.client.post(path + "/acknowledge", headers=bearer(BUREAU_KEY))
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    notice = world.client.post(path + "/notice", json={"working_days": 2, "content": "限期整改"},
                               headers=bearer(BUREAU_KEY))
    assert notice.json()["notice_due_at"] == "2026-10-14T23:59:59+08:00"
    done = world.client.post(path + "/resolve", json={"resolution": "已补发不予办理通知书"},
                             headers=bearer(BUREAU_KEY))
    assert done.json()["status"] == "resolved"
    again = world.client.post(path + "/acknowledge", headers=bearer(BUREAU_KEY))
    assert again.status_code == 409
    world.settle()
    assert world.alerts(rule="rejection.incomplete")[0]["status"] == "resolved"
    assert [h["status"] for h in world.alerts(rule="rejection.incomplete")[0]["history"]] == [
        "acknowledged", "noticed", "resolved"]


def test_an_alert_still_open_after_its_notice_deadline_escalates_to_a_red_card(world, clock):
    world.send(event("post.absence_noticed", "W03", "2026-10-12T09:00:00+08:00",
                     {"window_id": "W03", "staff_id": "S01", "reason": "外出",
                      "expected_return": "2026-10-12T09:30:00+08:00"}))
    world.settle()
    (uncovered,) = world.alerts(rule="post.uncovered")
    world.client.post(f"/v1/alerts/{uncovered['alert_id']}/notice", json={"working_days": 1},
                      headers=bearer(BUREAU_KEY))
    clock.set("2026-10-14T00:00:00+08:00")
    world.settle()
    (card,) = world.alerts(rule="post.uncovered")
    assert card["status"] == "escalated"
    assert card["severity"] == "red_card"
    assert card["updated_at"] == "2026-10-13T23:59:59+08:00"


def test_alerts_can_be_filtered_and_halls_see_only_their_own(world, clock):
    world.send_on_time(accepted("C1"))
    world.send_on_time(accepted("C2", hall="H2"))
    world.send(event("case.suspended", "C1", "2026-10-12T09:30:00+08:00",
                     {"procedure": "hearing", "reason": "听证", "applicant_informed": False}))
    world.settle()
    assert {a["rule"] for a in world.alerts()} == {"deadline.warning", "procedure.not_informed"}
    assert [a["case_no"] for a in world.alerts(hall="H2")] == ["C2"]
    assert [a["rule"] for a in world.alerts(severity="finding")] == ["procedure.not_informed"]
    assert world.alerts(status="resolved") == []
    assert world.alerts(since="2026-10-12T09:00:00+08:00", rule="deadline.warning") == []
    assert len(world.alerts(until="2026-10-12T09:00:00+08:00")) == 2
    own = world.alerts(key=HALL2_KEY)
    assert [a["hall_id"] for a in own] == ["H2"]
    refused = world.client.get("/v1/alerts", params={"hall": "H1"}, headers=bearer(HALL2_KEY))
    assert refused.status_code == 403
    assert world.client.post(f"/v1/alerts/{own[0]['alert_id']}/acknowledge",
                             headers=bearer(HALL_KEY)).status_code == 403


def test_an_unknown_alert_answers_404_and_a_malformed_id_422(world):
    assert world.client.post(f"/v1/alerts/{uuid.uuid4()}/acknowledge",
                             headers=bearer(BUREAU_KEY)).status_code == 404
    bad = world.client.post("/v1/alerts/not-an-id/acknowledge", headers=bearer(BUREAU_KEY))
    assert bad.status_code == 422 and bad.json()["field"] == "alert_id"


def test_on_kafka_each_event_is_judged_once_across_a_crash_and_alerts_are_published(
        pg_settings, clock, kafka):
    hall_topic, alerts_topic = (f"{n}.{uuid.uuid4().hex[:8]}" for n in ("hall", "alerts"))
    kafka.create_topic(hall_topic)
    kafka.create_topic(alerts_topic)
    settings = pg_settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "hall_topic": hall_topic,
        "alerts_topic": alerts_topic, "consumer_group": f"g{uuid.uuid4().hex[:6]}"})
    clock.set("2026-09-30T10:05:00+08:00")
    intake = build_intake(settings, clock)
    for n in range(6):
        intake.store.record(accepted(f"C{n}"), "H1")
    clock.set("2026-10-20T09:00:00+08:00")
    Relay(intake.store, producer(kafka.bootstrap), hall_topic).run_once()

    crashed = build_supervision(settings, clock)
    batch = []
    for _ in range(20):
        batch += crashed.source.poll(1000, 0.5)
        if len(batch) >= 6:
            break
    assert len(batch) == 6, batch
    crashed.app.handle(batch)  # judged and tracked, but the offsets are never committed
    crashed.app.fire_due()
    crashed.source.close()
    raised = [n for n in crashed.app.recorder.select_notifications(1, 1000)
              if n.topic.endswith("Alert.Raised")]
    assert len(raised) == 12

    restarted = build_supervision(settings, clock)
    for _ in range(10):
        restarted.step()
    again = [n for n in restarted.app.recorder.select_notifications(1, 1000)
             if n.topic.endswith("Alert.Raised")]
    assert len(again) == 12
    restarted.source.close()

    Relay.for_alerts(restarted.app, producer(kafka.bootstrap), alerts_topic).run_once()
    consumer = KafkaConsumer(alerts_topic, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    published = [json.loads(r.value)["data"] for r in consumer]
    consumer.close()
    assert len({a["alert_id"] for a in published}) == 12
    assert {a["rule"] for a in published} == {"deadline.warning", "deadline.overdue"}
    assert all(a["raised_at"] in ("2026-10-12T00:00:00+08:00", "2026-10-13T23:59:59+08:00")
               for a in published if a["status"] == "raised")
    intake.store.close()


def test_an_official_year_reaches_supervision_and_moves_its_working_day_clocks(
        settings, clock):
    clock.set("2026-12-30T10:05:00+08:00")
    world = World(settings, clock)
    world.send(event("complaint.received", "W03", "2026-12-30T10:00:00+08:00",
                     {"complaint_no": "TS-1", "channel": "hotline_12342", "content": "态度差"}))
    world.settle()
    year = {"year": 2027, "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"],
            "workdays": [], "reference": "国办发明电〔2026〕9号"}
    assert world.client.post("/v1/calendar/years", json=year,
                             headers=bearer(BUREAU_KEY)).status_code == 201
    world.settle()
    assert world.supervision.app.calendar.year(2027).source == "official"
    clock.set("2027-01-08T09:00:00+08:00")  # past the estimate's deadline (01-07)
    world.settle()
    assert world.alerts(rule="complaint.overdue") == []
    clock.set("2027-01-12T09:00:00+08:00")
    world.settle()
    (overdue,) = world.alerts(rule="complaint.overdue")
    assert overdue["raised_at"] == "2027-01-11T23:59:59+08:00"
    world.close()
    restarted = World(settings, clock)
    assert restarted.supervision.app.calendar.year(2027).source == "official"
    restarted.close()


def test_a_supervision_notice_due_in_an_estimated_year_moves_when_the_year_loads(
        settings, clock):
    clock.set("2026-12-30T09:05:00+08:00")
    world = World(settings, clock)
    world.send(event("post.absence_noticed", "W03", "2026-12-30T09:00:00+08:00",
                     {"window_id": "W03", "staff_id": "S01", "reason": "外出",
                      "expected_return": "2026-12-30T09:30:00+08:00"}))
    world.settle()
    (uncovered,) = world.alerts(rule="post.uncovered")
    noticed = world.client.post(f"/v1/alerts/{uncovered['alert_id']}/notice",
                                json={"working_days": 3}, headers=bearer(BUREAU_KEY)).json()
    assert noticed["notice_due_at"] == "2027-01-05T23:59:59+08:00"  # under the estimate
    year = {"year": 2027, "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"],
            "workdays": []}
    world.client.post("/v1/calendar/years", json=year, headers=bearer(BUREAU_KEY))
    world.settle()
    (moved,) = world.alerts(rule="post.uncovered")
    assert moved["notice_due_at"] == "2027-01-07T23:59:59+08:00"
    clock.set("2027-01-06T12:00:00+08:00")
    world.settle()
    assert world.alerts(rule="post.uncovered")[0]["status"] == "noticed"
    clock.set("2027-01-08T08:00:00+08:00")
    world.settle()
    (card,) = world.alerts(rule="post.uncovered")
    assert (card["status"], card["updated_at"]) == ("escalated", "2027-01-07T23:59:59+08:00")
    world.close()


def test_two_instances_in_one_group_share_the_work_and_raise_each_alert_once(
        pg_settings, clock, kafka):
    topic = f"hall.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions=3)
    settings = pg_settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "hall_topic": topic,
        "consumer_group": f"g{uuid.uuid4().hex[:6]}"})
    clock.set("2026-11-02T09:05:00+08:00")
    intake = build_intake(settings, clock)
    cases = [f"C{n}" for n in range(12)]
    for case in cases:
        intake.store.record(accepted(case, time="2026-11-02T09:00:00+08:00"), "H1")  # due 11-09
    Relay(intake.store, producer(kafka.bootstrap), topic).run_once()
    first = build_supervision(settings, clock)
    second = build_supervision(settings, clock)
    deadline = time.monotonic() + 180
    while True:  # both join, get partitions and judge what is theirs
        first.step()
        second.step()
        judged = sum(first.app.next_position(topic, p) or 0 for p in range(3))
        mine, theirs = first.source.consumer.assignment(), second.source.consumer.assignment()
        # Both hold partitions and none twice: the rebalance has settled on both sides.
        # (Firing before it settles would let both instances own a partition.)
        if judged == len(cases) and mine and theirs and not mine & theirs \
                and len(mine | theirs) == 3:
            break
        assert time.monotonic() < deadline, (judged, mine, theirs)
    first.app.refresh_index()
    second.app.refresh_index()
    clock.set("2026-11-10T08:00:00+08:00")  # every case is past due
    fired = first.app.fire_due(), second.app.fire_due()
    assert fired[0] > 0 and fired[1] > 0
    assert sum(fired) == len(cases)  # each watch fired by exactly one instance
    raised = [n for n in first.app.recorder.select_notifications(1, 10_000)
              if n.topic.endswith("Alert.Raised")]
    assert len(raised) == 2 * len(cases)  # a yellow and a red each, once
    first.source.close()
    second.source.close()
    intake.store.close()


def test_a_watch_restored_from_its_snapshot_judges_as_before(settings, clock):
    clock.set("2026-11-02T09:05:00+08:00")
    world = World(settings, clock)
    world.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    notice = {"notice_no": "N", "missing_materials": ["身份证"], "staff_id": "S1"}
    for n in range(60):
        world.send(event("case.notice_issued", "C1", "2026-11-02T09:01:00+08:00",
                         {**notice, "notice_no": f"N{n}"}))
    world.settle()
    watch_id = Watch.create_id("case/C1")
    assert [s.originator_version for s in world.supervision.app.snapshots.get(watch_id)] == [50]
    world.close()
    restarted = World(settings, clock)
    restarted.send(event("case.notice_issued", "C1", "2026-11-02T09:02:00+08:00",
                         {**notice, "notice_no": "N-late", "missing_materials": ["结婚证"]}))
    restarted.settle()
    (finding,) = restarted.alerts(rule="notice.not_one_time")
    assert "结婚证" in finding["detail"]
    restarted.close()
