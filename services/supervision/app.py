"""The supervision service's application: judges hall events into alerts, exactly once.

It has the eventsourcing library's process-application shape (an
``EventSourcedProjection``): each batch from one partition (or the embedded log) goes
through :meth:`Supervision.process_event` with the position it reaches, the
:meth:`Supervision.policy` collects the new events on the processing event, and the
library records them in one transaction together with that position (tracking), so a
restart or a redelivery never judges an event twice. Timers live in the watches; the in-memory index
of the next timers is rebuilt by following this store's own notification log, at start-up
and after every write, whoever wrote it (another instance, the bureau's actions).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import (
    JSONTranscoder,
    Notification,
    ProcessRecorder,
    Recording,
    Tracking,
)
from eventsourcing.projection import EventSourcedProjection

from hallwatch import notify, stored
from hallwatch.alert import ALERT_TRANSITIONS, Alert, alert_id
from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.catalogue import parse_time
from hallwatch.directory import DIRECTORY_LOADED, Directory
from hallwatch.errors import NotFound
from hallwatch.published import YEAR_LOADED, HallMessage
from hallwatch.rules import RuleSet, severity
from hallwatch.watch import Judgement, Watch, timers_in, watch_keys
from services.common import calendars, directories, metrics, storage
from services.common.messages import Message
from services.common.metrics import ALERTS
from services.common.settings import Settings
from services.common.sources import Signal
from services.common.storage import store_env
from services.supervision.duetable import DIRECTORY, NOTICE, TIMER, YEAR, Due, DueTable
from services.supervision.timetable import Timetable

Clock = Callable[[], datetime]
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "rules" / "supervision.v1.json"
ATTEMPTS = 20
# Watches fired in one transaction: a due-time storm costs one commit per batch.
FIRE_BATCH = 200
# The index's checkpoint is written at most this often (or once this many rows changed):
# start-up after a crash reads at most about that much of the log.
CHECKPOINT_SECONDS = 2.0
CHECKPOINT_ROWS = 50_000


def load_rules(path: str) -> RuleSet:
    file = Path(path) if path else DEFAULT_RULES
    try:
        return RuleSet.from_dict(json.loads(file.read_text()))
    except (OSError, ValueError) as error:
        raise SystemExit(f"HALLWATCH_RULES_FILE: {file}: {error}") from None


def supervision_env(settings: Settings) -> dict[str, str]:
    """Same database kind as the hall store; SQLite gets a file of its own."""
    env = store_env(settings)
    if urlparse(settings.store_url).scheme == "sqlite":
        env["SQLITE_DBNAME"] = str((settings.data_dir / "supervision.db").resolve())
    return env


def tracking_name(message: Message) -> str:
    return f"{message.topic}:{message.partition}"


class Gap(Exception):
    """A batch skipped messages after the tracked position; nothing of it was judged."""


@dataclass(frozen=True)
class PartitionBatch:
    """What one round judges of one partition: messages not judged yet, in order."""

    name: str
    messages: list[Message]


class Supervision(EventSourcedProjection[UUID]):
    name = "Supervision"
    # A watch is judged on every event of its case: load it from its latest snapshot.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Watch: 50}

    def __init__(self, settings: Settings, clock: Clock, rules: RuleSet) -> None:
        if settings.store_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Wakes the log followers of this process (projections of alerts) after a write.
        self.written = Signal()
        super().__init__(env=supervision_env(settings))
        self.clock = clock
        self.rules = rules
        # Years the bureau loaded come from this store's log (refresh_index), whichever
        # instance recorded them.
        self.calendar = WorkCalendar()
        self.directory: Directory | None = None  # the current one, also from the log
        # The index is read by the judging loop and refreshed by the bureau's actions too.
        self._lock = threading.RLock()
        self._seen = 0
        self._timers = Timetable()  # watch id -> its next timer, with the watch's key
        # Which watches' timers this instance fires: those whose events reach it (with
        # Kafka, the partitions it is assigned); the source sets this. Firing is safe from
        # any instance (optimistic concurrency, alert ids from rule and moment): ownership
        # only keeps instances from doing each other's work.
        self.owns: Callable[[str], bool] = lambda watch_key: True
        # Whether message positions are contiguous (Kafka offsets), so that a batch not
        # starting where tracking stands reveals a gap; the log source's ids are not.
        self.contiguous = False
        self._escalations = Timetable()  # alert id -> its notice deadline
        self.backlog = False  # whether the last fire_due stopped at its bounds
        self._per_watch = 0.005  # seconds firing one watch took lately (sizes batches)
        # The index's checkpoint in this store: start-up reads it and the log after it.
        with storage.schema_lock(self.env):  # other processes may create tables now
            self._due = DueTable(self)
        self._changes: dict[tuple[str, UUID], Due] = {}
        self._checkpoint = 0
        self._flushed = time.monotonic()
        self.checkpoint_seconds = CHECKPOINT_SECONDS
        self.restored = self._restore()
        self.refresh_index()
        self.restored = (self.restored[0], self._seen - self._checkpoint)

    def close(self) -> None:
        """Write the index's checkpoint, then close the store."""
        with self._lock:
            self._flush()
        super().close()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """As the library saves (``storage.save``); then wakes this process's followers
        of the log."""
        recordings = storage.save(self, objs, kwargs)
        self.written.notify()
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """As the library records (every write, judging or acting, comes through here),
        with the outbox: the notifications these alert changes call for are collected
        first, so they are recorded in the same transaction or not at all."""
        if self.directory is not None and self.directory.channels:
            processing_event.collect_events(*notify.outbox(
                [(type(e).__name__, aggregate.view()) for e in processing_event.events
                 if isinstance(aggregate := processing_event.aggregates.get(e.originator_id),
                               Alert)],
                self.directory.channels, self.directory.halls, self.clock()))
        return super()._record(processing_event)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        stored.register(transcoder)  # watch states and judgements are typed values


    def construct_recorder(self) -> ProcessRecorder:
        with storage.schema_lock(self.env):  # other processes may create tables now
            return super().construct_recorder()

    # -- judging the stream ------------------------------------------------------

    def next_position(self, topic: str, partition: int) -> int | None:
        """The next offset to read of a partition, as recorded with the last judgement."""
        return self.recorder.max_tracking_id(f"{topic}:{partition}")

    def handle(self, batch: list[Message]) -> None:
        """Judge a batch; each partition's part is saved with its position, atomically."""
        groups: dict[str, list[Message]] = defaultdict(list)
        for message in batch:
            groups[tracking_name(message)].append(message)
        for name, messages in groups.items():
            self._retrying(functools.partial(self._judge_partition, name, messages))

    def _judge_partition(self, name: str, messages: list[Message]) -> None:
        """Tracking only ever advances contiguously: a batch that does not begin where
        tracking stands is a gap (a failed round the source did not re-read) and raises
        :class:`Gap`, so the round fails and the source rewinds to tracking."""
        tracked = self.recorder.max_tracking_id(name)
        done = tracked or 0
        fresh = [m for m in messages if m.offset + 1 > done]  # judged already: skip
        if not fresh:
            return
        if self.contiguous and tracked is not None and fresh[0].offset != tracked:
            raise Gap(f"{name}: batch starts at {fresh[0].offset}, tracking stands at "
                      f"{tracked}; re-reading from {tracked}")
        # The library records what the policy collected atomically with the position
        # reached, takes the snapshots due, and notifies.
        self.process_event(PartitionBatch(name, fresh),  # type: ignore[arg-type]
                           Tracking(name, fresh[-1].offset + 1))
        self.written.notify()
        self.refresh_index()

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        """Judge a :class:`PartitionBatch`: collect the watches, alerts and calendar years
        it changes on ``processing_event`` (never saving them itself)."""
        fresh: list[Message] = domain_event.messages
        watches: dict[UUID, Watch] = {}
        alerts: dict[UUID, Alert] = {}
        years: list[Any] = []
        known = storage.existing(self, (Watch.create_id(key) for m in fresh
                                        for key in watch_keys(m.hall)))
        for message in fresh:
            if message.hall.type == YEAR_LOADED:
                years.append(self._year_loaded(message.hall, watches, alerts))
                continue
            if message.hall.type == DIRECTORY_LOADED:
                years.append(self._directory_loaded(message.hall))
                continue
            for key in watch_keys(message.hall):
                watch = self._watch(key, watches, known)
                self._apply(watch.observe(message.hall, self.rules, self.calendar,
                                          self.directory, message.partition), watch, alerts)
        storage.collect(processing_event, *years, *watches.values(), *alerts.values())

    def _year_loaded(self, message: HallMessage, watches: dict[UUID, Watch],
                     alerts: dict[UUID, Alert]) -> Any:
        """An official year arrived: record it, and move every working-day timer
        (complaints, ratings, procedures) that the estimate had placed."""
        data = {k: v for k, v in message.data.items() if k != "version"}
        rules = YearRules.from_dict(data)
        year = calendars.year_loaded(self, rules, "bureau", message.time.isoformat())
        self.calendar = self.calendar.with_year(rules)
        with self._lock:
            idents = list(self._timers)
            noticed = list(self._escalations)
        for ident in idents:
            watch = watches.get(ident) or self.repository.get(ident)
            if watch.reschedule(self.calendar, rules.version):
                watches[ident] = watch
        for ident in noticed:
            alert = alerts.get(ident) or self.repository.get(ident)
            if alert.reschedule_notice(self.calendar, rules.version):
                alerts[ident] = alert
        return year

    def _directory_loaded(self, message: HallMessage) -> Any:
        """A directory version arrived (staff names masked): judge by it from now on."""
        document = dict(message.data)
        self.directory = Directory.from_document(document)
        return directories.pending(self, document, str(document["version"]), "bureau",
                                   message.time)

    def _watch(self, key: str, cache: dict[UUID, Watch], known: set[UUID]) -> Watch:
        ident = Watch.create_id(key)
        if ident not in cache:
            if ident in known:
                cache[ident] = self.repository.get(ident)
            else:
                cache[ident] = Watch(key=key)
        return cache[ident]

    def _apply(self, judgement: Judgement, watch: Watch, alerts: dict[UUID, Alert],
               raised: set[UUID] | None = None) -> None:
        """Collect the alerts a judgement raises and clears; ``raised``: which of its
        findings' alerts are stored already (looked up here when not given)."""
        if raised is None:
            raised = storage.existing(self, (alert_id(f.alert_key) for f in judgement.findings))
        for finding in judgement.findings:
            ident = alert_id(finding.alert_key)
            if ident in alerts or ident in raised:
                continue  # that rule, at that moment, was raised already
            context = {**watch.state.context.as_dict(), **finding.about}
            if self.directory is not None:  # which directory the judgement used
                context["directory_version"] = self.directory.version
            alerts[ident] = Alert(
                key=finding.alert_key, rule=finding.rule, severity=severity(finding.rule),
                watch=watch.key, context=context,
                raised_at=finding.raised_at,
                evidence=finding.evidence, detail=finding.detail,
                rules_version=self.rules.version)
            ALERTS.labels(finding.rule).inc()
        for clear in judgement.clears:
            ident = alert_id(clear.alert_key)
            alert = alerts.get(ident) or self._alert_or_none(ident)
            if alert is not None and alert.status in ALERT_TRANSITIONS["clear"]:
                if clear.void:
                    alert.void(clear.at, clear.why)
                else:
                    alert.clear(clear.at, clear.why)
                alerts[ident] = alert

    def _alert_or_none(self, ident: UUID) -> Alert | None:
        try:
            alert: Alert = self.repository.get(ident)
        except AggregateNotFoundError:
            return None
        return alert

    # -- time ----------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """The earliest timer or notice deadline (without scanning them all)."""
        with self._lock:
            moments = [m for m in (self._timers.earliest(), self._escalations.earliest())
                       if m is not None]
            due = min(moments, default=None)
            metrics.timers(len(self._timers) + len(self._escalations), due)
        return due

    def timetable(self) -> list[tuple[str, UUID, datetime, str]]:
        """Every open timer and notice deadline as the index holds it: (kind, id, due
        moment, key), sorted."""
        with self._lock:
            return sorted([(TIMER, i, at, key) for i, at, key in self._timers.entries()]
                          + [(NOTICE, i, at, key) for i, at, key in self._escalations.entries()])

    def timer_count(self) -> int:
        """How many timers and notice deadlines are open."""
        with self._lock:
            return len(self._timers) + len(self._escalations)

    def fire_due(self, limit: int | None = None, seconds: float | None = None) -> int:
        """Raise the timers and notice deadlines due by now, earliest first: at most
        ``limit`` aggregates, stopping once ``seconds`` have gone by (all of them by
        default). Watches are fired :data:`FIRE_BATCH` to a transaction. Returns how many
        aggregates moved; :attr:`backlog` tells whether more may be due (the round stopped
        at its bounds), so the caller comes back without waiting."""
        now = self.clock()
        started = time.monotonic()
        moved = handled = 0
        self.backlog = False
        while limit is None or handled < limit:
            if seconds is not None and time.monotonic() - started >= seconds:
                self.backlog = True
                break
            size = FIRE_BATCH if limit is None else min(FIRE_BATCH, limit - handled)
            if seconds is not None:  # a batch, once begun, fits in what is left of the time
                left = seconds - (time.monotonic() - started)
                size = max(1, min(size, int(left / self._per_watch)))
            with self._lock:
                watches = [i for i, _ in self._timers.due(now, size, self.owns)]
                escalations = ([i for i, _ in self._escalations.due(now, size - len(watches))]
                               if len(watches) < size else [])
            if not watches and not escalations:
                break
            handled += len(watches) + len(escalations)
            if watches:
                began = time.monotonic()
                moved += self._retrying(functools.partial(self._fire_watches, watches, now))
                self._per_watch = max(1e-4, (time.monotonic() - began) / len(watches))
            for ident in escalations:
                moved += self._retrying(functools.partial(self._escalate, ident))
        else:
            self.backlog = True
        if moved:
            self.refresh_index()
        return moved

    def _fire_watches(self, idents: list[UUID], now: datetime) -> int:
        """Fire these watches' due timers and save them with their alerts, atomically
        (a conflict redoes the whole batch from the newer state)."""
        watches: list[Watch] = [self.repository.get(ident) for ident in idents]
        judgements = [watch.fire(now) for watch in watches]
        raised = storage.existing(self, (alert_id(f.alert_key) for j in judgements
                                         for f in j.findings))  # one query for the batch
        alerts: dict[UUID, Alert] = {}
        for watch, judgement in zip(watches, judgements, strict=True):
            self._apply(judgement, watch, alerts, raised)
        self.save(*watches, *alerts.values())
        with self._lock:
            for watch in watches:
                upcoming = watch.next_timer()
                if upcoming is None:
                    self._timers.discard(watch.id)
                else:
                    self._timers.set(watch.id, upcoming, watch.key)
        return len(watches)

    def _escalate(self, ident: UUID) -> int:
        alert: Alert = self.repository.get(ident)
        with self._lock:
            self._escalations.discard(ident)
        if alert.status != "noticed" or alert.notice_due_at is None:
            return 0
        alert.escalate(at=alert.notice_due_at)
        self.save(alert)
        return 1

    def refresh_index(self) -> None:
        """Follow this store's log from where we were: the next timer of every watch and
        the deadline of every open supervision notice; write the checkpoint when due."""
        with self._lock:
            for notification in storage.read_log(self, self._seen):
                self._index(notification)
                self._seen = notification.id
            if self._seen > self._checkpoint and (
                    len(self._changes) >= CHECKPOINT_ROWS
                    or time.monotonic() - self._flushed >= self.checkpoint_seconds):
                self._flush()

    def _restore(self) -> tuple[int, int]:
        """Load the index from its checkpoint: (rows read, 0); the caller then reads the
        log after it (how many notifications that was goes in the second place)."""
        position, rows = self._due.load()
        for row in sorted(rows, key=lambda r: r.position):
            if row.kind == TIMER and row.at is not None:
                self._timers.set(row.ident, row.at, row.key)
            elif row.kind == NOTICE and row.at is not None:
                self._escalations.set(row.ident, row.at)
            elif row.kind == YEAR:
                year: Any = self.repository.get(row.ident)
                self.calendar = self.calendar.with_year(YearRules.from_dict(year.rules))
            elif row.kind == DIRECTORY:
                versions: Any = self.repository.get(row.ident)
                self.directory = Directory.from_document(versions.document)
        self._seen = self._checkpoint = position
        return len(rows), 0

    def _flush(self) -> None:
        """Write what the index learnt since the last checkpoint (the caller holds the
        lock)."""
        if self._seen <= self._checkpoint:
            return
        self._due.save(self._seen, list(self._changes.values()))
        self._changes.clear()
        self._checkpoint = self._seen
        self._flushed = time.monotonic()

    def _changed(self, kind: str, ident: UUID, at: datetime | None, key: str,
                 position: int) -> None:
        self._changes[(kind, ident)] = Due(kind, ident, at, key, position)

    def _index(self, notification: Notification) -> None:
        topic = notification.topic
        ident = UUID(str(notification.originator_id))
        if ":Watch." in topic:
            event: Any = self.mapper.to_domain_event(notification)
            upcoming = [t.at for t in timers_in(event).values()]
            if upcoming:
                self._timers.set(ident, min(upcoming), event.key)
                self._changed(TIMER, ident, min(upcoming), event.key, notification.id)
            else:
                self._timers.discard(ident)
                self._changed(TIMER, ident, None, "", notification.id)
        elif ":CalendarYear." in topic:
            event = self.mapper.to_domain_event(notification)
            self.calendar = self.calendar.with_year(YearRules.from_dict(event.rules))
            self._changed(YEAR, ident, None, "", notification.id)
        elif ":DirectoryVersions." in topic:
            event = self.mapper.to_domain_event(notification)
            self.directory = Directory.from_document(event.document)
            self._changed(DIRECTORY, ident, None, "", notification.id)
        elif topic.endswith(("Alert.NoticeIssued", "Alert.NoticeRescheduled")):
            event = self.mapper.to_domain_event(notification)
            self._escalations.set(ident, parse_time(event.due_at))
            self._changed(NOTICE, ident, parse_time(event.due_at), "", notification.id)
        elif topic.endswith(("Alert.Resolved", "Alert.Cleared", "Alert.Escalated",
                             "Alert.Voided")):
            self._escalations.discard(ident)
            self._changed(NOTICE, ident, None, "", notification.id)

    # -- the bureau's actions ----------------------------------------------------

    def act(self, ident: UUID, action: str, by: str, body: dict[str, Any]) -> dict[str, Any]:
        """acknowledge | notice | resolve an alert; returns its view after the action."""
        def attempt() -> dict[str, Any]:
            alert = self.alert(ident)
            at = self.clock().isoformat()
            if action == "acknowledge":
                alert.acknowledge(by, at)
            elif action == "notice":
                days = int(body.get("working_days") or self.rules.notice_working_days)
                alert.issue_notice(by, at, self.calendar, days, str(body.get("content", "")))
            else:
                alert.resolve(by, at, str(body.get("resolution", "")))
            self.save(alert)
            self.refresh_index()
            return alert.view()
        return self._retrying(attempt)

    def alert(self, ident: UUID) -> Alert:
        alert = self._alert_or_none(ident)
        if alert is None:
            raise NotFound(f"alert {ident} is unknown", "alert_id")
        return alert

    # -- plumbing ------------------------------------------------------------------

    def _retrying(self, work: Callable[[], Any]) -> Any:
        """Optimistic concurrency: another writer got there first; reload and redo."""
        return storage.retrying(work, ATTEMPTS, 0.01, between=self.refresh_index)

