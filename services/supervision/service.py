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
from services.common.settings import Settings
from services.common.sources import LOG_TOPIC, KafkaSource, LogSource, Source
from services.common.workers import Worker
from services.supervision import api
from services.supervision.app import Supervision, load_rules

CONSUMER = "supervision"


@dataclass
class SupervisionService:
    app: Supervision
    source: Source
    router: APIRouter
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)

    def step(self) -> int:
        """One round: judge what arrived, then raise whatever came due. Returns the
        number of events judged."""
        due = self.app.next_due()
        wait = self.settings.poll_seconds
        if due is not None:
            wait = min(wait, max(0.0, (due - self.app.clock()).total_seconds()))
        batch = self.source.poll(self.settings.batch_size, wait)
        if batch:
            self.app.handle(batch)
            self.source.commit(batch)
        self.app.fire_due()
        return len(batch)

    def start(self) -> threading.Thread:
        return Worker("supervision", self._round, self.stop, self.settings.poll_seconds).start()

    def _round(self) -> bool:
        # step() already waits on its poll, at most until the next timer is due, so a
        # quiet round goes straight on to the next; the idle time only paces failures.
        self.step()
        return True


def build(settings: Settings, clock: Callable[[], datetime] | None = None,
          log_app: Any = None) -> SupervisionService:
    """``log_app``: the hall event store to follow when embedded."""
    app = Supervision(settings, clock or settings.now(), load_rules(settings.rules_file))
    source: Source
    if settings.embedded:
        # Progress is the tracking recorded with each judgement; nothing else to save.
        source = LogSource(log_app, lambda: (app.next_position(LOG_TOPIC, 0) or 1) - 1,
                           lambda position: None)
    else:
        source = KafkaSource(settings.kafka_bootstrap, [settings.hall_topic],
                             f"{settings.consumer_group}-{CONSUMER}", positions=app.next_position,
                             instance_id=settings.instance_id)
    app.owns = lambda watch_key: source.owns(partition_key_of_watch(watch_key))
    return SupervisionService(app, source, api.router(app, Keyring.of(settings)),
                              settings)
