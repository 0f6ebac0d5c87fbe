"""The load: cases planned from a seed, posted by hall systems that retry until stored.

Three kinds of case (all in November 2026, a month without public holidays):

* ``open``: accepted between 10 and 0 days before the intake's clock, promised 1–3
  working days, never decided. Those due before the supervision clock's last moment go
  overdue while the system runs (the supervision clock advances in steps).
* ``late_done``: accepted 8–11 days before, promised 1 day, completed after the due time
  (a deadline.overdue raised and cleared, whichever happens first).
* ``in_time``: accepted in the last three days, promised 10 working days (due after the
  run's last moment), completed before the intake's clock.

Any fact whose ``time`` lies more than a day before the intake's clock is a late report.
Each hall posts singles (``POST /v1/events``) and NDJSON batches, keeps the order of each
case's facts, and retries a fact until the intake answers 200/201 for it: a hall system
that did not get an answer must send again, and the same id makes that harmless.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import HALL2_KEY, HALL_KEY

HALL_KEYS = {"H1": HALL_KEY, "H2": HALL2_KEY}
TYPE = "cn.gov.hall."
REQUEST_TIMEOUT = 15


@dataclass
class PlannedCase:
    case_no: str
    hall: str
    kind: str  # open | late_done | in_time
    promised_days: int
    events: list[dict[str, Any]] = field(default_factory=list)


def _office_moment(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A random minute in office hours (09:00–16:59) on a weekday, within [lo, hi]."""
    for _ in range(10_000):
        day = lo + timedelta(days=rng.randint(0, (hi.date() - lo.date()).days))
        moment = day.replace(hour=rng.randint(9, 16), minute=rng.randint(0, 59), second=0,
                             microsecond=0)
        if moment.weekday() < 5 and lo <= moment <= hi:
            return moment
    raise AssertionError(f"no office minute between {lo} and {hi}")


def _event(kind: str, case: PlannedCase, moment: datetime, data: dict[str, Any],
           suffix: str, seed: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"chaos-{seed}-{case.case_no}-{suffix}",
            "source": f"/halls/{case.hall}", "type": TYPE + kind, "subject": case.case_no,
            "time": moment.isoformat(), "data": data}


def plan(seed: int, cases: int, now: datetime) -> list[PlannedCase]:
    """The cases and their facts, from the seed alone."""
    rng = random.Random(seed)
    out = []
    for n in range(cases):
        kind = rng.choice(("open", "open", "late_done", "in_time"))
        hall = rng.choice(("H1", "H2"))
        case = PlannedCase(f"CH{seed}-{n:05d}", hall, kind, 1)
        if kind == "open":
            case.promised_days = rng.randint(1, 3)
            accepted = _office_moment(rng, now - timedelta(days=10), now - timedelta(hours=1))
            done = None
        elif kind == "late_done":
            accepted = _office_moment(rng, now - timedelta(days=11), now - timedelta(days=8))
            done = _office_moment(rng, accepted + timedelta(days=4), now - timedelta(minutes=1))
        else:
            case.promised_days = 10
            accepted = _office_moment(rng, now - timedelta(days=3), now - timedelta(hours=2))
            done = _office_moment(rng, accepted + timedelta(minutes=1), now - timedelta(minutes=1))
        case.events.append(_event("case.accepted", case, accepted, {
            "matter_code": "M0001", "matter_name": "不动产转移登记", "kind": "promised",
            "promised_days": case.promised_days, "window_id": f"W{n % 7:02d}",
            "staff_id": f"S{n % 11:02d}", "receipt_no": f"R-{seed}-{n}"}, "a", seed))
        if done is not None:
            case.events.append(_event("case.completed", case, done, {"result": "approved"},
                                      "c", seed))
        out.append(case)
    return out


@dataclass
class LoadReport:
    posted: int = 0  # distinct facts sent at least once
    acknowledged: dict[str, int] = field(default_factory=dict)  # id -> 200/201
    refused: dict[str, str] = field(default_factory=dict)  # id -> a 4xx answer
    requests: int = 0
    batches: int = 0
    retries: int = 0


class Load:
    """One thread per hall; each posts its cases' facts in order, paced over ``seconds``."""

    def __init__(self, url: str, cases: list[PlannedCase], seed: int, seconds: float,
                 batch_max: int = 40) -> None:
        self.url = url
        self.cases = cases
        self.seed = seed
        self.seconds = seconds
        self.batch_max = batch_max
        self.report = LoadReport()
        self._lock = threading.Lock()
        self._sent: set[str] = set()

    def run(self, deadline: float) -> LoadReport:
        threads = []
        for index, hall in enumerate(sorted(HALL_KEYS)):
            mine = [c for c in self.cases if c.hall == hall]
            thread = threading.Thread(target=self._hall, name=f"load-{hall}",
                                      args=(hall, mine, random.Random(self.seed * 31 + index),
                                            deadline), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(max(1.0, deadline - time.monotonic() + 5))
        self.report.posted = len(self._sent)
        return self.report

    def _hall(self, hall: str, cases: list[PlannedCase], rng: random.Random,
              deadline: float) -> None:
        key = HALL_KEYS[hall]
        queue = deque((c, 0) for c in cases)  # (case, index of its next fact)
        total = sum(len(c.events) for c in cases) or 1
        done = 0
        started = time.monotonic()
        while queue and time.monotonic() < deadline:
            # Pace: the nth fact not before n/total of the run (the faults need a live load).
            wait = started + self.seconds * done / total - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 1.0))
                continue
            size = 1 if rng.random() < 0.4 else rng.randint(2, self.batch_max)
            picked = [queue.popleft() for _ in range(min(size, len(queue)))]
            events = [case.events[i] for case, i in picked]
            answers = self._post(key, events)
            for (case, i), answer in zip(picked, answers, strict=True):
                event_id = case.events[i]["id"]
                if answer in (200, 201):
                    with self._lock:
                        self.report.acknowledged[event_id] = answer
                    done += 1
                    if i + 1 < len(case.events):
                        queue.append((case, i + 1))
                elif isinstance(answer, str):
                    with self._lock:
                        self.report.refused[event_id] = answer
                else:  # no answer: send the same fact again later, in order
                    with self._lock:
                        self.report.retries += 1
                    queue.append((case, i))
            if any(not isinstance(a, int) or a not in (200, 201) for a in answers):
                time.sleep(0.2 + rng.random() * 0.3)

    def _post(self, key: str, events: list[dict[str, Any]]) -> list[int | str | None]:
        """One status per fact: 200/201 stored, a 4xx text refused, None no answer."""
        with self._lock:
            self._sent.update(e["id"] for e in events)
            self.report.requests += 1
            self.report.batches += len(events) > 1
        if len(events) == 1:
            body = json.dumps(events[0], ensure_ascii=False).encode()
            path, media = "/v1/events", "application/cloudevents+json"
        else:
            body = "\n".join(json.dumps(e, ensure_ascii=False) for e in events).encode()
            path, media = "/v1/events:batch", "application/x-ndjson"
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers={
            "Authorization": f"Bearer {key}", "Content-Type": media})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                answer = json.loads(response.read())
                status = response.status
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in (408, 429):
                text = f"{error.code} {error.read()[:300]!r}"
                return [text] * len(events)
            return [None] * len(events)
        except (OSError, ValueError):
            return [None] * len(events)
        if len(events) == 1:
            return [status]
        results: list[int | str | None] = []
        for line in answer.get("results", []):
            code = (line or {}).get("status")
            if code in (200, 201):
                results.append(code)
            elif isinstance(code, int) and 400 <= code < 500:
                results.append(f"{code} {line}")
            else:
                results.append(None)
        results += [None] * (len(events) - len(results))
        return results
