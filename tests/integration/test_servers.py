"""The test-server harness starts real PostgreSQL and Kafka servers that work.

These tests start their own servers (module scope) rather than using the
session fixtures from conftest.py, so they also prove that start-up and
shutdown work from scratch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from tests.servers import Kafka, Postgres

pytestmark = pytest.mark.slow

MESSAGE_COUNT = 20
CONSUME_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def harness_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with Postgres(tmp_path_factory.mktemp("harness-postgres")) as server:
        yield server


@pytest.fixture(scope="module")
def harness_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kafka]:
    with Kafka(tmp_path_factory.mktemp("harness-kafka")) as server:
        yield server


def test_postgres_accepts_sql(harness_postgres: Postgres) -> None:
    assert harness_postgres.dsn == (
        f"postgresql://hallwatch@127.0.0.1:{harness_postgres.port}/hallwatch"
    )
    with psycopg.connect(harness_postgres.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.execute("CREATE TABLE doors (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute(
            "INSERT INTO doors VALUES (%s, %s), (%s, %s)", (1, "north hall", 2, "south hall")
        )
        conn.commit()
    with psycopg.connect(harness_postgres.dsn) as conn:
        rows = conn.execute("SELECT id, name FROM doors ORDER BY id").fetchall()
    assert rows == [(1, "north hall"), (2, "south hall")]


def test_postgres_creates_isolated_databases(harness_postgres: Postgres) -> None:
    dsn = harness_postgres.create_database("isolated_one")
    assert dsn.endswith("/isolated_one")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("isolated_one",)
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'doors'"
        ).fetchone() == (0,)


def test_kafka_round_trips_a_keyed_message_in_order(harness_kafka: Kafka) -> None:
    topic = f"harness-{uuid.uuid4().hex[:8]}"
    harness_kafka.create_topic(topic, partitions=3)
    harness_kafka.create_topic(topic, partitions=3)  # idempotent

    sent = [f"event-{i:02d}".encode() for i in range(MESSAGE_COUNT)]
    producer = KafkaProducer(bootstrap_servers=harness_kafka.bootstrap, acks="all")
    try:
        futures = [producer.send(topic, key=b"door-7", value=value) for value in sent]
        producer.flush()
        written = [future.get(timeout=10) for future in futures]
    finally:
        producer.close()
    assert len({record.partition for record in written}) == 1

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=harness_kafka.bootstrap,
        group_id=f"{topic}-reader",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while len(received) < MESSAGE_COUNT and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(records)
    finally:
        consumer.close()

    assert [message.value for message in received] == sent
    assert {message.key for message in received} == {b"door-7"}
    assert {message.partition for message in received} == {written[0].partition}
    offsets = [message.offset for message in received]
    assert offsets == sorted(offsets)
