"""Fixtures for end-to-end tests: hallwatch services as separate OS processes."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from tests.conftest import KEYS
from tests.e2e.procs import Service, free_port

NOW = "fixed:2026-10-12T10:00:00+08:00"


@pytest.fixture
def embedded(tmp_path):
    """``hallwatch serve`` with only keys and a fixed clock configured."""
    serve = Service("serve", {"HALLWATCH_DATA_DIR": str(tmp_path / "var"),
                              "HALLWATCH_KEYS": KEYS, "HALLWATCH_CLOCK": NOW},
                    tmp_path, free_port()).start()
    yield serve
    serve.stop()


@pytest.fixture
def production(tmp_path, postgres, kafka):
    """Environment for separate intake / relay / projections processes."""
    topic = f"hall.events.{uuid.uuid4().hex[:8]}"
    alerts = f"supervision.alerts.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions=3)
    kafka.create_topic(alerts, partitions=3)
    env = {
        "HALLWATCH_EVENT_STORE": postgres.create_database(f"e2e_{uuid.uuid4().hex[:8]}"),
        "HALLWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "HALLWATCH_HALL_TOPIC": topic,
        "HALLWATCH_ALERTS_TOPIC": alerts,
        "HALLWATCH_CONSUMER_GROUP": f"e2e-{uuid.uuid4().hex[:6]}",
        "HALLWATCH_CLICKHOUSE": f"chdb:///{tmp_path / 'chdb-a'}",
        "HALLWATCH_CIPHER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "HALLWATCH_CHAIN_KEY": base64.b64encode(os.urandom(32)).decode(),
        "HALLWATCH_DATA_DIR": str(tmp_path / "var"),
        "HALLWATCH_KEYS": KEYS,
        "HALLWATCH_CLOCK": NOW,
        "HALLWATCH_INSTANCE_ID": "e2e-1",
    }
    started: list[Service] = []

    def start(command: str, log_name: str = "", **overrides: str) -> Service:
        port = free_port() if command in ("intake", "projections", "supervision") else None
        log_dir = tmp_path / (log_name or command)
        log_dir.mkdir(exist_ok=True)
        service = Service(command, {**env, **overrides}, log_dir, port).start()
        started.append(service)
        return service

    yield env, start
    for service in started:
        service.stop()


