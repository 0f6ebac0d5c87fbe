"""hallwatch's stages, each measured the way it runs: over HTTP against ``hallwatch``
processes for the intake, end to end and reads; in process, through the composition root
(services/system.py), for supervision, the projection sink and the relay."""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import web
from bench.common import (
    BUREAU_KEY,
    HALL,
    HALL_KEY,
    NOW,
    accepted,
    chunks,
    median,
    mix,
    percentile,
    timed,
)
from services import system
from services.common.clickhouse import DATABASE, connect
from services.common.messages import Message, to_cloudevent
from services.common.settings import Settings

SINGLE = {"Authorization": f"Bearer {HALL_KEY}", "Content-Type": "application/cloudevents+json"}
BATCH = {"Authorization": f"Bearer {HALL_KEY}", "Content-Type": "application/x-ndjson"}
READER = {"Authorization": f"Bearer {BUREAU_KEY}"}
LATE = 5.0  # seconds behind its due time an event of an offered rate is still sent


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


# -- what the stages feed on ---------------------------------------------------------

@dataclass
class Sample:
    """Hall events recorded once, as the stages downstream of the intake receive them."""

    messages: list[Message]
    state_bytes: int  # mean size of a stored event's state (encrypted)
    rows_per_event: float  # stored events written per hall event
    message_bytes: int  # mean size of a published CloudEvent (JSON)


def recorded(settings: Settings, count: int, prefix: str) -> Sample:
    """Records ``count`` hall events in a fresh hall store and reads them back as the
    published CloudEvents the supervision and projections consume."""
    store = system.hall_store(settings, lambda: NOW)
    try:
        for part in chunks(mix(count, prefix), 1000):
            store.record_batch(part, HALL)
        notifications = store.recorder.select_notifications(1, 10 * count + 100)
        messages = []
        for n in notifications:
            value = to_cloudevent(store, n)
            if value is not None:
                messages.append(Message("log", 0, n.id, value["subject"], value))
    finally:
        store.close()
    state = sum(len(n.state) for n in notifications) // max(1, len(notifications))
    size = sum(len(m.text().encode()) for m in messages) // max(1, len(messages))
    return Sample(messages, state, len(notifications) / count, size)


# -- in process ----------------------------------------------------------------------

def supervision(settings: Settings, messages: list[Message], batch: int = 1000) -> float:
    """Events a second judged by the supervision application (rounds of ``batch``)."""
    judge = system.judge(settings, lambda: NOW)
    try:
        def work() -> None:
            for part in chunks(messages, batch):
                judge.handle(part)
        seconds = timed(work)
    finally:
        judge.close()
    return len(messages) / seconds


def sink(path: Path, messages: list[Message]) -> tuple[float, float, int]:
    """The projection sink (``Views.write``, every table it keeps) against one raw INSERT
    of the rows it wrote to its events table into a plain MergeTree table: (events a
    second, raw rows a second, rows)."""
    from services.projections.views import Views

    client = connect(f"chdb:///{path}")
    try:
        for table in ("events", "cases", "alerts", "offsets", "raw_events"):
            client.command(f"DROP TABLE IF EXISTS {DATABASE}.{table}")
        views = Views(client)
        def work() -> None:
            for part in chunks(messages, 5000):
                views.write(part)
        took = timed(work)
        result = client.query(f"SELECT * FROM {DATABASE}.events")
        rows, columns = result.result_rows, list(result.column_names)
        client.command(f"CREATE TABLE {DATABASE}.raw_events AS {DATABASE}.events "
                       "ENGINE = MergeTree ORDER BY (subject, position)")
        raw = timed(lambda: [client.insert(f"{DATABASE}.raw_events", part, column_names=columns)
                             for part in chunks(rows, 5000)])
    finally:
        client.close()
    return len(messages) / took, len(rows) / raw, len(rows)


def relay(settings: Settings, bootstrap: str, topic: str, limit: int) -> tuple[float, int]:
    """Events a second the relay publishes from a hall store to Kafka (acks=all), from
    its position to the store's head or ``limit`` notifications."""
    from services.common.relay import Relay, producer

    store = system.hall_store(settings, lambda: NOW)
    publisher = Relay(store, producer(bootstrap), topic)
    done = 0
    try:
        began = time.perf_counter()
        while done < limit and (handled := publisher.run_once()):
            done += handled
        seconds = time.perf_counter() - began
    finally:
        publisher.kafka.close()
        store.close()
    published = done / max(1e-9, seconds)
    return published, done


def rebuild_from_kafka(bootstrap: str, topic: str, count: int, path: Path,
                       batch_size: int = 5000) -> tuple[float, int]:
    """A projection rebuilt from Kafka: a new consumer group reads ``topic`` from its first
    offset into empty views (a fresh chDB at ``path``), as a projections process started
    on a new database does, through the service's own round (``consume_once``: poll,
    ``Views.write``, commit), until the topic is drained (a round finds nothing) or
    ``count`` are in. Events a second after the first event (whose poll waits for the group
    to form) to the last write, and how many were written then."""
    import uuid

    from services.common.runner import consume_once
    from services.common.sources import KafkaSource
    from services.projections.views import Views

    views = Views(connect(f"chdb:///{path}"))
    source = KafkaSource(bootstrap, [topic], f"bench-rebuild-{uuid.uuid4().hex[:8]}")
    done = first = 0
    try:
        # The first poll waits for the group to form (seconds on a new group): it takes
        # one event, and the clock starts once that is written.
        deadline = time.monotonic() + 600
        while not first and time.monotonic() < deadline:
            first = consume_once([source], views.write, 1, 2.0)
        began = last = time.perf_counter()
        while first + done < count and time.monotonic() < deadline:
            handled = consume_once([source], views.write, batch_size, 2.0)
            if not handled:
                break
            done += handled
            last = time.perf_counter()
        seconds = last - began
    finally:
        source.close()
        views.client.close()
    return done / max(1e-9, seconds), done


# -- over HTTP -----------------------------------------------------------------------

@dataclass
class Posted:
    events_per_s: float
    p50_ms: float
    p99_ms: float
    refused: dict[int, int]


def post_single(url: str, clients: int, seconds: float, prefix: str) -> Posted:
    """Single-event ``POST /v1/events`` from ``clients`` at once, each event a new case."""
    def request(client: int, n: int) -> tuple[str, str, bytes, dict[str, str]]:
        return "POST", "/v1/events", encode(accepted(n, prefix)), SINGLE

    web.closed_loop(url, lambda c, n: request(c, n + 10_000_000), clients,
                    min(2.0, seconds))  # warm-up: connections, caches
    load = web.closed_loop(url, request, clients, seconds)
    return Posted(load.ok() / load.seconds, median(load.latencies) * 1000,
                  percentile(load.latencies, 99) * 1000,
                  {s: n for s, n in load.statuses.items() if s not in (200, 201)})


def post_batches(url: str, clients: int, batches: int, size: int, prefix: str,
                 seconds: float) -> Posted:
    """``POST /v1/events:batch`` of ``size`` NDJSON lines, ``clients`` at once, until
    ``batches`` were sent or ``seconds`` passed (every client sends at least one): events
    a second stored (a line refused counts as not stored)."""
    bodies = [b"\n".join(encode(e) for e in mix(size, f"{prefix}{b}-"))
              for b in range(batches)]
    def request(client: int, n: int) -> tuple[str, str, bytes, dict[str, str]]:
        return "POST", "/v1/events:batch", bodies[n], BATCH

    # closed_loop counts requests; each answered batch says how many lines it stored.
    load = web.closed_loop(url, request, clients, seconds, requests=batches)
    return Posted(load.ok() * size / load.seconds, median(load.latencies) * 1000,
                  percentile(load.latencies, 99) * 1000,
                  {s: n for s, n in load.statuses.items() if s != 200})


@dataclass
class EndToEnd:
    offered_per_s: float
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    samples: int
    unseen: int
    p99_first_third_ms: float
    p99_last_third_ms: float
    rss_mb: dict[str, tuple[float, float]] = field(default_factory=dict)
    cases: list[str] = field(default_factory=list)


def end_to_end(intake: str, reader: str, rate: float, seconds: float, prefix: str,
               servers: list[web.Server], senders: int = 32, watch_per_s: float = 20,
               give_up: float = 30.0) -> EndToEnd:
    """Offers single events at ``rate`` a second for ``seconds`` (open loop: event n is
    due at start + n / rate, sent by the first of ``senders`` free, dropped if it could
    not be sent within ``LATE`` seconds of its due time, so a system slower than the
    offered rate shows as an achieved rate below it, not as a longer run); up to
    ``watch_per_s`` accepted events a second are watched: the time from the start of their POST
    to the first ``GET /v1/cases/{no}`` that finds them (given up after ``give_up``)."""
    total = int(rate * seconds)
    last_watched = [0.0]  # watched: the first accepted after 1 / watch_per_s seconds
    counter = iter(range(total))
    lock = threading.Lock()
    pending: collections.deque[tuple[str, float, float]] = collections.deque()
    seen: list[tuple[float, float]] = []  # (sent at, latency)
    unseen = [0]
    sent_ok = [0]
    stored: list[str] = []
    sending = threading.Event()
    sending.set()
    rss_before = {s.name: s.rss_mb() for s in servers}
    began = time.perf_counter() + 0.5

    def send() -> None:
        client = web.Client(intake)
        ok = 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            due = began + n / rate
            if time.perf_counter() > due + LATE:
                continue  # offered too late to count: the rate was not sustained
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            event = accepted(n, prefix, NOW - timedelta(minutes=5))
            started = time.perf_counter()
            try:
                status, _ = client.request("POST", "/v1/events", encode(event), SINGLE)
            except OSError:
                continue
            if status in (200, 201):
                ok += 1
                with lock:
                    watch_it = started - last_watched[0] >= 1 / watch_per_s
                    if watch_it:
                        last_watched[0] = started
                if watch_it:
                    with lock:
                        pending.append((event["subject"], started, started))
                        stored.append(event["subject"])
        client.close()
        with lock:
            sent_ok[0] += ok

    def watch() -> None:
        client = web.Client(reader)
        while sending.is_set() or pending:
            with lock:
                item = pending.popleft() if pending else None
            if item is None:
                time.sleep(0.005)
                continue
            subject, started, _ = item
            status, _ = client.request("GET", f"/v1/cases/{subject}", None, READER)
            now = time.perf_counter()
            if status == 200:
                with lock:
                    seen.append((started, now - started))
            elif now - started > give_up:
                with lock:
                    unseen[0] += 1
            else:
                time.sleep(0.01)
                with lock:
                    pending.append(item)
        client.close()

    threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
    watchers = [threading.Thread(target=watch, daemon=True) for _ in range(4)]
    for thread in threads + watchers:
        thread.start()
    for thread in threads:
        thread.join()
    sent_seconds = min(time.perf_counter() - began, seconds + LATE)
    sending.clear()
    for thread in watchers:
        thread.join()
    rss = {s.name: (rss_before[s.name], s.rss_mb()) for s in servers}
    latencies = [latency for _, latency in sorted(seen)]
    third = max(1, len(latencies) // 3)
    return EndToEnd(rate, sent_ok[0] / sent_seconds, median(latencies) * 1000,
                    percentile(latencies, 99) * 1000, len(latencies), unseen[0],
                    percentile(latencies[:third], 99) * 1000,
                    percentile(latencies[-third:], 99) * 1000, rss, stored)


def reads(url: str, paths: list[str], clients: int, seconds: float) -> Posted:
    """GETs of ``paths`` in turn from ``clients`` at once (bureau key): per second, p50,
    p99; answers other than 200 are counted as refused."""
    def request(client: int, n: int) -> tuple[str, str, None, dict[str, str]]:
        return "GET", paths[n % len(paths)], None, READER

    load = web.closed_loop(url, request, clients, seconds)
    return Posted(load.ok((200,)) / load.seconds, median(load.latencies) * 1000,
                  percentile(load.latencies, 99) * 1000,
                  {s: n for s, n in load.statuses.items() if s != 200})


def idle_cpu(servers: list[web.Server], seconds: float, settle: float = 3.0
             ) -> dict[str, float]:
    """Percent of one core each server burns doing nothing, over ``seconds`` after
    ``settle`` seconds of quiet."""
    time.sleep(settle)
    before = {s.name: s.cpu_seconds() for s in servers}
    started = time.perf_counter()
    time.sleep(seconds)
    took = time.perf_counter() - started
    return {s.name: 100 * (s.cpu_seconds() - before[s.name]) / took for s in servers}


def profile(work: Callable[[], Any], top: int = 15) -> str:
    """cProfile of ``work``: the top frames by own time, as text."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(work)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
