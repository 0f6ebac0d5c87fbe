"""The one published form of a stored event: a CloudEvent with hallwatch extensions.

The relay sends it to Kafka and the embedded log source hands the same dict to the
consumers, so supervision and projections run the same code either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from hallwatch.case import Case
from hallwatch.catalogue import TYPE_PREFIX, masked, short_type
from hallwatch.hall import CalendarYear, HallStream
from hallwatch.watch import watch_key

_CASE_FACTS = (Case.Opened, Case.FactRecorded)  # type: ignore[attr-defined]
_STREAM_FACTS = (HallStream.Opened, HallStream.FactRecorded)  # type: ignore[attr-defined]
_RECOMPUTED = Case.DeadlineRecomputed  # type: ignore[attr-defined]
_YEAR_LOADED = (CalendarYear.Loaded, CalendarYear.Reloaded)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Message:
    """One event as a consumer sees it, with where it came from (for commits)."""

    topic: str
    partition: int
    offset: int
    key: str
    value: dict[str, Any]
    raw: str = ""  # the value as JSON text, when the source already has it

    def text(self) -> str:
        return self.raw or json.dumps(self.value, ensure_ascii=False)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def to_cloudevent(app: Application[Any], notification: Notification) -> dict[str, Any] | None:
    """The published CloudEvent for a notification, or None for internal records."""
    event: Any = app.mapper.to_domain_event(notification)
    extensions = {
        "hwposition": notification.id,
        "hwsequence": event.originator_version,
        # When the store took it, by the store's (injected) clock.
        "hwrecordedtime": getattr(event, "recorded_at", None) or event.timestamp.isoformat(),
    }
    if isinstance(event, _CASE_FACTS):
        return {**masked(event.fact), **extensions, "hwcase": _json(event.summary),
                "hwchain": event.chain}
    if isinstance(event, _STREAM_FACTS):
        return {**masked(event.fact), **extensions, "hwstate": _json({"state": event.state})}
    if isinstance(event, _YEAR_LOADED):
        return {
            "specversion": "1.0",
            "id": f"calendar-{event.originator_id}-{event.originator_version}",
            "source": "/hallwatch",
            "type": TYPE_PREFIX + "calendar.year_loaded",
            "subject": f"calendar-{event.rules['year']}",
            "time": event.loaded_at,
            "data": {**event.rules, "version": event.calendar_version},
            **extensions,
        }
    if isinstance(event, _RECOMPUTED):
        summary = event.summary
        return {
            "specversion": "1.0",
            "id": f"recomputed-{event.originator_id}-{event.originator_version}",
            "source": "/hallwatch",
            "type": TYPE_PREFIX + "case.deadline_recomputed",
            "subject": summary["case_no"],
            "time": event.recorded_at,
            "data": {"calendar_year": event.calendar_year},
            **extensions,
            "hwcase": _json(summary),
            "hwchain": event.chain,
        }
    return None


def alert_message(app: Application[Any], notification: Notification) -> dict[str, Any] | None:
    """An alert as it stood after this event (for ``supervision.alerts``), or None."""
    if ":Alert." not in notification.topic:
        return None
    alert: Any = app.repository.get(notification.originator_id,
                                    version=notification.originator_version)
    return {**alert.view(), "position": notification.id}


def kafka_headers(cloudevent: dict[str, Any]) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka-binding headers plus the event-store position."""
    # Structured mode is signalled by content-type; the ce_ headers let brokers' tools
    # route and filter without parsing the value.
    headers = [("content-type", b"application/cloudevents+json; charset=UTF-8")]
    headers += [(f"ce_{k}", str(cloudevent[k]).encode())
                for k in ("specversion", "id", "type", "source", "time", "subject")]
    headers.append(("hw_position", str(cloudevent["hwposition"]).encode()))
    return headers


def message_key(value: dict[str, Any]) -> str:
    """The partition key: whatever must stay in order stays on one partition.

    Case events are keyed by case number; other hall events by the stream they belong to
    (a post's window, a complaint — whose events may name different subjects); alerts by
    their id."""
    if "alert_id" in value:
        return str(value["alert_id"])
    if short_type(value["type"]).startswith("case."):
        return str(value["subject"])
    return watch_key(value)


def partition_key_of_watch(key: str) -> str:
    """The Kafka key of the events a watch judges (see ``message_key``)."""
    return key.removeprefix("case/") if key.startswith("case/") else key


def alert_headers(value: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [("content-type", b"application/json"), ("hw_rule", value["rule"].encode()),
            ("hw_position", str(value["position"]).encode())]
