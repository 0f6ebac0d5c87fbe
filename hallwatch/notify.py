"""Notifications (预警纠错): each yellow/red warning, supervision notice (督办) and red card
reaches the people the hall's directory entry names, over its channels.

A :class:`Delivery` is one notification of one alert occasion over one channel. It is
queued in the very transaction that records the alert's change (the outbox: see
:func:`outbox`), then tried by a delivery worker until it is sent or given up:

    queued → (attempt started → attempt failed → …) → sent | given up

Each attempt is marked as started (with a lease) before anything is sent and its
outcome after, so no two workers send the same delivery at once and a restarted worker
never sends again what was marked sent. An attempt whose outcome was never recorded
(the worker died while sending) counts as failed when its lease ends and is tried again:
delivery is at least once, and the receiver drops repeats by the delivery's
idempotency key (one per alert, occasion and channel).

No I/O here: the senders and the worker are in ``services/supervision/notifier.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch.case import NAMESPACE
from hallwatch.labels import NOTIFY_OCCASIONS, label

WEBHOOK, EMAIL = "webhook", "email"
# What may be notified: a warning raised (by its severity), a notice issued, a red card.
OCCASIONS = NOTIFY_OCCASIONS
PENDING, SENDING, SENT, GIVEN_UP = "pending", "sending", "sent", "given_up"


@dataclass(frozen=True)
class Channel:
    """One way to reach a hall's people, as its directory entry names it.

    ``webhook``: ``url`` of an SMS gateway's HTTP API, ``to`` the gateway's recipients
    (numbers or groups), ``secret`` the *name* of the HMAC key (the key itself is a
    setting, never in the directory). ``email``: ``to`` the addresses. ``on``: which
    occasions it is told of (every one of :data:`OCCASIONS` when not said)."""

    id: str
    kind: str
    to: tuple[str, ...]
    url: str = ""
    secret: str = ""
    on: tuple[str, ...] = tuple(OCCASIONS)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "to": list(self.to), "url": self.url,
                "secret": self.secret, "on": list(self.on)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Channel:
        return cls(str(data["id"]), str(data["kind"]), tuple(data.get("to") or ()),
                   str(data.get("url") or ""), str(data.get("secret") or ""),
                   tuple(data.get("on") or OCCASIONS))


def channels_of(hall: Mapping[str, Any]) -> tuple[Channel, ...]:
    """A directory hall entry's ``notify`` list as channels."""
    return tuple(Channel.from_dict(c) for c in hall.get("notify") or ())


@dataclass(frozen=True)
class Retry:
    """How often and how long a delivery is tried: attempt n failing waits
    ``base × 2^(n-1)`` (at most ``cap``) before the next; after ``attempts`` failures it
    is given up. ``lease``: how long an attempt may take before it counts as failed."""

    attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(seconds=60)

    def after(self, attempt: int) -> timedelta:
        return min(self.cap, self.base * 2 ** (attempt - 1))


def occasion_of(event_name: str, severity: str) -> str | None:
    """Which occasion an alert event is, if any: ``Raised`` by its severity (findings are
    not warnings: they reach people when the bureau issues a notice), ``NoticeIssued``,
    ``Escalated``."""
    if event_name == "Raised":
        return severity if severity in ("yellow", "red") else None
    return {"NoticeIssued": "notice", "Escalated": "red_card"}.get(event_name)


def delivery_key(alert_id: UUID, occasion: str, channel_id: str) -> str:
    """The idempotency key: one per alert, occasion and channel."""
    return f"{alert_id}/{occasion}/{channel_id}"


def delivery_id(key: str) -> UUID:
    return uuid5(NAMESPACE, "delivery/" + key)


def compose(alert: Mapping[str, Any], occasion: str, hall_name: str
            ) -> tuple[str, str]:
    """Subject and text of a notification (Chinese; nothing personal: case number,
    window and staff id, never the applicant)."""
    rule = label("rules", alert.get("rule"))
    subject = f"【{OCCASIONS[occasion]}】{hall_name} {rule}"
    lines = [subject, f"规则：{rule}（{label('severities', alert.get('severity'))}）"]
    for name, key in (("办件", "case_no"), ("窗口", "window_id"), ("人员", "staff_id")):
        if alert.get(key):
            lines.append(f"{name}：{alert[key]}")
    lines.append(f"发生时间：{alert.get('raised_at')}")
    if occasion in ("notice", "red_card") and alert.get("notice_due_at"):
        lines.append(f"督办整改期限：{alert['notice_due_at']}")
    if alert.get("detail"):
        lines.append(f"说明：{alert['detail']}")
    lines.append(f"预警编号：{alert.get('alert_id')}")
    return subject, "\n".join(lines)


class Delivery(Aggregate):
    """One notification of one alert occasion over one channel, and every attempt."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return delivery_id(key)

    @event("Queued")
    def __init__(self, key: str, alert_id: str, occasion: str, hall_id: str,
                 channel: Channel, subject: str, text: str, payload: dict[str, Any],
                 queued_at: str) -> None:
        self.key = key
        self.alert_id = alert_id
        self.occasion = occasion
        self.hall_id = hall_id
        self.channel = channel
        self.subject = subject
        self.text = text
        self.payload = payload
        self.queued_at = queued_at
        self.status = PENDING
        self.attempts = 0
        self.next_at: str | None = queued_at
        self.history: list[dict[str, Any]] = [{"status": "queued", "at": queued_at}]

    def due_at(self) -> datetime | None:
        """When the worker should look at it next: a pending delivery's next attempt, a
        sending one's lease end; None once sent or given up."""
        return datetime.fromisoformat(self.next_at) if self.next_at else None

    def start(self, at: datetime, retry: Retry) -> int:
        """Mark an attempt as started (before sending); returns its number."""
        if self.status != PENDING:
            raise ValueError(f"cannot start an attempt of a delivery that is {self.status}")
        self._started(at=at.isoformat(), attempt=self.attempts + 1,
                      lease_until=(at + retry.lease).isoformat())
        return self.attempts

    @event("AttemptStarted")
    def _started(self, at: str, attempt: int, lease_until: str) -> None:
        self.status = SENDING
        self.attempts = attempt
        self.next_at = lease_until
        self.history = [*self.history, {"status": "attempt_started", "at": at,
                                        "attempt": attempt}]

    def succeed(self, at: datetime, receipt: str) -> None:
        self._sent(at=at.isoformat(), attempt=self.attempts, receipt=receipt)

    @event("Sent")
    def _sent(self, at: str, attempt: int, receipt: str) -> None:
        self.status = SENT
        self.next_at = None
        self.history = [*self.history, {"status": SENT, "at": at, "attempt": attempt,
                                        "receipt": receipt}]

    def fail(self, at: datetime, error: str, retry: Retry) -> None:
        """The attempt failed: try again after the back-off, or give up after the last."""
        if self.attempts >= retry.attempts:
            self._given_up(at=at.isoformat(), attempt=self.attempts, error=error)
        else:
            self._failed(at=at.isoformat(), attempt=self.attempts, error=error,
                         next_at=(at + retry.after(self.attempts)).isoformat())

    def lapse(self, at: datetime, retry: Retry) -> None:
        """The lease of an attempt ended with no outcome recorded (its worker stopped while
        sending): it counts as failed. It may have reached the receiver, which drops the
        repeat by its idempotency key."""
        if self.status != SENDING:
            raise ValueError(f"cannot lapse a delivery that is {self.status}")
        self.fail(at, "no outcome recorded before the attempt's lease ended", retry)

    @event("AttemptFailed")
    def _failed(self, at: str, attempt: int, error: str, next_at: str) -> None:
        self.status = PENDING
        self.next_at = next_at
        self.history = [*self.history, {"status": "attempt_failed", "at": at,
                                        "attempt": attempt, "error": error,
                                        "next_at": next_at}]

    @event("GivenUp")
    def _given_up(self, at: str, attempt: int, error: str) -> None:
        self.status = GIVEN_UP
        self.next_at = None
        self.history = [*self.history, {"status": GIVEN_UP, "at": at, "attempt": attempt,
                                        "error": error}]

    def view(self) -> dict[str, Any]:
        """As shown on its alert (recipients and channel, never a secret's value)."""
        return {"delivery_id": str(self.id), "idempotency_key": self.key,
                "occasion": self.occasion, "channel": self.channel.id,
                "kind": self.channel.kind, "to": list(self.channel.to),
                "status": self.status, "attempts": self.attempts,
                "next_attempt_at": self.next_at if self.status == PENDING else None,
                "queued_at": self.queued_at, "history": self.history}


def outbox(changes: Iterable[tuple[str, Mapping[str, Any]]],
           channels: Mapping[str, Sequence[Channel]], hall_names: Mapping[str, str],
           at: datetime) -> list[Delivery]:
    """The deliveries a set of alert changes calls for: for each ``(event name, alert
    view after the change)`` that is an occasion, one per channel of the alert's hall
    told of that occasion."""
    found: dict[str, Delivery] = {}
    for event_name, alert in changes:
        occasion = occasion_of(event_name, str(alert.get("severity")))
        hall = str(alert.get("hall_id") or "")
        if occasion is None or not channels.get(hall):
            continue
        subject, text = compose(alert, occasion, hall_names.get(hall, hall))
        for channel in channels[hall]:
            if occasion not in channel.on:
                continue
            key = delivery_key(UUID(str(alert["alert_id"])), occasion, channel.id)
            payload = {"idempotency_key": key, "occasion": occasion,
                       "occasion_name": OCCASIONS[occasion], "hall_id": hall,
                       "hall_name": hall_names.get(hall, hall), "to": list(channel.to),
                       "subject": subject, "text": text,
                       "alert": {k: alert.get(k) for k in (
                           "alert_id", "rule", "severity", "status", "case_no",
                           "window_id", "staff_id", "raised_at", "notice_due_at")}}
            found.setdefault(key, Delivery(
                key=key, alert_id=str(alert["alert_id"]), occasion=occasion, hall_id=hall,
                channel=channel, subject=subject, text=text, payload=payload,
                queued_at=at.isoformat()))
    return list(found.values())
