"""As-of reads: a case and its light as the system knew them at a moment or a position."""

from __future__ import annotations

import pytest

from tests.builders import accepted, completed
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, bearer
from tests.world import World


@pytest.fixture
def world(settings, clock):
    clock.set("2026-11-30T10:00:00+08:00")
    w = World(settings, clock)
    w.send_on_time(accepted("A1", "2026-10-09T10:00:00+08:00"))
    w.send_on_time(completed("A1", "2026-11-20T10:00:00+08:00"))
    w.settle()
    yield w
    w.close()


def case(world, key=BUREAU_KEY, **params):
    return world.client.get("/v1/cases/A1", params=params, headers=bearer(key))


def test_a_case_as_of_a_moment_is_what_was_recorded_by_then_with_the_light_then(world):
    now = case(world).json()
    assert now["status"] == "completed" and now["light"] == "none"
    early = case(world, as_of="2026-10-10T09:00:00+08:00").json()
    assert early["status"] == "accepted" and early["light"] == "green"
    late = case(world, as_of="2026-11-19T09:00:00+08:00").json()
    assert late["status"] == "accepted" and late["light"] == "red"
    assert late["due_at"] == early["due_at"] == now["due_at"]


def test_a_case_as_of_a_log_position_stops_at_the_events_stored_by_then(world):
    history = world.client.get("/v1/cases/A1/history", headers=bearer(BUREAU_KEY)).json()
    first, second = (e["position"] for e in history["events"])
    opened = case(world, key=AUDITOR_KEY, position=first).json()
    assert opened["status"] == "accepted"
    assert opened["accepted_at"].startswith("2026-10-09T10:00:00")
    assert case(world, position=second).json()["status"] == "completed"


def test_as_of_before_the_case_existed_is_404_and_a_bad_time_422(world):
    assert case(world, as_of="2026-10-01T00:00:00+08:00").status_code == 404
    assert case(world, position=1_000_000).json()["status"] == "completed"
    assert case(world, as_of="yesterday").status_code == 422
    assert case(world, position=0).status_code == 422
    assert case(world, as_of="2026-10-10T09:00:00+08:00", position=3).status_code == 422
