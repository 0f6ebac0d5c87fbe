"""The hall-action catalogue and the parsed form of one hall event (a :class:`Fact`).

Structure is validated at the edge against ``schemas/``; this module holds what the
domain needs to know about each type and parses the envelope's meaning (hall, time).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from hallwatch.errors import Forbidden, InvalidEvent

TYPE_PREFIX = "cn.gov.hall."

# Case events: subject = case number 办件编号.
CASE_TYPES = (
    "case.accepted",
    "case.tolerance_accepted",
    "case.notice_issued",
    "case.materials_supplemented",
    "case.suspended",
    "case.resumed",
    "case.extended",
    "case.rejected",
    "case.completed",
    "case.delivered",
    "case.returned",
    "case.withdrawn",
    "case.rated",
    "case.rating_rectified",
)
# Hall events: subject = window or staff id.
HALL_TYPES = (
    "post.absence_noticed",
    "post.resumed",
    "service.after_hours",
    "inquiry.recorded",
    "complaint.received",
    "complaint.resolved",
    "liaison.reported",
    "register.entry_recorded",
    "inspection.recorded",
)
ALL_TYPES = CASE_TYPES + HALL_TYPES
# A case's first event: a notice, an acceptance, or a refusal at the window without an
# acceptance (不予受理, measures art. 17(7)).
OPENING_TYPES = ("case.accepted", "case.tolerance_accepted", "case.notice_issued",
                 "case.rejected")
# Records only the bureau makes (its inspections, measures art. 24): a hall's key may not
# post them, and the bureau's key may post nothing else.
BUREAU_TYPES = ("inspection.recorded",)

# Fields of ``data.applicant`` that hold personal data: stored encrypted, and masked
# before anything leaves the event store (Kafka, ClickHouse), keeping this many leading
# and trailing characters.
PERSONAL_FIELDS = {"name": (1, 0), "id_number": (4, 2), "phone": (3, 2)}

_SOURCE = re.compile(r"^/halls/([A-Za-z0-9_-]{1,64})$")


def short_type(ce_type: str) -> str:
    return ce_type.removeprefix(TYPE_PREFIX)


def check_author(envelope: dict[str, Any], role: str) -> None:
    """Raise Forbidden (403, field ``type``) unless a key of ``role`` may post this
    event's type: the bureau posts its inspections and only those; halls all the rest."""
    name = short_type(str(envelope.get("type", "")))
    if role == "bureau" and name not in BUREAU_TYPES:
        raise Forbidden(f"a bureau key records only {', '.join(BUREAU_TYPES)}; "
                        f"{name} comes from the hall's system", "type")
    if role != "bureau" and name in BUREAU_TYPES:
        raise Forbidden(f"{name} is recorded by the bureau: a hall key may not post it",
                        "type")


def parse_time(text: str, field: str = "time") -> datetime:
    """An RFC 3339 timestamp with an explicit offset."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidEvent(f"{text!r} is not an RFC 3339 timestamp", field) from None
    if moment.tzinfo is None:
        raise InvalidEvent("timestamp needs an offset, e.g. +08:00", field)
    return moment


def digest(envelope: dict[str, Any]) -> str:
    """Content fingerprint used for idempotency (key order does not matter)."""
    canonical = json.dumps(envelope, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def mask_text(text: str, keep_head: int, keep_tail: int) -> str:
    if len(text) <= keep_head + keep_tail:
        return text[:1] + "*" * (len(text) - 1)
    middle = len(text) - keep_head - keep_tail
    return text[:keep_head] + "*" * middle + (text[-keep_tail:] if keep_tail else "")


def masked(envelope: dict[str, Any]) -> dict[str, Any]:
    """A copy with the applicant's personal data masked (name 张**, id 1101**********12)."""
    data = envelope.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("applicant"), dict):
        return envelope
    applicant = dict(data["applicant"])
    for key, (head, tail) in PERSONAL_FIELDS.items():
        value = applicant.get(key)
        if isinstance(value, str) and value:
            applicant[key] = mask_text(value, head, tail)
    return {**envelope, "data": {**data, "applicant": applicant}}


def stream_key(kind: str, hall_id: str | None, subject: str, data: Mapping[str, Any],
               event_id: str) -> str:
    """The stream (and the watch) a hall event belongs to: its case, its post (window),
    its complaint, or — for one-off records — itself."""
    family = kind.split(".", 1)[0]
    if family == "case":
        return f"case/{subject}"
    if family == "post":
        return f"post/{hall_id}/{subject}"
    if family == "complaint":
        return f"complaint/{hall_id}/{data.get('complaint_no', '')}"
    return f"record/{hall_id}/{event_id}"


@dataclass(frozen=True)
class Fact:
    """One hall event as the domain sees it."""

    id: str
    hall_id: str
    type: str  # short name, e.g. "case.accepted"
    subject: str
    time: datetime
    data: dict[str, Any]
    envelope: dict[str, Any]

    @property
    def is_case_event(self) -> bool:
        return self.type in CASE_TYPES

    @cached_property
    def digest(self) -> str:
        """Computed once: the receipt and the case's hash chain both use it."""
        return digest(self.envelope)

    @classmethod
    def from_envelope(cls, envelope: dict[str, Any], caller_hall: str | None) -> Fact:
        """Parse a schema-valid CloudEvent; ``caller_hall`` is the key's hall (None: any)."""
        match = _SOURCE.match(str(envelope.get("source", "")))
        if not match:
            raise InvalidEvent("source must be /halls/{hall_id}", "source")
        hall_id = match.group(1)
        if caller_hall is not None and hall_id != caller_hall:
            raise Forbidden(f"this key writes for hall {caller_hall}, not {hall_id}", "source")
        ce_type = str(envelope.get("type", ""))
        name = short_type(ce_type)
        if not ce_type.startswith(TYPE_PREFIX) or name not in ALL_TYPES:
            raise InvalidEvent(f"unknown event type {ce_type!r}", "type")
        data = envelope.get("data")
        return cls(
            id=str(envelope["id"]),
            hall_id=hall_id,
            type=name,
            subject=str(envelope["subject"]),
            time=parse_time(str(envelope.get("time", ""))),
            data=data if isinstance(data, dict) else {},
            envelope=envelope,
        )
