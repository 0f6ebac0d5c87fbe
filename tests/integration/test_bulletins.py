"""Periodic bulletins computed by ClickHouse (chDB) from a worked October 2026 with three
halls, whose every figure is derived by hand below.

The 2026 calendar: 1–7 October is the National Day holiday; Saturday 10 October is a
make-up working day, Sunday 11 October is not. "Due 10-12" means the end of 12 October.

Hall H1 (troubled), window / staff / matter in brackets:
  A1 [W01 S01 M1] accepted 10-08, promised 4 → due 10-13 (10-09, 10-10, 10-12, 10-13);
     completed 10-09 (1 working day used: early); rated 4 (bad) 10-12, rectified 10-13.
  A2 [W01 S01 M1] accepted 10-08, promised 2 → due 10-10 (make-up Saturday); yellow 10-09
     00:00, red 10-10 end; completed 10-12: late, 3 working days used; rated 1 10-13.
  A3 [W02 S02 M2] accepted 10-12, promised 5 → due 10-19; yellow 10-16, red 10-19 end;
     still open (overdue); the bureau issues a 督办 notice 10-26 (2 working days → due
     10-28 end), escalated to a red card at 10-28 end.
  A4 [W01 S01 M3] immediate, accepted and completed 10-13.
  A5 [W02 S02 M2] tolerance-accepted 10-14, promised 5 → due 10-21 (yellow 10-20);
     supplemented 10-15; completed 10-20 10:00 (yellow raised then cleared; early; 4 days).
  A6 [W02 S02 M2] tolerance-accepted 10-14, 2 days to supplement (→ 10-16 end): not
     supplemented (finding); returned 10-19 (due 10-21: on time).
  A7 [W03 S03 M1] accepted 10-15; rejected 10-16 non_compliant without legal basis,
     notice number or review rights (finding).
  A8 [W01 S01 M1] accepted 10-15, promised 3 → due 10-20; extended 10-16 with approval
     (+3 → due 10-23, yellow 10-22), extended 10-19 without (finding; due unchanged);
     completed 10-22 10:00 (yellow raised then cleared; early; 5 days used).
  A10 notices 10-20 [a] then 10-21 [a, b]: breaks the one-time-notice rule (finding).
  A11 [W03 S03 M3] immediate, accepted 10-21 09:00 and completed 11:00, both typed in on
     10-23 (two late-report findings, raised 10-22 09:00 and 11:00).
  Posts: W01/S01 absent 10-22 without cover (finding); W02/S02 absent 10-23 covered.
  After-hours service 10-22 at W01/S01. Complaints CP1 (10-23, resolved 10-26) and CP2
  (10-27, open, not yet overdue).
  September: C0 [W01 S01 M1] accepted 09-14, promised 3 → due 09-17, completed 09-16.

Hall H2 (good): B1 [W01 S11 M1] accepted 10-08, promised 5 → due 10-14, completed 10-09,
  rated 2. B2 [W01 S11 M3] immediate 10-12. B3 [W02 S12 M2] accepted 10-26, promised 5 →
  due 11-02 end, open (yellow raised 10-30). B4 [W01 S11 M3] immediate 11-02 (Q4 only).
  September: B0 [W01 S11 M1] accepted 09-21, promised 5, completed 09-22.
Hall H3: only an absence (covered) 10-20: listed, not ranked.

The bulletins are computed at 2026-11-02 10:00.
"""

from __future__ import annotations

import pytest

from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, HALL_KEY, bearer
from tests.world import World

T = "T{}+08:00"
NOW = "2026-11-02T10:00:00+08:00"


def at(day: str, clock: str = "09:00:00") -> str:
    return f"2026-{day}{T.format(clock)}"


def case(world, no, day, hall="H1", window="W01", staff="S01", matter="M1", days=5,
         kind="promised", clock="09:00:00", **extra):
    world.send_on_time(accepted(no, time=at(day, clock), hall=hall, window_id=window,
                                staff_id=staff, matter_code=matter, matter_name=f"事项{matter}",
                                kind=kind, promised_days=days, **extra))


def done(world, no, day, hall="H1", clock="10:00:00"):
    world.send_on_time(completed(no, at(day, clock), hall=hall))


def fact(world, type_, subject, day, data, hall="H1", clock="09:00:00"):
    world.send_on_time(event(type_, subject, at(day, clock), data, hall=hall))


@pytest.fixture(scope="module")
def october(tmp_path_factory):
    from tests.conftest import FixedClock, embedded_settings

    clock = FixedClock("2026-10-26T10:00:00+08:00")
    world = World(embedded_settings(tmp_path_factory.mktemp("october") / "var"), clock)
    # -- H1, September and October
    case(world, "C0", "09-14", days=3)
    done(world, "C0", "09-16")
    case(world, "A1", "10-08", days=4)
    done(world, "A1", "10-09")
    case(world, "A2", "10-08", days=2)
    done(world, "A2", "10-12")
    fact(world, "case.rated", "A1", "10-12", {"satisfaction": 4})
    fact(world, "case.rating_rectified", "A1", "10-13", {"action": "回访致歉"})
    fact(world, "case.rated", "A2", "10-13", {"satisfaction": 1})
    case(world, "A3", "10-12", window="W02", staff="S02", matter="M2")
    case(world, "A4", "10-13", matter="M3", kind="immediate", clock="10:00:00")
    done(world, "A4", "10-13", clock="15:00:00")
    tolerance = {"missing_materials": ["户口簿复印件"], "commitment_no": "CN-1"}
    world.send_on_time(event("case.tolerance_accepted", "A5", at("10-14"), {
        "matter_code": "M2", "matter_name": "事项M2", "kind": "promised", "promised_days": 5,
        "window_id": "W02", "staff_id": "S02", "receipt_no": "R-5", "supplement_days": 3,
        **tolerance}))
    world.send_on_time(event("case.tolerance_accepted", "A6", at("10-14"), {
        "matter_code": "M2", "matter_name": "事项M2", "kind": "promised", "promised_days": 5,
        "window_id": "W02", "staff_id": "S02", "receipt_no": "R-6", "supplement_days": 2,
        **tolerance}))
    fact(world, "case.materials_supplemented", "A5", "10-15", {"materials": ["户口簿复印件"]})
    done(world, "A5", "10-20")
    fact(world, "case.returned", "A6", "10-19", {"reason": "逾期未补齐",
                                                 "category": "supplement_overdue"})
    case(world, "A7", "10-15", window="W03", staff="S03")
    fact(world, "case.rejected", "A7", "10-16", {"category": "non_compliant",
                                                 "reason": "不符合条件"})
    case(world, "A8", "10-15", days=3)
    fact(world, "case.extended", "A8", "10-16", {"extra_days": 3, "reason": "需实地核查",
                                                 "approved_by": "L1",
                                                 "applicant_notified": True})
    fact(world, "case.extended", "A8", "10-19", {"extra_days": 2, "reason": "再延",
                                                 "applicant_notified": True})
    done(world, "A8", "10-22")
    fact(world, "case.notice_issued", "A10", "10-20", {
        "notice_no": "N-1", "missing_materials": ["a"], "staff_id": "S01", "window_id": "W01"})
    fact(world, "case.notice_issued", "A10", "10-21", {
        "notice_no": "N-2", "missing_materials": ["a", "b"], "staff_id": "S01",
        "window_id": "W01"})
    clock.set("2026-10-23T09:00:00+08:00")  # typed in two days late
    world.send(accepted("A11", time=at("10-21"), window_id="W03", staff_id="S03",
                        matter_code="M3", kind="immediate"))
    world.send(completed("A11", at("10-21", "11:00:00")))
    fact(world, "post.absence_noticed", "W01", "10-22", {
        "window_id": "W01", "staff_id": "S01", "reason": "取件",
        "expected_return": at("10-22", "10:00:00")})
    fact(world, "post.resumed", "W01", "10-22", {"window_id": "W01", "staff_id": "S01"},
         clock="09:30:00")
    fact(world, "post.absence_noticed", "W02", "10-23", {
        "window_id": "W02", "staff_id": "S02", "reason": "会议",
        "expected_return": at("10-23", "10:00:00"), "substitute_staff_id": "S09"})
    fact(world, "post.resumed", "W02", "10-23", {"window_id": "W02", "staff_id": "S02"},
         clock="09:40:00")
    fact(world, "service.after_hours", "W01", "10-22", {
        "staff_id": "S01", "window_id": "W01", "start": at("10-22", "17:30:00"),
        "end": at("10-22", "18:30:00"), "by_appointment": False}, clock="18:30:00")
    for no, day in (("CP1", "10-23"), ("CP2", "10-27")):
        fact(world, "complaint.received", "S02", day, {
            "complaint_no": no, "channel": "hotline_12342", "content": "态度差"})
    fact(world, "complaint.resolved", "S02", "10-26", {"complaint_no": "CP1",
                                                       "resolution": "已约谈"})
    # -- H2
    case(world, "B0", "09-21", hall="H2", staff="S11")
    done(world, "B0", "09-22", hall="H2")
    case(world, "B1", "10-08", hall="H2", staff="S11")
    done(world, "B1", "10-09", hall="H2")
    fact(world, "case.rated", "B1", "10-10", {"satisfaction": 2}, hall="H2")
    case(world, "B2", "10-12", hall="H2", staff="S11", matter="M3", kind="immediate")
    done(world, "B2", "10-12", hall="H2", clock="11:00:00")
    case(world, "B3", "10-26", hall="H2", window="W02", staff="S12", matter="M2")
    # -- H3
    fact(world, "post.absence_noticed", "W01", "10-20", {
        "window_id": "W01", "staff_id": "S31", "reason": "培训",
        "expected_return": at("10-20", "10:00:00"), "substitute_staff_id": "S32"}, hall="H3")
    # The bureau notices A3's red warning on 10-26 (2 working days: due 10-28 end).
    clock.set("2026-10-26T10:00:00+08:00")
    world.settle()
    red = [a for a in world.alerts(case="A3") if a["rule"] == "deadline.overdue"]
    assert len(red) == 1
    response = world.client.post(f"/v1/alerts/{red[0]['alert_id']}/notice",
                                 json={"working_days": 2}, headers=bearer(BUREAU_KEY))
    assert response.status_code == 200, response.text
    case(world, "B4", "11-02", hall="H2", staff="S11", matter="M3", kind="immediate")
    done(world, "B4", "11-02", hall="H2", clock="09:30:00")
    clock.set(NOW)
    world.settle()
    world.settle()
    yield world
    world.close()


def get(world, path, **params):
    response = world.client.get(path, params=params, headers=bearer(BUREAU_KEY))
    assert response.status_code == 200, response.text
    return response.json()


def rows(world, period, scope="hall"):
    report = get(world, f"/v1/bulletins/{period}", scope=scope)
    keys = {"hall": ("hall_id",), "window": ("hall_id", "window_id"),
            "staff": ("hall_id", "staff_id"), "matter": ("matter_code",)}[scope]
    return {"/".join(r[k] for k in keys): r for r in report["rows"]}, report


def pick(row, *names):
    return {n: row[n] for n in names}


H1_OCTOBER = {
    "accepted": 9, "accepted_immediate": 2, "accepted_promised": 7,  # A1-A8 less A10, A11
    "decided": 6,  # A1 A2 A4 A5 A8 A11
    "on_time_base": 9,  # those 6 + A6 returned + A7 rejected + A3 open past due
    "on_time": 7,  # all but A2 (late) and A3 (open overdue)
    "overdue_open": 1, "overdue_closed": 1,  # A3; A2
    "promised_decided": 4, "early": 3,  # A1 A2 A5 A8; all but A2
    "working_days_used_sum": 13, "working_days_promised_sum": 14,  # 1+3+4+5; 4+2+5+3
    "yellow_raised": 4, "yellow_resolved": 4,  # A2 A3 (superseded by red), A5 A8 (decided)
    "red_raised": 2, "red_resolved": 1,  # A2 (cleared on completion), A3 (open)
    "findings": 7,  # tolerance, rejection, unapproved extension, one-time notice,
    # two late reports, uncovered post
    "notices": 1, "red_cards": 1,
    "extensions": 2, "extensions_approved": 1, "extensions_unapproved": 1,
    "extensions_late": 0,
    "tolerance_accepted": 2, "tolerance_supplemented": 1, "tolerance_returned": 1,
    "rejections": 1, "rejections_out_of_scope": 0, "rejections_time_limit_exceeded": 0,
    "rejections_non_compliant": 1, "one_time_notice_breaches": 1,
    "absences": 2, "uncovered_posts": 1, "after_hours": 1,
    "complaints": 2, "complaints_resolved": 1,
    "ratings": 2, "ratings_satisfied": 1, "bad_reviews": 1, "bad_reviews_rectified_on_time": 1,
    "late_reports": 2,
    "on_time_rate": 0.7778, "early_rate": 0.75, "avg_working_days_used": 3.25,
    "avg_working_days_promised": 3.5, "satisfaction_rate": 0.5,
    "complaint_resolution_rate": 0.5, "rectification_rate": 1.0,
}


def test_every_figure_of_a_troubled_hall_in_a_month_matches_the_hand_count(october):
    halls, _ = rows(october, "2026-10")
    assert pick(halls["H1"], *H1_OCTOBER) == H1_OCTOBER


def test_an_open_overdue_case_counts_against_the_on_time_rate(october):
    halls, _ = rows(october, "2026-10")
    h2 = halls["H2"]
    assert pick(h2, "accepted", "accepted_immediate", "decided", "on_time_base", "on_time",
                "on_time_rate", "early_rate", "overdue_open", "yellow_raised",
                "satisfaction_rate") == {
        "accepted": 3, "accepted_immediate": 1, "decided": 2,
        "on_time_base": 2,  # B3 is due 11-02: not in October's base
        "on_time": 2, "on_time_rate": 1.0, "early_rate": 1.0, "overdue_open": 0,
        "yellow_raised": 1,  # B3's yellow day is Friday 10-30
        "satisfaction_rate": 1.0}
    assert halls["H1"]["on_time_rate"] < 1.0  # the old bulletin said 100% here


def test_the_score_ranks_halls_and_fills_the_red_and_black_lists(october):
    halls, report = rows(october, "2026-10")
    # H1: 100 × (0.7778×50 + 0.75×10 + 0.5×20 + 0.5×10 + 1.0×10) / 100 = 71.39, less
    # overdue 3 + red card 5 + notice 2 + findings 7 + one-time 1 + uncovered 1
    # + unapproved extension 1 + late reports 2 = 22 → 49.39.
    assert halls["H1"]["score"] == 49.39
    assert halls["H2"]["score"] == 100.0  # every rate it has is 1.0, no penalty
    assert (halls["H2"]["rank"], halls["H1"]["rank"]) == (1, 2)
    assert halls["H3"]["rank"] is None and halls["H3"]["absences"] == 1  # no case activity
    assert report["red_list"] == [{"hall_id": "H2", "score": 100.0}]
    assert report["black_list"] == [{"hall_id": "H1", "score": 49.39}]
    assert report["scoring"]["version"] == "scoring.v1"


def test_the_ranking_and_rates_compare_with_the_month_before_and_the_year_before(october):
    halls, report = rows(october, "2026-10")
    assert report["previous_period"]["name"] == "2026-09"
    assert report["year_ago_period"]["name"] == "2025-10"
    # September: C0 and B0 both on time and early: both score 100, sharing rank 1.
    assert (halls["H1"]["previous_rank"], halls["H1"]["rank_change"]) == (1, -1)
    assert (halls["H2"]["previous_rank"], halls["H2"]["rank_change"]) == (1, 0)
    assert halls["H1"]["changes"]["on_time_rate"] == {
        "previous": 1.0, "year_ago": None, "mom": -0.2222, "yoy": None}


def test_a_week_counts_only_what_fell_in_it(october):
    halls, report = rows(october, "2026-W43")  # Monday 10-19 to Sunday 10-25
    assert (report["period"]["from"], report["period"]["to"]) == ("2026-10-19", "2026-10-26")
    assert pick(halls["H1"], "accepted", "decided", "on_time_base", "on_time", "overdue_open",
                "promised_decided", "early", "red_raised", "extensions", "late_reports",
                "absences", "uncovered_posts", "complaints", "one_time_notice_breaches") == {
        "accepted": 1,  # A11
        "decided": 3,  # A5 A8 A11
        "on_time_base": 5,  # A5 A8 A11 + A6 returned 10-19 + A3 due 10-19 and open
        "on_time": 4, "overdue_open": 1,
        "promised_decided": 2, "early": 2,  # A5 A8
        "red_raised": 1,  # A3 at 10-19 end
        "extensions": 1,  # the unapproved one of 10-19
        "late_reports": 2, "absences": 2, "uncovered_posts": 1, "complaints": 1,
        "one_time_notice_breaches": 1}
    assert "H2" not in halls  # nothing of H2 fell in that week


def test_a_quarter_adds_november_so_far(october):
    halls, report = rows(october, "2026-Q4")
    assert report["period"]["label"] == "2026年第4季度"
    assert pick(halls["H2"], "accepted", "decided", "on_time_base", "on_time_rate") == {
        "accepted": 4, "decided": 3, "on_time_base": 3, "on_time_rate": 1.0}  # + B4
    h1 = halls["H1"]
    assert pick(h1, *H1_OCTOBER) == H1_OCTOBER  # nothing more of H1 in November


def test_windows_staff_and_matters_cut_the_same_cases(october):
    windows, _ = rows(october, "2026-10", "window")
    assert pick(windows["H1/W01"], "accepted", "decided", "on_time_base", "on_time",
                "on_time_rate", "overdue_closed", "uncovered_posts", "after_hours") == {
        "accepted": 4, "decided": 4, "on_time_base": 4, "on_time": 3,  # A1 A2 A4 A8
        "on_time_rate": 0.75, "overdue_closed": 1, "uncovered_posts": 1, "after_hours": 1}
    assert pick(windows["H1/W02"], "red_raised", "overdue_open", "red_cards",
                "tolerance_accepted") == {"red_raised": 1, "overdue_open": 1, "red_cards": 1,
                                          "tolerance_accepted": 2}
    staff, _ = rows(october, "2026-10", "staff")
    assert pick(staff["H1/S02"], "accepted", "decided", "on_time_base", "on_time",
                "on_time_rate") == {"accepted": 3, "decided": 1, "on_time_base": 3,
                                    "on_time": 2, "on_time_rate": 0.6667}  # A3 A5 A6
    matters, _ = rows(october, "2026-10", "matter")
    assert pick(matters["M1"], "accepted", "decided", "on_time_base", "on_time",
                "red_raised", "rejections") == {
        "accepted": 5, "decided": 4, "on_time_base": 5, "on_time": 4,  # A1 A2 A7 A8 B1
        "red_raised": 1, "rejections": 1}
    assert matters["M2"]["overdue_open"] == 1 and matters["M2"]["red_raised"] == 1  # A3


def test_a_week_per_staff_and_a_quarter_per_matter(october):
    staff, _ = rows(october, "2026-W43", "staff")
    assert pick(staff["H1/S02"], "accepted", "decided", "on_time_base", "on_time",
                "overdue_open", "absences") == {
        "accepted": 0, "decided": 1,  # A5
        "on_time_base": 3, "on_time": 2,  # A5, A6 returned; A3 due 10-19 and open
        "overdue_open": 1, "absences": 1}  # A3; S02 away on 10-23
    matters, _ = rows(october, "2026-Q4", "matter")
    assert pick(matters["M3"], "accepted", "accepted_immediate", "decided", "on_time_base",
                "on_time_rate", "promised_decided", "early_rate", "late_reports") == {
        "accepted": 4, "accepted_immediate": 4, "decided": 4,  # A4 A11 B2 B4
        "on_time_base": 4, "on_time_rate": 1.0,
        "promised_decided": 0, "early_rate": None,  # no promised case: no early rate
        "late_reports": 2}  # A11's acceptance and completion


def test_the_older_from_to_form_answers_the_same_month(october):
    old = get(october, "/v1/bulletins", **{"from": "2026-10-01", "to": "2026-11-01"})
    new = get(october, "/v1/bulletins/2026-10")
    assert old["period"]["name"] == "2026-10" and old["rows"] == new["rows"]


@pytest.mark.parametrize("path,params,field", [
    ("/v1/bulletins", {"from": "2026-10-01", "to": "2026-09-01"}, "to"),
    ("/v1/bulletins", {"from": "2026-13-01", "to": "2026-11-01"}, "from"),
    ("/v1/bulletins", {"from": "2026-10-01", "to": "2026-11-01", "by": "planet"}, "by"),
    ("/v1/bulletins/2026-13", {}, "period"),
    ("/v1/bulletins/2026-W54", {}, "period"),
    ("/v1/bulletins/2026-10", {"scope": "planet"}, "scope"),
    ("/v1/bulletins/2026-10", {"scope": "department"}, "scope"),  # no mapping loaded yet
    ("/v1/bulletins/2026-10", {"format": "docx"}, "format"),
])
def test_a_malformed_bulletin_request_answers_422_with_the_field(october, path, params, field):
    response = october.client.get(path, params=params, headers=bearer(BUREAU_KEY))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_halls_cannot_read_bulletins(october):
    for path in ("/v1/bulletins/2026-10", "/v1/bulletins?from=2026-10-01&to=2026-11-01"):
        assert october.client.get(path, headers=bearer(HALL_KEY)).status_code == 403


# -- the document -------------------------------------------------------------------


def test_the_html_document_is_chinese_with_summary_tables_and_charts(october):
    response = october.client.get("/v1/bulletins/2026-10", headers={
        **bearer(BUREAU_KEY), "Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "关于2026年10月各分厅政务服务情况的通报" in page
    assert "市政务服务和数字化管理局" in page and "（未发布稿）" in page
    # The summary counts from the totals (H1 + H2: 9 on time of 11; September 2 of 2)...
    assert "按时办结率81.8%（环比-18.2个百分点）" in page
    # ...and names the halls with problems, from the figures.
    assert "存在超期未办结办件的分厅：H1（1件）" in page
    assert "被亮红牌的分厅：H1（1次）" in page
    assert "列入红榜的分厅：H2；列入黑榜的分厅：H1" in page
    assert page.count("data:image/svg+xml;base64,") == 2
    assert "77.8%" in page  # H1's on-time rate in the ranking table


def test_the_pdf_document_prints_on_a4_pages_with_chinese_text(october, document_tools,
                                                                tmp_path):
    import subprocess

    response = october.client.get("/v1/bulletins/2026-10", params={"format": "pdf"},
                                  headers=bearer(BUREAU_KEY))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    pdf = tmp_path / "b.pdf"
    pdf.write_bytes(response.content)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2 and all(p.stat().st_size > 1000 for p in pages)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "595.276 x 841.89 pts (A4)" in info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "政务服务情况的通报" in text and "按时办结率" in text and "红榜" in text


def test_text_from_data_is_escaped_in_the_document():
    from services.projections import document

    report = {
        "scope": "hall", "period": {"label": "2026年10月", "name": "2026-10"},
        "as_of": "2026-11-02T10:00:00+08:00", "positions": {"projections": 1},
        "scoring": {"version": "<b>v</b>"}, "red_list": [], "black_list": [],
        "trend": [{"label": "<i>t</i>", "on_time_rate": 0.5, "early_rate": None,
                   "satisfaction_rate": None}],
        "rows": [], "totals": {},
    }
    row = {key: 0 for key in ("accepted", "accepted_immediate", "accepted_promised",
                              "decided", "overdue_open", "overdue_closed", "yellow_raised",
                              "yellow_resolved", "red_raised", "red_resolved", "notices",
                              "red_cards", "findings", "one_time_notice_breaches",
                              "extensions", "extensions_approved", "extensions_unapproved",
                              "extensions_late", "tolerance_accepted",
                              "tolerance_supplemented", "tolerance_returned", "rejections",
                              "late_reports", "absences", "uncovered_posts", "after_hours",
                              "complaints", "ratings", "bad_reviews")}
    rates = dict.fromkeys(("on_time_rate", "early_rate", "satisfaction_rate",
                           "avg_working_days_used", "avg_working_days_promised",
                           "complaint_resolution_rate", "rectification_rate"))
    row.update(rates, hall_id="<script>alert(1)</script>", rank=None, score=None,
               rank_change=None, changes={"on_time_rate": {"mom": None}}, overdue_open=1)
    report["rows"] = [row]
    report["totals"] = {**row, "accepted": 1}
    page = document.html(report)
    assert "<script>alert(1)</script>" not in page and "<b>v</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_department_adds_up_its_halls(october):
    from datetime import datetime

    from services.projections.bulletin import Bulletins
    from services.projections.periods import parse

    bulletins = Bulletins(october.projections.views.client,
                          departments={"H1": "D-REG", "H2": "D-REG", "H3": "D-EMP"})
    report = bulletins.bulletin(parse("2026-10"), "department", datetime.fromisoformat(NOW))
    departments = {r["department_id"]: r for r in report["rows"]}
    reg = departments["D-REG"]
    assert (reg["accepted"], reg["on_time_base"], reg["on_time"]) == (12, 11, 9)  # H1 + H2
    assert reg["on_time_rate"] == 0.8182 and reg["overdue_open"] == 1
    assert departments["D-EMP"]["rank"] is None  # H3 had no case activity


@pytest.mark.parametrize("period,scope,title", [
    ("2026-W43", "window", "关于2026年第43周(10月19日—10月25日)各窗口政务服务情况的通报"),
    ("2026-Q4", "staff", "关于2026年第4季度窗口工作人员政务服务情况的通报"),
    ("2026-H2", "matter", "关于2026年下半年各事项政务服务情况的通报"),
    ("2026", "hall", "关于2026年各分厅政务服务情况的通报"),
])
def test_every_period_and_scope_renders_as_a_document(october, period, scope, title):
    response = october.client.get(f"/v1/bulletins/{period}", params={"scope": scope},
                                  headers={**bearer(BUREAU_KEY), "Accept": "text/html"})
    assert response.status_code == 200 and title in response.text
