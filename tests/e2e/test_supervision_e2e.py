"""Supervision end to end: embedded, and as a separate process killed mid-stream."""

from __future__ import annotations

import time

import pytest

from tests.builders import accepted, event
from tests.conftest import BUREAU_KEY, HALL_KEY
from tests.e2e.procs import Service, call, post_event, wait_for

pytestmark = pytest.mark.slow
ON_TIME = "2026-10-12T09:00:00+08:00"  # the clock is fixed at 10:00 that day


def rejected_without_basis(case: str) -> dict:
    return event("case.rejected", case, "2026-10-12T09:30:00+08:00",
                 {"category": "non_compliant", "reason": "材料不符合法定形式"})


def alerts(url: str, **filters: str) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    status, body = call(f"{url}/v1/alerts?{query}", "GET", BUREAU_KEY)
    assert status == 200, body
    return body["alerts"]


def post(url: str, body: dict) -> None:
    post_event(url, body, HALL_KEY)


def test_embedded_serve_raises_a_finding_and_the_bureau_handles_it(embedded):
    serve = embedded
    post(serve.url, accepted("LY-9", time=ON_TIME))
    post(serve.url, rejected_without_basis("LY-9"))
    (finding,) = wait_for(lambda: alerts(serve.url, rule="rejection.incomplete"),
                          what="the finding")
    assert finding["case_no"] == "LY-9" and finding["severity"] == "finding"
    assert finding["raised_at"] == "2026-10-12T09:30:00+08:00"
    status, body = call(f"{serve.url}/v1/alerts/{finding['alert_id']}/acknowledge", "POST",
                        BUREAU_KEY, {})
    assert status == 200 and body["status"] == "acknowledged"
    wait_for(lambda: alerts(serve.url, rule="rejection.incomplete", status="acknowledged"),
             what="the acknowledgement in the view")
    status, view = call(f"{serve.url}/v1/cases/LY-9", "GET", BUREAU_KEY)
    assert {f["rule"] for f in view["findings"]} >= {"rejection.incomplete"}


def test_a_supervision_process_killed_mid_stream_raises_every_alert_exactly_once(production):
    _, start = production
    intake = start("intake")
    start("relay")
    supervision = start("supervision")
    projections = start("projections")
    cases = [f"LY-{n:03d}" for n in range(30)]
    for n, case in enumerate(cases):
        post(intake.url, accepted(case, time=ON_TIME, promised_days=1))  # due 10-13: yellow now
        if n % 3 == 0:
            post(intake.url, rejected_without_basis(case))
        if n == 12:
            supervision.kill()
        if n == 20:
            supervision = start("supervision")
    expected_findings = len([c for n, c in enumerate(cases) if n % 3 == 0])

    def settled() -> list[dict] | None:
        found = alerts(projections.url, limit="10000")
        findings = [a for a in found if a["rule"] == "rejection.incomplete"]
        yellows = [a for a in found if a["rule"] == "deadline.warning"]
        return found if len(findings) == expected_findings and len(yellows) == 30 else None

    found = wait_for(settled, timeout=120, what="every alert")
    assert len({a["alert_id"] for a in found}) == len(found) == expected_findings + 30
    # Rejected cases' warnings cleared themselves; the others' are still raised.
    cleared = {a["case_no"] for a in found if a["rule"] == "deadline.warning"
               and a["status"] == "cleared"}
    assert cleared == {c for n, c in enumerate(cases) if n % 3 == 0}
    supervision.stop()
    restarted = start("supervision", log_name="supervision-again")
    wait_for(lambda: call(f"{restarted.url}/healthz", "GET", BUREAU_KEY)[0] == 200)
    time.sleep(3)  # let it rejoin the group and re-read whatever it was handed
    assert len(alerts(projections.url, limit="10000")) == len(found)


def test_supervision_refuses_to_run_alone_without_kafka(tmp_path):
    service = Service("supervision", {"HALLWATCH_DATA_DIR": str(tmp_path)}, tmp_path)
    service.start()
    assert service.process is not None
    assert service.process.wait(timeout=60) != 0
    assert "HALLWATCH_KAFKA_BOOTSTRAP" in service.log.read_text()


def test_a_malformed_setting_stops_start_up_naming_the_variable(tmp_path):
    service = Service("serve", {"HALLWATCH_DATA_DIR": str(tmp_path),
                                "HALLWATCH_KEYS": "hall:only-two-parts"}, tmp_path, None)
    service.start()
    assert service.process is not None
    assert service.process.wait(timeout=60) != 0
    assert "HALLWATCH_KEYS" in service.log.read_text()
