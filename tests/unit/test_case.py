import hashlib
from datetime import datetime

import pytest

from hallwatch import lifecycle
from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.case import GENESIS, Case, light, link
from hallwatch.catalogue import Fact, digest, masked
from hallwatch.errors import Forbidden, ImpossibleSequence
from hallwatch.office_hours import Seasons, classify
from tests.builders import accepted, completed, event

CAL = WorkCalendar()
SEASONS = Seasons()
KEY = b"a test chain key"


def fact(envelope, hall="H1"):
    return Fact.from_envelope(envelope, hall)


def open_case(envelope):
    return Case.open(fact(envelope), CAL, SEASONS, KEY)


def at(text):
    return datetime.fromisoformat(text)


def test_a_promised_case_is_due_at_the_end_of_its_nth_working_day():
    case = open_case(accepted("C1"))
    assert case.summary.due_at.isoformat() == "2026-10-13T23:59:59+08:00"
    assert case.summary.yellow_at.isoformat() == "2026-10-12T00:00:00+08:00"
    assert case.summary.provisional is False
    assert case.summary.deadline.calendar[0].startswith("2026:announced:")


def test_an_immediate_case_is_due_at_the_end_of_its_acceptance_day():
    case = open_case(accepted("C1", kind="immediate", promised_days=None))
    assert case.summary.due_at.isoformat() == "2026-09-30T23:59:59+08:00"
    assert case.summary.yellow_at is None


def test_suspended_working_days_are_added_back():
    case = open_case(accepted("C1", time="2026-11-02T09:00:00+08:00"))  # due 11-09
    assert case.summary.due_at.isoformat().startswith("2026-11-09")
    case.record(fact(event("case.suspended", "C1", "2026-11-04T10:00:00+08:00",
                           {"procedure": "hearing", "reason": "x",
                            "applicant_informed": True})), CAL, SEASONS, KEY)
    # Suspended Wed 11-04 .. resumed Mon 11-09: 11-04, 05, 06 are working days (3).
    case.record(fact(event("case.resumed", "C1", "2026-11-09T10:00:00+08:00")), CAL, SEASONS, KEY)
    assert case.summary.due_at.isoformat().startswith("2026-11-12")
    kinds = [s.kind for s in case.summary.deadline.steps]
    assert kinds == ["base", "suspension"]
    assert case.summary.deadline.steps[1].working_days == 3


def test_an_approved_extension_adds_working_days_and_an_unapproved_one_does_not():
    case = open_case(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    case.record(fact(event("case.extended", "C1", "2026-11-05T10:00:00+08:00",
                           {"extra_days": 2, "reason": "r", "applicant_notified": True})),
                CAL, SEASONS, KEY)
    assert case.summary.due_at.isoformat().startswith("2026-11-09")
    case.record(fact(event("case.extended", "C1", "2026-11-05T11:00:00+08:00",
                           {"extra_days": 2, "reason": "r", "approved_by": "L1",
                            "applicant_notified": True})), CAL, SEASONS, KEY)
    assert case.summary.due_at.isoformat().startswith("2026-11-11")


def test_tolerance_acceptance_sets_a_supplement_due_date():
    envelope = event("case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00",
                     {**accepted("C1")["data"], "missing_materials": ["户口簿复印件"],
                      "commitment_no": "K1", "supplement_days": 3})
    case = open_case(envelope)
    assert case.summary.supplement_due_at.isoformat().startswith("2026-11-05")
    assert case.summary.supplement_pending is True
    case.record(fact(event("case.materials_supplemented", "C1", "2026-11-04T09:00:00+08:00",
                           {"materials": ["户口簿复印件"]})), CAL, SEASONS, KEY)
    assert case.summary.supplement_pending is False


@pytest.mark.parametrize("first,then,reason", [
    ("case.rejected", "case.completed", "rejected"),
    ("case.withdrawn", "case.rated", "withdrawn"),
    ("case.completed", "case.resumed", "completed"),
])
def test_impossible_sequences_are_refused_with_a_plain_reason(first, then, reason):
    case = open_case(accepted("C1"))
    payloads = {"case.rejected": {"category": "non_compliant", "reason": "r"},
                "case.withdrawn": {}, "case.completed": {"result": "approved"},
                "case.rated": {"satisfaction": 1}, "case.resumed": {}}
    case.record(fact(event(first, "C1", "2026-10-09T10:00:00+08:00", payloads[first])),
                CAL, SEASONS, KEY)
    with pytest.raises(ImpossibleSequence, match=reason):
        case.record(fact(event(then, "C1", "2026-10-09T11:00:00+08:00", payloads[then])),
                    CAL, SEASONS, KEY)


def test_resuming_a_case_that_is_not_suspended_is_refused():
    case = open_case(accepted("C1"))
    with pytest.raises(ImpossibleSequence, match="cannot follow status accepted"):
        case.record(fact(event("case.resumed", "C1", "2026-10-09T10:00:00+08:00")),
                    CAL, SEASONS, KEY)


def test_another_hall_cannot_write_to_a_case():
    case = open_case(accepted("C1"))
    with pytest.raises(Forbidden):
        case.record(Fact.from_envelope(completed("C1", "2026-10-09T10:00:00+08:00",
                                                 hall="H2"), "H2"), CAL, SEASONS, KEY)


def test_the_light_turns_yellow_the_working_day_before_and_red_after_the_due_date():
    summary = open_case(accepted("C1")).summary
    assert light(summary, at("2026-10-09T12:00:00+08:00")) == "green"
    assert light(summary, at("2026-10-12T08:00:00+08:00")) == "yellow"
    assert light(summary, at("2026-10-14T00:00:00+08:00")) == "red"


def test_a_completed_case_records_the_working_days_it_used():
    case = open_case(accepted("C1"))  # 09-30
    case.record(fact(completed("C1", "2026-10-09T10:00:00+08:00")), CAL, SEASONS, KEY)
    assert case.summary.working_days_used == 2  # 10-08 and 10-09; Golden Week skipped


def test_a_closed_case_has_no_light():
    case = open_case(accepted("C1"))
    case.record(fact(completed("C1", "2026-10-09T10:00:00+08:00")), CAL, SEASONS, KEY)
    assert light(case.summary, at("2026-12-01T00:00:00+08:00")) == "none"


def test_a_deadline_into_2027_is_provisional_until_the_official_year_loads():
    case = open_case(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10))
    assert case.summary.provisional is True
    assert case.needs_recompute(2027)
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04",
                                                                "2027-01-05"], "workdays": []})
    case.recompute_deadline(CAL.with_year(official), official.version,
                            at("2027-01-02T09:00:00+08:00"), KEY)
    assert case.summary.provisional is False
    assert case.summary.due_at.isoformat().startswith("2027-01-12")
    assert case.version == 2  # history untouched: a new event


def test_replaying_a_case_never_recomputes_its_deadline():
    case = open_case(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10))
    recorded = case.summary.due_at.isoformat()
    events = case.collect_events()
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed.summary.due_at.isoformat() == recorded


def test_the_hash_chain_is_keyed_so_masked_data_cannot_be_guessed_from_it():
    envelope = accepted("C1", applicant={"name": "张三", "phone": "13912345678"})
    case = Case.open(fact(envelope), CAL, SEASONS, KEY)
    assert case.chain == link(GENESIS, envelope, KEY)
    assert case.chain != link(GENESIS, envelope, b"another key")
    assert case.chain != hashlib.sha256((GENESIS + digest(envelope)).encode()).hexdigest()


def test_personal_data_is_masked_before_leaving_the_store():
    envelope = accepted("C1", applicant={"name": "张三丰", "id_number": "110101199001011234"})
    shown = masked(envelope)["data"]["applicant"]
    assert shown == {"name": "张**", "id_number": "1101************34"}
    assert envelope["data"]["applicant"]["name"] == "张三丰"


def test_events_are_classified_in_or_out_of_office_hours():
    assert classify(at("2026-07-01T16:45:00+08:00"), CAL, SEASONS) == "in"  # summer
    assert classify(at("2026-12-01T16:45:00+08:00"), CAL, SEASONS) == "out"  # winter
    assert classify(at("2026-12-01T13:10:00+08:00"), CAL, SEASONS) == "in"
    assert classify(at("2026-10-10T09:00:00+08:00"), CAL, SEASONS) == "in"  # make-up Sat
    assert classify(at("2026-10-03T09:00:00+08:00"), CAL, SEASONS) == "out"  # holiday


def test_the_lifecycle_doc_is_generated_from_the_table():
    assert "`case.completed` | accepted | completed" in lifecycle.as_markdown()



def test_a_provisional_supplement_deadline_is_recomputed_when_its_year_loads():
    data = {**accepted("C1")["data"], "kind": "immediate", "missing_materials": ["证明"],
            "commitment_no": "K1", "supplement_days": 10}
    data.pop("promised_days")
    case = open_case(event("case.tolerance_accepted", "C1", "2026-12-28T10:00:00+08:00", data))
    assert case.summary.provisional is True  # the main deadline is 12-28, the supplement's
    assert case.needs_recompute(2027)
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04"],
                                    "workdays": []})
    case.recompute_deadline(CAL.with_year(official), official.version,
                            at("2027-01-02T09:00:00+08:00"), KEY)
    assert case.summary.supplement_due_at.isoformat() == "2027-01-13T23:59:59+08:00"
    assert case.summary.provisional is False
    assert not case.needs_recompute(2027)
    assert case.needs_recompute(2027, reload=True)  # a corrected notice would move it again


def test_a_refusal_at_the_window_opens_and_closes_a_case_with_no_acceptance():
    refusal = event("case.rejected", "C9", "2026-11-03T10:15:00+08:00", {
        "category": "out_of_scope", "reason": "不属于本厅受理范围", "matter_code": "M0001",
        "matter_name": "不动产转移登记", "window_id": "W02", "staff_id": "S02"})
    case = open_case(refusal)
    s = case.summary
    assert (s.status, s.accepted_at, s.due_at, s.working_days_used) == (
        "rejected", None, None, None)
    assert (s.window_id, s.staff_id, s.matter_code) == ("W02", "S02", "M0001")
    assert s.closed_at.isoformat() == "2026-11-03T10:15:00+08:00"
    with pytest.raises(ImpossibleSequence, match="rejected"):
        case.record(fact(accepted("C9", "2026-11-03T10:20:00+08:00")), CAL, SEASONS, KEY)


def test_a_rejection_after_acceptance_keeps_the_accepting_window():
    case = open_case(accepted("C1"))
    case.record(fact(event("case.rejected", "C1", "2026-10-09T10:00:00+08:00", {
        "category": "non_compliant", "reason": "r", "window_id": "W09"})), CAL, SEASONS, KEY)
    assert case.summary.window_id == "W01"
