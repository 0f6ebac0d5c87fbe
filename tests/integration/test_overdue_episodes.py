"""Overdue episodes are facts, on PostgreSQL and Kafka: a late report of a timely
decision and an extension approved after the due moment leave the red standing."""

from __future__ import annotations

import time
import uuid

import pytest

from hallwatch.alert import Alert
from hallwatch.watch import Watch
from services.common.relay import Relay, producer
from services.intake.service import build as build_intake
from services.supervision.service import SupervisionService
from services.supervision.service import build as build_supervision
from tests.builders import accepted, completed, event


def alerts(service: SupervisionService) -> dict[tuple[str, str], Alert]:
    """Every alert in the supervision store by (rule, case), as it stands now; a rule is
    raised at most once per case here, except a yellow for each deadline."""
    app = service.app
    found = {}
    for n in app.recorder.select_notifications(1, 10_000):
        if n.topic.endswith("Alert.Raised"):
            alert: Alert = app.repository.get(n.originator_id)
            key = (alert.rule, alert.context.get("case_no", ""))
            assert key not in found or alert.rule == "deadline.warning", f"twice: {key}"
            found[key] = alert
    return found


def judge_until(service: SupervisionService, done, seconds: float = 60.0) -> None:
    """Step the service (poll Kafka, judge, fire timers) until ``done()`` holds."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "supervision never got there"
        service.step()


@pytest.fixture
def stack(pg_settings, clock, kafka):
    topic = f"hall.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic)
    settings = pg_settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "hall_topic": topic,
        "consumer_group": f"g{uuid.uuid4().hex[:6]}"})
    intake = build_intake(settings, clock)
    relay = Relay(intake.store, producer(kafka.bootstrap), topic)
    supervision = build_supervision(settings, clock)
    yield settings, intake, relay, supervision
    supervision.source.close()
    supervision.app.close()
    intake.store.close()


def test_a_late_report_and_a_late_extension_leave_their_reds_standing(stack, clock):
    settings, intake, relay, supervision = stack

    def record(envelope: dict, at: str) -> int:
        clock.set(at)
        position = intake.store.record(envelope, "H1").position
        relay.run_once()
        return position

    def judged(case_no: str, position: int) -> bool:
        watch: Watch = supervision.app.repository.get(Watch.create_id(f"case/{case_no}"))
        return watch.state.last_position >= position

    record(accepted("C1"), "2026-09-30T10:02:00+08:00")  # due 10-13 23:59:59
    record(accepted("C2", time="2026-11-02T09:00:00+08:00"), "2026-11-02T09:02:00+08:00")

    clock.set("2026-10-14T08:00:00+08:00")
    judge_until(supervision, lambda: ("deadline.overdue", "C1") in alerts(supervision))
    # C1 was decided on 10-13 but the hall typed it in on 10-15: too late to void the red.
    late = record(completed("C1", "2026-10-13T16:30:00+08:00"), "2026-10-15T17:00:00+08:00")
    judge_until(supervision, lambda: judged("C1", late))

    clock.set("2026-11-10T09:00:00+08:00")  # C2's due moment (11-09) has passed
    judge_until(supervision, lambda: ("deadline.overdue", "C2") in alerts(supervision))
    record(event("case.extended", "C2", "2026-11-10T10:00:00+08:00",
                 {"extra_days": 3, "reason": "需补充调查", "approved_by": "L1",
                  "applicant_notified": True}), "2026-11-10T10:05:00+08:00")
    done = record(completed("C2", "2026-11-11T10:00:00+08:00"), "2026-11-11T10:05:00+08:00")
    judge_until(supervision, lambda: judged("C2", done))

    found = alerts(supervision)
    assert found[("deadline.overdue", "C1")].status == "raised"
    assert found[("deadline.overdue", "C1")].raised_at == "2026-10-13T23:59:59+08:00"
    assert found[("report.late", "C1")].raised_at == "2026-10-14T16:30:00+08:00"
    assert ("extension.after_due", "C2") in found
    assert found[("deadline.overdue", "C2")].status == "raised"
    assert found[("deadline.overdue", "C2")].raised_at == "2026-11-09T23:59:59+08:00"
    assert intake.store.case("C2").summary.missed_due_at.isoformat() == \
        "2026-11-09T23:59:59+08:00"

    # A restarted instance replays nothing into a second alert or a changed status.
    supervision.source.close()
    again = build_supervision(settings, clock)
    try:
        clock.set("2026-12-01T09:00:00+08:00")
        for _ in range(5):
            again.step()
        replayed = alerts(again)
        assert {k: a.status for k, a in replayed.items()} == \
            {k: a.status for k, a in found.items()}
    finally:
        again.source.close()
        again.app.close()
