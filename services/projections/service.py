"""Wires the projection service: a source (Kafka or the embedded log), the ClickHouse
views it feeds, and the read API over them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from services.common.auth import Keyring
from services.common.clickhouse import connect
from services.common.messages import to_cloudevent
from services.common.runner import consume_once
from services.common.settings import Settings
from services.common.sources import KafkaSource, LogSource, Source
from services.common.workers import Worker
from services.console import routes as console
from services.console.stream import Broadcaster
from services.projections import api, bulletin_api
from services.projections.publishing import Publications
from services.projections.views import Views

CONSUMER = "projections"


@dataclass
class Projections:
    views: Views
    sources: list[Source]
    router: APIRouter
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    # Called with the alerts of each batch once they are in the views (the console feed).
    listeners: list[Callable[[list[dict[str, Any]]], None]] = field(default_factory=list)
    # The longest a quiet round waits (default ``poll_seconds``; see SupervisionService).
    idle_wait: float | None = None

    def follow(self, source: Source) -> None:
        """Also project ``source`` (embedded: the supervision store's log)."""
        self.sources.append(source)

    def step(self) -> int:
        """One round over every source; a failed write rewinds it (see runner)."""
        return consume_once(self.sources, self._write, self.settings.batch_size,
                            self.idle_wait or self.settings.poll_seconds)

    def _write(self, batch: list[Any]) -> None:
        self.views.write(batch)
        alerts = [m.alert for m in batch if m.is_alert]
        for listener in self.listeners if alerts else ():
            listener(alerts)

    def start(self) -> threading.Thread:
        return Worker("projections", self._round, self.stop, self.settings.poll_seconds).start()

    def _round(self) -> bool:
        # step() already waits on its sources' polls; the idle time only paces failures.
        self.step()
        return True


def build(settings: Settings, clock: Callable[[], datetime] | None = None,
          log_app: Any = None, past: Any = None) -> Projections:
    """``log_app``: the event-store application to follow when embedded; ``past``: the
    case-as-of reader over the hall store, where this process has the store."""
    views = Views(connect(settings.clickhouse_url))
    source: Source
    if settings.embedded:
        source = log_source(views, log_app, CONSUMER, to_cloudevent)
    else:
        source = KafkaSource(settings.kafka_bootstrap,
                             [settings.hall_topic, settings.alerts_topic],
                             f"{settings.consumer_group}-{CONSUMER}",
                             instance_id=settings.instance_id)
    keys = Keyring.of(settings)
    router = APIRouter()
    # Bulletins published, frozen; first, so /v1/bulletins/published is no period.
    router.include_router(bulletin_api.publishing_router(
        views, keys, clock or settings.now(),
        Publications(settings, clock or settings.now())))
    router.include_router(api.router(views, keys, clock or settings.now(),
                                     settings.time_floor, past))
    feed = Broadcaster()
    router.include_router(console.router(keys, feed))
    return Projections(views, [source], router, settings, listeners=[feed.publish])


def log_source(views: Views, app: Any, consumer: str, convert: Any) -> LogSource:
    """An embedded log follower whose position is kept beside the views it feeds."""
    return LogSource(app, lambda: views.load_position(consumer),
                     lambda position: views.save_position(consumer, position), convert,
                     topic=consumer)
