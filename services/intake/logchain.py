"""The log chain's storage: one link per stored event, in a table beside the event store
(SQLite or PostgreSQL), written by the sealer moments after the events are saved.

Sealing is serialised by the table's primary key: two sealers that race compute the same
links from the same head, and the loser's insert is ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from hallwatch import chain
from hallwatch.chain import GENESIS, Break, Row, Sealed, Verdict
from services.common import storage

TABLE = "hallwatch_log_chain"
PAGE = 1000


class LogChain:
    """Seals and verifies the notification log of ``app`` with ``key``."""

    def __init__(self, app: Application[Any], key: bytes) -> None:
        self.app = app
        self.key = key
        self.recorder: Any = app.recorder
        self.sqlite = app.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
        self._lock = threading.Lock()
        # Under the schema lock: processes starting together on a fresh PostgreSQL database
        # would otherwise race in CREATE TABLE IF NOT EXISTS (a duplicate pg_type row).
        with storage.schema_lock(app.env), self._cursor(commit=True) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (log_position BIGINT PRIMARY KEY, "
                           "link TEXT NOT NULL, stream TEXT NOT NULL, version BIGINT NOT NULL)")
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_stream ON {TABLE} (stream)")

    def _cursor(self, commit: bool) -> Any:
        return self.recorder.datastore.transaction(commit=commit)

    def _mark(self) -> str:
        return "?" if self.sqlite else "%s"

    # -- reading ------------------------------------------------------------------------

    def head(self) -> Sealed | None:
        with self._cursor(commit=False) as cursor:
            cursor.execute(f"SELECT log_position, link FROM {TABLE} "
                           "ORDER BY log_position DESC LIMIT 1")
            found = cursor.fetchall()
        return Sealed(int(found[0]["log_position"]), str(found[0]["link"])) if found else None

    def sealed(self) -> Iterator[Sealed]:
        after = 0
        while True:
            with self._cursor(commit=False) as cursor:
                cursor.execute(f"SELECT log_position, link FROM {TABLE} WHERE log_position > "
                               f"{self._mark()} ORDER BY log_position LIMIT {PAGE}", [after])
                page = cursor.fetchall()
            for found in page:
                yield Sealed(int(found["log_position"]), str(found["link"]))
            if len(page) < PAGE:
                return
            after = int(page[-1]["log_position"])

    def rows(self, after: int = 0) -> Iterator[Row]:
        """Stored events after position ``after``, raw (as stored, still encrypted)."""
        events = self.recorder.events_table_name
        position = "rowid" if self.sqlite else "notification_id"
        while True:
            with self._cursor(commit=False) as cursor:
                cursor.execute(f"SELECT {position} AS pos, originator_id, "
                               f"originator_version, topic, state FROM {events} "
                               f"WHERE {position} > {self._mark()} ORDER BY {position} "
                               f"LIMIT {PAGE}", [after])
                page = cursor.fetchall()
            for found in page:
                yield self._row(found)
            if len(page) < PAGE:
                return
            after = int(page[-1]["pos"])

    @staticmethod
    def _row(found: Any) -> Row:
        return Row(int(found["pos"]), str(found["originator_id"]).replace("-", ""),
                   int(found["originator_version"]), str(found["topic"]),
                   bytes(found["state"] or b""))

    # -- writing ------------------------------------------------------------------------

    def seal(self) -> Sealed | None:
        """Link every stored event after the sealed head; the new head."""
        with self._lock:
            head = self.head()
            previous = head.link if head else GENESIS
            rows = list(self.rows(head.position if head else 0))
            links = list(chain.seal(self.key, previous, rows))
            if not links:
                return head
            ignore = "OR IGNORE " if self.sqlite else ""
            conflict = "" if self.sqlite else " ON CONFLICT (log_position) DO NOTHING"
            mark = self._mark()
            with self._cursor(commit=True) as cursor:
                cursor.executemany(f"INSERT {ignore}INTO {TABLE} (log_position, link, stream, "
                                   f"version) VALUES ({mark}, {mark}, {mark}, {mark}){conflict}",
                                   [(s.position, s.link, r.stream, r.version)
                                    for s, r in zip(links, rows, strict=True)])
            return links[-1]

    def stream_marks(self, stream: UUID) -> list[tuple[int, int]]:
        """(log position, version) of each linked event of ``stream``."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(f"SELECT log_position, version FROM {TABLE} WHERE stream = "
                           f"{self._mark()} ORDER BY log_position", [stream.hex])
            return [(int(r["log_position"]), int(r["version"])) for r in cursor.fetchall()]

    def proof(self, stream: UUID) -> dict[int, tuple[str, str]]:
        """position -> (previous link, link) for each linked event of ``stream``."""
        mark, out = self._mark(), {}
        with self._cursor(commit=False) as cursor:
            for at, _ in self.stream_marks(stream):
                cursor.execute(f"SELECT log_position, link FROM {TABLE} WHERE log_position <= "
                               f"{mark} ORDER BY log_position DESC LIMIT 2", [at])
                found = cursor.fetchall()
                previous = str(found[1]["link"]) if len(found) > 1 else GENESIS
                out[at] = (previous, str(found[0]["link"]))
        return out

    def verify_stream(self, stream: UUID) -> Break | None:
        """One stream's (case's) events against their links: the first break, if any.

        Finds an edited, swapped or deleted event of this stream, its last one included,
        as long as its link is still recorded; a deleted link is the whole log's check."""
        mark, events = self._mark(), self.recorder.events_table_name
        position = "rowid" if self.sqlite else "notification_id"
        key = stream.hex if self.sqlite else stream
        with self._cursor(commit=False) as cursor:
            cursor.execute(f"SELECT log_position, link, version FROM {TABLE} WHERE stream = "
                           f"{mark} ORDER BY log_position", [stream.hex])
            marks = cursor.fetchall()
            cursor.execute(f"SELECT {position} AS pos, originator_version FROM {events} "
                           f"WHERE originator_id = {mark} ORDER BY originator_version", [key])
            stored = {int(r["pos"]): int(r["originator_version"]) for r in cursor.fetchall()}
            for found in marks:
                at, version = int(found["log_position"]), int(found["version"])
                cursor.execute(f"SELECT link FROM {TABLE} WHERE log_position < {mark} "
                               "ORDER BY log_position DESC LIMIT 1", [at])
                before = cursor.fetchall()
                cursor.execute(f"SELECT {position} AS pos, originator_id, originator_version, "
                               f"topic, state FROM {events} WHERE {position} = {mark}", [at])
                row = cursor.fetchall()
                if not row:
                    return Break(at, f"event {version} of this case is missing (deleted)")
                got = self._row(row[0])
                previous = str(before[0]["link"]) if before else GENESIS
                if got.stream != stream.hex or got.version != version or \
                        chain.link(self.key, previous, got) != str(found["link"]):
                    return Break(at, f"event {version} of this case differs from the one "
                                     "linked (edited, corrupted or swapped)")
                stored.pop(at, None)
        head = self.head()
        for at in sorted(stored):
            if head is not None and at <= head.position:
                return Break(at, "a stored event of this case that the chain does not link "
                                 "(inserted or moved)")
        return None

    def verify(self, published: list[Sealed] | None = None) -> Verdict:
        """The whole log against its links and the heads ``published`` outside it."""
        return chain.verify(self.key, self.rows(), self.sealed(), published or [])
