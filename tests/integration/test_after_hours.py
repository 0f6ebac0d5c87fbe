"""After-hours coverage through the whole embedded system (SQLite + chDB): with the
bureau's directory loaded, a hall's out-of-hours acts are covered by an after-hours
service record that names the case or was kept at the act's window over a span
containing it (measures art. 17(5)); the alert of an uncovered act names its case and
window, and a restarted supervision goes on judging from what it recorded.

Hall H1, Tuesday 3 November 2026, every act below after closing time:
  C1 [W01] completed 19:30, covered by W01's after-hours record 17:00–20:00 naming no case.
  C2 [W01] completed 21:00, after that span: uncovered → finding at 11-04 21:00.
  C3 [W02] accepted 18:30, named by W01's record of 11-03 (case_numbers): covered.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import accepted, completed, event
from tests.conftest import BUREAU_KEY, bearer
from tests.world import World

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "sample-city.v1.json"


def test_an_after_hours_record_covers_its_windows_span_and_the_cases_it_names(settings,
                                                                                 clock):
    clock.set("2026-11-02T08:00:00+08:00")
    world = World(settings, clock)
    response = world.client.post("/v1/directory", json=json.loads(SAMPLE.read_text()),
                                 headers=bearer(BUREAU_KEY))
    assert response.status_code == 201, response.text
    world.send_on_time(accepted("C1", time="2026-11-02T10:00:00+08:00"))
    world.send_on_time(accepted("C2", time="2026-11-02T10:10:00+08:00"))
    world.send_on_time(completed("C1", "2026-11-03T19:30:00+08:00"))
    world.send_on_time(completed("C2", "2026-11-03T21:00:00+08:00"))
    world.send_on_time(accepted("C3", time="2026-11-03T18:30:00+08:00", window_id="W02"))
    world.send_on_time(event("service.after_hours", "W01", "2026-11-03T20:00:00+08:00", {
        "staff_id": "S01", "window_id": "W01", "start": "2026-11-03T17:00:00+08:00",
        "end": "2026-11-03T20:00:00+08:00", "by_appointment": False,
        "case_numbers": ["C3"]}))
    clock.set("2026-11-04T12:00:00+08:00")
    world.settle()
    assert world.alerts(rule="after_hours.unrecorded") == []  # nothing due yet
    world.close()
    again = World(settings, clock)  # a restart: the hall's watch is read back
    clock.set("2026-11-05T09:00:00+08:00")
    again.settle()
    (alert,) = again.alerts(rule="after_hours.unrecorded")
    assert (alert["case_no"], alert["window_id"], alert["hall_id"]) == ("C2", "W01", "H1")
    assert alert["raised_at"].startswith("2026-11-04T21:00:00")
    assert alert["directory_version"] == response.json()["version"]
    again.close()
