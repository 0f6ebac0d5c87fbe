"""Processes starting at once on one fresh PostgreSQL database all create (or find) their
tables: schema creation is serialised, so none fails with 'tuple concurrently updated'."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from services.common.relay import Relay
from services.intake.store import HallStore
from services.supervision.app import Supervision, load_rules
from tests.conftest import FixedClock

STARTERS = 6
_fresh = itertools.count(1)


def test_services_starting_together_on_a_fresh_database_all_come_up(pg_settings, postgres):
    for _ in range(3):  # each round on a database nobody has created tables in
        settings = pg_settings.model_copy(update={
            "event_store": postgres.create_database(f"race_{next(_fresh)}")})
        gate = threading.Barrier(STARTERS)

        def start(n: int, settings: Any = settings, gate: threading.Barrier = gate) -> Any:
            gate.wait()
            if n % 3 == 0:
                return HallStore(settings, FixedClock())
            if n % 3 == 1:
                return Supervision(settings, FixedClock(), load_rules(""))
            store = HallStore(settings, FixedClock())
            Relay(store, None, "hall.events")  # type: ignore[arg-type]  # its tracking table
            return store

        with ThreadPoolExecutor(STARTERS) as pool:
            apps = list(pool.map(start, range(STARTERS)))
        assert all(app.recorder.max_notification_id() in (None, 0) for app in apps)
        for app in apps:
            app.close()
