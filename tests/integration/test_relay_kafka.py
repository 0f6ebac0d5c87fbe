"""The relay on real PostgreSQL and a real Kafka broker."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY

from services.common.relay import Relay, producer
from services.intake.service import build
from tests.builders import accepted, completed, event
from tests.servers import read_records


@pytest.fixture
def topic(kafka):
    name = f"hall.events.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(name, partitions=3)
    return name


@pytest.fixture
def store(pg_settings, clock):
    service = build(pg_settings, clock)
    yield service.store
    service.store.close()



def record_cases(store, count):
    for n in range(count):
        store.record(accepted(f"C{n}", applicant={"name": "李四", "phone": "13800001111"}), "H1")
    for n in range(count):
        store.record(completed(f"C{n}", "2026-10-09T10:00:00+08:00"), "H1")


def test_the_relay_publishes_every_case_event_in_store_order(store, kafka, topic):
    record_cases(store, 6)
    relay = Relay(store, producer(kafka.bootstrap), topic)
    while relay.run_once(limit=5):
        pass
    assert REGISTRY.get_sample_value("hallwatch_relay_position", {"relay": "relay"}) == \
        store.recorder.max_notification_id()
    records = read_records(kafka.bootstrap, topic, 12)
    assert len(records) == 12
    by_case: dict[str, list[int]] = {}
    for r in records:
        value = json.loads(r.value)
        assert r.key.decode() == value["subject"]
        by_case.setdefault(value["subject"], []).append(value["hwposition"])
        assert by_case[value["subject"]] == sorted(by_case[value["subject"]])
    assert sorted(by_case) == [f"C{n}" for n in range(6)]
    assert all(len(p) == 2 for p in by_case.values())


def test_published_events_carry_the_cloudevents_kafka_headers_and_masked_data(
        store, kafka, topic):
    store.record(accepted("C1", applicant={"name": "李四", "id_number": "110101199001011234"}),
                 "H1")
    Relay(store, producer(kafka.bootstrap), topic).run_once()
    (record,) = read_records(kafka.bootstrap, topic, 1)
    headers = dict(record.headers)
    assert headers["ce_type"] == b"cn.gov.hall.case.accepted"
    assert headers["ce_subject"] == b"C1"
    assert headers["ce_source"] == b"/halls/H1"
    assert {"ce_id", "ce_time", "hw_position"} <= set(headers)
    value = json.loads(record.value)
    assert value["data"]["applicant"] == {"name": "李*", "id_number": "1101************34"}
    assert json.loads(value["hwcase"])["due_at"] == "2026-10-13T23:59:59+08:00"


def test_a_new_relay_resumes_from_the_tracked_position_and_skips_nothing(store, kafka, topic):
    record_cases(store, 3)
    first = Relay(store, producer(kafka.bootstrap), topic)
    first.run_once(limit=4)
    tracked = first.position()
    assert tracked == 4
    second = Relay(store, producer(kafka.bootstrap), topic)
    assert second.position() == tracked
    while second.run_once():
        pass
    positions = [json.loads(r.value)["hwposition"] for r in read_records(kafka.bootstrap, topic, 6)]
    assert len(positions) == 6
    assert len(set(positions)) == 6  # no duplicates when nothing crashed


def test_concurrent_writers_on_one_case_lose_no_event(store):
    store.record(accepted("C1"), "H1")
    notices = [event("case.notice_issued", "C1", "2026-10-01T10:00:00+08:00",
                     {"notice_no": f"N{n}", "missing_materials": [f"材料{n}"],
                      "staff_id": "S1"}) for n in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda e: store.record(e, "H1"), notices))
    assert sorted(r.sequence for r in results) == list(range(2, 14))
    assert store.case("C1").version == 13
    assert len(store.case("C1").summary.notice_materials) == 12


def test_concurrent_batches_on_different_cases_and_halls_refuse_nothing(store):
    for n in range(150):
        store.record(accepted(f"A{n}"), "H1")
    follow_ups = [event("case.extended", f"A{n}", "2026-10-09T10:00:00+08:00",
                        {"extra_days": 1, "reason": "r", "approved_by": "L",
                         "applicant_notified": True}) for n in range(150)]
    others = [accepted(f"B{n}", hall="H2") for n in range(150)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        # One long batch judged while other requests come and go beside it.
        extended = pool.submit(store.record_batch, follow_ups, "H1")
        opened = pool.submit(lambda: [store.record_batch([e], "H2")[0] for e in others])
        results = extended.result() + opened.result()
    refused = [r for r in results if not hasattr(r, "position")]
    assert refused == []
