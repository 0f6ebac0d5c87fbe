"""Beside eventsourcing's API: the environment of a configured store, reading a
notification log in pages, retrying on optimistic-concurrency conflicts, creating tables
one process at a time, and read-only SQL for the two questions it has no bulk answer to:
which aggregates exist, and where one stored event sits in the notification log."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, Recording

from services.common.settings import Settings

T = TypeVar("T")
PAGE = 500


def store_env(settings: Settings) -> dict[str, str]:
    """eventsourcing environment for the configured store URL (encrypted with the
    configured AES key)."""
    url = urlparse(settings.store_url)
    env = {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": settings.cipher(),
    }
    if url.scheme == "sqlite":
        path = unquote(url.path)
        env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=path,
                   SQLITE_LOCK_TIMEOUT="30")
    else:
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=url.path.lstrip("/") or "hallwatch",
            POSTGRES_HOST=url.hostname or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or "hallwatch"),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            POSTGRES_POOL_SIZE="8",
            POSTGRES_MAX_OVERFLOW="8",
        )
    return env


def read_log(app: Application[Any], after: int, limit: int | None = None,
             topics: Sequence[str] = (), page: int = PAGE, stop: int | None = None
             ) -> Iterator[Notification]:
    """An application's notifications after position ``after``, in log order, read
    ``page`` at a time (at most ``limit`` in all; only ``topics`` if given; none after
    position ``stop`` if given)."""
    left = limit
    while left is None or left > 0:
        size = page if left is None else min(page, left)
        found = app.recorder.select_notifications(after + 1, size, stop=stop, topics=topics)
        yield from found
        if len(found) < size:
            return
        after = found[-1].id
        if left is not None:
            left -= len(found)


def retrying(work: Callable[[], T], attempts: int, step: float,
             between: Callable[[], None] | None = None) -> T:
    """Optimistic concurrency: while another writer got there first (IntegrityError), wait
    a short random while, call ``between`` (e.g. to refresh an index), and run ``work``
    again from the newer state. ``work`` must reload what it changes."""
    for attempt in range(attempts):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, step * (attempt + 1)))
            if between is not None:
                between()
    raise AssertionError("unreachable")


# One advisory-lock key for "creating hallwatch tables" in a PostgreSQL database.
SCHEMA_LOCK = 0x68616C6C  # "hall"


@contextmanager
def schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while creating tables.

    eventsourcing creates its tables (``CREATE TABLE IF NOT EXISTS``, indexes, a tracking
    table migration) when a recorder is made; two processes doing that at once on one
    database can fail with ``tuple concurrently updated``. Under this lock every process
    creates (or finds) the tables in turn. SQLite needs nothing: it locks the file.
    """
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    with psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                         dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                         password=env.get("POSTGRES_PASSWORD", ""),
                         autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def _is_sqlite(app: Application[Any]) -> bool:
    return app.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"


def _query(app: Application[Any], sql: str, params: list[Any]) -> list[Any]:
    recorder: Any = app.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(sql.format(t=recorder.events_table_name), params)
        return list(cursor.fetchall())


def existing(app: Application[Any], ids: Iterable[UUID]) -> set[UUID]:
    """Which of ``ids`` have any stored event: one query instead of one per id."""
    wanted = list(set(ids))
    if not wanted:
        return set()
    if _is_sqlite(app):
        marks = ",".join("?" * len(wanted))
        rows = _query(app, "SELECT DISTINCT originator_id AS id FROM {t} "
                      f"WHERE originator_id IN ({marks})", [i.hex for i in wanted])
        return {UUID(r["id"]) for r in rows}
    rows = _query(app, "SELECT DISTINCT originator_id AS id FROM {t} "
                  "WHERE originator_id = ANY(%s)", [wanted])
    return {UUID(str(r["id"])) for r in rows}


def position_of(app: Application[Any], originator_id: UUID, version: int) -> int:
    """The notification id (store position) of one stored event."""
    if _is_sqlite(app):
        sql = "SELECT rowid AS position FROM {t} WHERE originator_id=? AND originator_version=?"
        params: list[Any] = [originator_id.hex, version]
    else:
        sql = "SELECT notification_id AS position FROM {t} " \
              "WHERE originator_id=%s AND originator_version=%s"
        params = [originator_id, version]
    return int(_query(app, sql, params)[0]["position"])


def collect(processing: ProcessingEvent[Any], *objs: Any) -> None:
    """``ProcessingEvent.collect_events``, without the library's first question of each
    object — "an event or an aggregate?" — asked with typing's runtime-protocol
    ``isinstance``, slow on every save (~6% of supervision's time). An aggregate gives its
    pending events; anything else is collected as the library collects it."""
    for obj in objs:
        if isinstance(obj, Aggregate):
            processing.events.extend(obj.collect_events())
            processing.aggregates[obj.id] = obj
        elif obj is not None:
            processing.collect_events(obj)


def save(app: Application[Any], objs: Sequence[Any], kwargs: Mapping[str, Any]
         ) -> list[Recording[Any]]:
    """What ``Application.save`` does (record, snapshot, notify), collecting with
    :func:`collect`."""
    processing: ProcessingEvent[Any] = ProcessingEvent()
    collect(processing, *objs)
    processing.saved_kwargs.update(kwargs)
    recordings = app._record(processing)
    app._take_snapshots(processing)
    app._notify(recordings)
    app.notify(processing.events)  # the library's deprecated hook, as it calls it
    return recordings
