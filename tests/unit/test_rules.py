"""One scenario per supervision rule, on real 2026 dates, through the real aggregates."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from hallwatch.calendar import WorkCalendar, YearRules
from hallwatch.case import Case
from hallwatch.catalogue import Fact
from hallwatch.directory import Directory
from hallwatch.office_hours import Seasons
from hallwatch.published import HallMessage
from hallwatch.rules import RULES, RuleSet
from hallwatch.watch import UNRECORDED, Clear, Finding, Watch, WatchState, watch_keys
from tests.builders import accepted, completed, event

CAL = WorkCalendar()
RULESET = RuleSet(version="test")
KEY = b"a test chain key"


class Hall:
    """Publishes facts as the relay would and lets watches judge them."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.watches: dict[str, Watch] = {}
        self.findings: list[Finding] = []
        self.cleared: list[Clear] = []
        self.position = 0
        self.directory: Directory | None = None  # the bureau's, once loaded

    def send(self, envelope: dict, recorded: str | None = None) -> HallMessage:
        fact = Fact.from_envelope(envelope, None)
        self.position += 1
        published = {**envelope, "hwrecordedtime": recorded or envelope["time"],
                     "hwposition": self.position}
        if fact.is_case_event:
            case = self.cases.get(fact.subject)
            if case is None:
                case = self.cases[fact.subject] = Case.open(fact, CAL, Seasons(), KEY)
            else:
                case.record(fact, CAL, Seasons(), KEY)
            published["hwcase"] = json.dumps(case.summary.as_dict())
        message = HallMessage.from_cloudevent(published)
        self.deliver(message)
        return message

    def deliver(self, message: HallMessage, lane: int = 0) -> None:
        """Hand a published event to its watches (again, for a redelivery), as it came on
        partition ``lane``."""
        for key in watch_keys(message):
            self._judge(key, lambda w: w.observe(message, RULESET, CAL, self.directory, lane))

    def recompute(self, case_no: str, calendar: WorkCalendar, version: str, at: str) -> None:
        case = self.cases[case_no]
        case.recompute_deadline(calendar, version, datetime.fromisoformat(at), KEY)
        self.position += 1
        published = {"specversion": "1.0", "id": f"re-{case_no}", "source": "/hallwatch",
                     "type": "cn.gov.hall.case.deadline_recomputed", "subject": case_no,
                     "time": at, "hwrecordedtime": at, "data": {}, "hwposition": self.position,
                     "hwcase": json.dumps(case.summary.as_dict())}
        self.deliver(HallMessage.from_cloudevent(published))

    def tick(self, now: str) -> None:
        for key in list(self.watches):
            self._judge(key, lambda w: w.fire(datetime.fromisoformat(now)))

    def _judge(self, key: str, judge) -> None:
        watch = self.watches.setdefault(key, Watch(key=key))
        judgement = judge(watch)
        self.findings += judgement.findings
        self.cleared += judgement.clears

    def why_cleared(self) -> list[str]:
        return [c.why for c in self.cleared]

    def raised(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]

    def rules_raised(self) -> set[str]:
        return {f.rule for f in self.findings}


def suspend(case: str, at: str, informed: bool = True) -> dict:
    return event("case.suspended", case, at, {"procedure": "appraisal", "reason": "房屋测绘",
                                              "applicant_informed": informed})


def test_every_rule_has_a_scenario_here():
    scenarios = {name.split("__")[0] for name in globals() if name.startswith("test_")}
    missing = [r for r in RULES if "test_" + r.replace(".", "_") not in scenarios]
    assert missing == []


def test_deadline_warning__yellow_from_the_working_day_before_the_due_date():
    hall = Hall()
    hall.send(accepted("C1"))  # 09-30, 5 working days: due 10-13, yellow from 10-12
    hall.tick("2026-10-09T17:00:00+08:00")
    assert hall.raised("deadline.warning") == []
    hall.tick("2026-10-12T00:00:00+08:00")
    (yellow,) = hall.raised("deadline.warning")
    assert yellow.raised_at == "2026-10-12T00:00:00+08:00"
    hall.tick("2026-10-12T09:00:00+08:00")
    assert len(hall.raised("deadline.warning")) == 1  # never twice


def test_deadline_overdue__red_at_the_due_time_even_when_noticed_late():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.tick("2026-10-20T08:00:00+08:00")  # the service was down for a week
    (red,) = hall.raised("deadline.overdue")
    assert red.raised_at == "2026-10-13T23:59:59+08:00"
    assert hall.why_cleared() == ["superseded by deadline.overdue"]


def test_deadline_overdue__raised_then_cleared_when_a_late_completion_arrives_first():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(completed("C1", "2026-10-15T10:00:00+08:00"))
    (red,) = hall.raised("deadline.overdue")
    assert red.raised_at == "2026-10-13T23:59:59+08:00"
    assert hall.why_cleared()[-1] == "the case was completed"
    hall.tick("2026-12-01T00:00:00+08:00")
    assert len(hall.raised("deadline.overdue")) == 1


def test_deadline_overdue__not_raised_for_a_case_completed_on_time():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    hall.tick("2026-12-01T00:00:00+08:00")
    assert hall.findings == []


def test_deadline_overdue__the_clock_stops_while_suspended_and_resumes_later():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))  # due 11-09
    hall.send(suspend("C1", "2026-11-04T10:00:00+08:00"))
    hall.tick("2026-11-10T08:00:00+08:00")
    assert hall.raised("deadline.overdue") == []
    hall.send(event("case.resumed", "C1", "2026-11-09T10:00:00+08:00"))  # 3 days back: 11-12
    hall.tick("2026-11-12T20:00:00+08:00")
    assert hall.raised("deadline.overdue") == []
    hall.tick("2026-11-13T00:00:00+08:00")
    assert hall.raised("deadline.overdue")[0].raised_at == "2026-11-12T23:59:59+08:00"


def test_immediate_not_same_day__red_at_the_end_of_the_acceptance_day():
    hall = Hall()
    hall.send(accepted("C1", kind="immediate", promised_days=None,
                       time="2026-10-09T15:00:00+08:00"))
    hall.tick("2026-10-10T08:00:00+08:00")
    (red,) = hall.raised("immediate.not_same_day")
    assert red.raised_at == "2026-10-09T23:59:59+08:00"
    assert hall.raised("deadline.overdue") == []


def test_tolerance_supplement_overdue__when_materials_do_not_arrive_in_time():
    hall = Hall()
    data = {**accepted("C1")["data"], "missing_materials": ["婚姻证明"], "commitment_no": "K1",
            "supplement_days": 3}
    hall.send(event("case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00", data))
    hall.tick("2026-11-05T23:00:00+08:00")
    assert hall.raised("tolerance.supplement_overdue") == []
    hall.tick("2026-11-06T00:00:00+08:00")
    assert hall.raised("tolerance.supplement_overdue")[0].raised_at == \
        "2026-11-05T23:59:59+08:00"


def test_tolerance_supplement_overdue__not_raised_once_supplemented():
    hall = Hall()
    data = {**accepted("C1")["data"], "missing_materials": ["婚姻证明"], "commitment_no": "K1",
            "supplement_days": 3}
    hall.send(event("case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00", data))
    hall.send(event("case.materials_supplemented", "C1", "2026-11-04T09:00:00+08:00",
                    {"materials": ["婚姻证明"]}))
    hall.tick("2026-11-06T00:00:00+08:00")
    assert hall.raised("tolerance.supplement_overdue") == []


def test_notice_not_one_time__a_later_notice_asks_for_something_new():
    hall = Hall()
    notice = {"notice_no": "N1", "missing_materials": ["身份证", "户口簿"], "staff_id": "S1"}
    hall.send(event("case.notice_issued", "C1", "2026-11-02T09:00:00+08:00", notice))
    hall.send(event("case.notice_issued", "C1", "2026-11-03T09:00:00+08:00",
                    {**notice, "notice_no": "N2", "missing_materials": ["户口簿"]}))
    assert hall.raised("notice.not_one_time") == []
    hall.send(event("case.notice_issued", "C1", "2026-11-04T09:00:00+08:00",
                    {**notice, "notice_no": "N3", "missing_materials": ["户口簿", "结婚证"]}))
    (finding,) = hall.raised("notice.not_one_time")
    assert "结婚证" in finding.detail and "户口簿" not in finding.detail


def test_extension_unapproved__an_extension_without_an_approving_leader():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    hall.send(event("case.extended", "C1", "2026-11-04T09:00:00+08:00",
                    {"extra_days": 3, "reason": "需补充调查", "applicant_notified": True}))
    assert hall.rules_raised() == {"extension.unapproved"}
    # Recorded, judged, but it did not move the deadline.
    assert hall.cases["C1"].summary.due_at.isoformat().startswith("2026-11-09")


def test_extension_not_notified__the_applicant_was_not_told():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    hall.send(event("case.extended", "C1", "2026-11-04T09:00:00+08:00",
                    {"extra_days": 3, "reason": "需补充调查", "approved_by": "L1",
                     "applicant_notified": False}))
    assert hall.rules_raised() == {"extension.not_notified"}


def test_extension_after_due__an_extension_granted_after_the_due_time():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))  # due 11-09
    hall.send(event("case.extended", "C1", "2026-11-10T09:00:00+08:00",
                    {"extra_days": 3, "reason": "r", "approved_by": "L1",
                     "applicant_notified": True}))
    # The yellow (11-06) and the red (11-09 end of day) came first, then the finding.
    assert hall.rules_raised() == {"deadline.warning", "deadline.overdue", "extension.after_due"}
    # The approved extension moved the deadline (11-12), but the overdue episode
    # happened: the red stands until the bureau resolves it, even once the case is done.
    (red,) = hall.raised("deadline.overdue")
    hall.send(completed("C1", "2026-11-11T10:00:00+08:00"))
    assert red.alert_key not in {c.alert_key for c in hall.cleared}
    assert hall.cases["C1"].summary.missed_due_at.isoformat() == "2026-11-09T23:59:59+08:00"
    assert len(hall.raised("deadline.overdue")) == 1


def test_rejection_incomplete__names_what_is_missing():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(event("case.rejected", "C1", "2026-10-09T09:00:00+08:00",
                    {"category": "non_compliant", "reason": "材料不符", "notice_no": "BY-1"}))
    (finding,) = hall.raised("rejection.incomplete")
    assert finding.detail == "missing: legal_basis, review_rights_told"


def test_rejection_incomplete__a_refusal_at_the_window_without_acceptance_is_judged_too():
    hall = Hall()
    hall.send(event("case.rejected", "C2", "2026-11-03T10:15:00+08:00", {
        "category": "out_of_scope", "reason": "不属于本厅受理范围", "window_id": "W02",
        "staff_id": "S02", "legal_basis": "《行政许可法》第三十二条", "notice_no": "BY-7",
        "review_rights_told": True}))
    assert hall.findings == []  # complete: nothing to find, no clock to run
    assert hall.watches["case/C2"].state.timers == {}
    hall.send(event("case.rejected", "C3", "2026-11-03T11:00:00+08:00", {
        "category": "out_of_scope", "reason": "不属于本厅受理范围", "window_id": "W02",
        "staff_id": "S02"}))
    (finding,) = hall.raised("rejection.incomplete")
    assert finding.detail == "missing: legal_basis, notice_no, review_rights_told"
    assert finding.raised_at == "2026-11-03T11:00:00+08:00"
    assert hall.watches["case/C3"].state.context.window_id == "W02"


def test_the_bureaus_inspection_typed_in_days_later_is_no_late_report_of_the_hall():
    hall = Hall()
    hall.send(event("inspection.recorded", "W01", "2026-11-03T10:00:00+08:00", {
        "inspector": "bureau-li", "kind": "unannounced", "window_id": "W01",
        "staff_id": "S01", "outcome": "rectify", "rectify_by": "2026-11-10T17:00:00+08:00",
        "items": [{"item": "phone", "result": "breach", "note": "受理时接打手机"}]}),
        recorded="2026-11-06T09:00:00+08:00")
    assert hall.findings == []
    hall.send(event("liaison.reported", "S05", "2026-11-02T09:00:00+08:00", {
        "liaison_staff_id": "S05", "period_start": "2026-10-01T00:00:00+08:00",
        "period_end": "2026-10-31T23:59:59+08:00", "summary": "十月受理情况"}),
        recorded="2026-11-05T09:00:00+08:00")
    assert hall.rules_raised() == {"report.late"}  # a hall's own record typed in late


def test_procedure_not_informed__a_clock_stop_without_written_notice():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(suspend("C1", "2026-10-09T09:00:00+08:00", informed=False))
    assert hall.rules_raised() == {"procedure.not_informed"}


def test_procedure_overlong__a_special_procedure_past_its_limit():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    hall.send(suspend("C1", "2026-11-03T09:00:00+08:00"))
    hall.tick("2026-12-14T23:00:00+08:00")  # 30 working days after 11-03 is 12-15
    assert hall.raised("procedure.overlong") == []
    hall.tick("2026-12-16T00:00:00+08:00")
    assert hall.raised("procedure.overlong")[0].raised_at == "2026-12-15T23:59:59+08:00"


def test_post_uncovered__an_absence_with_no_substitute():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00",
                    {"window_id": "W03", "staff_id": "S01", "reason": "取件",
                     "expected_return": "2026-11-02T10:30:00+08:00"}))
    assert hall.rules_raised() == {"post.uncovered"}


def test_post_absence_overrun__an_absence_past_its_expected_return():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00",
                    {"window_id": "W03", "staff_id": "S01", "reason": "会议",
                     "expected_return": "2026-11-02T10:30:00+08:00",
                     "substitute_staff_id": "S02"}))
    hall.tick("2026-11-02T10:44:00+08:00")  # 15 minutes' grace
    assert hall.findings == []
    hall.tick("2026-11-02T10:46:00+08:00")
    assert hall.raised("post.absence_overrun")[0].raised_at == "2026-11-02T10:45:00+08:00"


def test_post_absence_overrun__not_raised_when_the_post_resumes_in_time():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00",
                    {"window_id": "W03", "staff_id": "S01", "reason": "会议",
                     "expected_return": "2026-11-02T10:30:00+08:00",
                     "substitute_staff_id": "S02"}))
    hall.send(event("post.resumed", "W03", "2026-11-02T10:25:00+08:00",
                    {"window_id": "W03", "staff_id": "S01"}))
    hall.tick("2026-11-03T00:00:00+08:00")
    assert hall.findings == []


def test_rating_rectification_overdue__a_bad_review_left_unrectified():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    hall.send(event("case.rated", "C1", "2026-11-02T10:00:00+08:00", {"satisfaction": 5}))
    hall.tick("2026-11-09T23:00:00+08:00")
    assert hall.raised("rating.rectification_overdue") == []
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised("rating.rectification_overdue")[0].raised_at == \
        "2026-11-09T23:59:59+08:00"


def test_rating_rectification_overdue__not_raised_once_rectified():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    hall.send(event("case.rated", "C1", "2026-11-02T10:00:00+08:00", {"satisfaction": 4}))
    hall.send(event("case.rating_rectified", "C1", "2026-11-04T10:00:00+08:00",
                    {"action": "回访并重新办理"}))
    hall.tick("2026-12-01T00:00:00+08:00")
    assert hall.raised("rating.rectification_overdue") == []


def test_complaint_overdue__a_complaint_left_unresolved():
    hall = Hall()
    complaint = {"complaint_no": "TS-1", "channel": "hotline_12342", "content": "等候过久"}
    hall.send(event("complaint.received", "W03", "2026-12-30T10:00:00+08:00", complaint))
    # 5 working days after 12-30 run into 2027 (estimated): 01-07.
    hall.tick("2027-01-08T00:00:00+08:00")
    assert hall.raised("complaint.overdue")[0].raised_at == "2027-01-07T23:59:59+08:00"


def test_complaint_overdue__not_raised_once_resolved():
    hall = Hall()
    complaint = {"complaint_no": "TS-1", "channel": "hotline_12342", "content": "等候过久"}
    hall.send(event("complaint.received", "W03", "2026-11-02T10:00:00+08:00", complaint))
    hall.send(event("complaint.resolved", "W03", "2026-11-03T10:00:00+08:00",
                    {"complaint_no": "TS-1", "resolution": "已道歉并改进"}))
    hall.tick("2026-12-01T00:00:00+08:00")
    assert hall.findings == []


def test_report_late__an_event_recorded_long_after_it_happened():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"),
              recorded="2026-11-05T09:00:00+08:00")
    (late,) = hall.raised("report.late")
    assert late.raised_at == "2026-11-03T09:00:00+08:00"  # the moment it became late
    hall2 = Hall()
    hall2.send(accepted("C1", time="2026-11-02T09:00:00+08:00"),
               recorded="2026-11-02T18:00:00+08:00")
    assert hall2.findings == []


def test_a_loaded_year_reschedules_a_provisional_clock():
    hall = Hall()
    hall.send(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10))
    assert hall.cases["C1"].summary.due_at.isoformat() == "2027-01-08T23:59:59+08:00"  # estimated
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04",
                                                                "2027-01-05"], "workdays": []})
    hall.recompute("C1", CAL.with_year(official), official.version, "2027-01-02T09:00:00+08:00")
    hall.tick("2027-01-09T00:00:00+08:00")
    assert hall.raised("deadline.overdue") == []
    hall.tick("2027-01-13T00:00:00+08:00")
    assert hall.raised("deadline.overdue")[0].raised_at == "2027-01-12T23:59:59+08:00"


def test_a_replayed_watch_never_judges_again():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.tick("2026-10-20T08:00:00+08:00")
    watch = hall.watches["case/C1"]
    replayed = None
    for e in watch.collect_events():
        replayed = e.mutate(replayed)
    assert replayed.state == watch.state
    assert replayed.state.last_position == 1


def test_deadline_overdue__void_when_a_late_report_shows_the_case_was_done_in_time():
    hall = Hall()
    hall.send(accepted("C1"))  # due 10-13 23:59:59
    hall.tick("2026-10-14T00:00:01+08:00")  # the completion has not arrived yet
    assert len(hall.raised("deadline.overdue")) == 1
    # Completed 10-13 16:30, typed in the next morning (within the allowed delay).
    hall.send(completed("C1", "2026-10-13T16:30:00+08:00"),
              recorded="2026-10-14T09:00:00+08:00")
    void = [c for c in hall.cleared if c.void]
    assert [c.why for c in void] == ["void: the case was completed before this moment"]


def test_deadline_overdue__one_red_per_episode_when_a_late_extension_keeps_it_past():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))  # due 11-09
    hall.tick("2026-11-20T09:00:00+08:00")
    hall.send(event("case.extended", "C1", "2026-11-20T10:00:00+08:00",
                    {"extra_days": 2, "reason": "r", "approved_by": "L1",
                     "applicant_notified": True}))  # due 11-11: still past
    hall.send(completed("C1", "2026-11-23T10:00:00+08:00"))
    (red,) = hall.raised("deadline.overdue")
    assert red.raised_at == "2026-11-09T23:59:59+08:00"
    assert red.alert_key not in {c.alert_key for c in hall.cleared}  # standing
    assert hall.raised("deadline.warning")[0].raised_at == "2026-11-06T00:00:00+08:00"
    assert len(hall.raised("deadline.warning")) == 1  # no yellow for a moment long past


def test_a_recomputed_deadline_keeps_the_cases_hall():
    hall = Hall()
    hall.send(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10))
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01"], "workdays": []})
    hall.recompute("C1", CAL.with_year(official), official.version, "2027-01-02T09:00:00+08:00")
    assert hall.watches["case/C1"].state.context.hall_id == "H1"


def test_a_redelivered_event_is_not_judged_again():
    hall = Hall()
    hall.send(accepted("C1"))
    done = hall.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    first = hall.send(accepted("C2", time="2026-11-02T09:00:00+08:00"))
    hall.deliver(first)  # the relay resent it at a new offset after a crash
    hall.deliver(done)
    watch = hall.watches["case/C1"]
    assert watch.state.timers == {}  # the stale copy did not re-arm the completed case's clock
    assert len(watch.collect_events()) == 3  # started, accepted, completed: no more


def test_a_loaded_year_moves_a_working_day_timer_the_estimate_had_placed():
    hall = Hall()
    complaint = {"complaint_no": "TS-1", "channel": "hotline_12342", "content": "等候过久"}
    hall.send(event("complaint.received", "W03", "2026-12-30T10:00:00+08:00", complaint))
    watch = hall.watches["complaint/H1/TS-1"]
    assert watch.state.timers["complaint.overdue"].at.isoformat() == "2027-01-07T23:59:59+08:00"
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04",
                                                                "2027-01-05"], "workdays": []})
    assert watch.reschedule(CAL.with_year(official), official.version)
    assert watch.state.timers["complaint.overdue"].at.isoformat() == "2027-01-11T23:59:59+08:00"
    assert not watch.reschedule(CAL.with_year(official), official.version)  # nothing to move
    hall.tick("2027-01-08T00:00:00+08:00")
    assert hall.raised("complaint.overdue") == []


def test_a_complaints_events_share_one_kafka_key_whatever_their_subjects():
    from services.common.messages import message_key
    received = event("complaint.received", "W01", "2026-11-02T10:00:00+08:00",
                     {"complaint_no": "TS-9", "channel": "online", "content": "慢"})
    resolved = event("complaint.resolved", "S07", "2026-11-03T10:00:00+08:00",
                     {"complaint_no": "TS-9", "resolution": "已改进"})
    assert message_key(received) == message_key(resolved) == "complaint/H1/TS-9"
    assert message_key(accepted("C1")) == "C1"


# -- overdue episodes are facts; only a timely report voids (see hallwatch/watch.py) ----

def voided(hall: Hall) -> list[str]:
    return [c.alert_key for c in hall.cleared if c.void]


def settled(hall: Hall) -> set[str]:
    return {c.alert_key for c in hall.cleared}


def test_deadline_overdue__a_late_report_of_a_timely_decision_leaves_the_red_standing():
    hall = Hall()
    hall.send(accepted("C1"))  # due 10-13 23:59:59
    hall.tick("2026-10-14T00:00:01+08:00")
    (red,) = hall.raised("deadline.overdue")
    # Completed 10-13 16:30 but typed in two days later: beyond the 24 hours allowed.
    hall.send(completed("C1", "2026-10-13T16:30:00+08:00"),
              recorded="2026-10-15T17:00:00+08:00")
    assert red.alert_key not in settled(hall)  # neither void nor cleared: it stands
    (late,) = hall.raised("report.late")
    assert late.raised_at == "2026-10-14T16:30:00+08:00"


def test_deadline_overdue__an_official_year_that_moves_the_due_moment_voids_a_provisional_red():
    hall = Hall()
    hall.send(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10))
    hall.tick("2027-01-09T09:00:00+08:00")  # estimated due 01-08 passed
    (red,) = hall.raised("deadline.overdue")
    official = YearRules.from_dict({"year": 2027, "holidays": ["2027-01-01", "2027-01-04",
                                                                "2027-01-05"], "workdays": []})
    hall.recompute("C1", CAL.with_year(official), official.version, "2027-01-10T09:00:00+08:00")
    assert voided(hall) == [red.alert_key]
    hall.tick("2027-01-13T00:00:00+08:00")
    assert hall.raised("deadline.overdue")[-1].raised_at == "2027-01-12T23:59:59+08:00"


def test_deadline_overdue__a_late_extension_whose_new_date_passes_too_is_a_second_episode():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))  # due 11-09
    hall.tick("2026-11-10T09:00:00+08:00")
    hall.send(event("case.extended", "C1", "2026-11-10T10:00:00+08:00",
                    {"extra_days": 3, "reason": "r", "approved_by": "L1",
                     "applicant_notified": True}))  # due 11-12
    hall.tick("2026-11-13T00:00:00+08:00")
    first, second = hall.raised("deadline.overdue")
    assert (first.raised_at, second.raised_at) == ("2026-11-09T23:59:59+08:00",
                                                   "2026-11-12T23:59:59+08:00")
    hall.send(completed("C1", "2026-11-13T10:00:00+08:00"))
    assert first.alert_key not in settled(hall)  # the first stands for the bureau
    assert second.alert_key in settled(hall)  # the second ended with the decision


def test_notice_not_one_time__the_tolerance_list_is_part_of_the_first_written_list():
    hall = Hall()
    hall.send(event("case.notice_issued", "C1", "2026-11-02T09:00:00+08:00",
                    {"notice_no": "N1", "missing_materials": ["身份证"], "staff_id": "S1"}))
    data = {**accepted("C1")["data"], "missing_materials": ["婚姻证明"], "commitment_no": "K1",
            "supplement_days": 3}
    hall.send(event("case.tolerance_accepted", "C1", "2026-11-03T09:00:00+08:00", data))
    hall.send(event("case.notice_issued", "C1", "2026-11-04T09:00:00+08:00",
                    {"notice_no": "N2", "missing_materials": ["身份证", "婚姻证明"],
                     "staff_id": "S1"}))
    assert hall.raised("notice.not_one_time") == []
    hall.send(event("case.notice_issued", "C1", "2026-11-04T10:00:00+08:00",
                    {"notice_no": "N3", "missing_materials": ["婚姻证明", "结婚证"],
                     "staff_id": "S1"}))
    (finding,) = hall.raised("notice.not_one_time")
    assert finding.detail == "not in the first written list: 结婚证"


def test_notice_not_one_time__a_tolerance_acceptance_first_fixes_the_written_list():
    hall = Hall()
    data = {**accepted("C1")["data"], "missing_materials": ["婚姻证明"], "commitment_no": "K1",
            "supplement_days": 3}
    hall.send(event("case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00", data))
    hall.send(event("case.notice_issued", "C1", "2026-11-03T09:00:00+08:00",
                    {"notice_no": "N1", "missing_materials": ["户口簿"], "staff_id": "S1"}))
    assert [f.detail for f in hall.raised("notice.not_one_time")] == [
        "not in the first written list: 户口簿"]


ABSENCE = {"window_id": "W03", "staff_id": "S01", "reason": "会议",
           "expected_return": "2026-11-02T10:30:00+08:00", "substitute_staff_id": "S02"}
BACK = {"window_id": "W03", "staff_id": "S01"}
COMPLAINT = {"complaint_no": "TS-1", "channel": "hotline_12342", "content": "等候过久"}
RESOLVED = {"complaint_no": "TS-1", "resolution": "已道歉"}


def test_post_absence_overrun__void_when_a_timely_report_shows_the_return_came_first():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00", ABSENCE))
    hall.tick("2026-11-02T10:46:00+08:00")
    (overrun,) = hall.raised("post.absence_overrun")  # 10:45
    hall.send(event("post.resumed", "W03", "2026-11-02T10:40:00+08:00", BACK),
              recorded="2026-11-02T11:00:00+08:00")
    assert voided(hall) == [overrun.alert_key]


def test_post_absence_overrun__stands_when_the_return_is_reported_too_late():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00", ABSENCE))
    hall.tick("2026-11-02T10:46:00+08:00")
    (overrun,) = hall.raised("post.absence_overrun")
    hall.send(event("post.resumed", "W03", "2026-11-02T10:40:00+08:00", BACK),
              recorded="2026-11-03T12:00:00+08:00")
    assert overrun.alert_key not in settled(hall)
    assert hall.raised("report.late")[0].raised_at == "2026-11-03T10:40:00+08:00"


def test_post_absence_overrun__stands_when_the_return_came_after_its_moment():
    hall = Hall()
    hall.send(event("post.absence_noticed", "W03", "2026-11-02T10:00:00+08:00", ABSENCE))
    hall.tick("2026-11-02T10:46:00+08:00")
    hall.send(event("post.resumed", "W03", "2026-11-02T10:50:00+08:00", BACK))
    assert hall.cleared == []


def test_complaint_overdue__void_when_a_timely_report_shows_it_resolved_in_time():
    hall = Hall()
    hall.send(event("complaint.received", "W03", "2026-11-02T10:00:00+08:00", COMPLAINT))
    hall.tick("2026-11-10T00:00:01+08:00")  # 5 working days: 11-09 23:59:59
    (overdue,) = hall.raised("complaint.overdue")
    hall.send(event("complaint.resolved", "W03", "2026-11-09T17:00:00+08:00", RESOLVED),
              recorded="2026-11-10T09:00:00+08:00")
    assert voided(hall) == [overdue.alert_key]


def test_tolerance_supplement_overdue__a_late_reported_supplement_voids_nothing():
    hall = Hall()
    data = {**accepted("C1")["data"], "missing_materials": ["婚姻证明"], "commitment_no": "K1",
            "supplement_days": 3}
    hall.send(event("case.tolerance_accepted", "C1", "2026-11-02T09:00:00+08:00", data))
    hall.tick("2026-11-06T08:00:00+08:00")
    (overdue,) = hall.raised("tolerance.supplement_overdue")  # 11-05 23:59:59
    hall.send(event("case.materials_supplemented", "C1", "2026-11-05T16:00:00+08:00",
                    {"materials": ["婚姻证明"]}), recorded="2026-11-07T09:00:00+08:00")
    assert overdue.alert_key not in settled(hall)
    assert len(hall.raised("report.late")) == 1


def test_rating_rectification_overdue__void_when_a_timely_report_shows_it_rectified():
    hall = Hall()
    hall.send(accepted("C1"))
    hall.send(completed("C1", "2026-10-09T10:00:00+08:00"))
    hall.send(event("case.rated", "C1", "2026-11-02T10:00:00+08:00", {"satisfaction": 5}))
    hall.tick("2026-11-10T00:00:01+08:00")
    (overdue,) = hall.raised("rating.rectification_overdue")
    hall.send(event("case.rating_rectified", "C1", "2026-11-09T15:00:00+08:00",
                    {"action": "回访并重新办理"}), recorded="2026-11-10T08:30:00+08:00")
    assert voided(hall) == [overdue.alert_key]


def test_procedure_overlong__stands_when_the_procedure_ends_after_its_moment():
    hall = Hall()
    hall.send(accepted("C1", time="2026-11-02T09:00:00+08:00"))
    hall.send(suspend("C1", "2026-11-03T09:00:00+08:00"))
    hall.tick("2026-12-16T00:00:00+08:00")
    (overlong,) = hall.raised("procedure.overlong")
    hall.send(event("case.resumed", "C1", "2026-12-16T09:00:00+08:00"))
    assert overlong.alert_key not in settled(hall)


# -- rules that judge against the bureau's directory (docs/directory.md) ------------------

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "sample-city.v1.json"
TRANSFER = "01008002002204000801"  # 转移登记: promised 5 days, on the tolerance list
MORTGAGE = "01008003002204000801"  # 抵押权首次登记: promised 3 days, not on it


def sample_hall() -> Hall:
    hall = Hall()
    hall.directory = Directory.from_document(json.loads(SAMPLE.read_text()))
    return hall


def realestate(case: str, time: str, code: str, type_: str = "case.accepted",
               **data: object) -> dict:
    return event(type_, case, time, {**accepted(case)["data"], "matter_code": code,
                                     "window_id": "BDC-W01", "staff_id": "S0011", **data},
                 hall="realestate")


def test_matter_not_in_catalogue__an_acceptance_of_an_unpublished_matter():
    hall = sample_hall()
    hall.send(realestate("C1", "2026-11-02T09:00:00+08:00", TRANSFER))
    assert hall.raised("matter.not_in_catalogue") == []
    hall.send(realestate("C2", "2026-11-02T09:10:00+08:00", "01008999002204000801"))
    (finding,) = hall.raised("matter.not_in_catalogue")
    assert finding.raised_at == "2026-11-02T09:10:00+08:00"
    assert "01008999002204000801" in finding.detail and "2026.1" in finding.detail


def test_matter_not_in_catalogue__no_directory_no_finding():
    hall = Hall()  # nothing loaded: directory rules do not judge
    hall.send(realestate("C2", "2026-11-02T09:10:00+08:00", "01008999002204000801"))
    assert hall.rules_raised() == set()


def test_promise_longer_than_published__seven_days_promised_for_a_five_day_matter():
    hall = sample_hall()
    hall.send(realestate("C1", "2026-11-02T09:00:00+08:00", TRANSFER, promised_days=5))
    assert hall.rules_raised() == set()
    hall.send(realestate("C2", "2026-11-02T09:30:00+08:00", TRANSFER, promised_days=7))
    (finding,) = hall.raised("promise.longer_than_published")
    assert finding.detail == "promised 7 working days, published 5"
    assert finding.raised_at == "2026-11-02T09:30:00+08:00"


def tolerance(case: str, time: str, code: str, missing: str) -> dict:
    return realestate(case, time, code, "case.tolerance_accepted", promised_days=3,
                      missing_materials=[missing], commitment_no="K1", supplement_days=3)


def test_tolerance_not_on_list__tolerance_acceptance_of_a_matter_not_on_the_list():
    hall = sample_hall()
    hall.send(tolerance("C1", "2026-11-02T09:00:00+08:00", TRANSFER, "不动产权属证书"))
    assert hall.raised("tolerance.not_on_list") == []
    hall.send(tolerance("C2", "2026-11-02T10:00:00+08:00", MORTGAGE, "不动产权属证书"))
    (finding,) = hall.raised("tolerance.not_on_list")
    assert finding.detail == f"matter {MORTGAGE} is not on the tolerance-acceptance list"


def test_notice_outside_published_list__a_notice_asking_for_an_unpublished_material():
    hall = sample_hall()
    notice = {"notice_no": "N1", "missing_materials": ["申请人身份证明"], "staff_id": "S0011",
              "matter_code": MORTGAGE}
    hall.send(event("case.notice_issued", "C1", "2026-11-02T09:00:00+08:00", notice,
                    hall="realestate"))
    assert hall.rules_raised() == set()
    hall.send(event("case.notice_issued", "C2", "2026-11-02T09:20:00+08:00",
                    {**notice, "notice_no": "N2",
                     "missing_materials": ["申请人身份证明", "单位介绍信"]}, hall="realestate"))
    (finding,) = hall.raised("notice.outside_published_list")
    assert finding.detail == "not on the published material list: 单位介绍信"


def absence(window: str, substitute: str) -> dict:
    return event("post.absence_noticed", window, "2026-11-02T10:00:00+08:00",
                 {"window_id": window, "staff_id": "S0011", "reason": "取件",
                  "expected_return": "2026-11-02T10:30:00+08:00",
                  "substitute_staff_id": substitute}, hall="realestate")


def test_post_substitute_not_b__an_absence_covered_by_someone_not_on_the_b_post():
    hall = sample_hall()
    hall.send(absence("BDC-W01", "S0017"))  # the window's B post
    assert hall.rules_raised() == set()
    hall.send(absence("BDC-W01", "S0012"))
    (finding,) = hall.raised("post.substitute_not_b")
    assert finding.detail == "window BDC-W01: substitute S0012, B post S0017"


def test_decision_not_delivered__ten_working_days_after_completion_across_national_day():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-09-24T10:00:00+08:00"))
    hall.send(completed("C1", "2026-09-28T15:00:00+08:00"))
    # 10 working days from Mon 28 Sep, with the 1–7 Oct holiday and the Sat 10 Oct
    # make-up day: 29, 30 Sep, 8, 9, 10, 12, 13, 14, 15, 16 Oct.
    hall.tick("2026-10-16T23:00:00+08:00")
    assert hall.raised("decision.not_delivered") == []
    hall.tick("2026-10-17T08:00:00+08:00")
    (finding,) = hall.raised("decision.not_delivered")
    assert finding.raised_at == "2026-10-16T23:59:59+08:00"


def test_decision_not_delivered__no_directory_no_finding():
    hall = Hall()  # nothing loaded: the delivery timer waits for a directory
    hall.send(accepted("C1", "2026-09-24T10:00:00+08:00"))
    hall.send(completed("C1", "2026-09-28T15:00:00+08:00"))
    hall.tick("2026-12-01T00:00:00+08:00")
    assert hall.findings == []
    assert hall.watches["case/C1"].state.timers == {}


def test_decision_not_delivered__not_raised_once_delivered_in_time():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    hall.send(completed("C1", "2026-11-03T15:00:00+08:00"))
    hall.send(event("case.delivered", "C1", "2026-11-06T10:00:00+08:00", {"method": "window"}))
    hall.tick("2026-12-01T00:00:00+08:00")
    assert hall.raised("decision.not_delivered") == []


def test_after_hours_unrecorded__a_completion_at_night_with_no_service_record():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))  # after the 17:00 close
    hall.tick("2026-11-04T19:29:00+08:00")
    assert hall.raised("after_hours.unrecorded") == []
    hall.tick("2026-11-04T19:30:00+08:00")
    (finding,) = hall.raised("after_hours.unrecorded")
    assert finding.raised_at == "2026-11-04T19:30:00+08:00"


def test_after_hours_unrecorded__no_directory_no_finding():
    hall = Hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.findings == []


def test_after_hours_unrecorded__not_raised_when_a_record_names_the_case():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    hall.send(event("service.after_hours", "W01", "2026-11-03T20:00:00+08:00",
                    {"staff_id": "S01", "window_id": "W01",
                     "start": "2026-11-03T17:00:00+08:00", "end": "2026-11-03T20:00:00+08:00",
                     "by_appointment": False, "case_numbers": ["C1"]}))
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised("after_hours.unrecorded") == []


def after_hours(window: str, start: str, end: str, recorded_at: str, **data: object) -> dict:
    return event("service.after_hours", window, recorded_at,
                 {"staff_id": "S01", "window_id": window, "start": start, "end": end,
                  "by_appointment": False, **data})


def test_after_hours_unrecorded__a_record_of_the_acts_window_and_span_covers_it():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))  # at W01
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    hall.send(after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                          "2026-11-03T20:05:00+08:00"))  # names no case
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised("after_hours.unrecorded") == []


def test_after_hours_unrecorded__a_record_typed_in_before_the_act_covers_it_too():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    hall.send(after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                          "2026-11-03T20:05:00+08:00"))
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"), recorded="2026-11-03T20:10:00+08:00")
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised("after_hours.unrecorded") == []


def test_after_hours_unrecorded__another_windows_record_or_another_span_covers_nothing():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))  # at W01
    hall.send(accepted("C2", "2026-11-02T10:10:00+08:00"))  # at W01
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    hall.send(completed("C2", "2026-11-03T21:00:00+08:00"))
    hall.send(after_hours("W02", "2026-11-03T17:00:00+08:00", "2026-11-03T22:00:00+08:00",
                          "2026-11-03T22:05:00+08:00"))  # another window
    hall.send(after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                          "2026-11-03T20:05:00+08:00"))  # C1's span; C2 came after it
    hall.tick("2026-11-10T00:00:00+08:00")
    (finding,) = hall.raised("after_hours.unrecorded")
    assert finding.raised_at == "2026-11-04T21:00:00+08:00"
    assert finding.about == {"case_no": "C2", "window_id": "W01"}
    assert finding.detail == "case.completed at 2026-11-03T21:00:00+08:00"


def test_after_hours_unrecorded__each_uncovered_act_of_a_hall_is_its_own_finding():
    hall = sample_hall()
    for case, time in (("C1", "2026-11-03T19:30:00+08:00"), ("C2", "2026-11-03T19:30:00+08:00")):
        hall.send(accepted(case, "2026-11-02T10:00:00+08:00"))
        hall.send(completed(case, time))
    hall.tick("2026-11-10T00:00:00+08:00")
    found = hall.raised("after_hours.unrecorded")
    assert sorted(f.about["case_no"] for f in found) == ["C1", "C2"]
    assert len({f.alert_key for f in found}) == 2


def test_after_hours_unrecorded__a_record_judged_after_a_later_act_still_covers():
    """With Kafka a hall's records and cases come from different partitions: a record
    stored before an act may be judged after it, and is not taken for a redelivery."""
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    record = after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                         "2026-11-03T20:05:00+08:00")
    record_message = HallMessage.from_cloudevent({
        **record, "hwrecordedtime": record["time"], "hwposition": 3})
    hall.position = 3
    hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))  # position 4, judged first
    hall.deliver(record_message, lane=1)  # the record's partition, not the case's
    hall.deliver(record_message, lane=1)  # and again: nothing more
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised("after_hours.unrecorded") == []
    assert len(hall.watches["after_hours/H1"].state.spans) == 1


def test_after_hours_unrecorded__the_halls_watch_forgets_acts_raised_long_ago():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-10-12T10:00:00+08:00"))
    hall.send(completed("C1", "2026-10-12T19:30:00+08:00"))
    hall.tick("2026-10-14T00:00:00+08:00")
    watch = hall.watches["after_hours/H1"]
    assert len(watch.state.raised) == 1 and len(hall.raised("after_hours.unrecorded")) == 1
    hall.send(accepted("C2", "2026-11-16T10:00:00+08:00"))
    hall.send(completed("C2", "2026-11-16T19:30:00+08:00"))  # 35 days later
    assert watch.state.raised == ()  # C1's mark is gone; C2 waits on its timer
    assert list(watch.state.timers) == ["after_hours.unrecorded#C2#W01"]


def test_the_halls_after_hours_watch_judges_a_redelivered_act_once_per_partition():
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    night = hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    watch = hall.watches["after_hours/H1"]
    version = watch.version
    hall.deliver(night)  # the relay resent it on the same partition: already judged
    assert watch.version == version and watch.state.lanes == {0: night.position}
    # Another partition's stream has its own order: an earlier store position there is
    # news (a record of another case's partition), judged and remembered for that lane.
    hall.position = 0
    other = hall.send(accepted("C9", "2026-11-03T19:40:00+08:00"))  # accepted at night
    assert other.position < night.position
    hall.deliver(other, lane=1)
    assert watch.version > version
    assert watch.state.lanes == {0: night.position, 1: other.position}
    assert "after_hours.unrecorded#C9#" in " ".join(watch.state.timers)


def test_a_cases_watch_judges_a_record_naming_it_from_another_partition():
    """A case's events come on its partition; a record naming it comes on the hall's, so
    an earlier store position there is news for the case's watch, not a redelivery."""
    hall = sample_hall()
    record = after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                         "2026-11-03T20:05:00+08:00", case_numbers=["C1"])
    record_message = HallMessage.from_cloudevent({
        **record, "hwrecordedtime": record["time"], "hwposition": 1})
    hall.position = 1
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    done = hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    watch = hall.watches["case/C1"]
    version = watch.version
    hall.deliver(record_message, lane=1)
    assert watch.version == version + 1
    assert watch.state.lanes == {0: done.position, 1: 1}
    hall.deliver(record_message, lane=1)  # redelivered on its partition: skipped
    hall.deliver(done)  # and the case's own event again
    assert watch.version == version + 1


def test_a_watch_recorded_before_lanes_were_kept_keeps_its_single_guard():
    """State recorded by an earlier version has one position for all partitions: what is
    at or before it stays judged, on any partition, before and after the first new event;
    only a record naming a case that still waits for one is judged (stopping a wait is
    idempotent)."""
    hall = sample_hall()
    hall.send(accepted("C1", "2026-11-02T10:00:00+08:00"))
    late = hall.send(completed("C1", "2026-11-03T19:30:00+08:00"))
    watch = hall.watches["case/C1"]
    old = {k: v for k, v in watch.state.as_dict().items() if k not in ("lanes", "lane_floor")}
    old["last_position"] = 10
    old["timers"][UNRECORDED] = {"at": "2026-11-04T19:30:00+08:00",
                                 "since": "2026-11-03T19:30:00+08:00",
                                 "evidence": [late.id], "detail": "legacy"}
    watch.state = WatchState.from_dict(old)
    version = watch.version
    hall.deliver(late, lane=1)  # position 2 <= 10: judged already
    assert watch.version == version
    record = after_hours("W01", "2026-11-03T17:00:00+08:00", "2026-11-03T20:00:00+08:00",
                         "2026-11-03T20:05:00+08:00", case_numbers=["C1"])
    hall.deliver(HallMessage.from_cloudevent({
        **record, "hwrecordedtime": record["time"], "hwposition": 5}), lane=2)
    assert UNRECORDED not in watch.state.timers  # the wait it covered is over
    assert watch.state.lane_floor == 10
    hall.deliver(late, lane=3)  # a lane never heard of: the old guard still holds
    assert watch.version == version + 1
    hall.tick("2026-11-10T00:00:00+08:00")
    assert hall.raised(UNRECORDED) == []
