"""The bureau's directory: loaded, versioned, relayed to supervision and used to judge."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hallwatch.directory import DirectoryVersions
from services.common.messages import to_cloudevent
from tests.builders import accepted
from tests.conftest import (
    AUDITOR_KEY,
    BUREAU_KEY,
    HALL_KEY,
    FixedClock,
    bearer,
    embedded_settings,
)
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "directory" / "sample-city.v1.json"
UNKNOWN_MATTER = "01008999002204000801"


def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def directory_events(store) -> list:
    return [store.mapper.to_domain_event(n)
            for n in store.recorder.select_notifications(1, 10_000)
            if ":DirectoryVersions." in n.topic]


def test_the_bureau_loads_the_sample_directory_as_a_recorded_version(client, intake):
    response = client.post("/v1/directory", json=sample(), headers=bearer(BUREAU_KEY))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"].startswith("2026.1:")
    assert (body["halls"], body["windows"], body["matters"]) == (7, 37, 83)
    (loaded,) = directory_events(intake.store)
    assert loaded.directory_version == body["version"] and loaded.loaded_by == "bureau"


def test_a_corrected_directory_records_a_new_version_beside_the_first(client, intake):
    first = client.post("/v1/directory", json=sample(), headers=bearer(BUREAU_KEY)).json()
    corrected = sample()
    promised = next(m for m in corrected["matters"] if m["promised_days"] > 1)
    promised["promised_days"] -= 1  # the bureau shortened a promise
    second = client.post("/v1/directory", json=corrected, headers=bearer(BUREAU_KEY)).json()
    assert second["version"] != first["version"]
    versions = [e.directory_version for e in directory_events(intake.store)]
    assert versions == [first["version"], second["version"]]


@pytest.mark.parametrize(("path", "value", "field"), [
    (("matters", 3, "kind"), "other", "matters.3.kind"),
    (("halls", 1, "windows", 0, "b_post"), "S0011", "halls.1.windows.0.b_post"),
    (("matters", 2, "promised_days"), 99, "matters.2.promised_days"),
    (("staff", 4, "name"), "", "staff.4.name"),
])
def test_a_malformed_directory_answers_422_naming_the_field_and_stores_nothing(
        client, intake, path, value, field):
    broken = copy.deepcopy(sample())
    target = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    response = client.post("/v1/directory", json=broken, headers=bearer(BUREAU_KEY))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert directory_events(intake.store) == []


def test_only_the_bureau_loads_a_directory(client, intake):
    for key in (HALL_KEY, AUDITOR_KEY):
        response = client.post("/v1/directory", json=sample(), headers=bearer(key))
        assert response.status_code == 403
    assert directory_events(intake.store) == []


def test_staff_names_are_encrypted_at_rest_and_masked_when_relayed(settings, clock):
    world = World(settings, clock)
    world.client.post("/v1/directory", json=sample(), headers=bearer(BUREAU_KEY))
    name = sample()["staff"][0]["name"]
    raw = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    assert raw and name.encode() not in raw
    store = world.intake.store
    (notification,) = [n for n in store.recorder.select_notifications(1, 100)
                       if ":DirectoryVersions." in n.topic]
    published = to_cloudevent(store, notification)
    assert published is not None and published["type"] == "cn.gov.hall.directory.loaded"
    staff = published["data"]["staff"][0]
    assert staff["name"] == name[0] + "*" * (len(name) - 1)
    world.close()


def test_supervision_judges_by_the_loaded_directory_and_alerts_name_its_version(
        settings, clock):
    clock.set("2026-11-02T09:05:00+08:00")
    world = World(settings, clock)
    world.send(accepted("C0", time="2026-11-02T09:00:00+08:00", hall="H1",
                        matter_code=UNKNOWN_MATTER))
    world.settle()  # no directory yet: nothing to judge the matter by
    assert world.alerts(rule="matter.not_in_catalogue") == []
    version = world.client.post("/v1/directory", json=sample(),
                                headers=bearer(BUREAU_KEY)).json()["version"]
    world.send(accepted("C1", time="2026-11-02T09:01:00+08:00", hall="H1",
                        matter_code=UNKNOWN_MATTER))
    world.settle()
    (alert,) = world.alerts(rule="matter.not_in_catalogue")
    assert alert["case_no"] == "C1" and alert["directory_version"] == version
    world.close()
    # A restarted supervision rebuilds the current directory from its own store.
    again = World(settings, clock)
    assert again.supervision.app.directory is not None
    assert again.supervision.app.directory.version == version
    again.send(accepted("C2", time="2026-11-02T09:02:00+08:00", hall="H1",
                        matter_code=UNKNOWN_MATTER))
    again.settle()
    assert {a["case_no"] for a in again.alerts(rule="matter.not_in_catalogue")} == \
        {"C1", "C2"}
    again.close()


def hallwatch(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HALLWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_directory_load_command_records_a_version_or_exits_1_naming_the_field(tmp_path):
    data_dir = tmp_path / "var"
    broken = sample()
    broken["matters"][0]["basic_code"] = "TOO-LONG-CODE"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken, ensure_ascii=False))
    refused = hallwatch("directory", "load", str(bad), data_dir=data_dir)
    assert refused.returncode == 1 and "matters.0.basic_code" in refused.stderr
    loaded = hallwatch("directory", "load", str(SAMPLE), data_dir=data_dir)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded directory 2026.1:" in loaded.stdout
    from services.intake.store import HallStore
    store = HallStore(embedded_settings(data_dir), FixedClock())
    assert [type(e).__name__ for e in directory_events(store)] == ["Loaded"]
    assert isinstance(store.repository.get(DirectoryVersions.create_id()), DirectoryVersions)
    store.close()


def test_auditors_read_staff_names_in_clear_and_the_bureau_masked(client):
    assert client.get("/v1/directory", headers=bearer(BUREAU_KEY)).status_code == 404
    version = client.post("/v1/directory", json=sample(),
                          headers=bearer(BUREAU_KEY)).json()["version"]
    name = sample()["staff"][0]["name"]
    audited = client.get("/v1/directory", headers=bearer(AUDITOR_KEY)).json()
    seen = client.get("/v1/directory", headers=bearer(BUREAU_KEY)).json()
    assert audited["version"] == seen["version"] == version
    assert audited["staff"][0]["name"] == name
    assert seen["staff"][0]["name"] == name[0] + "*" * (len(name) - 1)
    assert client.get("/v1/directory", headers=bearer(HALL_KEY)).status_code == 403


def test_a_directory_relayed_through_kafka_reaches_supervision_on_postgresql(
        pg_settings, kafka, clock):
    from kafka import KafkaConsumer

    from services.common.directories import record
    from services.common.messages import Message
    from services.common.relay import Relay, producer
    from services.intake.service import build as build_intake
    from services.supervision.app import Supervision, load_rules

    topic = f"hall.events.directory.{clock().timestamp():.0f}"
    kafka.create_topic(topic, partitions=1)
    clock.set("2026-11-02T09:05:00+08:00")
    intake = build_intake(pg_settings, clock)
    version = record(intake.store, sample(), "bureau", clock())
    intake.store.record(accepted("C1", time="2026-11-02T09:00:00+08:00",
                                 matter_code=UNKNOWN_MATTER), "H1")
    relay = Relay(intake.store, producer(kafka.bootstrap), topic)
    while relay.run_once(limit=10):
        pass
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=30_000)
    records = []
    for item in consumer:
        records.append(item)
        if len(records) == 2:
            break
    consumer.close()
    values = [json.loads(r.value) for r in records]
    assert [v["type"] for v in values] == ["cn.gov.hall.directory.loaded",
                                           "cn.gov.hall.case.accepted"]
    name = sample()["staff"][0]["name"]
    assert name.encode() not in records[0].value  # masked on the wire
    supervision = Supervision(pg_settings, clock, load_rules(""))
    supervision.handle([Message(topic, r.partition, r.offset, r.key.decode(), v)
                        for r, v in zip(records, values, strict=True)])
    assert supervision.directory is not None and supervision.directory.version == version
    raised = [supervision.mapper.to_domain_event(n)
              for n in supervision.recorder.select_notifications(1, 100)
              if n.topic.endswith("Alert.Raised")]
    assert [(a.rule, a.context["directory_version"]) for a in raised] == [
        ("matter.not_in_catalogue", version)]
    supervision.close()
    intake.store.close()
