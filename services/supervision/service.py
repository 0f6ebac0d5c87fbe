"""Wires the supervision service: its store, a source (Kafka or the embedded log), the
judging loop with its timers, and the bureau's alert actions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from services.common.auth import Keyring
from services.common.messages import partition_key_of_watch
from services.common.runner import consume_once
from services.common.settings import Settings
from services.common.sources import LOG_TOPIC, KafkaSource, LogSource, Source
from services.common.workers import Worker
from services.supervision import api
from services.supervision.app import Supervision, load_rules
from services.supervision.notifier import IDLE_POLL, Notifier

CONSUMER = "supervision"
TIMERS_PER_ROUND = 2000
TIMER_SECONDS = 0.25


@dataclass
class SupervisionService:
    app: Supervision
    source: Source
    router: APIRouter
    settings: Settings
    notifier: Notifier | None = None  # delivers the notifications queued with alerts
    stop: threading.Event = field(default_factory=threading.Event)
    # Timers and events share the judge: a round judges at most one batch of events and
    # fires at most this many timers, for at most ``timer_seconds``, so a due-time storm
    # drains over many rounds while each round still takes the events that arrived.
    timers_per_round: int = TIMERS_PER_ROUND
    timer_seconds: float = TIMER_SECONDS
    # The longest a quiet round waits for events (default ``poll_seconds``); the embedded
    # system, whose writers all wake this process's waits, sets a longer one.
    idle_wait: float | None = None

    def step(self, wait: float | None = None) -> int:
        """One round: judge what arrives within ``wait`` seconds (default: until the next
        timer is due, at most ``poll_seconds``; none while timers are left over from the
        last round), then raise what came due, within the round's timer budget. Returns
        the number of events judged."""
        if wait is None:
            wait = self.idle_wait or self.settings.poll_seconds
            due = self.app.next_due()
            until = (due - self.app.clock()).total_seconds() if due is not None else wait
            # A timer still due after the last round fired is another instance's (or its
            # firing failed): waiting the whole poll instead of none keeps this from spinning.
            if until > 0:
                wait = min(wait, until)
            if self.app.backlog:
                wait = 0
        judged = consume_once([self.source], self.app.handle, self.settings.batch_size, wait)
        self.app.fire_due(self.timers_per_round, self.timer_seconds)
        return judged

    def start(self) -> threading.Thread:
        if self.notifier is not None:
            self.notifier.start(self.stop)
        return Worker("supervision", self._round, self.stop, self.settings.poll_seconds).start()

    def _round(self) -> bool:
        # step() already waits on its poll, at most until the next timer is due, so a
        # quiet round goes straight on to the next; the idle time only paces failures.
        self.step()
        return True


def build(settings: Settings, clock: Callable[[], datetime] | None = None,
          log_app: Any = None, notify: bool = True) -> SupervisionService:
    """``log_app``: the hall event store to follow when embedded; ``notify``: whether this
    process delivers the notifications queued with alerts (the composition root says)."""
    app = Supervision(settings, clock or settings.now(), load_rules(settings.rules_file))
    # Embedded, this process is the store's only writer and its writes wake the notifier,
    # so a quiet one need not look for other processes' deliveries every second.
    notifier = (Notifier(app, settings, idle_poll=10.0 if settings.embedded else IDLE_POLL)
                if notify else None)
    source: Source
    if settings.embedded:
        # Progress is the tracking recorded with each judgement; nothing else to save.
        source = LogSource(log_app, lambda: (app.next_position(LOG_TOPIC, 0) or 1) - 1,
                           lambda position: None)
    else:
        source = KafkaSource(settings.kafka_bootstrap, [settings.hall_topic],
                             f"{settings.consumer_group}-{CONSUMER}", positions=app.next_position,
                             instance_id=settings.instance_id)
        app.contiguous = True  # Kafka offsets: a batch must start where tracking stands
    app.owns = lambda watch_key: source.owns(partition_key_of_watch(watch_key))
    return SupervisionService(app, source, api.router(app, Keyring.of(settings), notifier),
                              settings, notifier)
