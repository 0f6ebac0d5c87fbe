"""intake + supervision + projections in one test process, stepped by hand."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from services import system
from services.common.auth import Keyring
from services.common.web import create_app
from tests.conftest import BUREAU_KEY, bearer


class World:
    """intake + supervision + projections in one process, stepped by hand."""

    def __init__(self, settings, clock) -> None:
        self.settings = settings
        self.clock = clock
        self.system = system.embedded(settings, clock)  # what `hallwatch serve` runs
        assert self.system.intake and self.system.supervision and self.system.projections
        self.intake = self.system.intake
        self.supervision = self.system.supervision
        self.projections = self.system.projections
        self.client = TestClient(create_app(*self.system.routers,
                                            keys=Keyring(settings.key_specs)))

    def send(self, envelope) -> None:
        self.intake.store.record(envelope, envelope["source"].rsplit("/", 1)[-1])

    def send_on_time(self, envelope) -> None:
        """Record a fact a few minutes after it happened (no 体外循环), then come back."""
        now = self.clock.now
        self.clock.set(envelope["time"])
        self.clock.now += timedelta(minutes=5)
        self.send(envelope)
        self.clock.now = now

    def settle(self) -> None:
        while self.supervision.step(wait=0) or self.supervision.app.backlog:
            pass
        for source in self.projections.sources:
            while batch := source.poll(1000, 0):
                self.projections.views.write(batch)
                source.commit(batch)

    def alerts(self, key=BUREAU_KEY, **filters) -> list[dict]:
        response = self.client.get("/v1/alerts", params=filters, headers=bearer(key))
        assert response.status_code == 200, response.text
        return response.json()["alerts"]

    def stored_alerts(self) -> list:
        app = self.supervision.app
        return [n for n in app.recorder.select_notifications(1, 100_000)
                if n.topic.endswith("Alert.Raised")]

    def close(self) -> None:
        self.system.close()


