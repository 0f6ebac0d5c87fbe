"""Shared pytest fixtures: real servers started once per test session."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from services.common.settings import Settings
from tests.servers import Kafka, Postgres


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A running PostgreSQL server; ``postgres.dsn`` is the ``hallwatch`` database."""
    with Postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kafka]:
    """A running single-node Kafka broker; ``kafka.bootstrap`` is its address."""
    with Kafka(tmp_path_factory.mktemp("kafka")) as server:
        yield server


# -- hallwatch fixtures ----------------------------------------------------------------

HALL_KEY = "hall-h1-secret-000001"
HALL2_KEY = "hall-h2-secret-000002"
BUREAU_KEY = "bureau-secret-0000001"
AUDITOR_KEY = "auditor-secret-000001"
KEYS = (f"hall:H1:{HALL_KEY},hall:H2:{HALL2_KEY},bureau:bureau:{BUREAU_KEY},"
        f"auditor:audit:{AUDITOR_KEY}")
CHAIN_KEY = "Y2hhaW4ta2V5LWZvci10ZXN0cy0wMDAwMDAwMDAwMDA="  # production keeps it elsewhere
_databases = itertools.count(1)


class FixedClock:
    """The one thing tests fake: time. Starts at a real 2026 moment; tests move it."""

    def __init__(self, now: str = "2026-10-12T10:00:00+08:00") -> None:
        self.now = datetime.fromisoformat(now)

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = datetime.fromisoformat(text)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def embedded_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, keys=KEYS, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded settings (SQLite + chDB) in a fresh directory."""
    return embedded_settings(tmp_path / "var")


@pytest.fixture
def pg_settings(tmp_path: Path, postgres: Postgres) -> Settings:
    """Production-style settings on a fresh PostgreSQL database (ClickHouse via chDB)."""
    dsn = postgres.create_database(f"hw_{next(_databases)}")
    return embedded_settings(tmp_path / "var", event_store=dsn, chain_key=CHAIN_KEY)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/cloudevents+json"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def log_lines():
    """The JSON lines logged through ``services.common.logs`` while the test runs (the
    logging set-up it replaces is restored after)."""
    from services.common import logs

    root, access = logging.getLogger(), logging.getLogger(logs.ACCESS_LOGGER)
    kept = (root.level, list(root.handlers), list(access.handlers), access.propagate)
    stream = io.StringIO()
    handler = logs.configure("INFO", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    access.removeHandler(handler)
    root.setLevel(kept[0])
    for each in kept[1]:
        root.addHandler(each)
    for each in kept[2]:
        access.addHandler(each)
    access.propagate = kept[3]
