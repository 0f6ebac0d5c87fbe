"""Raw limits of this machine, each with nothing of hallwatch on top.

- eventsourcing appends (its application recorder: the notification log included) on
  SQLite and on PostgreSQL, 1 and 100 stored events per transaction, each event's state
  as big as a stored hall event's;
- kafka-python: produce with ``acks=all`` (as the relay does) and consume, messages as
  big as a published hall event;
- chDB: one INSERT of 1,000 and of 10,000 rows of the events view into a plain MergeTree;
- HTTP: the empty FastAPI endpoint (bench/empty_app.py) under uvicorn, 32 clients.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench import web
from bench.common import Raw, chunks, timed


def es_recorder(env: dict[str, str], name: str) -> Any:
    """eventsourcing's application recorder for ``env`` (no cipher: raw appends)."""
    plain = {k: v for k, v in env.items() if not k.startswith("CIPHER")}
    factory = InfrastructureFactory.construct(Environment(name, plain))
    return factory, factory.application_recorder()


def es_append(env: dict[str, str], name: str, events: int, per_transaction: int,
              state_bytes: int) -> float:
    """Stored events a second appended by one writer, ``per_transaction`` at a time."""
    factory, recorder = es_recorder(env, name)
    state = os.urandom(state_bytes)
    batch = [StoredEvent(uuid.uuid4(), 1, "bench.raw:Appended", state) for _ in range(events)]
    try:
        seconds = timed(lambda: [recorder.insert_events(part)
                                 for part in chunks(batch, per_transaction)])
    finally:
        factory.close()
    return events / seconds


def kafka_produce_consume(bootstrap: str, topic: str, messages: int, size: int
                          ) -> tuple[float, float]:
    """Messages a second: produced with acks=all (idempotent, linger 5 ms, as the relay's
    producer), flushed; then consumed from the start by a fresh consumer."""
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=5)
    value = os.urandom(size // 2).hex().encode()[:size]
    producer.send(topic, key=b"warm", value=value).get(timeout=30)  # metadata, connection

    def produce() -> None:
        futures = [producer.send(topic, key=str(n % 997).encode(), value=value)
                   for n in range(messages)]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
    produced = messages / timed(produce)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             max_poll_records=5000)
    seen = 0
    began = time.perf_counter()
    deadline = began + 120
    while seen < messages + 1 and time.perf_counter() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
    consumed = seen / (time.perf_counter() - began)
    consumer.close()
    return produced, consumed


def chdb_insert(client: Any, table: str, like: str, rows: list[Any], columns: list[str]
                ) -> float:
    """Rows a second of one INSERT of ``rows`` into a fresh MergeTree shaped like ``like``."""
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(f"CREATE TABLE {table} AS {like} ENGINE = MergeTree "
                   "ORDER BY (subject, position)")
    return len(rows) / timed(lambda: client.insert(table, rows, column_names=columns))


def http_ceiling(work: Path, clients: int, seconds: float, body: bytes) -> tuple[float, float]:
    """Requests a second and p50 latency (ms) of the empty endpoint, ``clients`` at once."""
    from bench.common import HALL_KEY, median

    headers = {"Authorization": f"Bearer {HALL_KEY}",
               "Content-Type": "application/cloudevents+json"}
    with web.Server("empty endpoint", ["bench/empty_app.py"], {},
                    work / "empty_app.log") as server:
        web.closed_loop(server.url, lambda c, n: ("POST", "/v1/events", body, headers),
                        clients, min(2.0, seconds))  # warm up
        load = web.closed_loop(server.url, lambda c, n: ("POST", "/v1/events", body, headers),
                               clients, seconds)
    return load.ok() / load.seconds, median(load.latencies) * 1000


def best(measure: Any, repeats: int) -> float:
    """The best of ``repeats`` runs (for throughput, noise only ever slows)."""
    return max(measure() for _ in range(repeats))


def raw(key: str, what: str, value: float, unit: str = "events/s", note: str = "") -> Raw:
    return Raw(key, what, value, unit, note)
