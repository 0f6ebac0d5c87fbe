"""Publishing freezes a bulletin: the same bytes forever, revisions name what changed."""

from __future__ import annotations

import hashlib

import pytest

from tests.builders import accepted, completed
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, bearer
from tests.world import World

NOW = "2026-11-02T10:00:00+08:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request):
    """Publications live in a store of the hall store's kind: SQLite or PostgreSQL."""
    return request.getfixturevalue("settings" if request.param == "sqlite" else "pg_settings")


@pytest.fixture
def world(settings, clock):
    world = make_world(settings, clock)
    yield world
    world.close()


def make_world(settings, clock):
    world = World(settings, clock)
    world.send_on_time(accepted("A1", time="2026-10-08T09:00:00+08:00", promised_days=2))
    world.send_on_time(completed("A1", "2026-10-09T10:00:00+08:00"))
    clock.set(NOW)
    world.settle()
    return world


def publish(world, period="2026-10", key=BUREAU_KEY, **params):
    return world.client.post(f"/v1/bulletins/{period}:publish", params=params,
                             headers=bearer(key))


def published(world, ident, kind):
    response = world.client.get(f"/v1/bulletins/published/{ident}", params={"format": kind},
                                headers=bearer(AUDITOR_KEY))
    assert response.status_code == 200, response.text
    return response.content


def test_a_published_bulletin_answers_the_same_bytes_after_late_reports(world, clock,
                                                                        document_tools):
    response = publish(world)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["document_no"] == "政务监察通报〔2026〕1号"
    assert (record["period"], record["scope"], record["published_by"]) == ("2026-10", "hall",
                                                                           "bureau")
    assert record["revises"] is None and record["positions"]["hall_events"] > 0
    frozen = {kind: published(world, record["id"], kind) for kind in ("json", "html", "pdf")}
    for kind, body in frozen.items():
        assert hashlib.sha256(body).hexdigest() == record["sha256"][kind]
    assert "政务监察通报〔2026〕1号" in frozen["html"].decode()
    assert frozen["pdf"].startswith(b"%PDF-")

    # A case of 12 October is typed in on 2 November: the live figures change...
    world.send(accepted("A2", time="2026-10-12T09:00:00+08:00", promised_days=2))
    world.settle()
    live = world.client.get("/v1/bulletins/2026-10", headers=bearer(BUREAU_KEY)).json()
    assert live["rows"][0]["accepted"] == 2
    # ...the published bulletin does not.
    for kind, body in frozen.items():
        assert published(world, record["id"], kind) == body

    # Publishing again is a revision naming what changed.
    revision = publish(world).json()
    assert revision["document_no"] == "政务监察通报〔2026〕2号"
    assert revision["revises"] == record["id"]
    assert revision["positions"]["hall_events"] > record["positions"]["hall_events"]
    changed = {(c["figure"], c["before"], c["after"]) for c in revision["changes"]}
    assert {("accepted", 1, 2), ("accepted_promised", 1, 2), ("overdue_open", 0, 1),
            ("late_reports", 0, 1)} <= changed
    assert all(c["hall_id"] == "H1" for c in revision["changes"])
    listed = world.client.get("/v1/bulletins/2026-10/publications",
                              headers=bearer(HALL_KEY)).json()
    assert [p["document_no"] for p in listed["publications"]] == [
        "政务监察通报〔2026〕1号", "政务监察通报〔2026〕2号"]


def test_publishing_again_with_nothing_changed_is_refused(world, document_tools):
    first = publish(world).json()
    again = publish(world)
    assert again.status_code == 409
    assert first["id"] in again.json()["detail"]


def test_publications_outlive_the_service(store_settings, clock, document_tools):
    world = make_world(store_settings, clock)
    record = publish(world).json()
    body = published(world, record["id"], "pdf")
    world.close()
    reopened = World(store_settings, clock)
    try:
        assert published(reopened, record["id"], "pdf") == body
    finally:
        reopened.close()


@pytest.mark.parametrize("key,period,params,status", [
    (HALL_KEY, "2026-10", {}, 403),
    (AUDITOR_KEY, "2026-10", {}, 403),
    (BUREAU_KEY, "2026-13", {}, 422),
    (BUREAU_KEY, "2026-10", {"scope": "planet"}, 422),
])
def test_only_the_bureau_publishes_a_well_formed_period(world, key, period, params, status):
    assert publish(world, period, key, **params).status_code == status


def test_an_unknown_or_malformed_publication_id_is_refused(world):
    unknown = world.client.get("/v1/bulletins/published/00000000-0000-0000-0000-000000000000",
                               headers=bearer(BUREAU_KEY))
    malformed = world.client.get("/v1/bulletins/published/nope", headers=bearer(BUREAU_KEY))
    assert (unknown.status_code, malformed.status_code) == (404, 422)


def test_two_publications_at_once_get_two_numbers(world, document_tools):
    import threading

    results: dict[str, dict] = {}

    def run(scope: str) -> None:
        response = publish(world, scope=scope)
        results[scope] = {"status": response.status_code, **response.json()}

    threads = [threading.Thread(target=run, args=(scope,)) for scope in ("hall", "window")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["status"] for r in results.values()] == [201, 201]
    assert {r["document_no"] for r in results.values()} == {
        "政务监察通报〔2026〕1号", "政务监察通报〔2026〕2号"}


def test_every_published_bulletin_is_listed_newest_first_with_links_to_its_bytes(
        world, document_tools):
    empty = world.client.get("/v1/bulletins/published", headers=bearer(HALL_KEY))
    assert empty.status_code == 200 and empty.json() == {"publications": [], "count": 0}
    october = publish(world).json()
    quarter = publish(world, "2026-Q4", scope="window").json()
    listed = world.client.get("/v1/bulletins/published", headers=bearer(AUDITOR_KEY)).json()
    assert [p["document_no"] for p in listed["publications"]] == [
        quarter["document_no"], october["document_no"]]
    links = listed["publications"][1]["links"]
    assert set(links) == {"json", "html", "pdf"}
    pdf = world.client.get(links["pdf"], headers=bearer(AUDITOR_KEY))
    assert pdf.content == published(world, october["id"], "pdf")
    only = world.client.get("/v1/bulletins/published", params={"period": "2026-Q4"},
                            headers=bearer(BUREAU_KEY)).json()
    assert [p["id"] for p in only["publications"]] == [quarter["id"]]
    refused = world.client.get("/v1/bulletins/published", params={"period": "2026-13"},
                               headers=bearer(BUREAU_KEY))
    assert refused.status_code == 422
