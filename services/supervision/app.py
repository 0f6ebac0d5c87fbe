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
from services.supervision.timetable import Timetable

Clock = Callable[[], datetime]
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "rules" / "supervision.v1.json"
ATTEMPTS = 20


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
        self.refresh_index()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """As the library saves; then wakes this process's followers of the log."""
        recordings = super().save(*objs, **kwargs)
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
        processing_event.collect_events(*years, *watches.values(), *alerts.values())

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

    def _apply(self, judgement: Judgement, watch: Watch, alerts: dict[UUID, Alert]) -> None:
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

    def fire_due(self) -> int:
        """Raise every timer and escalation due by now; returns how many aggregates moved."""
        now = self.clock()
        moved = 0
        with self._lock:
            watches = [i for i, key in self._timers.due(now) if self.owns(key)]
            escalations = [i for i, _ in self._escalations.due(now)]
        for ident in watches:
            moved += self._retrying(functools.partial(self._fire_watch, ident, now))
        for ident in escalations:
            moved += self._retrying(functools.partial(self._escalate, ident))
        if moved:
            self.refresh_index()
        return moved

    def _fire_watch(self, ident: UUID, now: datetime) -> int:
        watch: Watch = self.repository.get(ident)
        alerts: dict[UUID, Alert] = {}
        self._apply(watch.fire(now), watch, alerts)
        self.save(watch, *alerts.values())
        upcoming = watch.next_timer()
        with self._lock:
            if upcoming is None:
                self._timers.discard(ident)
            else:
                self._timers.set(ident, upcoming, watch.key)
        return 1

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
        the deadline of every open supervision notice."""
        with self._lock:
            for notification in storage.read_log(self, self._seen):
                self._index(notification)
                self._seen = notification.id

    def _index(self, notification: Notification) -> None:
        topic = notification.topic
        ident = UUID(str(notification.originator_id))
        if ":Watch." in topic:
            event: Any = self.mapper.to_domain_event(notification)
            upcoming = [t.at for t in timers_in(event).values()]
            if upcoming:
                self._timers.set(ident, min(upcoming), event.key)
            else:
                self._timers.discard(ident)
        elif ":CalendarYear." in topic:
            event = self.mapper.to_domain_event(notification)
            self.calendar = self.calendar.with_year(YearRules.from_dict(event.rules))
        elif ":DirectoryVersions." in topic:
            event = self.mapper.to_domain_event(notification)
            self.directory = Directory.from_document(event.document)
        elif topic.endswith(("Alert.NoticeIssued", "Alert.NoticeRescheduled")):
            event = self.mapper.to_domain_event(notification)
            self._escalations.set(ident, parse_time(event.due_at))
        elif topic.endswith(("Alert.Resolved", "Alert.Cleared", "Alert.Escalated",
                             "Alert.Voided")):
            self._escalations.discard(ident)

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

