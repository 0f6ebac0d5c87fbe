"""The one published form of a stored event: a CloudEvent with hallwatch extensions.

The relay sends it to Kafka and the embedded log source hands the same dict to the
consumers, so supervision and projections run the same code either way. A consumer
reads a hall event through ``Message.hall``: the wire dict parsed once into a
:class:`~hallwatch.published.HallMessage`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from hallwatch.alert import Alert
from hallwatch.case import Case
from hallwatch.catalogue import TYPE_PREFIX, masked, short_type, stream_key
from hallwatch.directory import DirectoryVersions, masked_document
from hallwatch.hall import CalendarYear, HallStream
from hallwatch.published import HallMessage, hall_of_source

_CASE_FACTS = (Case.Opened, Case.FactRecorded)
_STREAM_FACTS = (HallStream.Opened, HallStream.FactRecorded)  # type: ignore[attr-defined]
_RECOMPUTED = Case.DeadlineRecomputed
_ALERT_TOPIC = f"{Alert.__module__}:{Alert.__qualname__}."
_YEAR_LOADED = (CalendarYear.Loaded, CalendarYear.Reloaded)  # type: ignore[attr-defined]
ALERT_TYPE_PREFIX = "cn.gov.hallwatch.alert."
STRUCTURED = b"application/cloudevents+json; charset=UTF-8"
_DIRECTORY_LOADED = (DirectoryVersions.Loaded,  # type: ignore[attr-defined]
                     DirectoryVersions.Reloaded)  # type: ignore[attr-defined]


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

    @property
    def is_alert(self) -> bool:
        """An alert from ``supervision.alerts`` (not a hall event): a CloudEvent of type
        ``cn.gov.hallwatch.alert.<status>``, or the plain JSON alerts had before it (topics
        keep history, so both are read)."""
        return (str(self.value.get("type", "")).startswith(ALERT_TYPE_PREFIX)
                or "alert_id" in self.value)

    @property
    def alert(self) -> dict[str, Any]:
        """The alert as it stood (``Alert.view()`` plus ``position``), whichever form it
        was published in."""
        if "alert_id" in self.value:  # the plain form, before alerts were CloudEvents
            return self.value
        return {**self.value["data"], "position": self.value["hwposition"]}

    @cached_property
    def hall(self) -> HallMessage:
        """The hall event, parsed once (on first use) from the wire form."""
        return HallMessage.from_cloudevent(self.value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def to_cloudevent(app: Application[Any], notification: Notification) -> dict[str, Any] | None:
    """The published CloudEvent for a notification, or None for internal records.

    It carries the CloudEvents ``partitionkey`` extension: the Kafka key it is sent with."""
    value = _hall_cloudevent(app, notification)
    if value is not None:
        value["partitionkey"] = message_key(value)
    return value


def _hall_cloudevent(app: Application[Any], notification: Notification
                     ) -> dict[str, Any] | None:
    event: Any = app.mapper.to_domain_event(notification)
    extensions = {
        "hwposition": notification.id,
        "hwsequence": event.originator_version,
        # When the store took it, by the store's (injected) clock.
        "hwrecordedtime": getattr(event, "recorded_at", None) or event.timestamp.isoformat(),
    }
    if isinstance(event, _CASE_FACTS):
        return {**masked(event.fact), **extensions, "hwcase": _json(event.summary.as_dict()),
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
    if isinstance(event, _DIRECTORY_LOADED):  # staff names masked, like applicants'
        return {
            "specversion": "1.0",
            "id": f"directory-{event.originator_version}",
            "source": "/hallwatch", "type": TYPE_PREFIX + "directory.loaded",
            "subject": "directory", "time": event.loaded_at,
            "data": {**masked_document(event.document), "version": event.directory_version},
            **extensions,
        }
    if isinstance(event, _RECOMPUTED):
        summary = event.summary
        return {
            "specversion": "1.0",
            "id": f"recomputed-{event.originator_id}-{event.originator_version}",
            "source": "/hallwatch",
            "type": TYPE_PREFIX + "case.deadline_recomputed",
            "subject": summary.case_no,
            "time": event.recorded_at,
            "data": {"calendar_year": event.calendar_year},
            **extensions,
            "hwcase": _json(summary.as_dict()),
            "hwchain": event.chain,
        }
    return None


def alert_message(app: Application[Any], notification: Notification) -> dict[str, Any] | None:
    """An alert as it stood after this event (for ``supervision.alerts``), or None.

    A CloudEvent of type ``cn.gov.hallwatch.alert.<status>`` (the status the alert stands
    at after the change), subject and ``partitionkey`` = the alert id, ``time`` = when the
    change happened, ``data`` = the alert's view."""
    if not notification.topic.startswith(_ALERT_TOPIC):
        return None
    alert: Any = app.repository.get(notification.originator_id,
                                    version=notification.originator_version)
    view = alert.view()
    return {
        "specversion": "1.0",
        "id": f"alert-{view['alert_id']}-{view['version']}",
        "source": "/hallwatch",
        "type": ALERT_TYPE_PREFIX + view["status"],
        "subject": view["alert_id"],
        "time": view["updated_at"],
        "datacontenttype": "application/json",
        "data": view,
        "hwposition": notification.id,
        "partitionkey": view["alert_id"],
    }


def kafka_headers(cloudevent: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Headers of a structured-mode CloudEvent per the CloudEvents Kafka binding.

    The binding needs only ``content-type`` (the value is the whole event). The ``ce_``
    copies of the attributes are extra, kept so that brokers' tools (kcat, Connect
    filters, stream routers) can route and filter without parsing the value; the binding
    reads a message with this content-type as structured, so they are never taken for a
    binary-mode event."""
    headers = [("content-type", STRUCTURED)]
    headers += [(f"ce_{k}", str(cloudevent[k]).encode())
                for k in ("specversion", "id", "type", "source", "time", "subject")]
    headers.append(("hw_position", str(cloudevent["hwposition"]).encode()))
    return headers


def message_key(value: dict[str, Any]) -> str:
    """The partition key: whatever must stay in order stays on one partition.

    Case events are keyed by case number; a loaded calendar year by its subject
    (``calendar-YYYY``, so a reload follows the load); other hall events by the stream
    they belong to (``post/{hall}/{window or staff}``, ``complaint/{hall}/{complaint_no}``
    — whose events may name different subjects — or ``record/{hall}/{event id}``); alerts
    by their id. The CloudEvent's ``partitionkey`` extension, once set, is the key."""
    if "partitionkey" in value:
        return str(value["partitionkey"])
    if "alert_id" in value:  # an alert in the plain form of before
        return str(value["alert_id"])
    kind = short_type(value["type"])
    if kind.startswith("case.") or kind == "calendar.year_loaded":
        return str(value["subject"])
    # hallwatch's own events keep the key they always had: "record/hallwatch/{id}".
    source = str(value["source"])
    hall = hall_of_source(source) or source.rsplit("/", 1)[-1]
    return stream_key(kind, hall, str(value["subject"]), value.get("data") or {},
                      str(value["id"]))


def partition_key_of_watch(key: str) -> str:
    """The Kafka key of the events a watch judges (see ``message_key``)."""
    return key.removeprefix("case/") if key.startswith("case/") else key


def alert_headers(value: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The structured-mode headers of an alert CloudEvent, plus its rule."""
    return [*kafka_headers(value), ("hw_rule", str(value["data"]["rule"]).encode())]
