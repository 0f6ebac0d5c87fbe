"""The composition root: what each hallwatch process is made of, and how it is wired.

Every process is built here and nowhere else (``hallwatch`` commands, the test world, the
benchmark):

- :func:`embedded` — the whole system in one process: intake, supervision and projections
  follow the event store's notification log instead of Kafka (``hallwatch serve`` with no
  ``HALLWATCH_KAFKA_BOOTSTRAP``).
- :func:`intake`, :func:`relay`, :func:`supervision`, :func:`projections` — one production
  process each, talking through Kafka (``hallwatch intake|relay|supervision|projections``;
  ``hallwatch serve`` with Kafka runs them all in one process).

The services (``services/intake``, ``services/supervision``, ``services/projections``)
never import each other; only this module knows them all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter

from services.common.clickhouse import connect
from services.common.messages import alert_message
from services.common.relay import Relay, producer
from services.common.settings import Settings
from services.intake import asof
from services.intake.service import Intake
from services.intake.service import build as build_intake
from services.intake.store import HallStore
from services.projections.service import Projections, log_source
from services.projections.service import build as build_projections
from services.projections.views import Views
from services.supervision.app import Supervision, load_rules
from services.supervision.service import SupervisionService
from services.supervision.service import build as build_supervision

Clock = Callable[[], datetime]

@dataclass
class System:
    """The parts of one process: its HTTP routers, its background loops (started by
    :meth:`start`, ended by :meth:`close`) and the applications it holds."""

    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    intake: Intake | None = None
    supervision: SupervisionService | None = None
    projections: Projections | None = None
    relays: list[Relay] = field(default_factory=list)
    hall_store: HallStore | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def routers(self) -> list[APIRouter]:
        parts = (self.intake, self.projections, self.supervision)
        return [part.router for part in parts if part is not None]

    def start(self) -> None:
        """Start every background loop of this process (each in its own thread)."""
        if self.projections is not None:
            self.projections.stop = self.stop
            self.threads.append(self.projections.start())
        if self.supervision is not None:
            self.supervision.stop = self.stop
            self.threads.append(self.supervision.start())
        for each in self.relays:
            self.threads.append(each.start(self.stop, self.settings.poll_seconds))
        if self.intake is not None:  # the log chain's head, published (services/intake/heads)
            self.intake.start_heads(self.stop, self.projections.views.client
                                    if self.projections is not None else None)

    def close(self, wait_seconds: float = 10.0) -> None:
        """Ask every loop to stop, wait for each to end its round (up to
        ``wait_seconds``), then close the stores and consumers: a round cut short by a
        closed store would only be rewound and logged as failed."""
        self.stop.set()
        for app in (self.intake.store if self.intake is not None else self.hall_store,
                    self.supervision.app if self.supervision is not None else None):
            if app is not None:
                app.written.notify()  # a loop waiting for the log to grow looks again now
        deadline = time.monotonic() + wait_seconds
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.projections is not None:
            for source in self.projections.sources:
                source.close()
            self.projections.views.client.close()
        if self.supervision is not None:
            self.supervision.source.close()
            self.supervision.app.close()
        store = self.intake.store if self.intake is not None else self.hall_store
        if store is not None:
            store.close()


# -- parts ---------------------------------------------------------------------------

def hall_store(settings: Settings, clock: Clock | None = None) -> HallStore:
    """The hall event store (SQLite or PostgreSQL)."""
    return HallStore(settings, clock or settings.now())


def judge(settings: Settings, clock: Clock | None = None) -> Supervision:
    """The supervision application with the configured rules."""
    return Supervision(settings, clock or settings.now(), load_rules(settings.rules_file))


def views(settings: Settings) -> Views:
    """The ClickHouse views (chDB embedded, or a ClickHouse server)."""
    return Views(connect(settings.clickhouse_url))


def rebuild_projections(settings: Settings) -> dict[str, int]:
    """``hallwatch projections rebuild``: replay the hall store's and the supervision
    store's logs (the sources of truth, in either mode) into shadow tables of the
    configured ClickHouse and swap them in; answers the positions reached."""
    from services.common.messages import alert_message, to_cloudevent
    from services.projections.rebuild import Replay, rebuild

    client = connect(settings.clickhouse_url)
    Views(client)  # the schema, if this database is new
    hall = hall_store(settings)
    supervision = judge(settings)
    try:
        return rebuild(client, [Replay("hall", hall, to_cloudevent),
                                Replay("alerts", supervision, alert_message)],
                       settings.batch_size)
    finally:
        supervision.close()
        hall.close()
        client.close()


# -- processes -----------------------------------------------------------------------

EMBEDDED_IDLE_WAIT = 1.0  # seconds a quiet embedded loop waits for a write it was not woken by


def embedded(settings: Settings, clock: Clock | None = None) -> System:
    """Everything in one process without Kafka: supervision and projections follow the
    hall store's log; projections also follow supervision's log for the alerts."""
    system = System(settings)
    system.intake = build_intake(settings, clock)
    # Supervision delivers the notifications it queues with alerts (services/supervision/
    # notifier.py), in this process as in production.
    system.supervision = build_supervision(settings, clock, log_app=system.intake.store,
                                           notify=True)
    system.projections = build_projections(settings, clock, log_app=system.intake.store,
                                           past=asof.reader(system.intake.store))
    system.projections.follow(log_source(system.projections.views, system.supervision.app,
                                         "alerts", alert_message))
    # One write signal for both stores: any write wakes every follower in the process, so
    # a quiet loop can wait longer (idle CPU, issue 12) without delaying the other log.
    system.supervision.app.written = system.intake.store.written
    system.supervision.idle_wait = system.projections.idle_wait = EMBEDDED_IDLE_WAIT
    return system


def serve(settings: Settings, clock: Clock | None = None) -> System:
    """What ``hallwatch serve`` runs: :func:`embedded`, or with Kafka every production
    process's parts in one process (intake, both relays, supervision, projections)."""
    if settings.embedded:
        return embedded(settings, clock)
    system = supervision(settings, clock)
    system.intake = build_intake(settings, clock)
    system.relays.insert(0, Relay(system.intake.store, producer(settings.kafka_bootstrap),
                                  settings.hall_topic))
    system.projections = build_projections(settings, clock)
    return system


def intake(settings: Settings, clock: Clock | None = None) -> System:
    """``hallwatch intake``: the HTTP intake over the hall store."""
    return System(settings, intake=build_intake(settings, clock))


def relay(settings: Settings, clock: Clock | None = None) -> System:
    """``hallwatch relay``: publishes the hall store's log to the hall topic."""
    store = hall_store(settings, clock)
    publisher = Relay(store, producer(settings.kafka_bootstrap), settings.hall_topic)
    return System(settings, relays=[publisher], hall_store=store)


def supervision(settings: Settings, clock: Clock | None = None) -> System:
    """``hallwatch supervision``: judges the hall topic; its alerts relay publishes what
    it records to the alerts topic; its notifier delivers the notifications queued with
    the alerts (every instance may: each delivery is claimed before it is sent)."""
    service = build_supervision(settings, clock, notify=True)
    alerts = Relay.for_alerts(service.app, producer(settings.kafka_bootstrap),
                              settings.alerts_topic)
    return System(settings, supervision=service, relays=[alerts])


def projections(settings: Settings, clock: Clock | None = None) -> System:
    """``hallwatch projections``: the ClickHouse views of both topics and their reads."""
    return System(settings, projections=build_projections(settings, clock))
