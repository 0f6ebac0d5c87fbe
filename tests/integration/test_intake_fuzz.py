"""Fuzzing the intake with hypothesis: nested, huge, odd Unicode and odd times never
answer 5xx, every refusal is problem details, and a refusal stores nothing. Real SQLite
store; a bounded number of examples keeps the suite fast."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.web import create_app
from services.intake.service import build
from tests.builders import accepted
from tests.conftest import HALL_KEY, auth

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

odd_characters = st.one_of(
    st.characters(codec=None, exclude_categories=[]),  # every code point, surrogates too
    st.sampled_from(["\x00", "\x1b", "\u202e", "\u2066", "\ufeff", "\ufffe", "\ud800",
                     "\udfff", "\x85", "\u0301", "𠀀", "\n", "\t"]))
odd_text = st.one_of(st.text(odd_characters, max_size=40),
                     st.builds(lambda c, n: c * n, odd_characters,
                               st.integers(1, 300_000)))  # huge
odd_times = st.one_of(
    st.builds(lambda moment, minutes: moment.replace(
                  tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
              st.integers(-23 * 60, 23 * 60)),
    st.sampled_from(["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-23:59",
                     "2026-09-30T10:00:00Z", "2026-09-30T24:00:00+08:00",
                     "2026-09-30T10:00:00.1234567891+08:00", "2026-09-30", ""]),
    odd_text)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    odd_text, odd_times)


json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)), max_leaves=12)
DEEP = "__deeply nested__"


def nested_text(depth: int) -> str:
    """JSON text nested ``depth`` levels (arrays and objects by turns), written directly:
    the json module itself cannot write what is this deep."""
    opened = "".join("[" if level % 2 else '{"a":' for level in range(depth))
    closed = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opened + "1" + closed

ENVELOPE_FIELDS = ["specversion", "id", "source", "type", "subject", "time", "data",
                   "datacontenttype", "extra"]
DATA_FIELDS = ["matter_code", "matter_name", "kind", "promised_days", "window_id",
               "staff_id", "receipt_no", "applicant", "materials", "channel", "extra"]


@st.composite
def mutated_events(draw) -> bytes:
    """A valid acceptance with a few members replaced by hostile values."""
    envelope: dict[str, Any] = accepted(f"F{draw(st.integers(0, 10**9))}")
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["envelope", "data"]))
        where = envelope if target == "envelope" else envelope["data"]
        name = draw(st.sampled_from(ENVELOPE_FIELDS if target == "envelope" else DATA_FIELDS))
        value = draw(odd_times) if name == "time" else draw(st.one_of(json_values,
                                                                         st.just(DEEP)))
        if isinstance(where, dict):
            where[name] = value
    text = json.dumps(envelope, ensure_ascii=draw(st.booleans()))
    text = text.replace(json.dumps(DEEP), nested_text(draw(st.integers(1, 3000))))
    return text.encode("utf-8", "surrogatepass")


bodies = st.one_of(mutated_events(), st.binary(max_size=200),
                   st.builds(lambda v: json.dumps(v).encode(), json_values),
                   st.builds(lambda depth: nested_text(depth).encode(), st.integers(1, 5000)))


@pytest.fixture
def intake_app(settings, clock):
    service = build(settings, clock)
    yield service, TestClient(create_app(service.router))
    service.store.close()


def stored(service) -> int:
    return service.store.recorder.max_notification_id() or 0


def check_answer(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


@FUZZ
@given(body=bodies)
def test_hostile_single_events_never_answer_5xx_and_refusals_store_nothing(intake_app, body):
    service, client = intake_app
    before = stored(service)
    response = client.post("/v1/events", content=body, headers=auth(HALL_KEY))
    check_answer(response)
    if response.status_code >= 400:
        assert stored(service) == before


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(mutated_events(), st.just(None)), min_size=1, max_size=20))
def test_hostile_batches_answer_every_line_without_5xx(intake_app, lines):
    service, client = intake_app
    before = stored(service)
    good = [json.dumps(accepted(f"G{i}-{id(lines)}")).encode() for i in range(len(lines))]
    body = b"\n".join(line if line is not None else good[i] for i, line in enumerate(lines))
    body_lines = [ln for ln in body.split(b"\n") if ln.strip()]
    response = client.post("/v1/events:batch", content=body,
                           headers={**auth(HALL_KEY), "Content-Type": "application/x-ndjson"})
    check_answer(response)
    if response.status_code == 200:
        answer = response.json()
        assert len(answer["results"]) == len(body_lines)
        assert all(r["status"] < 500 for r in answer["results"])
        assert answer["stored"] + answer["refused"] == len(body_lines)
        created = sum(1 for r in answer["results"] if r["status"] == 201)
        assert stored(service) - before == 2 * created  # each event and its receipt
