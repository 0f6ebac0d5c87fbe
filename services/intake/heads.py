"""Publishing the log chain's head outside the event store: into ClickHouse
(``hallwatch.chain_heads``) and, with Kafka, onto the chain topic beside the hall events.

A published head is a checkpoint nobody with only database access can take back: the
verifier reads them from ClickHouse, so a log cut below one, or rewritten under one, fails.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from hallwatch.chain import Sealed
from services.common.clickhouse import DATABASE
from services.common.workers import Worker
from services.intake.logchain import LogChain

HEADS = f"{DATABASE}.chain_heads"


def ensure_table(client: Any) -> None:
    client.command(f"CREATE TABLE IF NOT EXISTS {HEADS} (position UInt64, link String, "
                   "published_at DateTime64(3, 'Asia/Shanghai')) "
                   "ENGINE = ReplacingMergeTree ORDER BY position")


def published(client: Any) -> list[Sealed]:
    """Every head ever published, in log order."""
    ensure_table(client)
    rows = client.query(f"SELECT position, any(link) FROM {HEADS} GROUP BY position "
                        "ORDER BY position").result_rows
    return [Sealed(int(position), str(link)) for position, link in rows]


def ensure_topic(bootstrap: str, topic: str) -> None:
    """The chain topic (one partition: heads in order), made if missing; brokers usually
    refuse to create topics on first use."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass  # another process made it meanwhile
    finally:
        admin.close()


class HeadPublisher:
    """Seals the log and publishes its head whenever it moved."""

    def __init__(self, log_chain: LogChain, client: Any, clock: Any,
                 kafka: Any = None, topic: str = "") -> None:
        self.log_chain = log_chain
        self.client = client
        self.clock = clock
        self.kafka = kafka
        self.topic = topic
        self.last: Sealed | None = None
        if client is not None:
            ensure_table(client)

    def run_once(self) -> int:
        head = self.log_chain.seal()
        if head is None or head == self.last:
            return 0
        at: datetime = self.clock()
        if self.kafka is not None:
            value = {"position": head.position, "link": head.link, "published_at": at.isoformat()}
            self.kafka.send(self.topic, key="chain", value=value).get(timeout=30)
        if self.client is not None:
            self.client.insert(HEADS, [[head.position, head.link, at]],
                               column_names=["position", "link", "published_at"])
        self.last = head
        return 1

    def start(self, stop: threading.Event, idle_seconds: float = 1.0,
              written: Any = None, linger: float = 5.0) -> threading.Thread:
        """``written``: the store's write signal, when every writer is in this process
        (embedded): a quiet worker then sleeps until a write, or ``linger`` seconds."""
        if written is None:
            return Worker("chain-heads", self.run_once, stop, idle_seconds).start()

        def step() -> int:
            mark = written.seen()
            if self.run_once():
                return 1
            if not stop.is_set():
                written.wait(mark, linger)
            return 1  # it has waited already; the worker's idle time only paces failures

        return Worker("chain-heads", step, stop, idle_seconds).start()
