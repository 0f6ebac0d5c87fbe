"""Wires the intake service: the event store and its HTTP routes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from services.common.auth import Keyring
from services.common.clickhouse import connect
from services.common.settings import Settings
from services.intake import api, audit, directory, public
from services.intake.heads import HeadPublisher, ensure_topic
from services.intake.store import HallStore


@dataclass
class Intake:
    store: HallStore
    router: APIRouter
    store_settings: Settings
    clickhouse: Any = None

    def start_heads(self, stop: threading.Event, clickhouse: Any = None) -> threading.Thread:
        """Publish the log chain's head (ClickHouse, and Kafka when configured);
        ``clickhouse``: a client to share (chDB allows one per process and path)."""
        url = self.store_settings.clickhouse_url
        # chDB is one process's: a standalone intake leaves it to the projections process
        # and publishes its heads on Kafka only.
        self.clickhouse = clickhouse or self.clickhouse or (
            None if url.startswith("chdb") else connect(url))
        kafka, topic = None, ""
        if not self.store_settings.embedded:
            from services.common.relay import producer

            kafka = producer(self.store_settings.kafka_bootstrap)
            topic = f"{self.store_settings.hall_topic}.chain"
            ensure_topic(self.store_settings.kafka_bootstrap, topic)
        publisher = HeadPublisher(self.store.log_chain, self.clickhouse, self.store.clock,
                                  kafka, topic)
        # Embedded, every writer of the store is in this process and wakes the publisher.
        written = self.store.written if self.store_settings.embedded else None
        return publisher.start(stop, max(self.store_settings.poll_seconds, 0.5), written)


def build(settings: Settings, clock: Callable[[], datetime] | None = None) -> Intake:
    store = HallStore(settings, clock or settings.now())
    keys = Keyring.of(settings)
    routes = api.router(store, keys, settings.time_floor)
    intake = Intake(store, routes, settings)
    # ClickHouse is attached later (the process's one chDB client, or a new one):
    # the verifier compares the heads published there when it has one.
    routes.include_router(audit.router(store, keys, lambda: intake.clickhouse))
    routes.include_router(public.router(store, keys))
    routes.include_router(directory.router(store, keys, store.clock))
    return intake
