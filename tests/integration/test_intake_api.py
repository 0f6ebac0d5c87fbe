"""The intake's HTTP contract, on a real SQLite event store."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from services.common.web import create_app
from services.intake.service import build
from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, HALL2_KEY, HALL_KEY, auth, bearer


def post(client, body, key=HALL_KEY, **kwargs):
    return client.post("/v1/events", content=json.dumps(body), headers=auth(key), **kwargs)


def stored_count(intake) -> int:
    return intake.store.recorder.max_notification_id() or 0


def test_an_acceptance_is_stored_and_answers_201_with_its_position(client):
    response = post(client, accepted("C1"))
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], "subject": "C1", "sequence": 1,
                               "position": 1}


def test_the_same_event_again_answers_200_with_the_same_result(client, intake):
    body = accepted("C1")
    first = post(client, body)
    again = post(client, body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert stored_count(intake) == 2  # the case event and its receipt, once


def test_the_same_id_with_different_content_answers_409_and_stores_nothing(client, intake):
    body = accepted("C1")
    post(client, body)
    before = stored_count(intake)
    changed = {**body, "data": {**body["data"], "promised_days": 9}}
    response = post(client, changed)
    assert response.status_code == 409
    assert response.json()["field"] == "id"
    assert stored_count(intake) == before


@pytest.mark.parametrize("mutate,field", [
    (lambda e: e.pop("subject"), "subject"),
    (lambda e: e.update(time="2026-09-30 10:00"), "time"),
    (lambda e: e.update(time="2026-09-30T10:00:00"), "time"),
    (lambda e: e.update(type="cn.gov.hall.case.teleported"), "type"),
    (lambda e: e.update(subject="C" * 51), "subject"),
    (lambda e: e.update(subject="C1\n"), "subject"),
    (lambda e: e["data"].update(window_id="W1\n"), "data.window_id"),
    (lambda e: e.update(time="2026-02-30T10:00:00+08:00"), "time"),
    (lambda e: e["data"].pop("matter_code"), "data.matter_code"),
    (lambda e: e["data"].update(promised_days="five"), "data.promised_days"),
    (lambda e: e["data"].update(kind="someday"), "data.kind"),
])
def test_invalid_events_answer_422_with_the_field_path_and_store_nothing(
        client, intake, mutate, field):
    body = accepted("C1")
    mutate(body)
    response = post(client, body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert response.json()["detail"]
    assert stored_count(intake) == 0


def test_an_event_from_the_future_answers_422_and_stores_nothing(client, intake):
    response = post(client, accepted("C1", time="2026-10-12T10:06:00+08:00"))  # clock 10:00
    assert response.status_code == 422
    assert response.json()["field"] == "time"
    assert stored_count(intake) == 0
    assert post(client, accepted("C2", time="2026-10-12T10:04:00+08:00")).status_code == 201


def test_a_body_that_is_not_json_answers_400(client):
    response = client.post("/v1/events", content=b"{not json", headers=auth(HALL_KEY))
    assert response.status_code == 400


def test_a_wrong_content_type_answers_415(client):
    headers = {**auth(HALL_KEY), "Content-Type": "text/plain"}
    response = client.post("/v1/events", content=json.dumps(accepted("C1")), headers=headers)
    assert response.status_code == 415


def test_a_hall_cannot_write_another_halls_events(client, intake):
    response = post(client, accepted("C1", hall="H1"), key=HALL2_KEY)
    assert response.status_code == 403
    assert response.json()["field"] == "source"
    assert stored_count(intake) == 0


def test_a_bureau_key_cannot_post_hall_events(client):
    assert post(client, accepted("C1"), key=BUREAU_KEY).status_code == 403


def test_a_missing_or_unknown_key_answers_401(client):
    assert client.post("/v1/events", json=accepted("C1")).status_code == 401
    assert post(client, accepted("C1"), key="not-a-key-at-all-00").status_code == 401


def test_a_follow_up_event_for_an_unknown_case_answers_409_naming_the_subject(client):
    response = post(client, completed("C404", "2026-10-09T10:00:00+08:00"))
    assert response.status_code == 409
    assert response.json()["field"] == "subject"


def test_completing_a_rejected_case_answers_409_with_a_plain_reason(client):
    post(client, accepted("C1"))
    post(client, event("case.rejected", "C1", "2026-10-08T10:00:00+08:00",
                       {"category": "non_compliant", "reason": "材料不符合法定形式"}))
    response = post(client, completed("C1", "2026-10-09T10:00:00+08:00"))
    assert response.status_code == 409
    assert "rejected" in response.json()["detail"]


def test_personal_data_is_encrypted_at_rest(settings, clock):
    service = build(settings, clock)
    client = TestClient(create_app(service.router))
    post(client, accepted("C1", applicant={"name": "王小明", "id_number": "220402199001011234"}))
    service.store.close()
    raw = sqlite3.connect(settings.data_dir / "events.db").execute(
        "SELECT state FROM stored_events").fetchall()
    blob = b"".join(row[0] for row in raw)
    assert "王小明".encode() not in blob
    assert b"220402199001011234" not in blob
    assert b"matter_code" not in blob  # the whole state is ciphertext


def test_a_hall_opens_only_case_numbers_with_its_prefixes(settings, clock):
    restricted = settings.model_copy(update={"case_prefixes": "H1:LY-BDC-|LY-REG-"})
    service = build(restricted, clock)
    client = TestClient(create_app(service.router))
    assert post(client, accepted("LY-BDC-0001")).status_code == 201
    assert post(client, accepted("LY-REG-0001")).status_code == 201
    refused = post(client, accepted("LY-EMP-0001"))
    assert refused.status_code == 403 and refused.json()["field"] == "subject"
    assert post(client, accepted("ANY-1", hall="H2"), key=HALL2_KEY).status_code == 201
    service.store.close()


def test_malformed_case_prefixes_are_refused_naming_the_variable(monkeypatch):
    from services.common.settings import SettingsError, load_settings
    monkeypatch.setenv("HALLWATCH_CASE_PREFIXES", "H1")
    with pytest.raises(SettingsError, match="HALLWATCH_CASE_PREFIXES"):
        load_settings()


def test_metrics_count_stored_and_refused_events(client):
    def sample(name: str, **labels: str) -> float:
        text = client.get("/metrics", headers=bearer(BUREAU_KEY)).text
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                         if labels else "")
        lines = [ln for ln in text.splitlines() if ln.startswith(wanted + " ")]
        return float(lines[0].split()[-1]) if lines else 0.0

    kind = {"type": "cn.gov.hall.case.accepted", "hall": "H1"}
    stored = sample("hallwatch_events_accepted_total", **kind)
    refused = sample("hallwatch_events_refused_total", **kind, status="422")
    post(client, accepted("C1"))
    bad = accepted("C2")
    del bad["data"]["kind"]
    post(client, bad)
    assert sample("hallwatch_events_accepted_total", **kind) == stored + 1
    assert sample("hallwatch_events_refused_total", **kind, status="422") == refused + 1
    assert client.get("/healthz").json() == {"status": "ok"}
