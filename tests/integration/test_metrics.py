"""The metrics the dashboards and alert rules use are exposed by a running app, and the
traffic that should move them does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.common.auth import Keyring
from services.common.web import create_app
from tests.builders import accepted
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, auth, bearer
from tests.world import World

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\bhallwatch_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_info", "_created")


def used_metric_names() -> set[str]:
    """Every hallwatch_* name in the Grafana dashboards and the Prometheus alert rules."""
    texts = [(DEPLOY / "prometheus" / "alerts.yml").read_text()]
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            texts += [t.get("expr", "") for t in panel["targets"]]
    return {m for text in texts for m in NAME.findall(text)}


def family_of(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def scrape(world: World) -> dict[str, list]:
    """The process's metrics, read as Prometheus would (a bureau key opens /metrics)."""
    app = create_app(keys=Keyring(world.settings.key_specs))
    response = TestClient(app).get("/metrics", headers=bearer(BUREAU_KEY))
    assert response.status_code == 200, response.text
    text = response.text
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def drive_traffic(world: World, clock) -> None:
    """A stored event, a refused one, a judged deadline that passes, an audited case."""
    clock.set("2026-09-30T10:05:00+08:00")
    ok = world.client.post("/v1/events", content=json.dumps(accepted("M1")),
                           headers=auth(HALL_KEY))
    assert ok.status_code == 201, ok.text
    bad = accepted("M2")
    del bad["data"]["kind"]
    refused = world.client.post("/v1/events", content=json.dumps(bad), headers=auth(HALL_KEY))
    assert refused.status_code == 422
    world.settle()
    clock.set("2026-10-20T09:00:00+08:00")  # past the deadline: warning, then overdue
    world.settle()
    history = world.client.get("/v1/cases/M1/history", headers=bearer(AUDITOR_KEY))
    assert history.status_code == 200 and history.json()["verified"] is True


def test_every_metric_the_dashboards_and_alert_rules_use_is_exposed(settings, clock):
    used = used_metric_names()
    assert len(used) >= 15, used  # the regex found the names, not nothing
    world = World(settings, clock)
    try:
        drive_traffic(world, clock)
        families = scrape(world)
    finally:
        world.close()
    missing = sorted(n for n in used if n not in families and family_of(n) not in families)
    assert not missing, f"used in deploy/ but not exposed: {missing}"


def test_traffic_moves_the_metrics_it_should(settings, clock):
    world = World(settings, clock)
    try:
        before = scrape(world)  # counters are per process: other tests move them too
        drive_traffic(world, clock)
        families = scrape(world)
    finally:
        world.close()

    def value(family: str, name: str, **labels: str) -> float:
        matching = [s.value for s in families[family]
                    if s.name == name and labels.items() <= s.labels.items()]
        assert matching, f"no {name} sample with {labels}"
        return sum(matching)

    kind = "cn.gov.hall.case.accepted"
    assert value("hallwatch_events_accepted", "hallwatch_events_accepted_total",
                 type=kind, hall="H1") >= 1
    assert value("hallwatch_events_refused", "hallwatch_events_refused_total",
                 type=kind, hall="H1", status="422") >= 1
    assert value("hallwatch_http_requests", "hallwatch_http_requests_total",
                 handler="/v1/events", method="POST", status="201") >= 1
    assert value("hallwatch_http_requests", "hallwatch_http_requests_total",
                 handler="/v1/cases/{case_no}/history", status="200") >= 1
    assert value("hallwatch_http_request_duration_seconds",
                 "hallwatch_http_request_duration_seconds_count", handler="/v1/events") >= 2
    # The case's deadline passed: an overdue finding is open, and the timer queue moved on.
    assert value("hallwatch_alerts_open", "hallwatch_alerts_open",
                 rule="deadline.overdue", severity="red") == 1
    assert value("hallwatch_alerts_raised", "hallwatch_alerts_raised_total",
                 rule="deadline.overdue") >= 1
    assert value("hallwatch_projection_batch_size", "hallwatch_projection_batch_size_count") >= 1
    assert value("hallwatch_timers_pending", "hallwatch_timers_pending") >= 0
    # The embedded consumers read the whole log: nothing left to read.
    assert value("hallwatch_consumer_lag_messages", "hallwatch_consumer_lag_messages",
                 group="embedded", topic="projections") == 0
    # No official 2026 or 2027 notice is loaded in this store: both years are provisional.
    assert value("hallwatch_calendar_year_provisional", "hallwatch_calendar_year_provisional",
                 year="2027") == 1
    chain = ("hallwatch_chain_verification_failures",
             "hallwatch_chain_verification_failures_total")
    verified_before = sum(s.value for s in before[chain[0]] if s.name == chain[1])
    assert value(*chain) == verified_before  # the audited case verified
    assert value("hallwatch_build_info", "hallwatch_build_info") == 1
