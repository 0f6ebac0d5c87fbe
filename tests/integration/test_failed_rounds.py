"""A round that fails once loses nothing: supervision, the projections' sink and the relay
each re-read a failed batch from their recorded position (real PostgreSQL, Kafka, chDB).

The fault is a wrapper around the real method that raises once (terminating the
PostgreSQL sessions between rounds does not fail one: the pool checks its connections);
the stores, Kafka and chDB are real.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

from services.common.clickhouse import DATABASE
from services.common.relay import Relay, producer
from services.intake.service import build as build_intake
from services.projections.service import build as build_projections
from services.supervision.service import build as build_supervision
from tests.builders import accepted

CASES_PER_BATCH = 4


class Fault:
    """Runs ``inject`` then the real method on the first call while armed."""

    def __init__(self, real: Callable[..., Any], inject: Callable[[], None]) -> None:
        self.real, self.inject, self.armed, self.fired = real, inject, False, 0

    def __call__(self, *args: Any) -> Any:
        if self.armed:
            self.armed = False
            self.fired += 1
            self.inject()
        return self.real(*args)


def raise_once() -> None:
    raise ConnectionError("injected: the write failed")


def drive(step: Callable[[], Any], done: Callable[[], bool], rounds: int = 200) -> int:
    """Run rounds as a worker does (a failed round is retried), until ``done``; returns
    how many rounds failed."""
    failed = 0
    for _ in range(rounds):
        try:
            step()
        except Exception:
            failed += 1
        if done():
            return failed
        if failed:
            time.sleep(0.05)  # a worker backs off after a failed round too
    raise AssertionError(f"not done after {rounds} rounds ({failed} failed)")


def kafka_settings(pg_settings, kafka, partitions=2):
    hall, alerts = (f"{n}.{uuid.uuid4().hex[:8]}" for n in ("hall", "alerts"))
    kafka.create_topic(hall, partitions=partitions)
    kafka.create_topic(alerts, partitions=partitions)
    return pg_settings.model_copy(update={
        "kafka_bootstrap": kafka.bootstrap, "hall_topic": hall, "alerts_topic": alerts,
        "consumer_group": f"g{uuid.uuid4().hex[:6]}"})


def record_batch(intake, relay, first: int) -> None:
    """Record and publish cases; a client retries what a cut connection refused (the
    same envelope: recording is idempotent)."""
    for n in range(first, first + CASES_PER_BATCH):
        envelope = accepted(f"C{n}")
        drive(lambda: intake.store.record(envelope, "H1"), lambda: True)  # noqa: B023
    end = intake.store.recorder.max_notification_id()
    drive(relay.run_once, lambda: relay.position() == end)


def test_a_judgement_round_that_fails_once_leaves_no_event_unjudged(pg_settings, clock, kafka):
    settings = kafka_settings(pg_settings, kafka)
    clock.set("2026-09-30T10:05:00+08:00")
    intake = build_intake(settings, clock)
    relay = Relay(intake.store, producer(kafka.bootstrap), settings.hall_topic)
    supervision = build_supervision(settings, clock)
    app = supervision.app

    def judged() -> int:
        return sum(app.next_position(settings.hall_topic, p) or 0 for p in range(2))

    record_batch(intake, relay, 0)
    drive(supervision.step, lambda: judged() == CASES_PER_BATCH)
    fault = Fault(app.handle, raise_once)
    app.handle = fault  # type: ignore[method-assign]
    fault.armed = True
    record_batch(intake, relay, CASES_PER_BATCH)
    failed = drive(supervision.step, lambda: fault.fired == 1)
    record_batch(intake, relay, 2 * CASES_PER_BATCH)
    failed += drive(supervision.step, lambda: judged() == 3 * CASES_PER_BATCH)
    assert failed == 1

    clock.set("2026-10-20T09:00:00+08:00")  # every case is past its warning and due time
    app.fire_due()
    raised = [n for n in app.recorder.select_notifications(1, 10_000)
              if n.topic.endswith("Alert.Raised")]
    assert len(raised) == 2 * 3 * CASES_PER_BATCH  # a yellow and a red for every case
    supervision.source.close()
    intake.store.close()


def test_a_projection_write_that_fails_once_leaves_no_event_out_of_the_views(
        pg_settings, clock, kafka):
    settings = kafka_settings(pg_settings, kafka)
    intake = build_intake(settings, clock)
    relay = Relay(intake.store, producer(kafka.bootstrap), settings.hall_topic)
    projections = build_projections(settings, clock)
    views = projections.views

    def rows() -> int:
        return int(views.client.query(
            f"SELECT count() FROM {DATABASE}.events FINAL").result_rows[0][0])

    record_batch(intake, relay, 0)
    drive(projections.step, lambda: rows() == CASES_PER_BATCH)
    fault = Fault(views.write, raise_once)
    views.write = fault  # type: ignore[method-assign]
    fault.armed = True
    record_batch(intake, relay, CASES_PER_BATCH)
    failed = drive(projections.step, lambda: fault.fired == 1)
    record_batch(intake, relay, 2 * CASES_PER_BATCH)
    failed += drive(projections.step, lambda: rows() == 3 * CASES_PER_BATCH)
    assert failed == 1
    cases = views.client.query(f"SELECT count() FROM {DATABASE}.cases FINAL").result_rows
    assert cases[0][0] == 3 * CASES_PER_BATCH
    projections.sources[0].close()
    views.client.close()  # one chDB path per process: the next test opens another
    intake.store.close()


def test_a_relay_round_whose_publish_fails_once_publishes_every_event(
        pg_settings, clock, kafka):
    settings = kafka_settings(pg_settings, kafka)
    intake = build_intake(settings, clock)
    kafka_producer = producer(kafka.bootstrap)
    relay = Relay(intake.store, kafka_producer, settings.hall_topic)
    for n in range(3 * CASES_PER_BATCH):
        intake.store.record(accepted(f"C{n}"), "H1")
    sent = 0

    def send(*args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        if sent == 5:  # the fifth send of the run fails, half way through a batch
            raise ConnectionError("injected: the broker went away")
        return real_send(*args, **kwargs)

    real_send = kafka_producer.send
    kafka_producer.send = send  # type: ignore[method-assign]
    end = intake.store.recorder.max_notification_id()
    failed = drive(lambda: relay.run_once(limit=CASES_PER_BATCH * 2),
                   lambda: relay.position() == end)
    assert failed == 1
    consumer = KafkaConsumer(settings.hall_topic, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5_000)
    subjects = {record.key.decode() for record in consumer}
    consumer.close()
    assert subjects == {f"C{n}" for n in range(3 * CASES_PER_BATCH)}
    intake.store.close()
