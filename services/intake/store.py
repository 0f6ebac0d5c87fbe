"""The hall event store: an eventsourcing application over SQLite or PostgreSQL.

Every accepted hall event is saved atomically with its idempotency receipt. Stored
events are encrypted with the configured AES key (applicants' personal data is in them).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Notification, TrackingRecorder

from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.case import Case, case_id
from hallwatch.catalogue import OPENING_TYPES, Fact
from hallwatch.errors import IdempotencyConflict, ImpossibleSequence, NotFound
from hallwatch.hall import CalendarYear, HallStream, Receipt, stream_id, stream_key
from hallwatch.office_hours import Seasons
from services.common.settings import Settings

Clock = Callable[[], datetime]
MAX_ATTEMPTS = 30


def store_env(settings: Settings) -> dict[str, str]:
    """eventsourcing environment for the configured store URL."""
    url = urlparse(settings.store_url)
    env = {
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": settings.cipher(),
        "IS_SNAPSHOTTING_ENABLED": "n",
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


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording one hall event (the HTTP body of 201 and 200)."""

    created: bool
    id: str
    subject: str
    sequence: int
    position: int

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "sequence": self.sequence,
                "position": self.position}


class HallStore(Application[UUID]):
    """Records hall events; the notification log is the ordered source for Kafka."""

    name = "HallStore"

    def __init__(self, settings: Settings, clock: Clock) -> None:
        if settings.store_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(env=store_env(settings))
        self.clock = clock
        summer, winter = settings.season_starts()
        self.seasons = Seasons(summer, winter)
        self.calendar = WorkCalendar()
        self._load_calendar_years()

    # -- writing -----------------------------------------------------------------

    def record(self, envelope: dict[str, Any], caller_hall: str | None) -> Recorded:
        """Store one schema-valid CloudEvent; idempotent on (hall, id)."""
        fact = Fact.from_envelope(envelope, caller_hall)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._record_once(fact)
            except IntegrityError:
                # A concurrent writer took the same version (or the same receipt): wait a
                # little, reload and judge again against the newer history.
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")

    def _record_once(self, fact: Fact) -> Recorded:
        receipt_id = Receipt.create_id(fact.hall_id, fact.id)
        try:
            receipt: Receipt = self.repository.get(receipt_id)
        except AggregateNotFoundError:
            pass
        else:
            if receipt.digest != fact.digest:
                raise IdempotencyConflict(
                    f"event id {fact.id!r} was already used with different content", "id")
            return Recorded(False, fact.id, fact.subject, receipt.sequence,
                            self.position_of(UUID(receipt.stream), receipt.sequence))
        aggregate = self._apply(fact)
        receipt = Receipt(hall_id=fact.hall_id, event_id=fact.id, digest=fact.digest,
                          stream=str(aggregate.id), sequence=aggregate.version)
        recordings = self.save(aggregate, receipt)
        position = next(r.notification.id for r in recordings
                        if r.domain_event.originator_id == aggregate.id)
        return Recorded(True, fact.id, fact.subject, aggregate.version, position)

    def _apply(self, fact: Fact) -> Case | HallStream:
        if fact.is_case_event:
            try:
                case: Case = self.repository.get(case_id(fact.subject))
            except AggregateNotFoundError:
                if fact.type not in OPENING_TYPES:
                    raise ImpossibleSequence(
                        f"case {fact.subject} is unknown; {fact.type} needs an earlier "
                        "case.accepted, case.tolerance_accepted or case.notice_issued",
                        "subject") from None
                return Case.open(fact, self.calendar, self.seasons)
            case.record(fact, self.calendar, self.seasons)
            return case
        try:
            stream: HallStream = self.repository.get(stream_id(stream_key(fact)))
        except AggregateNotFoundError:
            return HallStream.open(fact)
        stream.record(fact)
        return stream

    # -- calendar ----------------------------------------------------------------

    def load_calendar_year(self, rules: YearRules, loaded_by: str) -> list[str]:
        """Record an official year and recompute every provisional deadline touching it.

        Returns the case numbers whose deadline was recomputed (each a new event).
        """
        now = self.clock().isoformat()
        try:
            year: CalendarYear = self.repository.get(CalendarYear.create_id(rules.year))
            year.reload(rules=rules.as_dict(), calendar_version=rules.version,
                        loaded_by=loaded_by, loaded_at=now)
        except AggregateNotFoundError:
            year = CalendarYear(year=rules.year, rules=rules.as_dict(),
                                calendar_version=rules.version, loaded_by=loaded_by,
                                loaded_at=now)
        self.save(year)
        self.calendar = self.calendar.with_year(rules)
        recomputed = []
        for case in self._open_cases():
            if case.needs_recompute(rules.year):
                case.recompute_deadline(self.calendar, rules.version, self.clock())
                self.save(case)
                recomputed.append(case.case_no)
        return recomputed

    def _load_calendar_years(self) -> None:
        for notification in self._notifications_of(CalendarYear):
            event = self.mapper.to_domain_event(notification)
            rules = YearRules.from_dict(event.rules)  # type: ignore[attr-defined]
            self.calendar = self.calendar.with_year(rules)

    def _open_cases(self) -> list[Case]:
        ids = {self.mapper.to_domain_event(n).originator_id
               for n in self._notifications_of(Case, opened_only=True)}
        return [self.repository.get(i) for i in ids]

    def _notifications_of(self, cls: type, opened_only: bool = False) -> list[Notification]:
        prefix = f"{cls.__module__}:{cls.__qualname__}."
        topics = [prefix + "Opened"] if opened_only else []
        found: list[Notification] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 1000, topics=topics)
            found.extend(n for n in page if n.topic.startswith(prefix))
            if len(page) < 1000:
                return found
            start = page[-1].id + 1

    # -- reading -----------------------------------------------------------------

    def case(self, case_no: str, as_of_version: int | None = None) -> Case:
        try:
            return self.repository.get(case_id(case_no), version=as_of_version)
        except AggregateNotFoundError:
            raise NotFound(f"case {case_no} is unknown", "case_no") from None

    def position_of(self, originator_id: UUID, version: int) -> int:
        """The notification id (store position) of one stored event."""
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if self.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
            sql = f"SELECT rowid AS position FROM {table} WHERE originator_id=? " \
                  "AND originator_version=?"
            params: list[Any] = [originator_id.hex, version]
        else:
            sql = f"SELECT notification_id AS position FROM {table} " \
                  "WHERE originator_id=%s AND originator_version=%s"
            params = [originator_id, version]
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return int(row["position"])

    def tracking(self) -> TrackingRecorder:
        """Where the relay records how far it has published (same database)."""
        return self.factory.tracking_recorder()
