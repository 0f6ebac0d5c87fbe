"""Where consumers read from: Kafka (production) or the event store's log (embedded).

Both yield :class:`Message` batches and commit after the consumer has written a batch,
so a crash replays (never skips) and idempotent writes make the replay harmless. A round
that fails in between calls :meth:`Source.rewind`: the next poll starts again from the
recorded position of every partition of that batch, so a failed batch is re-read, never
skipped (polling has already moved the client past it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata

from services.common import metrics
from services.common.codecs import Text
from services.common.messages import Message, to_cloudevent
from services.common.storage import read_log

Positions = Callable[[str, int], int | None]

LOG_TOPIC = "log"
METADATA_SECONDS = 30.0


class Signal:
    """Wakes threads waiting for an application's log to grow.

    Writers in this process call :meth:`notify` after each commit; a follower notes
    :meth:`seen` before it reads and, finding nothing, waits until the count moves or its
    timeout ends (writes by other processes are found when it looks again).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0

    def notify(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def seen(self) -> int:
        with self._changed:
            return self._count

    def wait(self, seen: int, timeout: float) -> bool:
        """Until something was written after ``seen`` (True) or ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count != seen, timeout)


class Source(Protocol):
    def poll(self, max_records: int, timeout: float) -> list[Message]: ...
    def commit(self, batch: list[Message]) -> None: ...
    def rewind(self, batch: list[Message]) -> None: ...
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
        self.positions = positions
        # Partitions of a failed batch not yet sought back: the next poll does it first,
        # so a rewind that itself failed (the store is down) is not forgotten.
        self._to_rewind: set[TopicPartition] = set()

    def owns(self, key: str) -> bool:
        """Whether messages with ``key`` on the first topic land on a partition this member
        is assigned now (Kafka's default partitioner: murmur2 of the key)."""
        partitions = sorted(self.consumer.partitions_for_topic(self.topic) or ())
        if not partitions:
            return False
        index = (murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)
        return TopicPartition(self.topic, partitions[index]) in self.consumer.assignment()

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        self._seek_back()
        polled = self.consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        metrics.kafka_consumer_lag(self.consumer, self.group)
        batch = []
        for records in polled.values():
            for r in records:
                batch.append(Message(r.topic, r.partition, r.offset, r.key,
                                     json.loads(r.value), r.value))
        return batch

    def rewind(self, batch: list[Message]) -> None:
        """Seek every partition of ``batch`` back to its recorded position (``positions``,
        else the group's committed offset, else the partition's beginning)."""
        self._to_rewind.update(TopicPartition(m.topic, m.partition) for m in batch)
        self._seek_back()

    def _seek_back(self) -> None:
        # A partition revoked meanwhile is sought by the rebalance listener on its next
        # assignment, from the same recorded position.
        assigned = self.consumer.assignment()
        for tp in sorted(self._to_rewind, key=lambda t: (t.topic, t.partition)):
            if tp in assigned:
                position = self.positions(tp.topic, tp.partition) if self.positions else None
                if position is None:
                    position = self.consumer.committed(tp)
                if position is None:
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, position)
            self._to_rewind.discard(tp)

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

    SQLite recorders cannot subscribe, so this reads the log, and when it finds nothing
    waits on the application's :class:`Signal` (``app.written``) for at most the poll's
    timeout instead of reading again at once.
    ``load_position`` and ``save_position`` keep the consumer's own progress.
    """

    def __init__(self, app: Any, load_position: Callable[[], int],
                 save_position: Callable[[int], None], convert: Any = to_cloudevent,
                 topic: str = LOG_TOPIC) -> None:
        self.app = app
        self.load_position = load_position
        self.position = load_position()
        self.save_position = save_position
        self.convert = convert
        self.topic = topic
        self._read_up_to = self.position

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        metrics.consumer_lag("embedded", self.topic, 0,
                             (self.app.recorder.max_notification_id() or 0) - self.position)
        signal: Signal | None = getattr(self.app, "written", None)
        mark = signal.seen() if signal is not None else 0
        notifications = self._read(max_records)
        if not notifications and timeout > 0:
            if signal is None:
                time.sleep(timeout)
            elif not signal.wait(mark, timeout):
                return []  # nothing written here; the next poll looks for other writers
            notifications = self._read(max_records)
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

    def _read(self, max_records: int) -> list[Any]:
        return list(read_log(self.app, self.position, max_records, page=max_records))

    def rewind(self, batch: list[Message]) -> None:
        """Back to the saved position: what a failed round read is read again."""
        self.position = self.load_position()
        self._read_up_to = self.position

    def close(self) -> None:
        pass

    def owns(self, key: str) -> bool:
        return True  # one process follows the whole log
