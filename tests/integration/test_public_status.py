"""The applicants' status lookup: case number and receipt query code, nothing personal,
the same 404 for an unknown case and a wrong code, limited per client address."""

from __future__ import annotations

import json

from services.intake.public import Limiter
from tests.builders import accepted
from tests.conftest import HALL2_KEY, HALL_KEY, auth, bearer


def test_an_applicant_sees_status_dates_and_light_with_the_receipt_code(client):
    client.post("/v1/events", content=json.dumps(accepted("P1", applicant={"name": "钱七"})),
                headers=auth(HALL_KEY))
    code = client.get("/v1/cases/P1/query-code", headers=bearer(HALL_KEY)).json()["query_code"]
    assert len(code) == 8
    answer = client.get("/v1/public/status", params={"case": "P1", "code": code})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "accepted" and body["promised_days"] == 5
    assert body["due_at"].endswith("+08:00") and body["light"] in ("green", "yellow", "red")
    assert "钱七" not in answer.text and "applicant" not in answer.text
    assert "staff" not in answer.text and "window" not in answer.text
    wrong = client.get("/v1/public/status", params={"case": "P1", "code": "AAAAAAAA"})
    unknown = client.get("/v1/public/status", params={"case": "P9", "code": code})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]
    odd = client.get("/v1/public/status", params={"case": "P1", "code": "码码码码码码码码"})
    assert odd.status_code == 404
    assert client.get("/v1/cases/P1/query-code", headers=bearer(HALL2_KEY)).status_code == 403


def test_lookups_are_limited_per_client_address():
    now = [1000.0]
    limiter = Limiter(3, clock=lambda: now[0])
    assert [limiter.allow("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("10.0.0.1") == 60.0
    assert limiter.allow("10.0.0.2") == 0.0  # another address has its own allowance
    now[0] += 60
    assert limiter.allow("10.0.0.1") == 0.0


def test_the_twenty_first_lookup_in_a_minute_answers_429(client):
    answers = [client.get("/v1/public/status", params={"case": "X", "code": "AAAAAAAA"})
               for _ in range(21)]
    assert [a.status_code for a in answers[:20]] == [404] * 20
    assert answers[20].status_code == 429
    assert answers[20].headers["content-type"].startswith("application/problem+json")
