"""The case dossier: JSON and HTML, its alerts' lifecycle, a hash proof that rechecks."""

from __future__ import annotations

import subprocess

import pytest

from hallwatch import chain
from tests.builders import accepted
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, bearer
from tests.documents import ensure_document_tools
from tests.world import World

PERSON = {"name": "赵六", "id_number": "110101199001011234"}
WHY = {"reason": "投诉复核 2026-31"}


@pytest.fixture
def world(settings, clock):
    w = World(settings, clock)
    w.intake.clickhouse = w.projections.views.client
    w.send(accepted("D1", applicant=PERSON))  # reported 12 days late: a finding
    w.settle()
    late = next(a for a in w.alerts(case="D1") if a["rule"] == "report.late")
    path = f"/v1/alerts/{late['alert_id']}"
    for action, body in (("notice", {"working_days": 2, "content": "限期说明迟报原因"}),
                         ("resolve", {"resolution": "已说明：系统故障"})):
        assert w.client.post(f"{path}/{action}", json=body,
                             headers=bearer(BUREAU_KEY)).status_code == 200
    w.settle()
    yield w
    w.close()


def dossier(world, key=AUDITOR_KEY, **params):
    return world.client.get("/v1/cases/D1/dossier", params=params, headers=bearer(key))


def test_the_dossier_holds_timeline_deadline_alerts_and_a_proof_that_rechecks(world):
    answer = dossier(world, **WHY)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert data["generated_by"] == "audit" and data["generated_at"].startswith("2026-10-12")
    assert data["timeline"][0]["fact"]["data"]["applicant"] == PERSON
    assert data["deadline"]["calendar_versions"] and data["deadline"]["steps"]
    late = next(a for a in data["alerts"] if a["rule"] == "report.late")
    assert [(h["status"], h["by"]) for h in late["history"]] == [
        ("noticed", "bureau"), ("resolved", "bureau")]
    assert "限期说明迟报原因" in str(late["history"]) and "已说明" in str(late["history"])
    proof = data["proof"]
    assert proof["verified"] is True and len(proof["how_to_recheck"]) == 3
    row = next(r for r in world.intake.store.log_chain.rows()
               if r.position == proof["links"][0]["position"])
    key = world.settings.chain_secret()
    assert chain.link(key, proof["links"][0]["log_previous"], row) == \
        proof["links"][0]["log_link"]


def test_the_html_dossier_is_chinese_escaped_and_masked_for_the_bureau(world):
    page = dossier(world, format="html", **WHY)
    assert page.headers["content-type"].startswith("text/html")
    assert "案卷" in page.text and "赵六" in page.text and "<script" not in page.text
    assert "如何复核" in page.text and "链校验通过" in page.text
    by_accept = world.client.get("/v1/cases/D1/dossier",
                                 headers={**bearer(BUREAU_KEY), "Accept": "text/html"})
    assert "赵*" in by_accept.text and "赵六" not in by_accept.text


def test_an_auditors_dossier_needs_a_reason_and_is_recorded(world):
    assert dossier(world).status_code == 422
    assert dossier(world, key=HALL_KEY, **WHY).status_code == 403
    assert dossier(world, **WHY).status_code == 200
    reads = world.client.get("/v1/audit/reads", headers=bearer(BUREAU_KEY)).json()["reads"]
    assert [(r["case_no"], r["what"]) for r in reads] == [("D1", "dossier")]
    assert world.client.get("/v1/cases/NONE/dossier", params=WHY,
                            headers=bearer(AUDITOR_KEY)).status_code == 404


def test_the_pdf_dossier_renders_chinese_text_on_its_pages(world, tmp_path):
    ensure_document_tools()
    answer = world.client.get("/v1/cases/D1/dossier", params=WHY,
                              headers={**bearer(AUDITOR_KEY), "Accept": "application/pdf"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert 'filename="dossier-D1.pdf"' in answer.headers["content-disposition"]
    pdf = tmp_path / "dossier.pdf"
    pdf.write_bytes(answer.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "案卷" in text and "如何复核" in text and "链校验通过" in text
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    (page,) = tmp_path.glob("page*.png")
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and page.stat().st_size > 5000
