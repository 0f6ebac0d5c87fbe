"""Impossible times are refused (422, plain reason, nothing stored): a case event stated
before the case's acceptance or well before its previous event, and an after-hours
service that ends before it starts."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from hallwatch.calendar import WorkCalendar
from hallwatch.case import Case
from hallwatch.catalogue import Fact
from hallwatch.errors import InvalidEvent
from hallwatch.hall import HallStream
from hallwatch.office_hours import Seasons
from services.common.web import create_app
from services.intake.service import build
from tests.builders import accepted, completed, event
from tests.conftest import HALL_KEY, auth

CAL = WorkCalendar()
KEY = b"a test chain key"


def case_accepted_at_ten() -> Case:
    return Case.open(Fact.from_envelope(accepted("C1", time="2026-11-02T10:00:00+08:00"),
                                        None), CAL, Seasons(), KEY)


def record(case: Case, envelope: dict) -> None:
    case.record(Fact.from_envelope(envelope, None), CAL, Seasons(), KEY)


def test_an_event_stated_before_the_cases_acceptance_is_impossible():
    case = case_accepted_at_ten()
    with pytest.raises(InvalidEvent, match="earlier than the case's acceptance") as refused:
        record(case, completed("C1", "2026-11-02T09:59:00+08:00"))
    assert refused.value.field == "time"
    assert case.version == 1


def test_an_event_stated_well_before_the_previous_one_is_impossible():
    case = case_accepted_at_ten()
    record(case, event("case.suspended", "C1", "2026-11-04T10:00:00+08:00",
                       {"procedure": "hearing", "reason": "x", "applicant_informed": True}))
    with pytest.raises(InvalidEvent, match="more than 10 minutes earlier than the case's "
                                           "previous event at 2026-11-04T10:00:00"):
        record(case, event("case.resumed", "C1", "2026-11-04T09:49:00+08:00"))


def test_a_few_minutes_of_clock_skew_between_a_halls_systems_is_tolerated():
    case = case_accepted_at_ten()
    record(case, event("case.notice_issued", "C1", "2026-11-03T10:00:00+08:00",
                       {"notice_no": "N1", "missing_materials": ["户口簿"], "staff_id": "S1"}))
    record(case, completed("C1", "2026-11-03T09:51:00+08:00"))  # 9 minutes "earlier"
    assert case.summary.status == "completed"
    assert case.summary.last_event_at.isoformat() == "2026-11-03T10:00:00+08:00"


def test_an_after_hours_service_ending_before_it_starts_is_impossible():
    service = event("service.after_hours", "W01", "2026-11-02T18:30:00+08:00",
                    {"staff_id": "S01", "window_id": "W01", "by_appointment": False,
                     "start": "2026-11-02T18:30:00+08:00", "end": "2026-11-02T17:45:00+08:00"})
    with pytest.raises(InvalidEvent, match=r"ends at .* before it starts") as refused:
        HallStream.open(Fact.from_envelope(service, None))
    assert refused.value.field == "data.end"


def test_the_intake_answers_422_with_the_reason_and_stores_nothing(settings, clock):
    intake = build(settings, clock)
    try:
        client = TestClient(create_app(intake.router))
        clock.set("2026-11-05T12:00:00+08:00")

        def post(body: dict):
            return client.post("/v1/events", content=json.dumps(body), headers=auth(HALL_KEY))

        assert post(accepted("C1", time="2026-11-02T10:00:00+08:00")).status_code == 201
        stored = intake.store.recorder.max_notification_id()
        early = post(completed("C1", "2026-11-01T16:00:00+08:00"))
        backwards = post(event("service.after_hours", "W01", "2026-11-02T18:30:00+08:00",
                               {"staff_id": "S01", "window_id": "W01", "by_appointment": True,
                                "start": "2026-11-02T18:30:00+08:00",
                                "end": "2026-11-02T18:00:00+08:00"}))
        assert (early.status_code, backwards.status_code) == (422, 422)
        assert early.json()["field"] == "time"
        assert "earlier than the case's acceptance" in early.json()["detail"]
        assert backwards.json()["field"] == "data.end"
        assert intake.store.recorder.max_notification_id() == stored
    finally:
        intake.store.close()
