"""Delivers the notifications supervision queues with its alerts (``hallwatch/notify.py``).

The outbox is the supervision store itself: each :class:`~hallwatch.notify.Delivery` was
recorded in the transaction that recorded its alert's change. The :class:`Notifier`
follows the store's log for deliveries (from the start at start-up, so nothing queued
is missed across a restart), keeps when each comes due, and when one does:

1. records the attempt as started (the claim: optimistic concurrency lets exactly one
   worker of any instance record it, and only that one sends);
2. sends it (webhook or SMTP, each attempt bounded by ``HALLWATCH_NOTIFY_TIMEOUT_SECONDS``);
3. records the outcome: sent, or failed with the next attempt after an exponential
   back-off, or given up after ``HALLWATCH_NOTIFY_ATTEMPTS``.

A delivery marked sent is never sent again. One whose outcome was never recorded (the
process stopped mid-send) is retried when its lease ends: at least once, with the
delivery's idempotency key on every copy for the receiver to drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from hallwatch.notify import EMAIL, GIVEN_UP, SENDING, SENT, WEBHOOK, Delivery, Retry
from services.common import storage
from services.common.metrics import NOTIFICATIONS
from services.common.settings import Settings
from services.common.workers import Worker
from services.supervision.app import Supervision
from services.supervision.timetable import Timetable

log = logging.getLogger(__name__)
TOPICS = tuple(f"{Delivery.__module__}:{Delivery.__qualname__}.{name}" for name in
               ("Queued", "AttemptStarted", "AttemptFailed", "Sent", "GivenUp"))
SIGNATURE_HEADER = "X-Hallwatch-Signature"
KEY_HEADER = "Idempotency-Key"
IDLE_POLL = 1.0  # seconds


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: ``ok`` and what the receiver said (or what went wrong)."""

    ok: bool
    detail: str


class Sender(Protocol):
    def send(self, delivery: Delivery) -> Outcome: ...


def signature(key: bytes, body: bytes) -> str:
    """The webhook signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the
    exact body bytes under the channel's key."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class Webhook:
    """POSTs the delivery's JSON to the channel's URL (an SMS gateway's HTTP API), signed;
    any 2xx answer is sent, anything else (or no answer in time) a failed attempt."""

    def __init__(self, secret: Callable[[str], bytes | None], timeout: float) -> None:
        self.secret = secret
        self.timeout = timeout
        # Straight to the gateway: a proxy from the environment is not the bureau's choice.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(self, delivery: Delivery) -> Outcome:
        name = delivery.channel.secret
        key = self.secret(name)
        if key is None:
            return Outcome(False, f"no HMAC key named {name} (set HALLWATCH_NOTIFY_SECRET_"
                                  f"{name} or HALLWATCH_NOTIFY_SECRETS_FILE)")
        body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode()
        request = urllib.request.Request(delivery.channel.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            KEY_HEADER: delivery.key,
            SIGNATURE_HEADER: signature(key, body),
            "X-Hallwatch-Attempt": str(delivery.attempts),
            "User-Agent": "hallwatch-notifier"})
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                return Outcome(True, f"HTTP {answer.status}")
        except urllib.error.HTTPError as error:
            return Outcome(False, f"HTTP {error.code}")
        except urllib.error.URLError as error:
            return Outcome(False, f"{type(error.reason).__name__}: {error.reason}")
        except OSError as error:  # timeouts, resets
            return Outcome(False, f"{type(error).__name__}: {error}")


class Mail:
    """Hands the delivery to the configured SMTP server as one message to every address;
    the message id is the delivery's, the same on every attempt."""

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        self.url = urlparse(url) if url else None
        self.sender = sender
        self.timeout = timeout

    def send(self, delivery: Delivery) -> Outcome:
        if self.url is None or not self.url.hostname:
            return Outcome(False, "no SMTP server (set HALLWATCH_SMTP_URL)")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(delivery.channel.to)
        message["Subject"] = delivery.subject
        message["Date"] = format_datetime(datetime.fromisoformat(delivery.queued_at))
        message["Message-ID"] = f"<{delivery.id}@hallwatch>"
        message["X-Hallwatch-Idempotency-Key"] = delivery.key
        message.set_content(delivery.text)
        host, scheme = self.url.hostname, self.url.scheme
        port = self.url.port or (465 if scheme == "smtps" else 25)
        try:
            smtp = (smtplib.SMTP_SSL(host, port, timeout=self.timeout) if scheme == "smtps"
                    else smtplib.SMTP(host, port, timeout=self.timeout))
            with smtp:
                if scheme == "smtp+starttls":
                    smtp.starttls()
                if self.url.username:
                    smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            return Outcome(False, f"{type(error).__name__}: {error}")
        taken = len(delivery.channel.to) - len(refused)
        return Outcome(True, f"accepted by {host} for {taken} of {len(delivery.channel.to)}")


class Notifier:
    """The delivery worker of one supervision process (any number may run on one store)."""

    def __init__(self, app: Supervision, settings: Settings,
                 senders: dict[str, Sender] | None = None, idle_poll: float = IDLE_POLL) -> None:
        """``idle_poll``: how long a quiet worker waits before looking for deliveries queued
        by other processes (writes of this process wake it at once)."""
        self.app = app
        self.idle_poll = idle_poll
        self.settings = settings
        timeout = settings.notify_timeout_seconds
        self.retry = Retry(attempts=settings.notify_attempts,
                           base=timedelta(seconds=settings.notify_backoff_seconds),
                           cap=timedelta(hours=1),
                           lease=timedelta(seconds=2 * timeout + 30))
        self.senders: dict[str, Sender] = senders or {
            WEBHOOK: Webhook(settings.notify_secret, timeout),
            EMAIL: Mail(settings.smtp_url, settings.smtp_from, timeout)}
        self._lock = threading.Lock()
        self._seen = 0
        self._due = Timetable()
        self._of_alert: dict[str, list[UUID]] = defaultdict(list)

    def refresh(self) -> None:
        """Follow the store's log for deliveries from where this worker was."""
        with self._lock:
            # Everything up to the head as it stands now has been committed (the store
            # commits in log order), so the next look starts past it whatever it held:
            # rounds never rescan the judge's events.
            head = self.app.recorder.max_notification_id() or 0
            for notification in storage.read_log(self.app, self._seen, topics=TOPICS):
                self._seen = notification.id
                event: Any = self.app.mapper.to_domain_event(notification)
                ident = UUID(str(notification.originator_id))
                name = type(event).__name__
                if name == "Queued":
                    self._of_alert[event.alert_id].append(ident)
                    self._due.set(ident, datetime.fromisoformat(event.queued_at))
                elif name == "AttemptStarted":
                    self._due.set(ident, datetime.fromisoformat(event.lease_until))
                elif name == "AttemptFailed":
                    self._due.set(ident, datetime.fromisoformat(event.next_at))
                else:
                    self._due.discard(ident)
            self._seen = max(self._seen, head)

    def step(self) -> int:
        """Try every delivery due now; returns how many attempts were recorded."""
        self.refresh()
        with self._lock:
            due = [ident for ident, _ in self._due.due(self.app.clock())]
        tried = sum(self._attempt(ident) for ident in due)
        if tried:
            self.refresh()
        return tried

    def _attempt(self, ident: UUID) -> int:
        delivery: Delivery = self.app.repository.get(ident)
        now = self.app.clock()
        moment = delivery.due_at()
        if moment is None or delivery.status in (SENT, GIVEN_UP):
            with self._lock:
                self._due.discard(ident)
            return 0
        if moment > now:
            with self._lock:
                self._due.set(ident, moment)
            return 0
        if delivery.status == SENDING:  # its worker stopped before recording the outcome
            delivery.lapse(now, self.retry)
            if delivery.status == GIVEN_UP:
                return self._record(delivery, "given_up")
        delivery.start(now, self.retry)
        try:
            self.app.save(delivery)  # the claim: only the worker that records it sends
        except IntegrityError:
            return 0  # another worker claimed it; the log tells this one what came of it
        sender = self.senders.get(delivery.channel.kind)
        outcome = (sender.send(delivery) if sender is not None
                   else Outcome(False, f"no sender for {delivery.channel.kind}"))
        if outcome.ok:
            delivery.succeed(self.app.clock(), outcome.detail)
        else:
            delivery.fail(self.app.clock(), outcome.detail, self.retry)
            log.info("notification %s attempt %d failed: %s", delivery.key,
                     delivery.attempts, outcome.detail)
        return self._record(delivery, delivery.status)

    def _record(self, delivery: Delivery, status: str) -> int:
        # Should this fail (the store is down), the claim's lease runs out and the attempt
        # is made again: at least once.
        self.app.save(delivery)
        NOTIFICATIONS.labels(delivery.channel.kind, status).inc()
        return 1

    def deliveries(self, alert_id: UUID) -> list[dict[str, Any]]:
        """Every notification of an alert with its attempts, in the order queued."""
        self.refresh()
        with self._lock:
            idents = list(self._of_alert.get(str(alert_id), ()))
        return [self.app.repository.get(ident).view() for ident in idents]

    # -- the loop ----------------------------------------------------------------------

    def start(self, stop: threading.Event) -> threading.Thread:
        return Worker("notifier", lambda: self._round(stop), stop,
                      self.settings.poll_seconds).start()

    def _round(self, stop: threading.Event) -> bool:
        seen = self.app.written.seen()
        if self.step():
            return True
        # Nothing due: sleep until the next delivery comes due or this process writes
        # (a new alert may have queued one); deliveries queued by other processes (other
        # supervision instances) are found within a second.
        with self._lock:
            due = self._due.earliest()
        wait = max(self.settings.poll_seconds, self.idle_poll)
        if due is not None:
            wait = max(0.0, min(wait, (due - self.app.clock()).total_seconds()))
        if not stop.is_set():
            self.app.written.wait(seen, wait)
        return True
