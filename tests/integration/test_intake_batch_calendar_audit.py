"""Batch intake, the bureau's calendar loads and the auditors' history, on real SQLite
and PostgreSQL event stores."""

from __future__ import annotations

import json
import sqlite3

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment
from fastapi.testclient import TestClient

from hallwatch.calendar import YearRules
from hallwatch.case import case_id
from services.common.web import create_app
from services.intake.service import build
from tests.builders import accepted, completed, event
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, auth, bearer

NDJSON = "application/x-ndjson"
YEAR_2027 = {"year": 2027, "reference": "国办发明电〔2026〕9号",
             "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"], "workdays": []}






def ndjson(*events) -> bytes:
    return b"\n".join(json.dumps(e).encode() if isinstance(e, dict) else e for e in events)


def post_batch(client, body, key=HALL_KEY, media=NDJSON):
    return client.post("/v1/events:batch", content=body,
                       headers={**auth(key), "Content-Type": media})


def test_a_batch_answers_each_line_and_stores_only_the_good_ones(client, intake):
    bad_shape = accepted("C9")
    del bad_shape["data"]["kind"]
    body = ndjson(accepted("C1"), b"{oops", bad_shape, completed("C1", "2026-10-09T10:00:00+08:00"),
                  completed("C404", "2026-10-09T10:00:00+08:00"), accepted("C2"))
    response = post_batch(client, body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 422, 201, 409, 201]
    assert results[2]["field"] == "data.kind"
    assert results[4]["field"] == "subject"
    assert results[3]["sequence"] == 2
    assert response.json() == {**response.json(), "stored": 3, "refused": 3}
    assert intake.store.case("C1").summary.status == "completed"
    # positions are real store positions, in line order
    positions = [results[i]["position"] for i in (0, 3, 5)]
    assert positions == sorted(positions)


def test_a_retried_batch_answers_200_per_line_and_stores_nothing_new(client, intake):
    body = ndjson(accepted("C1"), accepted("C2"))
    first = post_batch(client, body).json()["results"]
    stored = intake.store.recorder.max_notification_id()
    again = post_batch(client, body).json()["results"]
    assert [r["status"] for r in again] == [200, 200]
    assert [r["position"] for r in again] == [r["position"] for r in first]
    assert intake.store.recorder.max_notification_id() == stored


def test_a_batch_over_the_event_limit_answers_413_and_stores_nothing(client, intake):
    line = json.dumps(accepted("C1")).encode()
    response = post_batch(client, b"\n".join([line] * 10_001))
    assert response.status_code == 413
    assert intake.store.recorder.max_notification_id() is None


def test_a_batch_over_ten_megabytes_answers_413(client):
    response = post_batch(client, b" " * 10_000_001)
    assert response.status_code == 413


def test_a_batch_with_the_wrong_content_type_answers_415(client):
    assert post_batch(client, ndjson(accepted("C1")), media="application/json"
                      ).status_code == 415


def test_loading_an_official_year_recomputes_provisional_deadlines_as_new_events(
        client, intake, clock):
    clock.set("2026-12-24T12:00:00+08:00")
    late = accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10)
    early = accepted("C2", time="2026-11-02T10:00:00+08:00")
    for e in (late, early):
        assert client.post("/v1/events", content=json.dumps(e), headers=auth(HALL_KEY)
                           ).status_code == 201
    assert intake.store.case("C1").summary.provisional is True
    before = intake.store.case("C1").summary.due_at.isoformat()
    response = client.post("/v1/calendar/years", json=YEAR_2027, headers=bearer(BUREAU_KEY))
    assert response.status_code == 201, response.text
    assert response.json()["recomputed"] == ["C1"]
    case = intake.store.case("C1")
    assert case.version == 2
    assert case.summary.provisional is False
    assert case.summary.due_at.isoformat() == "2027-01-12T23:59:59+08:00" != before
    assert intake.store.case("C1", as_of_version=1).summary.due_at.isoformat() == before
    year = client.get("/v1/calendar/years/2027", headers=auth(BUREAU_KEY)).json()
    assert year["source"] == "official" and year["provisional"] is False


def test_a_year_loaded_by_another_process_reaches_a_running_intake(intake, clock):
    other = build(intake.store_settings, clock)
    other.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "cli")
    other.store.close()
    assert intake.store.calendar.year(2027).source == "estimated"
    intake.store._calendar_checked = 0.0  # as if the refresh interval had passed
    intake.store.refresh_calendar()
    assert intake.store.calendar.year(2027).source == "official"


@pytest.mark.parametrize("body,field", [
    ({**YEAR_2027, "holidays": ["2027-02-30"]}, "holidays[0]"),
    ({**YEAR_2027, "year": 1999}, "year"),
    ({**YEAR_2027, "workdays": ["2027-01-01"]}, "workdays"),
])
def test_a_malformed_year_answers_422_with_the_field(client, body, field):
    response = client.post("/v1/calendar/years", json=body, headers=bearer(BUREAU_KEY))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_only_the_bureau_loads_calendar_years(client):
    for key in (HALL_KEY, AUDITOR_KEY):
        assert client.post("/v1/calendar/years", json=YEAR_2027, headers=bearer(key)
                           ).status_code == 403


def test_an_auditor_replays_a_case_as_of_a_moment_with_a_verified_chain(client, intake, clock):
    person = {"name": "赵六", "id_number": "110101199001011234"}
    clock.set("2026-09-30T10:05:00+08:00")
    client.post("/v1/events", content=json.dumps(accepted("C1", applicant=person)),
                headers=auth(HALL_KEY))
    clock.set("2026-10-09T10:00:00+08:00")
    client.post("/v1/events", content=json.dumps(completed("C1", "2026-10-09T09:00:00+08:00")),
                headers=auth(HALL_KEY))
    full = client.get("/v1/cases/C1/history", params={"reason": "复核投诉 2026-17"},
                      headers=auth(AUDITOR_KEY)).json()
    assert full["verified"] is True
    assert [e["sequence"] for e in full["events"]] == [1, 2]
    assert full["events"][0]["fact"]["data"]["applicant"] == person
    assert full["summary"]["status"] == "completed"
    recorded_first = full["events"][0]["recorded_at"]
    then = client.get("/v1/cases/C1/history", params={"as_of": recorded_first,
                                                      "reason": "复核投诉 2026-17"},
                      headers=auth(AUDITOR_KEY)).json()
    assert [e["sequence"] for e in then["events"]] == [1]
    assert then["summary"]["status"] == "accepted"
    masked = client.get("/v1/cases/C1/history", headers=auth(BUREAU_KEY)).json()
    assert masked["events"][0]["fact"]["data"]["applicant"]["name"] == "赵*"
    assert client.get("/v1/cases/C1/history", headers=auth(HALL_KEY)).status_code == 403


def test_altering_a_stored_event_breaks_the_verified_chain(settings, clock):
    service = build(settings, clock)
    client = TestClient(create_app(service.router))
    for e in (accepted("C1"), event("case.notice_issued", "C1", "2026-10-01T10:00:00+08:00",
                                    {"notice_no": "N1", "missing_materials": ["身份证"],
                                     "staff_id": "S1"}),
              completed("C1", "2026-10-09T09:00:00+08:00")):
        client.post("/v1/events", content=json.dumps(e), headers=auth(HALL_KEY))
    # An insider with the database and the key rewrites the notice's materials.
    cipher = AESCipher(Environment(env={"CIPHER_KEY": settings.cipher()}))
    db = sqlite3.connect(settings.data_dir / "events.db")
    state, version = db.execute("SELECT state, originator_version FROM stored_events "
                                "WHERE topic LIKE '%Case.FactRecorded' ORDER BY rowid").fetchone()
    plain = cipher.decrypt(state).replace("身份证".encode(), "户口簿".encode())
    db.execute("UPDATE stored_events SET state=? WHERE originator_version=? AND topic LIKE "
               "'%Case.FactRecorded'", (cipher.encrypt(plain), version))
    db.commit()
    history = client.get("/v1/cases/C1/history", params={"reason": "定期核查"},
                         headers=auth(AUDITOR_KEY)).json()
    assert history["verified"] is False
    assert history["broken_at_sequence"] == 2
    service.store.close()


def test_a_corrected_official_year_recomputes_deadlines_that_were_no_longer_provisional(
        intake, clock):
    clock.set("2026-12-24T12:00:00+08:00")
    intake.store.record(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10),
                        "H1")
    assert intake.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "bureau") == ["C1"]
    assert intake.store.case("C1").summary.due_at.isoformat() == "2027-01-12T23:59:59+08:00"
    corrected = {**YEAR_2027, "holidays": [*YEAR_2027["holidays"], "2027-01-06"]}
    assert intake.store.load_calendar_year(YearRules.from_dict(corrected), "bureau") == ["C1"]
    assert intake.store.case("C1").summary.due_at.isoformat() == "2027-01-13T23:59:59+08:00"
    assert intake.store.case("C1").version == 3


def test_an_intake_that_missed_a_loaded_year_catches_up_before_judging(intake, clock):
    clock.set("2026-12-24T12:00:00+08:00")
    intake.store.record(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10),
                        "H1")
    stale = build(intake.store_settings, clock)  # another process, its calendar from before
    intake.store.load_calendar_year(YearRules.from_dict(YEAR_2027), "bureau")
    assert stale.store.calendar.year(2027).source == "estimated"
    stale.store.record(event("case.extended", "C1", "2026-12-24T11:00:00+08:00",
                             {"extra_days": 1, "reason": "r", "approved_by": "L1",
                              "applicant_notified": True}), "H1")
    # 01-12 under the official year, plus one working day: 01-13 (not the estimate's 01-11).
    assert stale.store.case("C1").summary.due_at.isoformat() == "2027-01-13T23:59:59+08:00"
    stale.store.close()


def test_a_long_lived_case_loads_from_a_snapshot_with_the_same_state(intake):
    intake.store.record(accepted("C1"), "H1")
    for n in range(120):
        intake.store.record(event("case.notice_issued", "C1", "2026-10-01T10:00:00+08:00",
                                  {"notice_no": f"N{n}", "missing_materials": [f"材料{n}"],
                                   "staff_id": "S1"}), "H1")
    snapshots = list(intake.store.snapshots.get(case_id("C1")))
    assert [s.originator_version for s in snapshots] == [50, 100]
    case = intake.store.case("C1")
    assert case.version == 121
    assert len(case.summary.notice_materials) == 120
    replayed = None
    for stored in intake.store.events.get(case_id("C1")):  # every event, no snapshot
        replayed = stored.mutate(replayed)
    assert replayed.summary == case.summary and replayed.chain == case.chain
