"""The supervision index's checkpoint, kept in the supervision store beside its events.

The judge needs, at any moment, each watch's next timer, each open notice's deadline, and
the calendar years and directory it judges by. All of these follow from the supervision
store's own log; replaying that log at start-up costs time in proportion to its whole
history. Instead the index writes what changed, with the log position it reflects, to a
table of due times (``supervision_due``) and that position to ``supervision_due_position``,
in one transaction; start-up reads the table (one row per open timer) and then only the
log after the position.

Correct with several writers (instances on one PostgreSQL database): each row keeps the
position of the event it reflects and is only ever replaced by a later one; a closed timer
is a row with no due time (a tombstone), so a writer that is behind cannot bring it back;
the checkpoint only grows, and whoever wrote it had written every change up to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

TIMER = "timer"  # a watch's next timer (key: the watch's key)
NOTICE = "notice"  # an open notice's deadline
YEAR = "year"  # a calendar year aggregate (no due time: read from the store)
DIRECTORY = "directory"  # the directory aggregate (likewise)
KINDS = (TIMER, NOTICE, YEAR, DIRECTORY)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS supervision_due ("
    " kind TEXT NOT NULL, ident TEXT NOT NULL, due_at TEXT, key TEXT NOT NULL,"
    " position BIGINT NOT NULL, PRIMARY KEY (kind, ident))",
    "CREATE INDEX IF NOT EXISTS supervision_due_open ON supervision_due (due_at)",
    "CREATE TABLE IF NOT EXISTS supervision_due_position ("
    " name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)
_UPSERT = (
    "INSERT INTO supervision_due (kind, ident, due_at, key, position) VALUES ({p},{p},{p},{p},{p}) "
    "ON CONFLICT (kind, ident) DO UPDATE SET due_at = excluded.due_at, key = excluded.key, "
    "position = excluded.position WHERE excluded.position > supervision_due.position")
_CHECKPOINT = (
    "INSERT INTO supervision_due_position (name, position) VALUES ('index', {p}) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position "
    "WHERE excluded.position > supervision_due_position.position")


@dataclass(frozen=True)
class Due:
    """One row: ``at`` is None for a closed timer or notice (and for years and directory,
    which carry no due time)."""

    kind: str
    ident: UUID
    at: datetime | None
    key: str
    position: int


class DueTable:
    """The ``supervision_due`` tables of an application's store (SQLite or PostgreSQL)."""

    def __init__(self, app: Application[Any]) -> None:
        recorder: Any = app.recorder
        self._datastore: Any = recorder.datastore
        sqlite = app.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
        self._mark = "?" if sqlite else "%s"
        with self._datastore.transaction(commit=True) as cursor:
            for statement in _SCHEMA:
                cursor.execute(statement)

    def load(self) -> tuple[int, list[Due]]:
        """The checkpoint position, and every row with a due time or of a year or the
        directory (tombstones are not read: the index on ``due_at`` skips them)."""
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT position FROM supervision_due_position WHERE name = 'index'")
            found = cursor.fetchall()
            position = int(found[0]["position"]) if found else 0
            cursor.execute("SELECT kind, ident, due_at, key, position FROM supervision_due "
                           "WHERE due_at IS NOT NULL")
            rows = [Due(r["kind"], UUID(r["ident"]), datetime.fromisoformat(r["due_at"]),
                        r["key"], int(r["position"])) for r in cursor.fetchall()]
            cursor.execute("SELECT kind, ident, due_at, key, position FROM supervision_due "
                           f"WHERE kind IN ('{YEAR}', '{DIRECTORY}')")
            rows += [Due(r["kind"], UUID(r["ident"]), None, r["key"], int(r["position"]))
                     for r in cursor.fetchall()]
        return position, rows

    def save(self, position: int, changes: list[Due]) -> None:
        """Write ``changes`` (each kept only where newer than the row it replaces) and the
        checkpoint ``position`` they bring the table to, atomically."""
        p = self._mark
        with self._datastore.transaction(commit=True) as cursor:
            if changes:
                cursor.executemany(_UPSERT.format(p=p), [
                    (d.kind, d.ident.hex, d.at.isoformat() if d.at else None, d.key,
                     d.position) for d in changes])
            cursor.execute(_CHECKPOINT.format(p=p), (position,))
