"""Where consumers read from: Kafka (production) or the event store's log (embedded).

Both yield :class:`Message` batches and commit after the consumer has written a batch,
so a crash replays (never skips) and idempotent writes make the replay harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata

from services.common import metrics
from services.common.codecs import Text
from services.common.messages import Message, to_cloudevent

Positions = Callable[[str, int], int | None]

LOG_TOPIC = "log"
METADATA_SECONDS = 30.0


class Source(Protocol):
    def poll(self, max_records: int, timeout: float) -> list[Message]: ...
    def commit(self, batch: list[Message]) -> None: ...
    def close(self) -> None: ...
    def owns(self, key: str) -> bool: ...


class KafkaSource:
    """A consumer-group member; offsets are committed only after a batch is written."""

    def __init__(self, bootstrap: str, topics: list[str], group: str,
                 positions: Positions | None = None, instance_id: str = "") -> None:
        """``positions``: where a consumer that records its own progress (with its writes)
        wants to resume each partition it is assigned; None = the group's committed offset."""
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            key_deserializer=Text(),
            value_deserializer=Text(),
            max_poll_records=5000,
            group_instance_id=f"{group}-{instance_id}" if instance_id else None,
        )
        # Know every topic's partitions before joining the group: a first assignment made
        # without them forces an immediate second rebalance, which kafka-python can stall in.
        deadline = time.monotonic() + METADATA_SECONDS
        for topic in topics:
            while not self.consumer.partitions_for_topic(topic):
                if time.monotonic() > deadline:
                    self.consumer.close()
                    raise RuntimeError(f"Kafka topic {topic!r} does not exist at {bootstrap}")
                time.sleep(0.1)
        self.consumer.subscribe(topics, listener=_SeekOnAssign(self.consumer, positions))
        self.topic = topics[0]
        self.group = group

    def owns(self, key: str) -> bool:
        """Whether messages with ``key`` on the first topic land on a partition this member
        is assigned now (Kafka's default partitioner: murmur2 of the key)."""
        partitions = sorted(self.consumer.partitions_for_topic(self.topic) or ())
        if not partitions:
            return False
        index = (murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)
        return TopicPartition(self.topic, partitions[index]) in self.consumer.assignment()

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        polled = self.consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        metrics.kafka_consumer_lag(self.consumer, self.group)
        batch = []
        for records in polled.values():
            for r in records:
                batch.append(Message(r.topic, r.partition, r.offset, r.key,
                                     json.loads(r.value), r.value))
        return batch

    def commit(self, batch: list[Message]) -> None:
        if not batch:
            return
        highest: dict[TopicPartition, int] = {}
        for m in batch:
            tp = TopicPartition(m.topic, m.partition)
            highest[tp] = max(highest.get(tp, -1), m.offset)
        self.consumer.commit({tp: OffsetAndMetadata(o + 1, None, -1)
                              for tp, o in highest.items()})

    def close(self) -> None:
        self.consumer.close()


class _SeekOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KafkaConsumer, positions: Positions | None) -> None:
        self.consumer = consumer
        self.positions = positions

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        if self.positions is None:
            return
        for tp in assigned:
            position = self.positions(tp.topic, tp.partition)
            if position is not None:
                self.consumer.seek(tp, position)


class LogSource:
    """Follows the event store's notification log in-process (embedded mode).

    SQLite recorders cannot subscribe, so this polls ``select_notifications``.
    ``load_position`` and ``save_position`` keep the consumer's own progress.
    """

    def __init__(self, app: Any, load_position: Callable[[], int],
                 save_position: Callable[[int], None], convert: Any = to_cloudevent,
                 topic: str = LOG_TOPIC) -> None:
        self.app = app
        self.position = load_position()
        self.save_position = save_position
        self.convert = convert
        self.topic = topic
        self._read_up_to = self.position

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        notifications = self.app.recorder.select_notifications(self.position + 1, max_records)
        metrics.consumer_lag("embedded", self.topic, 0,
                             (self.app.recorder.max_notification_id() or 0) - self.position)
        batch = []
        for n in notifications:
            value = self.convert(self.app, n)
            if value is not None:
                batch.append(Message(self.topic, 0, n.id, str(value.get("subject", "")), value))
        if notifications:
            # Positions of internal records count as read too.
            self._read_up_to = notifications[-1].id
            if not batch:
                self.commit([])
        return batch

    def commit(self, batch: list[Message]) -> None:
        upto = self._read_up_to
        if upto > self.position:
            self.save_position(upto)
            self.position = upto

    def close(self) -> None:
        pass

    def owns(self, key: str) -> bool:
        return True  # one process follows the whole log
