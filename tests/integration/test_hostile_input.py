"""Hostile input: every probe answers a clear 4xx as problem details and stores nothing;
a batch answers every line, even when storing part of it fails. Real SQLite and
PostgreSQL stores."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import psycopg
import pytest
from fastapi.testclient import TestClient

from hallwatch.case import case_id
from services.common.auth import Keyring
from services.common.web import create_app
from tests.builders import accepted, event
from tests.conftest import BUREAU_KEY, HALL_KEY, auth, bearer
from tests.world import World

NDJSON = {**auth(HALL_KEY), "Content-Type": "application/x-ndjson"}


def stored_count(intake) -> int:
    return intake.store.recorder.max_notification_id() or 0


def post_raw(client, body: bytes, headers=None):
    return client.post("/v1/events", content=body, headers=headers or auth(HALL_KEY))


def refused(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if field is not None:
        assert body["field"] == field, body
    return body


def with_data(**data) -> dict:
    return accepted("C1", **data)


def test_json_nested_two_thousand_levels_deep_answers_400(client, intake):
    body = ('{"a":' * 2000 + "1" + "}" * 2000).encode()
    assert len(body) < 16_000
    assert "nested" in refused(post_raw(client, body), 400)["detail"]
    deep_but_parsable = accepted("C1")
    deep_but_parsable["data"]["materials"] = [[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]
    refused(post_raw(client, json.dumps(deep_but_parsable).encode()), 400)
    assert stored_count(intake) == 0


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00",
                                    "1900-01-01T10:00:00+08:00", "1999-12-31T23:59:59+08:00"])
def test_times_before_the_floor_or_beyond_the_calendar_answer_422(client, intake, moment):
    refused(post_raw(client, json.dumps(accepted("C1", time=moment)).encode()), 422, "time")
    absence = event("post.absence_noticed", "W01", "2026-10-12T09:00:00+08:00",
                    {"window_id": "W01", "staff_id": "S01", "reason": "培训",
                     "expected_return": moment})
    refused(post_raw(client, json.dumps(absence).encode()), 422, "data.expected_return")
    assert stored_count(intake) == 0


def test_the_time_floor_is_a_setting(settings, clock):
    from services.intake.service import build
    later = build(settings.model_copy(update={"time_floor": date(2026, 1, 1)}), clock)
    client = TestClient(create_app(later.router))
    refused(post_raw(client, json.dumps(accepted("C1", time="2025-12-31T10:00:00+08:00")
                                        ).encode()), 422, "time")
    assert post_raw(client, json.dumps(accepted("C2")).encode()).status_code == 201
    later.store.close()


@pytest.mark.parametrize("text,field", [
    (r'"\ud800"', "data.matter_name"),  # a lone surrogate
    (r'"a\u0000b"', "data.matter_name"),  # NUL
    (r'"\u001b[31mred"', "data.matter_name"),  # ESC
    (r'"\u202eevil"', "data.matter_name"),  # right-to-left override
    (r'"\u0085"', "data.matter_name"),  # a C1 control
])
def test_control_characters_and_lone_surrogates_answer_422(client, intake, text, field):
    body = json.dumps(accepted("C1"), ensure_ascii=False).replace('"不动产转移登记"', text)
    body = body.encode()
    refused(post_raw(client, body), 422, field)
    assert stored_count(intake) == 0


def test_a_lone_surrogate_in_a_member_name_answers_422_naming_it_escaped(client, intake):
    body = json.dumps(accepted("C1")).replace('"kind"', r'"\udc00"', 1).encode()
    problem = refused(post_raw(client, body), 422)
    assert problem["field"] == "data.\\udc00"
    assert stored_count(intake) == 0


def test_line_breaks_are_kept_in_free_text_but_refused_in_identifiers(client, intake):
    assert post_raw(client, json.dumps(accepted("C1", matter_name="不动产\n转移登记")
                                       ).encode()).status_code == 201
    assert intake.store.case("C1").summary.matter_name == "不动产\n转移登记"
    refused(post_raw(client, json.dumps(accepted("C2", staff_id="S01\t")).encode()), 422,
            "data.staff_id")


def test_duplicate_member_names_answer_400(client, intake):
    body = json.dumps(accepted("C1")).replace('"source": "/halls/H1"',
                                              '"source": "/halls/H1", "source": "/halls/H2"')
    assert refused(post_raw(client, body.encode()), 400, "source")["detail"].endswith("twice "
                                                                                    "in one object")
    assert stored_count(intake) == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig", "gb18030"])
def test_bodies_not_in_plain_utf8_answer_400(client, intake, encoding):
    body = json.dumps(accepted("C1"), ensure_ascii=False).encode(encoding)
    assert "UTF-8" in refused(post_raw(client, body), 400)["detail"]
    assert stored_count(intake) == 0


@pytest.mark.parametrize("value", [365.0, 5.0, True, "5"])
def test_whole_numbers_must_be_json_integers(client, intake, value):
    refused(post_raw(client, json.dumps(accepted("C1", promised_days=value)).encode()), 422,
            "data.promised_days")
    assert stored_count(intake) == 0


@pytest.mark.parametrize("year", [0, 1999, 2101, 10000, -1])
def test_calendar_years_outside_the_calendar_answer_422(client, year):
    refused(client.get(f"/v1/calendar/years/{year}", headers=bearer(BUREAU_KEY)), 422,
            "path.year")


def test_history_as_of_a_moment_before_the_floor_answers_422(client):
    refused(client.get("/v1/cases/C1/history", params={"as_of": "0001-01-01T00:00:00+08:00"},
                       headers=bearer(BUREAU_KEY)), 422, "as_of")


def test_bulletins_and_alerts_from_year_one_answer_422(settings, clock):
    world = World(settings, clock)
    client = TestClient(create_app(world.projections.router))
    for params, field in (({"from": "0001-01-01", "to": "0001-02-01"}, "from"),
                          ({"from": "2026-10-01", "to": "9999-12-31"}, "to")):
        refused(client.get("/v1/bulletins", params=params, headers=bearer(BUREAU_KEY)), 422,
                field)
    refused(client.get("/v1/alerts", params={"since": "0001-01-01T00:00:00+08:00"},
                       headers=bearer(BUREAU_KEY)), 422, "since")
    world.close()


def test_a_batch_with_a_poisoned_line_answers_every_line(client, intake):
    lines = [json.dumps(accepted(f"B{i}")).encode() for i in range(600)]
    lines[550] = json.dumps(accepted("B550", time="0001-01-01T00:00:00+08:00")).encode()
    response = client.post("/v1/events:batch", content=b"\n".join(lines), headers=NDJSON)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["stored"], answer["refused"], answer["failed"]) == (599, 1, 0)
    assert answer["results"][550]["status"] == 422
    assert answer["results"][550]["field"] == "time"
    assert intake.store.history("B549", None, False)["events"]
    assert stored_count(intake) == 2 * 599  # each event and its receipt


def _poison(intake, case_no: str) -> None:
    """A database trigger refusing every write of one case: a real storage failure in the
    middle of a batch."""
    target = case_id(case_no)
    table = intake.store.recorder.events_table_name
    settings = intake.store_settings
    if settings.store_url.startswith("sqlite"):  # ids are stored as bare hex there
        db = sqlite3.connect(settings.data_dir / "events.db")
        db.execute(f"CREATE TRIGGER poison BEFORE INSERT ON {table} "
                   f"WHEN NEW.originator_id = '{target.hex}' "
                   f"BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
        db.commit()
        db.close()
        return
    with psycopg.connect(settings.store_url, autocommit=True) as db:
        db.execute("CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                   f"IF NEW.originator_id = '{target}' THEN RAISE EXCEPTION 'poisoned'; "
                   "END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
        db.execute(f"CREATE TRIGGER poison BEFORE INSERT ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION poison()")


def test_a_storage_failure_after_a_committed_chunk_names_exactly_the_stored_lines(
        client, intake):
    assert client.post("/v1/events", content=json.dumps(accepted("warm-up")),
                       headers=auth(HALL_KEY)).status_code == 201  # tables exist
    _poison(intake, "P550")
    body = b"\n".join(json.dumps(accepted(f"P{i}")).encode() for i in range(600))
    response = client.post("/v1/events:batch", content=body, headers=NDJSON)
    assert response.status_code == 200
    answer = response.json()
    statuses = [r["status"] for r in answer["results"]]
    assert statuses[550] == 500 and statuses.count(201) == 599
    assert answer["results"][550]["detail"] == "this line was not stored; send it again"
    assert (answer["stored"], answer["refused"], answer["failed"]) == (599, 0, 1)
    for index, result in enumerate(answer["results"]):
        history = client.get(f"/v1/cases/P{index}/history", headers=bearer(BUREAU_KEY))
        assert history.status_code == (404 if index == 550 else 200), index
        if index != 550:
            assert history.json()["events"][0]["position"] == result["position"]


def test_a_failing_single_event_answers_500_problem_details_and_stores_nothing(
        settings, clock):
    from services.intake.service import build
    intake = build(settings, clock)
    client = TestClient(create_app(intake.router, keys=Keyring(settings.key_specs)))
    assert client.post("/v1/events", content=json.dumps(accepted("warm-up")),
                       headers=auth(HALL_KEY)).status_code == 201
    _poison(intake, "P1")
    response = client.post("/v1/events", content=json.dumps(accepted("P1")),
                           headers=auth(HALL_KEY))
    problem = refused(response, 500)
    assert "poisoned" not in response.text and problem["detail_zh"].startswith("服务内部错误")
    assert stored_count(intake) == 2
    intake.store.close()
