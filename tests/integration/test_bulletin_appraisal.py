"""Bulletins name halls, departments, windows, staff and matters from the loaded directory
(staff names masked), give the average statutory days beside the used and promised ones,
and the year's staff bulletin carries the annual appraisal (绩效考评, 光荣榜) — every value
derived by hand below.

The sample directory (deploy/directory/sample-city.v1.json) is loaded on 2026-03-02. March
2026 has no holiday; 2 March is a Monday. Matters: MORT 抵押权首次登记 (realestate, promised
3, statutory 30), TRANS 转移登记 (promised 5, statutory 30), LLC 有限责任公司设立登记 (main,
promised 1, statutory 3), SOLE 个体工商户设立登记 (main, immediate); UNKNOWN is in no
catalogue. Every completion is delivered at once (no delivery finding).

Hall realestate:
  S0011 邱兰 [BDC-W01]: MORT R1 03-02 → done 03-03 (1 day used), R2 03-02 → 03-04 (2),
        R3 03-09 → 03-10 (1): all early; R1 rated 1.  Score 100, clean.
  S0012 任洋 [BDC-W02]: TRANS T1 03-02 (due 03-09) → 03-06 (4, early), T2 03-02 → 03-10
        (6 days: late).  on time 1/2, early 1/2 → 100 × (25 + 5) / 60 = 50.0.
  S0013 彭超静 [BDC-W03]: MORT M1 03-02 → 03-03 (1), M2 03-03 → 03-04 (1), both early; M1
        rated 2; away 03-05 without cover (a finding). 100 − finding 1 − uncovered 1 = 98.
  S0014 蒋梅刚 [BDC-W04]: MORT P1 03-02 → 03-03 (1), P2 03-02 → 03-04 (2), P3 03-02 → 03-05
        (3, on its due day: not early); P1 rated 1. early 0.6667 → 100 × (50 + 6.667 + 20)
        / 80 = 95.83, clean.
  S9999 [BDC-W09], in no directory: UNKNOWN X1 (promised 3) 03-02 → 03-03 (1).
Hall main:
  S0001 赖英华 [ZT-W01]: LLC L1 03-02 (due 03-03) → 03-03 (1, on its due day), SOLE S1
        immediate 03-04. on time 1.0, early 0.0 → 100 × 50 / 60 = 83.33.

Appraisal (the deploy file's rules with min_accepted 2 and max_share 0.25): appraised
S0011 S0012 S0013 S0014 S0001 (S9999 accepted only 1); places max(1, ⌊0.25 × 5⌋) = 1;
candidates (≥ 95, clean) S0011 (100) and S0014 (95.83): S0011 is the 先进工作者. Grades:
S0011 优秀, S0013 称职 (98), S0014 称职 (95.83), S0001 称职 (83.33), S0012 不称职 (50).

Working days (promised cases decided), realestate: 11 cases, 10 of catalogued matters;
used 4 + 10 + 2 + 6 + 1 = 23 → 2.09; promised 9 + 10 + 6 + 9 + 3 = 37 → 3.36;
statutory 10 × 30 = 300 → 30.0. main: L1 only → 1.0, 1.0, 3.0.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.builders import accepted, completed, event
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, FixedClock, bearer, embedded_settings
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "directory" / "sample-city.v1.json"
MORT, TRANS = "01008003002204000801", "01008002002204000801"
LLC, SOLE = "01001003002204000101", "01001001002204000101"
UNKNOWN = "01008999002204000801"
NOW = "2026-03-20T10:00:00+08:00"
REALESTATE = "辽源市不动产登记中心分厅"


def at(day: str, clock: str = "10:00:00") -> str:
    return f"2026-{day}T{clock}+08:00"


def case(world, no, day, done, staff, window, matter=MORT, days=3, hall="realestate",
         kind="promised"):
    world.send_on_time(accepted(no, time=at(day), hall=hall, window_id=window,
                                staff_id=staff, matter_code=matter, matter_name="事项",
                                kind=kind, promised_days=days))
    world.send_on_time(completed(no, at(done, "14:00:00"), hall=hall))
    world.send_on_time(event("case.delivered", no, at(done, "14:30:00"),
                             {"method": "window"}, hall=hall))


def rated(world, no, day, satisfaction, hall="realestate"):
    world.send_on_time(event("case.rated", no, at(day, "15:00:00"),
                             {"satisfaction": satisfaction}, hall=hall))


@pytest.fixture(scope="module")
def march(tmp_path_factory):
    clock = FixedClock("2026-03-02T08:00:00+08:00")
    world = World(embedded_settings(tmp_path_factory.mktemp("march") / "var"), clock)
    response = world.client.post("/v1/directory", json=json.loads(SAMPLE.read_text()),
                                 headers=bearer(BUREAU_KEY))
    assert response.status_code == 201, response.text
    world.settle()
    for no, day, done in (("R1", "03-02", "03-03"), ("R2", "03-02", "03-04"),
                          ("R3", "03-09", "03-10")):
        case(world, no, day, done, "S0011", "BDC-W01")
    rated(world, "R1", "03-04", 1)
    case(world, "T1", "03-02", "03-06", "S0012", "BDC-W02", TRANS, 5)
    case(world, "T2", "03-02", "03-10", "S0012", "BDC-W02", TRANS, 5)
    case(world, "M1", "03-02", "03-03", "S0013", "BDC-W03")
    case(world, "M2", "03-03", "03-04", "S0013", "BDC-W03")
    rated(world, "M1", "03-04", 2)
    world.send_on_time(event("post.absence_noticed", "BDC-W03", at("03-05"), {
        "window_id": "BDC-W03", "staff_id": "S0013", "reason": "取件",
        "expected_return": at("03-05", "10:30:00")}, hall="realestate"))
    world.send_on_time(event("post.resumed", "BDC-W03", at("03-05", "10:20:00"), {
        "window_id": "BDC-W03", "staff_id": "S0013"}, hall="realestate"))
    for no, done in (("P1", "03-03"), ("P2", "03-04"), ("P3", "03-05")):
        case(world, no, "03-02", done, "S0014", "BDC-W04")
    rated(world, "P1", "03-04", 1)
    case(world, "X1", "03-02", "03-03", "S9999", "BDC-W09", UNKNOWN)
    case(world, "L1", "03-02", "03-03", "S0001", "ZT-W01", LLC, 1, hall="main")
    case(world, "S1", "03-04", "03-04", "S0001", "ZT-W01", SOLE, 0, hall="main",
         kind="immediate")
    clock.set(NOW)
    world.settle()
    world.settle()
    yield world
    world.close()


def report(world, period, scope, key=BUREAU_KEY, **params):
    response = world.client.get(f"/v1/bulletins/{period}", params={"scope": scope, **params},
                                headers=bearer(key))
    assert response.status_code == 200, response.text
    return response


def by(rows, *keys):
    return {"/".join(r[k] for k in keys): r for r in rows}


def pick(row, *names):
    return {n: row[n] for n in names}


def test_halls_windows_staff_and_matters_carry_the_directorys_names(march):
    body = report(march, "2026-03", "hall").json()
    assert body["directory_version"].startswith("2026.1:")
    halls = by(body["rows"], "hall_id")
    assert halls["realestate"]["name"] == REALESTATE
    assert halls["main"]["name"] == "辽源市政务服务中心(主厅)"
    windows = by(report(march, "2026-03", "window").json()["rows"], "hall_id", "window_id")
    assert pick(windows["realestate/BDC-W01"], "name", "hall_name") == {
        "name": "业务窗口 1 号", "hall_name": REALESTATE}
    assert windows["realestate/BDC-W09"]["name"] is None  # not in the directory: its id
    matters = by(report(march, "2026-03", "matter").json()["rows"], "matter_code")
    assert matters[MORT]["name"] == "抵押权首次登记" and matters[UNKNOWN]["name"] is None


def test_staff_names_are_masked_in_every_form_whoever_reads_the_bulletin(march):
    staff = by(report(march, "2026-03", "staff").json()["rows"], "hall_id", "staff_id")
    assert [staff[f"realestate/{s}"]["name"] for s in ("S0011", "S0013", "S9999")] == [
        "邱*", "彭**", None]
    for key in (BUREAU_KEY, AUDITOR_KEY):  # auditors see names in the directory, not here
        for form in ("json", "html"):
            text = report(march, "2026", "staff", key, format=form).text
            assert "邱兰" not in text and "彭超静" not in text and "赖英华" not in text
    page = report(march, "2026", "staff", format="html").text
    assert f"{REALESTATE} 邱*（S0011）" in page  # masked names collide: the id goes with it
    assert f"{REALESTATE} S9999" in page  # no name in the directory: the id alone


def test_departments_come_from_the_directorys_halls(march):
    rows = by(report(march, "2026-03", "department").json()["rows"], "department_id")
    assert sorted(rows) == ["辽源市政务服务和数字化管理局", "辽源市自然资源局"]
    assert pick(rows["辽源市自然资源局"], "accepted", "decided", "promised_decided") == {
        "accepted": 11, "decided": 11, "promised_decided": 11}


def test_average_statutory_days_stand_beside_the_days_used_and_promised(march):
    halls = by(report(march, "2026-03", "hall").json()["rows"], "hall_id")
    figures = ("promised_decided", "promised_decided_catalogued", "working_days_used_sum",
               "working_days_promised_sum", "working_days_statutory_sum",
               "avg_working_days_used", "avg_working_days_promised",
               "avg_working_days_statutory")
    assert pick(halls["realestate"], *figures) == {
        "promised_decided": 11, "promised_decided_catalogued": 10,
        "working_days_used_sum": 23, "working_days_promised_sum": 37,
        "working_days_statutory_sum": 300, "avg_working_days_used": 2.09,
        "avg_working_days_promised": 3.36, "avg_working_days_statutory": 30.0}
    assert pick(halls["main"], *figures) == {
        "promised_decided": 1, "promised_decided_catalogued": 1,
        "working_days_used_sum": 1, "working_days_promised_sum": 1,
        "working_days_statutory_sum": 3, "avg_working_days_used": 1.0,
        "avg_working_days_promised": 1.0, "avg_working_days_statutory": 3.0}
    page = report(march, "2026-03", "hall", format="html").text
    assert "平均用时/承诺/法定(工作日)" in page and "<td>2.09/3.36/30</td>" in page


@pytest.fixture(scope="module")
def appraisal(march):
    from services.projections.bulletin import Bulletins
    from services.projections.periods import parse
    from services.projections.scoring import Scoring

    rules = Scoring.load().as_dict()
    rules["appraisal"]["min_accepted"] = 2
    rules["appraisal"]["honour_roll"]["max_share"] = 0.25
    bulletins = Bulletins(march.projections.views.client, Scoring.from_dict(rules))
    return bulletins.bulletin(parse("2026"), "staff", datetime.fromisoformat(NOW))


def test_the_annual_appraisal_grades_every_appraised_staff_member_by_hand(appraisal):
    result = appraisal["appraisal"]
    assert (result["appraised"], result["not_appraised"], result["honour_places"]) == (5, 1, 1)
    graded = {s["staff_id"]: (s["score"], s["grade"], s["not_clean"]) for s in result["staff"]}
    assert graded == {
        "S0011": (100.0, "优秀", []),
        "S0013": (98.0, "称职", ["findings", "uncovered_posts"]),
        "S0014": (95.83, "称职", []),  # a candidate, but the one place is taken
        "S0001": (83.33, "称职", []),
        "S0012": (50.0, "不称职", ["overdue_closed"]),
    }
    assert [s["staff_id"] for s in result["staff"]] == ["S0011", "S0013", "S0014", "S0001",
                                                         "S0012"]  # best first


def test_the_honour_roll_names_the_advanced_worker_masked(appraisal):
    assert appraisal["appraisal"]["honour_roll"] == [{
        "hall_id": "realestate", "staff_id": "S0011", "name": "邱*",
        "hall_name": REALESTATE, "score": 100.0, "place": 1}]


def test_the_appraisal_is_only_in_the_years_staff_bulletin(march):
    assert "appraisal" in report(march, "2026", "staff").json()
    assert "appraisal" not in report(march, "2026-03", "staff").json()
    assert "appraisal" not in report(march, "2026", "hall").json()


def test_the_years_staff_document_prints_the_honour_roll(march, document_tools, tmp_path):
    page = report(march, "2026", "staff", format="html").text
    assert "七、年度绩效考评（光荣榜）" in page
    # With the deploy file's rules (20 cases a year) nobody is appraised yet.
    assert "参评工作人员0人（年度受理不少于20件）" in page
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(report(march, "2026", "staff", format="pdf").content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "年度绩效考评" in text and "邱*" in text and "邱兰" not in text


def test_the_live_views_name_halls_windows_and_departments_from_the_directory(march):
    response = march.client.get("/v1/halls", headers=bearer(BUREAU_KEY))
    halls = {h["hall_id"]: h for h in response.json()["halls"]}
    assert pick(halls["realestate"], "name", "department") == {
        "name": REALESTATE, "department": "辽源市自然资源局"}
    response = march.client.get("/v1/halls/realestate/windows", headers=bearer(BUREAU_KEY))
    windows = {w["window_id"]: w for w in response.json()["windows"]}
    assert pick(windows["BDC-W03"], "name", "department") == {
        "name": "业务窗口 3 号", "department": "辽源市自然资源局"}
    assert windows["BDC-W09"]["name"] is None  # not in the directory
