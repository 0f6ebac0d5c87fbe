"""预警纠错 reaches people: each warning, notice and red card is queued with its alert and
delivered to a real SMTP server (aiosmtpd) and a real HTTP gateway, with retries, back-off
and its delivery recorded on the alert; nothing is sent twice for one alert and channel."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from hallwatch.notify import Delivery
from services.supervision.notifier import TOPICS
from tests.builders import accepted
from tests.conftest import BUREAU_KEY, bearer, embedded_settings
from tests.receivers import Gateway, SmtpServer, wait_until
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "directory" / "sample-city.v1.json"
SECRET = "gateway-hmac-key-for-the-tests"
YELLOW_AT = "2026-10-13T23:59:00+08:00"  # C1, accepted 2026-09-30, is due at the day's end


@pytest.fixture
def gateway():
    made = Gateway()
    yield made
    made.down()


@pytest.fixture
def smtp():
    made = SmtpServer()
    yield made
    made.down()


@pytest.fixture
def notify_settings(tmp_path, smtp, monkeypatch):
    monkeypatch.setenv("HALLWATCH_NOTIFY_SECRET_SMS_TEST", SECRET)
    return embedded_settings(tmp_path / "var", smtp_url=smtp.url, notify_attempts=3,
                             notify_backoff_seconds=30, notify_timeout_seconds=0.5)


def directory(gateway: Gateway, *, email: bool = True) -> dict:
    document = json.loads(SAMPLE.read_text())
    channels = [{"id": "sms", "kind": "webhook", "url": gateway.url, "secret": "SMS_TEST",
                 "to": ["zt-leaders"]}]
    if email:
        channels.append({"id": "mail", "kind": "email", "to": ["duban@example.gov.cn"]})
    document["halls"][0]["notify"] = channels
    return document


def warned(settings, clock, gateway, **options) -> tuple[World, str]:
    """A world whose main hall has the test channels, and a yellow warning raised there."""
    world = World(settings, clock)
    loaded = world.client.post("/v1/directory", json=directory(gateway, **options),
                               headers=bearer(BUREAU_KEY))
    assert loaded.status_code == 201, loaded.text
    clock.set(YELLOW_AT)
    world.send(accepted("C1", hall="main"))
    world.settle()
    (alert,) = world.alerts(rule="deadline.warning")
    return world, alert["alert_id"]


def notifications(world: World, alert_id: str) -> dict[str, dict]:
    response = world.client.get(f"/v1/alerts/{alert_id}", headers=bearer(BUREAU_KEY))
    assert response.status_code == 200, response.text
    return {n["channel"]: n for n in response.json()["notifications"]}


def statuses(notification: dict) -> list[str]:
    return [step["status"] for step in notification["history"]]


def test_a_yellow_warning_reaches_the_gateway_signed_and_the_mailbox_once_each(
        notify_settings, clock, gateway, smtp):
    gateway.up()
    smtp.up()
    world, alert_id = warned(notify_settings, clock, gateway)
    queued = notifications(world, alert_id)
    assert {c: n["status"] for c, n in queued.items()} == {"sms": "pending", "mail": "pending"}
    assert world.supervision.notifier.step() == 2
    (request,) = gateway.received
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Hallwatch-Signature"] == f"sha256={expected}"
    assert request.headers["Idempotency-Key"] == f"{alert_id}/yellow/sms"
    body = json.loads(request.body)
    assert body["alert"]["alert_id"] == alert_id and body["to"] == ["zt-leaders"]
    assert "临近办结时限" in body["text"] and "C1" in body["text"]
    ((recipients, mail),) = smtp.messages
    assert recipients == ["duban@example.gov.cn"]
    assert mail["X-Hallwatch-Idempotency-Key"] == f"{alert_id}/yellow/mail"
    assert "黄色预警" in str(mail["Subject"])
    sent = notifications(world, alert_id)
    assert {c: (n["status"], n["attempts"]) for c, n in sent.items()} == \
        {"sms": ("sent", 1), "mail": ("sent", 1)}
    assert statuses(sent["sms"]) == ["queued", "attempt_started", "sent"]
    clock.set("2026-10-13T23:59:59+08:00")
    assert world.supervision.notifier.step() == 0
    assert len(gateway.received) == 1 and len(smtp.messages) == 1
    world.close()


def test_the_notification_is_recorded_in_the_transaction_that_records_the_alert(
        notify_settings, clock, gateway):
    world, alert_id = warned(notify_settings, clock, gateway)
    app = world.supervision.app
    log = app.recorder.select_notifications(1, 100_000)
    raised = [n for n in log if n.topic.endswith("Alert.Raised")
              and str(n.originator_id) == alert_id]
    queued = [n for n in log if n.topic in TOPICS]
    assert len(raised) == 1 and len(queued) == 2
    # One transaction: the alert's event and its deliveries' are neighbours in the log,
    # and each delivery names the alert.
    assert {n.id for n in queued} <= set(range(raised[0].id - 5, raised[0].id + 6))
    deliveries = [app.repository.get(n.originator_id) for n in queued]
    assert all(isinstance(d, Delivery) and d.alert_id == alert_id for d in deliveries)
    world.close()


def test_an_alert_whose_notification_cannot_be_recorded_is_not_recorded_either(
        notify_settings, tmp_path, clock, gateway):
    """All or nothing: a delivery that cannot be stored (its id taken, here on purpose)
    takes the alert down with it (the findings judged before, in their own transaction,
    stand)."""
    first, alert_id = warned(notify_settings, clock, gateway, email=False)
    first.close()
    clock.set("2026-10-12T10:00:00+08:00")
    settings = notify_settings.model_copy(update={"data_dir": tmp_path / "other"})
    world = World(settings, clock)
    world.client.post("/v1/directory", json=directory(gateway, email=False),
                      headers=bearer(BUREAU_KEY))
    world.settle()
    app = world.supervision.app
    key = f"{alert_id}/yellow/sms"
    app.save(Delivery(key=key, alert_id=alert_id, occasion="yellow", hall_id="main",
                      channel=app.directory.channels["main"][0], subject="", text="",
                      payload={}, queued_at=clock().isoformat()))
    clock.set(YELLOW_AT)
    world.send(accepted("C1", hall="main"))
    with pytest.raises(IntegrityError):
        world.settle()
    rules = [app.mapper.to_domain_event(n).rule for n in world.stored_alerts()]
    assert rules and "deadline.warning" not in rules
    world.close()


def test_a_gateway_down_then_up_gets_the_message_after_retries_with_growing_waits(
        notify_settings, clock, gateway):
    world, alert_id = warned(notify_settings, clock, gateway, email=False)
    notifier = world.supervision.notifier
    assert notifier.step() == 1  # nobody listening
    failed = notifications(world, alert_id)["sms"]
    assert failed["status"] == "pending" and failed["attempts"] == 1
    assert "ConnectionRefusedError" in failed["history"][-1]["error"]
    first_wait = clock.now + timedelta(seconds=30)
    assert failed["next_attempt_at"] == first_wait.isoformat()
    assert notifier.step() == 0  # not due before its back-off ends
    clock.now = first_wait
    assert notifier.step() == 1
    again = notifications(world, alert_id)["sms"]
    assert again["next_attempt_at"] == (first_wait + timedelta(seconds=60)).isoformat()
    gateway.up()
    clock.now = first_wait + timedelta(seconds=60)
    assert notifier.step() == 1
    sent = notifications(world, alert_id)["sms"]
    assert sent["status"] == "sent" and sent["attempts"] == 3
    assert statuses(sent) == ["queued", "attempt_started", "attempt_failed",
                              "attempt_started", "attempt_failed", "attempt_started", "sent"]
    assert len(gateway.received) == 1
    world.close()


def test_a_gateway_that_never_answers_is_given_up_after_the_last_attempt(
        notify_settings, clock, gateway):
    gateway.hang = True
    gateway.up()
    world, alert_id = warned(notify_settings, clock, gateway, email=False)
    notifier = world.supervision.notifier
    for _ in range(3):
        assert notifier.step() == 1
        clock.now += timedelta(hours=1)
    assert notifier.step() == 0
    given_up = notifications(world, alert_id)["sms"]
    assert given_up["status"] == "given_up" and given_up["attempts"] == 3
    assert given_up["next_attempt_at"] is None
    errors = [s["error"] for s in given_up["history"] if "error" in s]
    assert len(errors) == 3 and all("timed out" in e for e in errors)
    assert len(gateway.received) == 3  # each attempt reached it; none was answered
    world.close()


def test_a_restarted_worker_never_sends_again_what_was_sent(
        notify_settings, clock, gateway, smtp):
    gateway.up()
    smtp.up()
    world, alert_id = warned(notify_settings, clock, gateway)
    assert world.supervision.notifier.step() == 2
    world.close()
    clock.now += timedelta(days=1)
    again = World(notify_settings, clock)
    assert again.supervision.notifier.step() == 0
    assert len(gateway.received) == 1 and len(smtp.messages) == 1
    assert {n["status"] for n in notifications(again, alert_id).values()} == {"sent"}
    again.close()


def test_an_attempt_cut_short_by_a_crash_is_made_again_with_the_same_idempotency_key(
        notify_settings, clock, gateway):
    gateway.up()
    world, alert_id = warned(notify_settings, clock, gateway, email=False)
    app = world.supervision.app
    (ident,) = [n.originator_id for n in app.recorder.select_notifications(1, 10_000)
                if n.topic in TOPICS]
    claimed: Delivery = app.repository.get(ident)
    claimed.start(clock(), world.supervision.notifier.retry)  # the worker died right after
    app.save(claimed)
    world.close()
    again = World(notify_settings, clock)
    assert again.supervision.notifier.step() == 0  # its lease has not ended
    clock.now += timedelta(minutes=5)
    assert again.supervision.notifier.step() == 1
    sent = notifications(again, alert_id)["sms"]
    assert sent["status"] == "sent" and sent["attempts"] == 2
    assert "no outcome recorded" in sent["history"][2]["error"]
    (request,) = gateway.received
    assert request.headers["Idempotency-Key"] == f"{alert_id}/yellow/sms"
    again.close()


def test_a_red_warning_its_notice_and_its_red_card_are_each_notified_once_per_channel(
        notify_settings, clock, gateway):
    gateway.up()
    world, _ = warned(notify_settings, clock, gateway, email=False)
    clock.set("2026-10-14T00:00:00+08:00")  # overdue: the red warning
    world.settle()
    (red,) = world.alerts(rule="deadline.overdue")
    alert_id = red["alert_id"]
    acted = world.client.post(f"/v1/alerts/{alert_id}/notice", headers=bearer(BUREAU_KEY),
                              json={"working_days": 1, "content": "限期整改"})
    assert acted.status_code == 200, acted.text
    assert sorted(n["occasion"] for n in acted.json()["notifications"]) == ["notice", "red"]
    clock.set("2026-10-20T09:00:00+08:00")  # past the notice's deadline: a red card
    world.settle()
    notifier = world.supervision.notifier

    def keys() -> list[str]:
        return sorted(r.headers["Idempotency-Key"] for r in gateway.received
                      if r.headers["Idempotency-Key"].startswith(alert_id))

    wait_until(lambda: notifier.step() == 0 and len(keys()) == 3)
    assert keys() == sorted(f"{alert_id}/{o}/sms" for o in ("notice", "red", "red_card"))
    card = json.loads(next(r.body for r in gateway.received
                           if r.headers["Idempotency-Key"].endswith("/red_card/sms")))
    assert "督办整改期限" in card["text"] and card["alert"]["status"] == "escalated"
    shown = world.client.get(f"/v1/alerts/{alert_id}", headers=bearer(BUREAU_KEY)).json()
    assert sorted((n["occasion"], n["status"]) for n in shown["notifications"]) == \
        [("notice", "sent"), ("red", "sent"), ("red_card", "sent")]
    world.close()


def test_the_production_supervision_process_delivers_what_it_judges_from_kafka(
        pg_settings, kafka, clock, gateway, smtp, monkeypatch):
    """``hallwatch supervision`` as the composition root builds it: PostgreSQL, the hall
    topic from Kafka, and its notifier running without being stepped."""
    from services import system
    from services.common.directories import record
    from services.common.relay import Relay, producer
    from services.intake.service import build as build_intake

    monkeypatch.setenv("HALLWATCH_NOTIFY_SECRET_SMS_TEST", SECRET)
    stamp = f"{clock().timestamp():.0f}.{gateway.port}"
    settings = pg_settings.model_copy(update={
        "smtp_url": smtp.url, "kafka_bootstrap": kafka.bootstrap,
        "hall_topic": f"hall.events.notify.{stamp}",
        "alerts_topic": f"supervision.alerts.notify.{stamp}"})
    kafka.create_topic(settings.hall_topic, partitions=1)
    kafka.create_topic(settings.alerts_topic, partitions=1)
    gateway.up()
    smtp.up()
    intake = build_intake(settings, clock)
    record(intake.store, directory(gateway), "bureau", clock())
    clock.set(YELLOW_AT)
    intake.store.record(accepted("C1", hall="main"), "main")
    relay = Relay(intake.store, producer(kafka.bootstrap), settings.hall_topic)
    while relay.run_once(limit=10):
        pass
    process = system.supervision(settings, clock)
    assert process.supervision is not None and process.supervision.notifier is not None
    started = time.monotonic()
    process.start()
    try:
        wait_until(lambda: len(gateway.received) == 1 and len(smtp.messages) == 1, 60)
        print(f"\nproduction supervision: judged from Kafka and delivered both channels "
              f"{time.monotonic() - started:.2f} s after it started")
        (request,) = gateway.received
        alert_id = request.headers["Idempotency-Key"].split("/")[0]
        notifier = process.supervision.notifier
        wait_until(lambda: {n["status"] for n in notifier.deliveries(UUID(alert_id))}
                   == {"sent"})
    finally:
        process.close()
        intake.store.close()


def test_two_supervision_instances_on_one_store_send_each_notification_once(
        notify_settings, clock, gateway):
    """Production runs several supervision instances, each with a notifier, on one store:
    every delivery is claimed by exactly one of them."""
    from collections import Counter

    from services.supervision.service import build as build_supervision

    gateway.up()
    world = World(notify_settings, clock)
    world.client.post("/v1/directory", json=directory(gateway, email=False),
                      headers=bearer(BUREAU_KEY))
    clock.set(YELLOW_AT)
    for n in range(6):
        world.send(accepted(f"C{n}", hall="main"))
    world.settle()
    assert len(world.alerts(rule="deadline.warning")) == 6
    other = build_supervision(notify_settings, clock, log_app=world.intake.store)
    assert other.notifier is not None and world.supervision.notifier is not None
    stop = world.supervision.stop
    started = time.monotonic()
    world.supervision.notifier.start(stop)
    other.notifier.start(stop)
    try:
        wait_until(lambda: len(gateway.received) >= 6, 60)
        print(f"\ntwo notifiers: 6 notifications delivered "
              f"{time.monotonic() - started:.2f} s after they started")
        keys = Counter(r.headers["Idempotency-Key"] for r in gateway.received)
        assert len(keys) == 6 and set(keys.values()) == {1}
        for alert in world.alerts(rule="deadline.warning"):
            (sms,) = wait_until(lambda a=alert: [
                n for n in notifications(world, a["alert_id"]).values()
                if n["status"] == "sent"])
            assert statuses(sms) == ["queued", "attempt_started", "sent"]
    finally:
        stop.set()
        other.app.close()
        world.close()
