"""The typed core: case summaries, deadlines, watch states and published messages are
typed values with one conversion at the store, old stored shapes still read, and the
summary's schema and docs match the code."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import jsonschema
import pytest
from eventsourcing.persistence import StoredEvent

from hallwatch.calendar import WorkCalendar
from hallwatch.case import Case, case_id
from hallwatch.catalogue import Fact
from hallwatch.deadline import Deadline, Step
from hallwatch.office_hours import Seasons
from hallwatch.published import HallMessage
from hallwatch.rules import RuleSet
from hallwatch.summary import CaseSummary
from hallwatch.watch import Clear, Finding, Timer, Watch, WatchState
from services.common.messages import message_key, to_cloudevent
from services.intake.store import HallStore
from services.supervision.app import Supervision
from tests.builders import accepted, completed, event

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "case-summary.schema.json").read_text())
CAL = WorkCalendar()
KEY = b"a test chain key"
TOLERANCE = {"missing_materials": ["婚姻证明"], "commitment_no": "K1", "supplement_days": 3}


def _record(case: Case, envelope: dict) -> None:
    case.record(Fact.from_envelope(envelope, None), CAL, Seasons(), KEY)


def summaries() -> list[CaseSummary]:
    """Summaries along a few real 2026 case histories."""
    seen = []
    case = Case.open(Fact.from_envelope(event(
        "case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00",
        {**accepted("C1")["data"], **TOLERANCE}), None), CAL, Seasons(), KEY)
    seen.append(case.summary)
    for envelope in (
        event("case.suspended", "C1", "2026-11-04T10:00:00+08:00",
              {"procedure": "hearing", "reason": "x", "applicant_informed": True}),
        event("case.resumed", "C1", "2026-11-09T10:00:00+08:00"),
        event("case.extended", "C1", "2026-11-10T10:00:00+08:00",
              {"extra_days": 2, "reason": "r", "approved_by": "L1", "applicant_notified": True}),
        completed("C1", "2026-11-12T10:00:00+08:00"),
        event("case.rated", "C1", "2026-11-13T10:00:00+08:00", {"satisfaction": 5}),
    ):
        _record(case, envelope)
        seen.append(case.summary)
    notice = Case.open(Fact.from_envelope(event(
        "case.notice_issued", "C2", "2026-11-02T09:00:00+08:00",
        {"notice_no": "N1", "missing_materials": ["身份证"], "staff_id": "S1"}), None),
        CAL, Seasons(), KEY)
    seen.append(notice.summary)
    return seen


def test_every_summary_as_published_validates_against_its_schema():
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=checker)
    for summary in summaries():
        errors = [e.message for e in validator.iter_errors(summary.as_dict())]
        assert errors == [], (summary.status, errors)


def test_the_summary_schema_lists_exactly_the_dataclass_fields():
    assert list(SCHEMA["properties"]) == [f.name for f in dataclasses.fields(CaseSummary)]
    assert set(SCHEMA["$defs"]["deadline"]["properties"]) == {
        f.name for f in dataclasses.fields(Deadline)}
    step_keys = set(SCHEMA["$defs"]["step"]["properties"])
    longest = Step("suspension", "e1", 3, datetime(2026, 11, 4).date(),
                   datetime(2026, 11, 9).date(), datetime(2026, 11, 12).date())
    assert set(longest.as_dict()) == step_keys


def test_the_docs_describe_exactly_the_summary_fields():
    doc = (ROOT / "docs" / "events.md").read_text()
    section = doc.split("## Case summary (`hwcase`)\n", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M) == list(SCHEMA["properties"])


def test_a_summary_survives_its_dict_form_unchanged():
    for summary in summaries():
        assert CaseSummary.from_dict(json.loads(json.dumps(summary.as_dict()))) == summary


def _old_summary_shape(summary: CaseSummary) -> dict:
    """The summary as version 1 stored it: a plain dict, without the fields that were
    only written when they applied."""
    old = summary.as_dict()
    for name in ("supplement_calendar", "working_days_used"):
        if not old[name]:
            del old[name]
    return old


def _store_v1(app, aggregate_event, topic: str, state: dict) -> None:
    """Write an event into ``app``'s store as version 1 of its class recorded it."""
    body = app.mapper.transcoder.encode(state)
    if app.mapper.compressor:
        body = app.mapper.compressor.compress(body)
    body = app.mapper.cipher.encrypt(body)
    app.recorder.insert_events([StoredEvent(
        originator_id=aggregate_event.originator_id,
        originator_version=aggregate_event.originator_version, topic=topic, state=body)])


def test_a_case_recorded_with_plain_dict_summaries_loads_typed_and_goes_on(settings, clock):
    store = HallStore(settings, clock)
    try:
        opened = Case.open(Fact.from_envelope(accepted("OLD1"), None), CAL, Seasons(),
                           store.chain_key)
        (created,) = opened.collect_events()
        state = {k: v for k, v in vars(created).items()
                 if k not in ("originator_id", "originator_version")}
        state["summary"] = _old_summary_shape(created.summary)
        assert "supplement_calendar" not in state["summary"]
        _store_v1(store, created, "hallwatch.case:Case.Opened", state)

        case = store.case("OLD1")
        assert isinstance(case.summary, CaseSummary)
        assert case.summary == opened.summary
        assert case.summary.due_at == datetime.fromisoformat("2026-10-13T23:59:59+08:00")
        clock.set("2026-10-09T10:05:00+08:00")
        store.record(completed("OLD1", "2026-10-09T10:00:00+08:00"), "H1")
        assert store.case("OLD1").summary.working_days_used == 2
        history = store.history("OLD1", None, unmasked=False)
        assert history["verified"] is True
        assert history["summary"]["status"] == "completed"
    finally:
        store.close()


def test_a_watch_recorded_in_the_old_shape_loads_typed(settings, clock):
    app = Supervision(settings, clock, RuleSet())
    try:
        watch = Watch(key="case/OLD1")
        app.save(watch)
        old_judged = {
            "timestamp": datetime.fromisoformat("2026-10-01T00:00:00+00:00"),
            "key": "case/OLD1", "source_event": "ev-9", "position": 7,
            "timers": {"deadline.overdue": {
                "at": "2026-10-13T23:59:59+08:00", "since": "2026-09-30T10:00:00+08:00",
                "evidence": ["ev-9"], "detail": "", "basis": None}},
            "raised": ["deadline.warning@2026-10-12T00:00:00+08:00"],
            "open_alerts": {"deadline.warning": {
                "key": "case/OLD1/deadline.warning/2026-10-12T00:00:00+08:00",
                "raised_at": "2026-10-12T00:00:00+08:00"}},
            "first_notice": ["身份证"], "context": {"hall_id": "H1", "case_no": "OLD1"},
            "due_at": "2026-10-13T23:59:59+08:00",
            "findings": [{"rule": "deadline.warning", "raised_at": "2026-10-12T00:00:00+08:00",
                          "evidence": ["ev-9"], "detail": "",
                          "alert_key": "case/OLD1/deadline.warning/2026-10-12T00:00:00+08:00"}],
            "clears": [],
        }

        class Next:  # where the old event sits in the watch's stream
            originator_id = watch.id
            originator_version = 2

        _store_v1(app, Next, "hallwatch.watch:Watch.Judged", old_judged)
        loaded: Watch = app.repository.get(watch.id)
        state = loaded.state
        assert isinstance(state, WatchState)
        assert state.timers["deadline.overdue"] == Timer(
            datetime.fromisoformat("2026-10-13T23:59:59+08:00"),
            datetime.fromisoformat("2026-09-30T10:00:00+08:00"), ("ev-9",))
        assert state.context.hall_id == "H1" and state.last_position == 7
        assert state.first_notice == ("身份证",)
        assert loaded.next_timer() == datetime.fromisoformat("2026-10-13T23:59:59+08:00")
        recorded = app.mapper.to_domain_event(app.recorder.select_events(
            watch.id)[-1])
        assert isinstance(recorded.findings[0], Finding)
        assert recorded.clears == []
        # It judges on, and what it records now is typed.
        judgement = loaded.fire(datetime.fromisoformat("2026-10-14T00:00:00+08:00"))
        assert [f.rule for f in judgement.findings] == ["deadline.overdue"]
        assert all(isinstance(c, Clear) for c in judgement.clears)
        app.save(loaded)
        again: Watch = app.repository.get(watch.id)
        assert again.state == loaded.state
    finally:
        app.close()


def test_a_published_case_event_parses_once_into_a_typed_message(settings, clock):
    store = HallStore(settings, clock)
    try:
        clock.set("2026-09-30T10:03:00+08:00")
        store.record(accepted("C7", applicant={"name": "张三"}), "H1")
        (notification,) = [n for n in store.recorder.select_notifications(1, 100)
                           if n.originator_id == case_id("C7")]
        wire = to_cloudevent(store, notification)
        assert wire is not None and json.loads(wire["hwcase"])["due_at"] == \
            "2026-10-13T23:59:59+08:00"
        assert wire["data"]["applicant"]["name"] == "张*"
        message = HallMessage.from_cloudevent(json.loads(json.dumps(wire)))
        assert message.type == "case.accepted" and message.hall_id == "H1"
        assert message.case == store.case("C7").summary
        assert message.recorded_time == datetime.fromisoformat("2026-09-30T10:03:00+08:00")
        assert message.position == notification.id and message.sequence == 1
        assert message.watch_key == "case/C7" and message_key(wire) == "C7"
    finally:
        store.close()


@pytest.mark.parametrize("wire,key", [
    ({"type": "cn.gov.hall.post.absence_noticed", "source": "/halls/H2", "subject": "W03",
      "data": {}}, "post/H2/W03"),
    ({"type": "cn.gov.hall.complaint.resolved", "source": "/halls/H2", "subject": "S9",
      "data": {"complaint_no": "TS-4"}}, "complaint/H2/TS-4"),
    ({"type": "cn.gov.hall.inquiry.recorded", "source": "/halls/H2", "subject": "S9",
      "data": {}}, "record/H2/ev-x"),
])
def test_a_hall_message_names_its_hall_and_watch(wire, key):
    message = HallMessage.from_cloudevent({**wire, "id": "ev-x", "specversion": "1.0",
                                           "time": "2026-11-02T10:00:00+08:00",
                                           "hwposition": 3, "hwsequence": 1})
    assert message.hall_id == "H2" and message.watch_key == key
    assert message.case is None and not message.from_hallwatch


def test_a_message_that_is_not_a_hall_event_is_refused():
    with pytest.raises((KeyError, ValueError)):
        HallMessage.from_cloudevent({"alert_id": str(uuid4()), "rule": "deadline.overdue"})


def test_snapshots_taken_before_the_typed_core_load_typed():
    from eventsourcing.domain import Snapshot

    case = Case.open(Fact.from_envelope(accepted("S1"), None), CAL, Seasons(), KEY)
    old_case = {k: v for k, v in vars(case).items() if k != "_pending_events"}
    old_case["summary"] = _old_summary_shape(case.summary)
    restored = Snapshot(originator_id=case.id, originator_version=1,
                        timestamp=datetime.fromisoformat("2026-10-01T00:00:00+00:00"),
                        topic="hallwatch.case:Case", state=old_case).mutate(None)
    assert restored.summary == case.summary

    watch = Watch(key="complaint/H1/TS-1")
    old_watch = {"_id": watch.id, "_version": 1, "_created_on": watch.created_on,
                 "_modified_on": watch.modified_on, "key": watch.key,
                 "timers": {"complaint.overdue": {
                     "at": "2027-01-07T23:59:59+08:00", "since": "2026-12-30T10:00:00+08:00",
                     "evidence": ["ev-1"], "detail": "TS-1",
                     "basis": {"from": "2026-12-30", "working_days": 5}}},
                 "raised": [], "open_alerts": {}, "first_notice": None,
                 "context": {"hall_id": "H1"}, "due_at": None, "last_position": 4}
    again = Snapshot(originator_id=watch.id, originator_version=1,
                     timestamp=datetime.fromisoformat("2026-12-30T03:00:00+00:00"),
                     topic="hallwatch.watch:Watch", state=old_watch).mutate(None)
    timer = again.state.timers["complaint.overdue"]
    assert timer.basis is not None and timer.basis.working_days == 5
    assert again.state.last_position == 4 and again.key == "complaint/H1/TS-1"


def test_every_case_action_has_one_named_handler_and_every_check_a_catalogued_type():
    from hallwatch.case import HANDLERS
    from hallwatch.catalogue import ALL_TYPES, CASE_TYPES
    from hallwatch.watch import COMPLAINT_CHECKS, POST_CHECKS, RECORD_CHECKS

    assert set(HANDLERS) == set(CASE_TYPES)
    assert set(RECORD_CHECKS) <= set(ALL_TYPES)
    assert all(t.startswith("post.") for t in POST_CHECKS)
    assert all(t.startswith("complaint.") for t in COMPLAINT_CHECKS)


def test_a_summary_copied_with_changes_equals_the_dataclass_replacement_and_leaves_the_original():
    original = CaseSummary(case_no="C1", hall_id="H1", status="accepted", extensions=1,
                           notice_materials=("ID card",))
    changed = original.but(status="extended", extensions=2)
    assert changed == dataclasses.replace(original, status="extended", extensions=2)
    assert (original.status, original.extensions) == ("accepted", 1)
    assert hash(changed) == hash(dataclasses.replace(original, status="extended", extensions=2))


def test_a_summary_cannot_be_copied_with_a_field_it_does_not_have():
    with pytest.raises(TypeError, match="no field 'colour'"):
        CaseSummary(case_no="C1", hall_id="H1", status="accepted").but(colour="red")
