"""On a real Kafka broker: a relay whose topic does not exist says so once, plainly, in
the process's JSON log, however many rounds fail — not a warning per metadata refresh."""

from __future__ import annotations

import json
import threading
import time

from services.common.relay import Relay, producer
from services.common.workers import Worker
from services.intake.service import build
from tests.builders import accepted


def test_a_relay_to_a_missing_topic_says_it_once_however_many_rounds_fail(
        settings, clock, kafka, log_lines):
    service = build(settings, clock)
    service.store.record(accepted("LOG-1"), "H1")
    relay = Relay(service.store, producer(kafka.bootstrap, max_block_seconds=2), "no.such.topic")
    stop = threading.Event()
    thread = relay.start(stop, idle_seconds=0.05)
    worker = next(w for w in Worker.running if w.thread is thread)
    deadline = time.monotonic() + 60
    while worker.failures < 3 and time.monotonic() < deadline:
        stop.wait(0.1)  # polling the worker's own count: the condition this test waits on
    stop.set()
    thread.join(30)
    service.store.close()
    assert worker.failures >= 3
    said = log_lines()
    about = [r for r in said if "no.such.topic" in json.dumps(r)]
    plain = [r for r in about if r["logger"] == "hallwatch.kafka"]
    assert [r["message"] for r in plain] == [
        "Kafka topic 'no.such.topic' does not exist: create it (docs/deployment.md, Topics); "
        "hallwatch keeps trying and says this once"]
    assert not [r for r in said if r["logger"].startswith("kafka.cluster")]
    failures = [r for r in said if r["message"].startswith("relay: round failed")]
    assert len(failures) == 1  # the first failed round; the same again is not repeated
