"""Sends a planned city to a hallwatch over HTTP, paced by a clock and a rate.

An event is sent once the clock reads its ``send_at`` (the simulator and the server
share the clock, so nothing claims to have happened in the future) and, with a rate,
no faster than that many events a second. Events due together go as one NDJSON batch
per hall (``POST /v1/events:batch``); a lone event as a single ``POST /v1/events``.
"""

from __future__ import annotations

import heapq
import http.client
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import urlparse

from services.simulator.city import City, Planned

RETRIES = 5


@dataclass
class Tally:
    """What was sent and how the server answered."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    batches: int = 0

    @property
    def accepted(self) -> int:
        return self.statuses[201] + self.statuses[200]

    @property
    def refused(self) -> dict[str, int]:
        return {str(s): n for s, n in sorted(self.statuses.items()) if s not in (200, 201)}

    def answer(self, planned: Planned, status: int, body: dict[str, Any]) -> None:
        self.sent += 1
        self.statuses[status] += 1
        self.types[planned.type] += 1
        if status not in (200, 201) and len(self.reasons) < 20:
            reason = body.get("detail") or body.get("reason") or body
            self.reasons.append(f"{status} {planned.type} {planned.envelope['subject']} "
                                f"{body.get('field', '')}: {reason}")


class Sender:
    """HTTP to one hallwatch, with one hall key per hall and a kept-alive connection."""

    def __init__(self, target: str, hall_keys: dict[str, str], timeout: float = 60) -> None:
        url = urlparse(target)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.https = url.scheme == "https"
        self.keys = hall_keys
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def post(self, path: str, hall: str, body: bytes, content_type: str) -> tuple[int, Any]:
        """POST with retries on a broken connection or a 5xx (events are idempotent)."""
        for attempt in range(RETRIES):
            try:
                connection = self._connect()
                connection.request("POST", path, body, {
                    "Authorization": f"Bearer {self.keys[hall]}", "Content-Type": content_type})
                response = connection.getresponse()
                raw = response.read()
                if response.status < 500:
                    return response.status, json.loads(raw) if raw else {}
            except (OSError, http.client.HTTPException):
                self.close()
            time.sleep(0.5 * (attempt + 1))
        return 0, {"reason": "no answer from the server"}

    def send(self, hall: str, events: list[Planned], tally: Tally, attempt: int = 0) -> None:
        """Sends ``events`` (one hall's, in order) and tallies each answer; lines a batch
        answers with a 5xx (not stored: send again) are sent again, in order."""
        tally.requests += 1
        if len(events) == 1:
            status, body = self.post("/v1/events", hall, json.dumps(
                events[0].envelope, ensure_ascii=False).encode(), "application/cloudevents+json")
            if status == 0:
                tally.errors += 1
            body = body if isinstance(body, dict) else {}
            tally.answer(events[0], status, body.get("error", body))
            return
        tally.batches += 1
        lines = b"\n".join(json.dumps(e.envelope, ensure_ascii=False).encode() for e in events)
        status, body = self.post("/v1/events:batch", hall, lines, "application/x-ndjson")
        results = body.get("results") if status == 200 and isinstance(body, dict) else None
        if results is None:
            if status == 0:
                tally.errors += len(events)
            error = body.get("error", body) if isinstance(body, dict) else {}
            for planned in events:
                tally.answer(planned, status, error)
            return
        again = [p for p, r in zip(events, results, strict=True) if int(r["status"]) >= 500]
        if again and attempt < RETRIES:
            for planned, result in zip(events, results, strict=True):
                if int(result["status"]) < 500:
                    tally.answer(planned, int(result["status"]), result)
            time.sleep(0.5 * (attempt + 1))
            self.send(hall, again, tally, attempt + 1)
            return
        for planned, result in zip(events, results, strict=True):
            tally.answer(planned, int(result["status"]), result)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass
class Run:
    """One simulation run: plans days as the clock reaches them and sends what is due."""

    city: City
    clock: Callable[[], datetime]
    start: datetime
    end: datetime
    sender: Sender
    rate: float | None = None  # events a second at most
    batch: int = 200  # events per batch request at most
    duration: float | None = None  # real seconds
    stop: threading.Event = field(default_factory=threading.Event)
    progress: TextIO | None = field(default_factory=lambda: sys.stderr)
    tally: Tally = field(default_factory=Tally)
    _queue: list[Planned] = field(default_factory=list)
    _next_day: date | None = None
    sim_now: datetime | None = None

    def _plan_until(self, moment: datetime) -> None:
        day = self._next_day or self.start.date()
        while day <= moment.date() and day < self.end.date() + timedelta(days=1):
            for planned in self.city.plan_day(day, not_before=self.start):
                if planned.send_at < self.end:
                    heapq.heappush(self._queue, planned)
            day += timedelta(days=1)
        self._next_day = day

    def _due(self, moment: datetime, limit: int) -> list[Planned]:
        out: list[Planned] = []
        while self._queue and self._queue[0].send_at <= moment and len(out) < limit:
            out.append(heapq.heappop(self._queue))
        return out

    def finished(self, now: datetime) -> bool:
        return now >= self.end and not (self._queue and self._queue[0].send_at <= now)

    def run(self) -> Tally:
        began = last_report = time.monotonic()
        allowance = 0.0
        last_tick = began
        while not self.stop.is_set():
            tick = time.monotonic()
            if self.duration is not None and tick - began >= self.duration:
                break
            now = min(self.clock(), self.end)
            self.sim_now = now
            self._plan_until(now)
            limit = 10 * self.batch
            if self.rate:
                allowance = min(self.rate, allowance + (tick - last_tick) * self.rate)
                limit = int(allowance)
            last_tick = tick
            due = self._due(now, limit) if limit > 0 else []
            if not due:
                if self.finished(self.clock()):
                    break
                self.stop.wait(0.02)
            for hall, events in _by_hall(due):
                for chunk in range(0, len(events), self.batch):
                    self.sender.send(hall, events[chunk:chunk + self.batch], self.tally)
            allowance -= len(due)
            if self.progress is not None and tick - last_report >= 1.0:
                self._report(tick - began)
                last_report = tick
        if self.progress is not None:
            self._report(time.monotonic() - began)
            self.progress.write("\n")
        return self.tally

    def _report(self, elapsed: float) -> None:
        assert self.progress is not None
        tally = self.tally
        refused = sum(tally.refused.values())
        moment = f"{self.sim_now:%Y-%m-%d %H:%M}" if self.sim_now else "-"
        line = (f"simulated {moment}  sent {tally.sent}  accepted {tally.accepted}  "
                f"refused {refused}  {tally.sent / max(elapsed, 1e-9):.0f} events/s")
        if self.progress.isatty():
            self.progress.write("\r" + line.ljust(100))
        else:
            self.progress.write(line + "\n")
        self.progress.flush()


def _by_hall(events: list[Planned]) -> Iterator[tuple[str, list[Planned]]]:
    """Groups due events per hall (one key per request), keeping their order."""
    groups: dict[str, list[Planned]] = {}
    for planned in events:
        groups.setdefault(planned.hall_id, []).append(planned)
    yield from groups.items()


def summary(run: Run, wall_seconds: float) -> dict[str, Any]:
    tally = run.tally
    return {"sent": tally.sent, "accepted": tally.accepted, "created": tally.statuses[201],
            "repeated": tally.statuses[200], "refused": tally.refused,
            "unanswered": tally.errors, "requests": tally.requests, "batches": tally.batches,
            "by_type": dict(sorted(tally.types.items())),
            "simulated": {"from": run.start.isoformat(),
                          "to": (run.sim_now or run.start).isoformat()},
            "wall_seconds": round(wall_seconds, 1),
            "events_per_second": round(tally.sent / max(wall_seconds, 1e-9), 1),
            "refusal_samples": tally.reasons}
