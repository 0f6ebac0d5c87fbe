"""The hall event store: an eventsourcing application over SQLite or PostgreSQL.

Every accepted hall event is saved atomically with its idempotency receipt. Stored
events are encrypted with the configured AES key (applicants' personal data is in them).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ApplicationRecorder, JSONTranscoder

from hallwatch import stored
from hallwatch.calendar import CHINA_TZ, WorkCalendar, YearRules
from hallwatch.case import GENESIS, Case, case_id, link, recomputed_content
from hallwatch.catalogue import OPENING_TYPES, Fact, masked
from hallwatch.errors import (
    DomainError,
    Forbidden,
    IdempotencyConflict,
    ImpossibleSequence,
    InvalidEvent,
    NotFound,
)
from hallwatch.hall import HallStream, Receipt, stream_id, stream_key
from hallwatch.office_hours import Seasons
from services.common import calendars, metrics, storage
from services.common.settings import Settings, parse_case_prefixes
from services.common.sources import Signal
from services.common.storage import store_env
from services.intake.groups import GroupCommitter
from services.intake.logchain import LogChain
from services.intake.reads import ReadLog

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_ATTEMPTS = 30
RETRY_STEP = 0.005  # seconds; the random wait grows by this much each attempt
CHUNK = 500  # events judged together and saved in one transaction
# At most this many single events share one transaction: a group's answers wait for its
# slowest event, so a bound keeps the wait short while the commit is still amortised.
GROUP_LIMIT = 256
CALENDAR_REFRESH_SECONDS = 5.0
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between a hall's system and ours


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
    # A long-lived case (many notices, suspensions, ratings) loads from its latest
    # snapshot instead of replaying every event; snapshots are encrypted like events.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Case: 50}

    def __init__(self, settings: Settings, clock: Clock) -> None:
        if settings.store_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Wakes the log followers of this process (embedded supervision, projections)
        # after each commit, so they block instead of polling.
        self.written = Signal()
        super().__init__(env=store_env(settings))
        self.clock = clock
        self.case_prefixes = parse_case_prefixes(settings.case_prefixes)
        # The hash chains' key: its own secret, never the cipher key (SECURITY.md).
        self.chain_key = settings.chain_secret()
        self.log_chain = LogChain(self, self.chain_key)
        self.reads = ReadLog(self)  # auditors' clear reads (services/intake/reads.py)
        summer, winter = settings.season_starts()
        self.seasons = Seasons(summer, winter)
        self.calendar = WorkCalendar()
        self._calendar_seen = 0
        self._calendar_checked = 0.0
        self._load_calendar_years()
        self.groups: GroupCommitter[Recorded] = GroupCommitter(self.record_each, GROUP_LIMIT)

    def close(self) -> None:
        """Commit the single events already waiting, then close the store."""
        self.groups.close()
        super().close()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """As the library saves (``storage.save``); then wakes this process's followers
        of the log."""
        recordings = storage.save(self, objs, kwargs)
        self.written.notify()
        return recordings

    def construct_recorder(self) -> ApplicationRecorder:
        with storage.schema_lock(self.env):  # other processes may create tables now
            return super().construct_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        stored.register(transcoder)  # case summaries are stored as typed values

    # -- writing -----------------------------------------------------------------

    def record(self, envelope: dict[str, Any], caller_hall: str | None) -> Recorded:
        """Store one schema-valid CloudEvent; idempotent on (hall, id). Committed with
        whatever other single events are waiting (see :meth:`submit`); returns once the
        transaction holding this event has committed."""
        return self.submit(envelope, caller_hall).result()

    def submit(self, envelope: dict[str, Any], caller_hall: str | None
               ) -> Future[Recorded]:
        """Queue one schema-valid CloudEvent for the next group commit
        (services/intake/groups.py): the future holds its Recorded, or the DomainError
        that refused it, once the transaction holding it has committed."""
        return self.groups.submit(envelope, caller_hall)

    def record_batch(self, envelopes: list[dict[str, Any]], caller_hall: str | None
                     ) -> list[Recorded | Exception]:
        """Store schema-valid CloudEvents in order; one result per event.

        A refused event (a DomainError) stores nothing and does not stop the others.
        Events are saved in chunks, each chunk in one transaction, so a crash never leaves
        an event without its receipt or a stream half-written. A chunk that fails for any
        other reason is tried again event by event, so each event's result says exactly
        whether it is stored (any other Exception: not stored).
        """
        return self.record_each([(envelope, caller_hall) for envelope in envelopes])

    def record_each(self, items: Sequence[tuple[dict[str, Any], str | None]]
                    ) -> list[Recorded | Exception]:
        """As :meth:`record_batch`, each event with the hall its sender's key writes for
        (a group commit holds events from many callers)."""
        self.refresh_calendar()
        results: list[Recorded | Exception] = []
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            try:
                results.extend(self._record_chunk(chunk))
            except Exception:
                log.exception("a chunk of %d events failed; storing them one by one",
                              len(chunk))
                for item in chunk:
                    try:
                        results.extend(self._record_chunk([item]))
                    except Exception as error:
                        results.append(error)
        return results

    def _record_chunk(self, items: Sequence[tuple[dict[str, Any], str | None]]
                      ) -> list[Recorded | Exception]:
        # A concurrent writer may extend one of these streams (or store the same receipt)
        # first: then the whole chunk is reloaded and judged again.
        return storage.retrying(functools.partial(self._judge_and_save, items),
                                MAX_ATTEMPTS, RETRY_STEP)

    def _judge_and_save(self, items: Sequence[tuple[dict[str, Any], str | None]]
                        ) -> list[Recorded | Exception]:
        streams: dict[UUID, Case | HallStream] = {}
        receipts: dict[UUID, Receipt] = {}
        parsed: list[Fact | DomainError] = []
        for envelope, caller_hall in items:
            try:
                parsed.append(Fact.from_envelope(envelope, caller_hall))
            except DomainError as refusal:
                parsed.append(refusal)
        # Per call, never on self: requests run concurrently on the web server's threads.
        known = storage.existing(self, self._candidate_ids(parsed))
        outcomes: list[Recorded | DomainError | tuple[Fact, Receipt, bool]] = []
        for fact in parsed:
            if isinstance(fact, DomainError):
                outcomes.append(fact)
                continue
            try:
                if fact.time > self.clock() + FUTURE_TOLERANCE:
                    raise InvalidEvent("the event claims to have happened in the future", "time")
                receipt_id = Receipt.create_id(fact.hall_id, fact.id)
                receipt = receipts.get(receipt_id) or self._stored_receipt(receipt_id, known)
                if receipt is not None:
                    if receipt.digest != fact.digest:
                        raise IdempotencyConflict(
                            f"event id {fact.id!r} was already used with different content",
                            "id")
                    outcomes.append((fact, receipt, False))
                    continue
                stream = self._apply(fact, streams, known)
                receipt = Receipt(hall_id=fact.hall_id, event_id=fact.id, digest=fact.digest,
                                  stream=str(stream.id), sequence=stream.version)
                receipts[receipt_id] = receipt
                outcomes.append((fact, receipt, True))
            except DomainError as refusal:
                outcomes.append(refusal)
        recordings = self.save(*streams.values(), *receipts.values()) if receipts else []
        if recordings:
            self.log_chain.seal()  # link the new events at once (see hallwatch.chain)
        positions = {(r.domain_event.originator_id, r.domain_event.originator_version):
                     r.notification.id for r in recordings}
        results: list[Recorded | Exception] = []
        for outcome in outcomes:
            if not isinstance(outcome, tuple):
                results.append(outcome)
                continue
            fact, receipt, created = outcome
            key = (UUID(receipt.stream), receipt.sequence)
            position = positions.get(key) or self.position_of(*key)
            results.append(Recorded(created, fact.id, fact.subject, receipt.sequence, position))
        return results

    @staticmethod
    def _candidate_ids(facts: Sequence[Fact | DomainError]) -> list[UUID]:
        """The receipts and streams a chunk may touch (refused events touch none)."""
        ids = []
        for fact in facts:
            if isinstance(fact, DomainError):
                continue
            ids.append(Receipt.create_id(fact.hall_id, fact.id))
            ids.append(case_id(fact.subject) if fact.is_case_event
                       else stream_id(stream_key(fact)))
        return ids

    def _stored_receipt(self, receipt_id: UUID, known: set[UUID]) -> Receipt | None:
        if receipt_id not in known:
            return None  # one query per chunk told us it was never stored
        try:
            receipt: Receipt = self.repository.get(receipt_id)
        except AggregateNotFoundError:
            return None
        return receipt

    def _apply(self, fact: Fact, streams: dict[UUID, Case | HallStream], known: set[UUID]
               ) -> Case | HallStream:
        """Apply ``fact`` to its stream (loaded once per chunk); raises if refused."""
        key = case_id(fact.subject) if fact.is_case_event else stream_id(stream_key(fact))
        stream = streams.get(key)
        if stream is None:
            try:
                if key not in known:
                    raise AggregateNotFoundError(key)
                stream = self.repository.get(key)
            except AggregateNotFoundError:
                stream = self._open(fact)
                streams[key] = stream
                return stream
        if isinstance(stream, Case):
            self._catch_up_calendar(stream)
            stream.record(fact, self.calendar, self.seasons, self.chain_key, self.clock())
        else:
            stream.record(fact, self.clock())
        streams[key] = stream
        return stream

    def _open(self, fact: Fact) -> Case | HallStream:
        if not fact.is_case_event:
            return HallStream.open(fact, self.clock())
        allowed = self.case_prefixes.get(fact.hall_id)
        if allowed and not fact.subject.startswith(allowed):
            raise Forbidden(f"this hall's case numbers start with {' or '.join(allowed)}",
                            "subject")
        if fact.type not in OPENING_TYPES:
            raise ImpossibleSequence(
                f"case {fact.subject} is unknown; {fact.type} needs an earlier "
                "case.accepted, case.tolerance_accepted or case.notice_issued", "subject")
        return Case.open(fact, self.calendar, self.seasons, self.chain_key, self.clock())

    # -- calendar ----------------------------------------------------------------

    def load_calendar_year(self, rules: YearRules, loaded_by: str) -> list[str]:
        """Record an official year and recompute every provisional deadline touching it.

        Returns the case numbers whose deadline was recomputed (each a new event).
        """
        self._load_calendar_years()
        # A reload corrects an official year: every deadline touching it is recomputed,
        # not only the provisional ones.
        reload = not self.calendar.year(rules.year).provisional
        calendars.record_year(self, rules, loaded_by, self.clock().isoformat())
        self.calendar = self.calendar.with_year(rules)
        recomputed: list[str] = []
        for case_uuid in self._opened_case_ids():
            # Retried when a hall writes to the case meanwhile.
            case_no = storage.retrying(
                functools.partial(self._recompute, case_uuid, rules, reload),
                MAX_ATTEMPTS, RETRY_STEP)
            if case_no is not None:
                recomputed.append(case_no)
        return recomputed

    def _recompute(self, case_uuid: UUID, rules: YearRules, reload: bool) -> str | None:
        """Recompute one case if it needs it; its case number if it did."""
        case: Case = self.repository.get(case_uuid)
        if not case.needs_recompute(rules.year, reload):
            return None
        case.recompute_deadline(self.calendar, rules.version, self.clock(), self.chain_key)
        self.save(case)
        self.log_chain.seal()
        return case.case_no

    def _load_calendar_years(self) -> None:
        """Apply every year loaded since we last looked (by this or another process)."""
        self.calendar, self._calendar_seen = calendars.follow_years(
            self, self.calendar, self._calendar_seen)
        self._calendar_checked = monotonic()
        metrics.calendar_years(self.calendar, self.clock().date())

    def _catch_up_calendar(self, case: Case) -> None:
        """Never judge a case under an older calendar than its deadline was computed with
        (another process may have loaded a year since our last refresh)."""
        for version in case.calendar_versions():
            year = int(version.split(":", 1)[0])
            if self.calendar.year(year).version != version and ":estimated:" not in version:
                self._load_calendar_years()
                return

    def refresh_calendar(self) -> None:
        if monotonic() - self._calendar_checked > CALENDAR_REFRESH_SECONDS:
            self._load_calendar_years()

    def _opened_case_ids(self) -> Iterator[UUID]:
        """Every case ever opened (callers load them one at a time and filter)."""
        topics = [f"{Case.__module__}:{Case.__qualname__}.Opened"]
        for notification in storage.read_log(self, 0, topics=topics, page=1000):
            yield UUID(str(notification.originator_id))

    # -- reading -----------------------------------------------------------------

    def case(self, case_no: str, as_of_version: int | None = None) -> Case:
        try:
            return self.repository.get(case_id(case_no), version=as_of_version)
        except AggregateNotFoundError:
            raise NotFound(f"case {case_no} is unknown", "case_no") from None

    def history(self, case_no: str, as_of: datetime | None, unmasked: bool) -> dict[str, Any]:
        """A case's events as recorded up to ``as_of``, with its hash chain re-verified.

        Each event's link is recomputed from its stored content and compared with the
        link recorded at the time; ``verified`` is false from the first mismatch on.
        """
        case_uuid = case_id(case_no)
        stored = self.recorder.select_events(case_uuid)
        if not stored:
            raise NotFound(f"case {case_no} is unknown", "case_no")
        previous, broken_at, events, summary = GENESIS, None, [], None
        reason = None
        for record in stored:
            try:
                event: Any = self.mapper.to_domain_event(record)
                recorded = datetime.fromisoformat(event.recorded_at)
            except Exception:  # a row nobody can decrypt or decode was tampered with
                broken_at = broken_at or record.originator_version
                reason = reason or "the stored event cannot be decrypted or decoded"
                break
            if as_of is not None and recorded > as_of:
                break
            if hasattr(event, "fact"):
                content = event.fact
                shown = {"fact": content if unmasked else masked(content)}
            else:
                content = recomputed_content(event.summary, event.calendar_year)
                shown = {"recomputed": content}
            expected = link(previous, content, self.chain_key)
            if broken_at is None and expected != event.chain:
                broken_at = event.originator_version
                reason = "the event differs from the one linked"
            previous = event.chain
            summary = event.summary
            events.append({
                "sequence": event.originator_version,
                "position": self.position_of(case_uuid, event.originator_version),
                "recorded_at": recorded.astimezone(CHINA_TZ).isoformat(),
                "topic": record.topic.rsplit(".", 1)[-1],
                "chain": event.chain,
                **shown,
            })
        if not events and broken_at is None:
            raise NotFound(f"case {case_no} had no events recorded by {as_of}", "as_of")
        in_log = self.log_chain.verify_stream(case_uuid)  # finds a deleted last event too
        if broken_at is None and in_log is not None:
            broken_at = self._sequence_at(in_log.position, case_uuid)
            reason = in_log.reason
        metrics.chain_verified(broken_at is None)
        return {"case_no": case_no, "as_of": as_of.isoformat() if as_of else None,
                "events": events, "summary": summary.as_dict() if summary else None,
                "chain_head": previous,
                "verified": broken_at is None, "broken_at_sequence": broken_at,
                "broken_reason": reason}

    def _sequence_at(self, position: int, case_uuid: UUID) -> int:
        """The case's event number linked at log ``position``."""
        for sealed in self.log_chain.stream_marks(case_uuid):
            if sealed[0] == position:
                return sealed[1]
        return 0

    def position_of(self, originator_id: UUID, version: int) -> int:
        return storage.position_of(self, originator_id, version)
