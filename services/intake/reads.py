"""The record of auditors' clear reads: who read which case's personal data, when and
why. Kept in the event store's database (a table of its own), shown to the bureau."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from services.common import storage

TABLE = "hallwatch_audit_reads"


class ReadLog:
    def __init__(self, app: Application[Any]) -> None:
        recorder: Any = app.recorder
        self.recorder = recorder
        self.sqlite = app.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.sqlite else \
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        # Under the schema lock, as every table is created (services/common/storage.py).
        with storage.schema_lock(app.env), \
                self.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id {serial}, "
                           "principal TEXT NOT NULL, case_no TEXT NOT NULL, "
                           "reason TEXT NOT NULL, what TEXT NOT NULL, read_at TEXT NOT NULL)")

    def record(self, principal: str, case_no: str, reason: str, what: str,
               at: datetime) -> None:
        """Recorded before the data is answered: no clear read goes unrecorded."""
        mark = "?" if self.sqlite else "%s"
        with self.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (principal, case_no, reason, what, read_at) "
                           f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
                           [principal, case_no, reason, what, at.isoformat()])

    def page(self, case_no: str | None, after: int, limit: int) -> list[dict[str, Any]]:
        """Reads in the order recorded, after id ``after``; of one case if given."""
        mark = "?" if self.sqlite else "%s"
        where, params = f"id > {mark}", [after]
        if case_no is not None:
            where += f" AND case_no = {mark}"
            params.append(case_no)  # type: ignore[arg-type]
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT id, principal, case_no, reason, what, read_at FROM {TABLE} "
                           f"WHERE {where} ORDER BY id LIMIT {int(limit)}", params)
            return [dict(r) for r in cursor.fetchall()]
