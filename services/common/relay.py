"""The relay: publishes the store's notification log to Kafka, in store order.

Its position is tracked in the event store itself. It records a position only after
Kafka acknowledged every message up to it, so a restart resumes and never skips;
a crash between the two republishes a few events (consumers are idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from kafka import KafkaProducer

from services.common import storage
from services.common.codecs import Json, Text
from services.common.messages import (
    alert_headers,
    alert_message,
    kafka_headers,
    message_key,
    to_cloudevent,
)
from services.common.metrics import RELAY_POSITION, RELAYED, relay_lag
from services.common.workers import Worker

Convert = Callable[[Application[Any], Notification], dict[str, Any] | None]


def producer(bootstrap: str, max_block_seconds: float = 60.0) -> KafkaProducer:
    """``max_block_seconds``: the longest a send waits for its topic's metadata (a missing
    topic fails the round after that long; services.common.logs says so once)."""
    # Idempotent producer: retries neither duplicate nor reorder within a partition.
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        key_serializer=Text(),
        value_serializer=Json(),
        max_block_ms=int(max_block_seconds * 1000),
    )


class Relay:
    """Publishes one application's notification log; hall events by default."""

    def __init__(self, store: Application[Any], kafka: KafkaProducer, topic: str,
                 convert: Convert = to_cloudevent, name: str = "relay",
                 headers: Callable[[dict[str, Any]], list[tuple[str, bytes]]] = kafka_headers
                 ) -> None:
        self.store = store
        self.kafka = kafka
        self.topic = topic
        self.convert = convert
        self.name = name
        self.headers = headers
        recorder = store.recorder
        if isinstance(recorder, TrackingRecorder):
            self.tracking: TrackingRecorder = recorder
        else:
            with storage.schema_lock(store.env):  # creates the tracking table
                self.tracking = store.factory.tracking_recorder()

    @classmethod
    def for_alerts(cls, supervision: Application[Any], kafka: KafkaProducer, topic: str
                   ) -> Relay:
        return cls(supervision, kafka, topic, alert_message, "alerts-relay", alert_headers)

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.name) or 0

    def run_once(self, limit: int = 2000) -> int:
        """Publish the next batch; returns how many notifications were handled."""
        position = self.position()
        # Before publishing, so a relay failing to reach Kafka still shows its lag growing.
        relay_lag(self.name, self.store.recorder.max_notification_id(), position)
        notifications = list(storage.read_log(self.store, position, limit, page=limit))
        if not notifications:
            return 0
        pending = []
        for n in notifications:
            value = self.convert(self.store, n)
            if value is not None:
                pending.append(self.kafka.send(self.topic, key=message_key(value), value=value,
                                               headers=self.headers(value)))
        self.kafka.flush()
        for future in pending:
            future.get(timeout=30)  # raises if any send failed: nothing is tracked then
        self.tracking.insert_tracking(Tracking(self.name, notifications[-1].id))
        RELAYED.inc(len(pending))
        RELAY_POSITION.labels(self.name).set(notifications[-1].id)
        return len(notifications)

    def start(self, stop: threading.Event, idle_seconds: float = 0.2) -> threading.Thread:
        return Worker(self.name, self.run_once, stop, idle_seconds).start()

    def run(self, stop: threading.Event, idle_seconds: float = 0.2) -> None:
        """In the calling thread, until ``stop`` (the ``hallwatch relay`` process)."""
        Worker(self.name, self.run_once, stop, idle_seconds).run()
