"""The relay: publishes the store's notification log to Kafka, in store order.

Its position is tracked in the event store itself. It records a position only after
Kafka acknowledged every message up to it, so a restart resumes and never skips;
a crash between the two republishes a few events (consumers are idempotent).
"""

from __future__ import annotations

import json
import threading

from eventsourcing.persistence import Tracking
from kafka import KafkaProducer

from services.common.messages import kafka_headers, message_key, to_cloudevent
from services.common.metrics import RELAYED
from services.intake.store import HallStore

TRACKING_NAME = "relay"


def producer(bootstrap: str) -> KafkaProducer:
    # Idempotent producer: retries neither duplicate nor reorder within a partition.
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, ensure_ascii=False).encode(),
    )


class Relay:
    def __init__(self, store: HallStore, kafka: KafkaProducer, topic: str) -> None:
        self.store = store
        self.kafka = kafka
        self.topic = topic
        self.tracking = store.tracking()

    def position(self) -> int:
        return self.tracking.max_tracking_id(TRACKING_NAME) or 0

    def run_once(self, limit: int = 2000) -> int:
        """Publish the next batch; returns how many notifications were handled."""
        notifications = self.store.recorder.select_notifications(self.position() + 1, limit)
        if not notifications:
            return 0
        pending = []
        for n in notifications:
            value = to_cloudevent(self.store, n)
            if value is not None:
                pending.append(self.kafka.send(self.topic, key=message_key(value), value=value,
                                               headers=kafka_headers(value)))
        self.kafka.flush()
        for future in pending:
            future.get(timeout=30)  # raises if any send failed: nothing is tracked then
        self.tracking.insert_tracking(Tracking(TRACKING_NAME, notifications[-1].id))
        RELAYED.inc(len(pending))
        return len(notifications)

    def run(self, stop: threading.Event, idle_seconds: float = 0.2) -> None:
        while not stop.is_set():
            if self.run_once() == 0:
                stop.wait(idle_seconds)
