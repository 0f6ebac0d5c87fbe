"""Hall actions beside the case clock, through the HTTP intake into supervision, the live
views and the bulletins (embedded: SQLite + chDB), on a worked November 2026.

Hall H1, every figure derived by hand:
  N0 refused at the window 10-30 (time_limit_exceeded): October, outside the period.
  N1 refused at the window 11-03 10:15 (out_of_scope), with legal basis, notice number
     and review rights: a window refusal (不予受理), no finding.
  N2 one-time notice 11-04, then refused 11-05 (non_compliant) without legal basis,
     notice number or review rights: never accepted, so a window refusal; one
     rejection.incomplete finding.
  N3 accepted 11-04, rejected 11-05 (non_compliant, complete): a rejection after
     acceptance, not a window refusal.
  → rejections 3 (out_of_scope 1, non_compliant 2); window_refusals 2 (out_of_scope 1,
    non_compliant 1, time_limit_exceeded 0).
  The bureau inspects W01/S01 on 11-06 (dress pass, phone breach, language breach:
  rectify by 11-13) and spot-checks the whole hall on 11-09 (environment pass):
  → inspections 2, inspection_breaches 2; window W01: 1 and 2.
  Inquiries 11-06: one answered, one referred to 区社保中心; a liaison report 11-02 and a
  comment-book entry 11-07.
Bulletins are computed at 2026-11-10 10:00.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.builders import accepted, event
from tests.conftest import BUREAU_KEY, HALL2_KEY, HALL_KEY, auth, bearer
from tests.world import World

NOW = "2026-11-10T10:00:00+08:00"
COMPLETE = {"legal_basis": "《行政许可法》第三十二条", "notice_no": "BSL-2026-07",
            "review_rights_told": True}
INSPECTION = {"inspector": "bureau-li", "kind": "unannounced", "window_id": "W01",
              "staff_id": "S01", "outcome": "rectify",
              "rectify_by": "2026-11-13T17:00:00+08:00",
              "items": [{"item": "dress", "result": "pass"},
                        {"item": "phone", "result": "breach", "note": "受理时接打手机"},
                        {"item": "language", "result": "breach", "note": "说“不归我管”"}]}


def at(day: str, clock: str = "09:00:00") -> str:
    return f"2026-{day}T{clock}+08:00"


def post(world: World, body: dict, key: str = HALL_KEY):
    """POST one event over HTTP, a few minutes after it happened."""
    world.clock.set(body["time"])
    world.clock.now += timedelta(minutes=5)
    return world.client.post("/v1/events", content=json.dumps(body), headers=auth(key))


def stored(world: World, body: dict, key: str = HALL_KEY) -> None:
    response = post(world, body, key)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def november(tmp_path_factory):
    from tests.conftest import FixedClock, embedded_settings

    clock = FixedClock(NOW)
    world = World(embedded_settings(tmp_path_factory.mktemp("november") / "var"), clock)
    stored(world, event("case.rejected", "N0", at("10-30"), {
        "category": "time_limit_exceeded", "reason": "超过申请期限", **COMPLETE}))
    stored(world, event("case.rejected", "N1", at("11-03", "10:15:00"), {
        "category": "out_of_scope", "reason": "不属于本厅受理范围", "window_id": "W02",
        "staff_id": "S02", "matter_code": "M1", "matter_name": "事项M1", **COMPLETE}))
    stored(world, event("case.notice_issued", "N2", at("11-04"), {
        "notice_no": "GZ-1", "missing_materials": ["户口簿"], "staff_id": "S02",
        "window_id": "W02"}))
    stored(world, event("case.rejected", "N2", at("11-05"), {
        "category": "non_compliant", "reason": "逾期未补正"}))
    stored(world, accepted("N3", time=at("11-04")))
    stored(world, event("case.rejected", "N3", at("11-05", "10:00:00"), {
        "category": "non_compliant", "reason": "不符合条件", **COMPLETE}))
    stored(world, event("liaison.reported", "S05", at("11-02"), {
        "liaison_staff_id": "S05", "period_start": at("10-01", "00:00:00"),
        "period_end": at("10-31", "23:59:59"), "cases_accepted": 120, "cases_decided": 118,
        "summary": "十月业务受理情况"}))
    stored(world, event("inspection.recorded", "W01", at("11-06", "10:00:00"), INSPECTION),
           BUREAU_KEY)
    stored(world, event("inspection.recorded", "H1", at("11-09", "15:00:00"), {
        "inspector": "bureau-wang", "kind": "spot_check", "outcome": "satisfactory",
        "items": [{"item": "environment", "result": "pass"}]}), BUREAU_KEY)
    stored(world, event("inquiry.recorded", "W01", at("11-06", "11:00:00"), {
        "staff_id": "S01", "topic": "公积金提取", "outcome": "answered"}))
    stored(world, event("inquiry.recorded", "W01", at("11-06", "11:30:00"), {
        "staff_id": "S01", "topic": "社保卡补办", "outcome": "referred",
        "referred_to": "区社保中心"}))
    stored(world, event("register.entry_recorded", "W02", at("11-07"), {
        "book": "comment_book", "entry_no": "YJ-031", "kind": "suggestion",
        "content": "建议增加自助填表机", "staff_id": "S02"}))
    clock.set(NOW)
    world.settle()
    yield world
    world.close()


def get(world: World, path: str, key: str = BUREAU_KEY, **params):
    response = world.client.get(path, params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_refusal_at_the_window_is_recorded_as_the_cases_first_event(november):
    case = get(november, "/v1/cases/N1")
    assert (case["status"], case["accepted_at"], case["window_id"]) == (
        "rejected", None, "W02")
    assert case["findings"] == []


def test_a_refusal_without_a_prior_acceptance_is_judged_by_rejection_incomplete(november):
    (finding,) = get(november, "/v1/cases/N2")["findings"]
    assert finding["rule"] == "rejection.incomplete"
    assert finding["raised_at"].startswith("2026-11-05T09:00:00")
    assert finding["detail"] == "missing: legal_basis, notice_no, review_rights_told"


def test_the_bulletin_counts_window_refusals_by_reason_and_inspections(november):
    report = get(november, "/v1/bulletins/2026-11", scope="hall")
    (h1,) = [r for r in report["rows"] if r["hall_id"] == "H1"]
    figures = ("rejections", "rejections_out_of_scope", "rejections_non_compliant",
               "window_refusals", "window_refusals_out_of_scope",
               "window_refusals_time_limit_exceeded", "window_refusals_non_compliant",
               "inspections", "inspection_breaches")
    assert {k: h1[k] for k in figures} == {
        "rejections": 3, "rejections_out_of_scope": 1, "rejections_non_compliant": 2,
        "window_refusals": 2, "window_refusals_out_of_scope": 1,
        "window_refusals_time_limit_exceeded": 0, "window_refusals_non_compliant": 1,
        "inspections": 2, "inspection_breaches": 2}
    october = get(november, "/v1/bulletins/2026-10", scope="hall")
    (h1_october,) = [r for r in october["rows"] if r["hall_id"] == "H1"]
    assert h1_october["window_refusals_time_limit_exceeded"] == 1


def test_inspection_findings_are_counted_for_the_window_inspected(november):
    report = get(november, "/v1/bulletins/2026-11", scope="window")
    windows = {r["window_id"]: r for r in report["rows"] if r["hall_id"] == "H1"}
    assert (windows["W01"]["inspections"], windows["W01"]["inspection_breaches"]) == (1, 2)
    # N1's refusal names W02; N2's names no window (its notice does not make the case
    # the window's), so it counts for the hall only.
    assert windows["W02"]["window_refusals"] == 1


def test_a_halls_records_list_its_inquiries_referrals_inspections_and_reports(november):
    listed = get(november, "/v1/halls/H1/records")
    assert listed["counts"] == {"inquiry.recorded": 2, "liaison.reported": 1,
                                "register.entry_recorded": 1, "inspection.recorded": 2}
    assert listed["referrals"] == 1
    assert [r["type"] for r in listed["records"]][:2] == [
        "inspection.recorded", "register.entry_recorded"]  # newest first
    (referral,) = get(november, "/v1/halls/H1/records", referred="true")["records"]
    assert referral["data"]["referred_to"] == "区社保中心"
    assert referral["staff_id"] == "S01"
    inspections = get(november, "/v1/halls/H1/records", key=HALL_KEY,
                      type="inspection.recorded")["records"]
    assert [i["data"]["outcome"] for i in inspections] == ["satisfactory", "rectify"]


def test_another_hall_cannot_read_a_halls_records(november):
    response = november.client.get("/v1/halls/H1/records", headers=bearer(HALL2_KEY))
    assert response.status_code == 403
    unknown = november.client.get("/v1/halls/H1/records", params={"type": "case.accepted"},
                                  headers=bearer(BUREAU_KEY))
    assert (unknown.status_code, unknown.json()["field"]) == (422, "type")


def test_only_the_bureau_records_inspections_and_a_bureau_key_records_nothing_else(november):
    before = get(november, "/v1/halls/H1/records")["counts"]["inspection.recorded"]
    by_hall = post(november, event("inspection.recorded", "W01", at("11-10", "09:00:00"),
                                   INSPECTION))
    assert (by_hall.status_code, by_hall.json()["field"]) == (403, "type")
    by_bureau = post(november, accepted("N9", time=at("11-10", "09:00:00")), BUREAU_KEY)
    assert (by_bureau.status_code, by_bureau.json()["field"]) == (403, "type")
    assert post(november, event("case.completed", "N9", at("11-10", "09:30:00"),
                                {"result": "approved"})).status_code == 409  # N9 unknown
    november.clock.set(NOW)
    november.settle()
    assert get(november, "/v1/halls/H1/records")["counts"]["inspection.recorded"] == before


@pytest.mark.parametrize("type_,data,field", [
    ("inquiry.recorded", {"staff_id": "S01", "topic": "户籍迁移", "outcome": "referred"},
     "data.referred_to"),
    ("liaison.reported", {"liaison_staff_id": "S05", "period_start": at("11-30"),
                          "period_end": at("11-01"), "summary": "倒置的期间"},
     "data.period_end"),
    ("register.entry_recorded", {"book": "guest_book", "entry_no": "1", "kind": "praise",
                                 "content": "好"}, "data.book"),
])
def test_a_malformed_hall_record_is_refused_naming_the_field(november, type_, data, field):
    response = post(november, event(type_, "W01", at("11-10", "09:00:00"), data))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_batch_refuses_a_halls_inspection_line_and_keeps_the_others(november):
    november.clock.set("2026-11-10T09:30:00+08:00")
    lines = [event("inquiry.recorded", "W02", at("11-10", "09:00:00"), {
                 "staff_id": "S02", "topic": "营业执照变更", "outcome": "referred",
                 "referred_to": "市场监管分厅"}, hall="H2"),
             event("inspection.recorded", "W02", at("11-10", "09:05:00"), INSPECTION,
                   hall="H2")]  # H2: H1's hand counts above stay as they are
    response = november.client.post(
        "/v1/events:batch", content="\n".join(json.dumps(line) for line in lines),
        headers={**bearer(HALL2_KEY), "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["stored"], answer["refused"]) == (1, 1)
    assert [(r["status"], r.get("field")) for r in answer["results"]] == [
        (201, None), (403, "type")]
    by_bureau = november.client.post(
        "/v1/events:batch", content=json.dumps(lines[1]),
        headers={**bearer(BUREAU_KEY), "Content-Type": "application/x-ndjson"})
    assert [r["status"] for r in by_bureau.json()["results"]] == [201]
