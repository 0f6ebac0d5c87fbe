"""CloudEvents over HTTP as the CloudEvents SDK sends them: structured and binary mode for
one event, the JSON batch format and NDJSON for many; on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime

from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.builders import ACCEPTED_DATA, accepted
from tests.conftest import HALL2_KEY, HALL_KEY, auth, bearer

JSON_BATCH = "application/cloudevents-batch+json"


def sdk_event(subject: str, id_: str, time: str = "2026-09-30T10:00:00+08:00",
              hall: str = "H1") -> CloudEvent:
    return CloudEvent({"id": id_, "source": f"/halls/{hall}", "type": "cn.gov.hall.case.accepted",
                       "subject": subject, "time": datetime.fromisoformat(time),
                       "datacontenttype": "application/json"}, dict(ACCEPTED_DATA))


def post_binary(client, event: CloudEvent, key=HALL_KEY, **extra_headers):
    message = to_binary(event, JSONFormat())
    return client.post("/v1/events", content=message.body,
                       headers={**message.headers, **bearer(key), **extra_headers})


def test_a_binary_mode_event_from_the_sdk_is_stored(client, intake):
    response = post_binary(client, sdk_event("C1", "bin-1"))
    assert response.status_code == 201, response.text
    assert response.json()["subject"] == "C1"
    summary = intake.store.case("C1").summary
    assert summary.matter_code == ACCEPTED_DATA["matter_code"]
    assert summary.accepted_at.isoformat().startswith("2026-09-30T10:00:00")


def test_a_structured_mode_event_from_the_sdk_is_stored(client):
    message = to_structured(sdk_event("C1", "st-1"), JSONFormat())
    assert message.headers["content-type"] == "application/cloudevents+json"
    response = client.post("/v1/events", content=message.body,
                           headers={**message.headers, **bearer(HALL_KEY)})
    assert response.status_code == 201, response.text


def test_the_same_event_in_binary_then_structured_mode_is_stored_once(client, intake):
    structured = accepted("C1")
    structured["id"] = "same-1"
    headers = {f"ce-{k}": str(v) for k, v in structured.items() if k != "data"}
    headers["ce-time"] = "2026-09-30T10%3A00%3A00%2B08%3A00"  # percent-encoded, as the spec allows
    first = client.post("/v1/events", content=json.dumps(structured["data"]),
                        headers={**headers, **bearer(HALL_KEY),
                                 "Content-Type": "application/json"})
    assert first.status_code == 201, first.text
    again = client.post("/v1/events", content=json.dumps(structured), headers=auth(HALL_KEY))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert intake.store.recorder.max_notification_id() == 2


def test_binary_mode_refusals_name_the_attribute_and_store_nothing(client, intake):
    event = sdk_event("C1", "bin-2")
    message = to_binary(event, JSONFormat())
    cases = [
        ({**message.headers, "ce-specversion": "0.9"}, message.body, 422, "specversion"),
        ({k: v for k, v in message.headers.items() if k != "ce-source"}, message.body, 422,
         "source"),
        ({**message.headers, "ce-time": "yesterday"}, message.body, 422, "time"),
        ({**message.headers, "ce-time": "1900-01-01T00%3A00%3A00%2B08%3A00"}, message.body,
         422, "time"),
        ({**message.headers, "ce-subject": "C1%0A"}, message.body, 422, "subject"),
        ({**message.headers, "content-type": "text/plain"}, message.body, 415, "Content-Type"),
        (message.headers, b'{"kind": "promised", "kind": "immediate"}', 400, "kind"),
        ({**message.headers, "ce-partitionkey": "x"}, message.body, 422, "partitionkey"),
    ]
    for headers, body, status, field in cases:
        response = client.post("/v1/events", content=body, headers={**headers,
                                                                     **bearer(HALL_KEY)})
        assert response.status_code == status, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field
    assert post_binary(client, sdk_event("C1", "bin-3", hall="H1"), key=HALL2_KEY
                       ).status_code == 403
    assert intake.store.recorder.max_notification_id() is None


def test_a_json_batch_answers_each_event_in_order(client, intake):
    bad = accepted("C3")
    bad["data"]["promised_days"] = 365.0
    batch = [accepted("C1"), accepted("C2"), bad, "not an event"]
    response = client.post("/v1/events:batch", content=json.dumps(batch),
                           headers={**bearer(HALL_KEY), "Content-Type": JSON_BATCH})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [r["status"] for r in answer["results"]] == [201, 201, 422, 422]
    assert answer["results"][2]["field"] == "data.promised_days"
    assert answer["results"][2]["detail_zh"]
    assert (answer["stored"], answer["refused"], answer["failed"]) == (2, 2, 0)
    assert intake.store.case("C2").summary.status == "accepted"


def test_a_json_batch_that_is_not_an_array_answers_400(client):
    response = client.post("/v1/events:batch", content=json.dumps(accepted("C1")),
                           headers={**bearer(HALL_KEY), "Content-Type": JSON_BATCH})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
