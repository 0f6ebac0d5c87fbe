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
from services.common.runner import consume
from services.common.settings import Settings
from services.common.sources import KafkaSource, LogSource, Source
from services.projections import api
from services.projections.views import Views

CONSUMER = "projections"


@dataclass
class Projections:
    views: Views
    source: Source
    router: APIRouter
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        consume(self.source, self.views.write, self.stop, self.settings.batch_size,
                self.settings.poll_seconds)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="projections", daemon=True)
        thread.start()
        return thread


def build(settings: Settings, clock: Callable[[], datetime] | None = None,
          log_app: Any = None) -> Projections:
    """``log_app``: the event-store application to follow when embedded."""
    views = Views(connect(settings.clickhouse_url))
    source: Source
    if settings.embedded:
        source = LogSource(log_app, lambda: views.load_position(CONSUMER),
                           lambda position: views.save_position(CONSUMER, position))
    else:
        source = KafkaSource(settings.kafka_bootstrap, [settings.hall_topic],
                             f"{settings.consumer_group}-{CONSUMER}")
    router = api.router(views, Keyring(settings.key_specs), clock or settings.now(),
                        findings=lambda case_no: [])
    return Projections(views, source, router, settings)
