"""What the real publishers put on Kafka agrees with ``schemas/asyncapi.yaml``.

One message of every kind goes through the real relays to a real broker; each record's
key, headers and value are validated against the schemas the AsyncAPI document declares
for its message (traits merged, data schemas resolved from ``schemas/events``).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hallwatch.alert import Alert
from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.catalogue import ALL_TYPES, TYPE_PREFIX
from services.common.clickhouse import connect
from services.common.messages import Message, alert_message
from services.common.relay import Relay, producer
from services.intake.service import build as build_intake
from services.projections.views import Views
from services.supervision.app import Supervision, load_rules
from tests.builders import ACCEPTED_DATA, event
from tests.servers import read_records

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SPEC_URI = (SCHEMAS / "asyncapi.yaml").as_uri()
SPEC = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())
T = "2026-10-09T10:00:00+08:00"
ALERT_STATUSES = {"raised", "acknowledged", "noticed", "resolved", "cleared", "escalated",
                  "void"}

HALL_EVENTS = [  # one of each type a hall sends, in an order the rules accept
    event("case.accepted", "C1", "2026-09-30T10:00:00+08:00",
          {**ACCEPTED_DATA, "applicant": {"name": "李四", "id_number": "110101199001011234",
                                          "phone": "13800001111"}}),
    event("case.notice_issued", "C1", T,
          {"notice_no": "N1", "missing_materials": ["身份证复印件"], "staff_id": "S01"}),
    event("case.materials_supplemented", "C1", T, {"materials": ["身份证复印件"]}),
    event("case.suspended", "C1", T, {"procedure": "hearing", "reason": "听证",
                                      "applicant_informed": True}),
    event("case.resumed", "C1", "2026-10-10T10:00:00+08:00", {}),
    event("case.extended", "C1", "2026-10-10T11:00:00+08:00",
          {"extra_days": 2, "reason": "复杂", "approved_by": "L1",
           "applicant_notified": True}),
    event("case.completed", "C1", "2026-10-12T10:00:00+08:00", {"result": "approved"}),
    event("case.delivered", "C1", "2026-10-12T11:00:00+08:00", {"method": "window"}),
    event("case.rated", "C1", "2026-10-12T12:00:00+08:00", {"satisfaction": 5}),
    event("case.rating_rectified", "C1", "2026-10-13T12:00:00+08:00", {"action": "回访"}),
    event("case.tolerance_accepted", "C2", "2026-09-30T10:00:00+08:00",
          {**ACCEPTED_DATA, "missing_materials": ["户口簿"], "commitment_no": "CN1",
           "supplement_days": 5}),
    event("case.returned", "C2", T, {"reason": "未按期补齐"}),
    event("case.accepted", "C3", "2026-09-30T10:00:00+08:00", ACCEPTED_DATA),
    event("case.rejected", "C3", T, {"category": "non_compliant", "reason": "不符合条件"}),
    event("case.accepted", "C4", "2026-09-30T10:00:00+08:00", ACCEPTED_DATA),
    event("case.withdrawn", "C4", T, {}),
    event("post.absence_noticed", "W01", T, {"window_id": "W01", "staff_id": "S01",
                                            "reason": "会议",
                                            "expected_return": "2026-10-09T10:30:00+08:00"}),
    event("post.resumed", "W01", "2026-10-09T10:20:00+08:00",
          {"window_id": "W01", "staff_id": "S01"}),
    event("service.after_hours", "S01", T, {"staff_id": "S01", "window_id": "W01",
                                           "start": "2026-10-09T17:30:00+08:00",
                                           "end": "2026-10-09T18:10:00+08:00",
                                           "by_appointment": True}),
    event("inquiry.recorded", "S01", T, {"staff_id": "S01", "topic": "社保转移",
                                        "outcome": "answered"}),
    event("complaint.received", "W01", T, {"complaint_no": "TS-1", "channel": "online",
                                          "content": "排队久"}),
    event("complaint.resolved", "S01", "2026-10-10T10:00:00+08:00",
          {"complaint_no": "TS-1", "resolution": "已改进"}),
    event("case.rejected", "C6", T, {"category": "out_of_scope", "reason": "不属于本厅",
                                     "window_id": "W02", "staff_id": "S02"}),
    event("liaison.reported", "S05", T, {"liaison_staff_id": "S05",
                                         "period_start": "2026-09-01T00:00:00+08:00",
                                         "period_end": "2026-09-30T23:59:59+08:00",
                                         "summary": "九月受理情况"}),
    event("register.entry_recorded", "W01", T, {"book": "comment_book", "entry_no": "YJ-1",
                                                "kind": "praise", "content": "服务热情"}),
    event("inspection.recorded", "W01", T, {"inspector": "bureau-li", "kind": "spot_check",
                                            "items": [{"item": "dress", "result": "pass"}],
                                            "outcome": "satisfactory"}),
]
YEAR_2027 = {"year": 2027, "reference": "国办发明电〔2026〕9号",
             "holidays": ["2027-01-01", "2027-01-04"], "workdays": []}


def validator(ref: str) -> Draft202012Validator:
    """A validator for the schema at ``ref`` in the AsyncAPI document."""
    def retrieve(uri: str) -> Resource[Any]:
        path = Path(uri.removeprefix("file://"))
        if uri.startswith("https://hallwatch.example/schemas/"):
            path = SCHEMAS / uri.removeprefix("https://hallwatch.example/schemas/")
        return Resource.from_contents(json.loads(path.read_text()))
    registry: Registry[Any] = Registry(retrieve=retrieve).with_resource(
        SPEC_URI, DRAFT202012.create_resource(SPEC))
    return Draft202012Validator({"$ref": SPEC_URI + ref}, registry=registry,
                                format_checker=FormatChecker())


def message_for(channel: str, ce_type: str) -> tuple[str, dict[str, Any]]:
    """The message the channel declares for this CloudEvents type, traits merged."""
    for ref in SPEC["channels"][channel]["messages"].values():
        path = ref["$ref"].removeprefix("#/")
        message = SPEC
        for part in path.split("/"):
            message = message[part]
        payload_type = _declared_types(message)
        if ce_type in payload_type:
            merged: dict[str, Any] = {}
            for trait in message.get("traits", []):
                merged.update(SPEC["components"]["messageTraits"][
                    trait["$ref"].rsplit("/", 1)[-1]])
            merged.update({k: v for k, v in message.items() if k != "traits"})
            return "#/" + path, merged
    raise AssertionError(f"{channel} declares no message of type {ce_type}")


def _declared_types(message: dict[str, Any]) -> set[str]:
    payload = message["payload"]
    if "$ref" in payload:
        payload = SPEC["components"]["schemas"][payload["$ref"].rsplit("/", 1)[-1]]
    parts = payload.get("allOf", [payload])
    types = set()
    for part in parts:
        declared = part.get("properties", {}).get("type", {})
        types |= {declared["const"]} if "const" in declared else set(declared.get("enum", []))
    return types


def check(channel: str, record: Any) -> dict[str, Any]:
    value = json.loads(record.value)
    path, message = message_for(channel, value["type"])
    headers = {k: v.decode() for k, v in record.headers}
    key = record.key.decode()
    # As the document says for case.accepted and case.tolerance_accepted: the applicant is
    # published masked and follows MaskedApplicant instead of the intake schema's pattern.
    applicant = value.get("data", {}).get("applicant")
    unmasked = value if applicant is None else {
        **value, "data": {k: v for k, v in value["data"].items() if k != "applicant"}}
    errors = [f"value: {e.json_path}: {e.message}"
              for e in validator(path + "/payload").iter_errors(unmasked)]
    if applicant is not None:
        assert "MaskedApplicant" in message["description"]
        errors += [f"applicant: {e.message}" for e in validator(
            "#/components/schemas/MaskedApplicant").iter_errors(applicant)]
    errors += [f"headers: {e.json_path}: {e.message}" for e in validator(
        message["headers"]["$ref"]).iter_errors(headers)]
    errors += [f"key: {e.message}" for e in validator(
        message["bindings"]["kafka"]["key"]["$ref"]).iter_errors(key)]
    assert errors == [], (value["type"], errors)
    assert headers["content-type"] == message["contentType"] + "; charset=UTF-8"
    assert value["partitionkey"] == key
    return value



def raised(n: int) -> Alert:
    return Alert(key=f"contract/{n}", rule="deadline.overdue", severity="red",
                 watch=f"case/C{n}", context={"case_no": f"C{n}", "hall_id": "H1"},
                 raised_at=T, evidence=[f"ev-{n}"], detail="逾期", rules_version="v1")


@pytest.fixture
def topics(kafka):
    names = {n: f"{n}.{uuid.uuid4().hex[:8]}" for n in ("hall.events", "supervision.alerts")}
    for name in names.values():
        kafka.create_topic(name, partitions=3)
    return names


def test_every_hall_event_kind_on_kafka_matches_the_asyncapi_document(
        pg_settings, clock, kafka, topics):
    clock.set("2026-12-24T12:00:00+08:00")
    intake = build_intake(pg_settings, clock)
    try:
        for sent in HALL_EVENTS:
            intake.store.record(sent, "H1")
        intake.store.record(event("case.accepted", "C5", "2026-12-24T10:00:00+08:00",
                                  {**ACCEPTED_DATA, "promised_days": 10}), "H1")
        assert intake.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "bureau") \
            == ["C5"]
        relay = Relay(intake.store, producer(kafka.bootstrap), topics["hall.events"])
        while relay.run_once():
            pass
    finally:
        intake.store.close()
    records = read_records(kafka.bootstrap, topics["hall.events"], len(HALL_EVENTS) + 3)
    values = [check("hallEvents", r) for r in records]
    published = {v["type"].removeprefix(TYPE_PREFIX) for v in values}
    assert published == {*ALL_TYPES, "calendar.year_loaded", "case.deadline_recomputed"}
    keys = {v["type"].removeprefix(TYPE_PREFIX): v["partitionkey"] for v in values}
    assert keys["calendar.year_loaded"] == "calendar-2027"
    assert keys["case.deadline_recomputed"] == "C5"
    assert keys["post.resumed"] == "post/H1/W01"
    assert keys["complaint.resolved"] == "complaint/H1/TS-1"  # not its subject S01
    assert keys["inquiry.recorded"].startswith("record/H1/")
    recomputed = next(v for v in values if v["type"].endswith("deadline_recomputed"))
    loaded = next(v for v in values if v["type"].endswith("year_loaded"))
    assert recomputed["data"]["calendar_year"] == loaded["data"]["version"]


def test_an_alert_at_every_status_on_kafka_matches_the_asyncapi_document(
        pg_settings, clock, kafka, topics):
    app = Supervision(pg_settings, clock, load_rules(pg_settings.rules_file))
    calendar = WorkCalendar()
    alerts = [raised(n) for n in range(7)]
    alerts[1].acknowledge("bureau", T)
    alerts[2].issue_notice("bureau", T, calendar, 3, "督办")
    alerts[3].resolve("bureau", T, "已整改")
    alerts[4].clear(T, "办结")
    alerts[5].issue_notice("bureau", T, calendar, 3, "督办")
    alerts[5].escalate("2026-10-20T00:00:00+08:00")
    alerts[6].void(T, "补报事实表明未违规")
    app.save(*alerts)
    relay = Relay.for_alerts(app, producer(kafka.bootstrap), topics["supervision.alerts"])
    while relay.run_once():
        pass
    app.close()
    records = read_records(kafka.bootstrap, topics["supervision.alerts"], 14)
    values = [check("supervisionAlerts", r) for r in records]
    assert {v["data"]["status"] for v in values} == ALERT_STATUSES
    assert all(v["type"] == "cn.gov.hallwatch.alert." + v["data"]["status"] for v in values)
    assert all(r.key.decode() == json.loads(r.value)["data"]["alert_id"] for r in records)


def test_alerts_published_before_the_envelope_are_still_projected(pg_settings, clock,
                                                                    tmp_path):
    app = Supervision(pg_settings, clock, load_rules(pg_settings.rules_file))
    alert = raised(0)
    alert.acknowledge("bureau", T)
    app.save(alert)
    events = [e for n in app.recorder.select_notifications(1, 10)
              if (e := alert_message(app, n)) is not None]
    app.close()
    # The form alerts had on supervision.alerts before they were CloudEvents.
    plain = {**events[0]["data"], "position": events[0]["hwposition"]}
    client = connect(f"chdb:///{tmp_path / 'chdb'}")
    try:
        views = Views(client)
        messages = [Message("supervision.alerts", 0, 0, alert.key, plain),
                    Message("supervision.alerts", 0, 1, alert.key, events[1])]
        assert all(m.is_alert for m in messages)
        views.write(messages[:1])
        assert [(a["status"], a["version"]) for a in views.alerts({})] == [("raised", 1)]
        views.write(messages[1:])
        assert [(a["status"], a["version"]) for a in views.alerts({})] == [("acknowledged", 2)]
        assert messages[1].alert == {**events[1]["data"], "position": events[1]["hwposition"]}
    finally:
        client.close()


def test_the_alert_statuses_in_the_code_are_the_ones_the_document_and_docs_name():
    from hallwatch import alert as alert_module
    # hallwatch.alert names each status as an upper-case string constant.
    in_code = {value for name, value in vars(alert_module).items()
               if name.isupper() and isinstance(value, str)}
    assert in_code == ALERT_STATUSES
    declared = SPEC["components"]["schemas"]["SupervisionAlert"]["properties"]["status"]
    assert set(declared["enum"]) == in_code
    types = SPEC["components"]["schemas"]["AlertEvent"]["properties"]["type"]["enum"]
    assert set(types) == {"cn.gov.hallwatch.alert." + s for s in in_code}
    docs = (SCHEMAS.parent / "docs" / "events.md").read_text()
    alerts_section = docs.split("Supervision alerts go to", 1)[1]
    assert all(f"`{status}`" in alerts_section for status in in_code)
