"""Prometheus metrics shared by the services (one registry per process).

Every name starts with ``hallwatch_``, counters end in ``_total``, and durations and
instants are in seconds (Prometheus naming conventions). The Grafana dashboards and the
alert rules under ``deploy/`` use these names; ``tests/unit/test_metrics.py`` checks that
each name they use is exposed by a running app.

Label values are bounded: event types outside the catalogue count as ``other``, halls
are the authenticated caller's (a configured key), never a value taken from the body.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Iterable
from datetime import date, datetime
from importlib import metadata
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, Info

from hallwatch.catalogue import ALL_TYPES, TYPE_PREFIX

UNKNOWN = "unknown"

BUILD = Info("hallwatch_build", "The running hallwatch build")
ACCEPTED = Counter("hallwatch_events_accepted_total", "Hall events stored",
                   ["type", "hall"])
REFUSED = Counter("hallwatch_events_refused_total",
                  "Hall events refused (4xx), by type, calling hall and status",
                  ["type", "hall", "status"])
RELAYED = Counter("hallwatch_events_relayed_total", "Events published to Kafka")
PROJECTED = Counter("hallwatch_events_projected_total", "Events written to ClickHouse")
ALERTS = Counter("hallwatch_alerts_raised_total", "Warnings and findings raised", ["rule"])
NOTIFICATIONS = Counter("hallwatch_notification_attempts_total",
                        "Notification attempts recorded, by channel kind and the delivery's "
                        "status after it (sent, pending = failed and to be retried, given_up)",
                        ["kind", "status"])
RELAY_POSITION = Gauge("hallwatch_relay_position",
                       "Last event-store position a relay had acknowledged by Kafka", ["relay"])
RELAY_LAG = Gauge("hallwatch_relay_lag_events",
                  "Stored events not yet published: store head minus the relay's position",
                  ["relay"])
REQUEST_SECONDS = Histogram("hallwatch_intake_seconds", "Time to store one hall event")
GROUP_EVENTS = Histogram("hallwatch_intake_group_events",
                         "Single events (POST /v1/events) committed in one transaction",
                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
CONSUMER_LAG = Gauge("hallwatch_consumer_lag_messages",
                     "Messages a consumer has still to read, per group and partition",
                     ["group", "topic", "partition"])
PROJECTION_BATCH = Histogram("hallwatch_projection_batch_size",
                             "Messages written to ClickHouse per batch",
                             buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000))
PROJECTION_DELAY = Gauge("hallwatch_projection_delay_seconds",
                         "From the store recording the newest event of the last batch to "
                         "its projection into ClickHouse")
TIMERS = Gauge("hallwatch_timers_pending",
               "Pending supervision timers (watches with a timer and open notices)")
NEXT_DUE = Gauge("hallwatch_timer_next_due_timestamp_seconds",
                 "When the next supervision timer is due (Unix time; 0 when none)")
OPEN_ALERTS = Gauge("hallwatch_alerts_open", "Alerts not yet resolved, cleared or voided",
                    ["rule", "severity"])
WORKER_FAILURES = Counter("hallwatch_worker_failures_total",
                          "Failed rounds of background workers (relays, consumers, judge)",
                          ["worker"])
CHAIN_FAILURES = Counter("hallwatch_chain_verification_failures_total",
                         "Case histories whose hash chain did not verify")
PROVISIONAL_YEARS = Gauge("hallwatch_calendar_year_provisional",
                          "1 while a calendar year in use (this year and next) has no "
                          "official holiday notice loaded, so its deadlines are provisional",
                          ["year"])


def _version() -> str:
    try:
        return metadata.version("hallwatch")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "source"


BUILD.info({"version": _version(), "python": platform.python_version()})


@functools.cache
def _http_metrics() -> Any:
    """The instrumentator's default HTTP metrics, made once per process: a second app in
    the same process (tests) would otherwise find them registered and record nothing."""
    from prometheus_fastapi_instrumentator import metrics as http

    return http.default(metric_namespace="hallwatch")


def instrument(app: Any) -> None:
    """HTTP requests and latency by route (the route template, not the raw path) and
    exact status, via prometheus-fastapi-instrumentator."""
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator(should_group_status_codes=False, excluded_handlers=["/metrics"]
                   ).add(_http_metrics()).instrument(app)


def event_type(envelope: Any) -> str:
    """A bounded label for the type of a (possibly malformed) event."""
    kind = envelope.get("type") if isinstance(envelope, dict) else None
    if not isinstance(kind, str):
        return UNKNOWN
    return kind if kind.removeprefix(TYPE_PREFIX) in ALL_TYPES else "other"


def event_accepted(envelope: dict[str, Any], hall: str | None) -> None:
    ACCEPTED.labels(event_type(envelope), hall or UNKNOWN).inc()


def event_refused(status: int, envelope: Any = None, hall: str | None = None) -> None:
    REFUSED.labels(event_type(envelope), hall or UNKNOWN, str(status)).inc()


def relay_lag(name: str, head: int | None, position: int) -> None:
    """Also sets the position, so a relay that never published shows it (at 0)."""
    RELAY_POSITION.labels(name).set(position)
    RELAY_LAG.labels(name).set(max(0, (head or 0) - position))


def consumer_lag(group: str, topic: str, partition: int, lag: int) -> None:
    CONSUMER_LAG.labels(group, topic, str(partition)).set(max(0, lag))


def kafka_consumer_lag(consumer: Any, group: str) -> None:
    """Lag of each assigned partition: its high watermark minus the next offset to read.
    Partitions not fetched from yet (no high watermark known) are left as they were."""
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is not None:
            consumer_lag(group, tp.topic, tp.partition, high - consumer.position(tp))


def projected(batch: Iterable[Any]) -> None:
    """Size of a written batch and the delay of its newest event (by recording time)."""
    items = list(batch)
    PROJECTION_BATCH.observe(len(items))
    newest = max((_recorded_at(m.value) for m in items), default=None)
    if newest is not None:
        PROJECTION_DELAY.set(max(0.0, time.time() - newest))


def _recorded_at(value: dict[str, Any]) -> float:
    text = value.get("hwrecordedtime") or value.get("updated_at")
    try:
        return datetime.fromisoformat(text).timestamp() if text else 0.0
    except ValueError:
        return 0.0


def timers(pending: int, next_due: datetime | None) -> None:
    TIMERS.set(pending)
    NEXT_DUE.set(next_due.timestamp() if next_due else 0)


def open_alerts(counts: Iterable[tuple[str, str, int]]) -> None:
    """Replace the open-alert counts with ``(rule, severity, count)`` rows."""
    rows = list(counts)
    OPEN_ALERTS.clear()
    for rule, level, count in rows:
        OPEN_ALERTS.labels(rule, level).set(count)


def worker_started(name: str) -> None:
    WORKER_FAILURES.labels(name)  # exposes the series at 0 before any failure


def worker_failed(name: str) -> None:
    WORKER_FAILURES.labels(name).inc()


def chain_verified(ok: bool) -> None:
    if not ok:
        CHAIN_FAILURES.inc()


def calendar_years(calendar: Any, today: date) -> None:
    """Whether this year and next (the years deadlines fall in) are still provisional."""
    for year in (today.year, today.year + 1):
        PROVISIONAL_YEARS.labels(str(year)).set(int(calendar.year(year).provisional))
