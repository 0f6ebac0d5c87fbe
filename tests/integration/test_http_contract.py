"""The HTTP contract every service shares: the OpenAPI document matches the routes and is
valid, every refusal is RFC 9457 problem details, every response carries the security
headers, metrics and health detail need a key, and the docs work offline."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from services.common.auth import Keyring
from services.common.web import create_app
from tests.builders import accepted
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, auth, bearer
from tests.world import World

PROBLEM_FIELDS = {"type", "title", "status", "detail", "field", "title_zh", "detail_zh"}


@pytest.fixture
def world(settings, clock):
    world = World(settings, clock)
    yield world
    world.close()


def full_app(world, *extra: APIRouter):
    return create_app(world.intake.router, world.projections.router, world.supervision.router,
                      *extra, keys=Keyring(world.settings.key_specs))


@pytest.fixture
def client(world):
    return TestClient(full_app(world))


def api_routes(routes) -> list[APIRoute]:
    """Every route the app answers, including those of included routers (FastAPI keeps
    an included router as one entry holding the original)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_FIELDS
    assert body["status"] == status and body["type"].startswith("https://")
    assert body["detail"] and body["title_zh"] in body["detail_zh"]
    if field is not None:
        assert body["field"] == field
    return body


def test_the_openapi_document_is_valid_and_lists_exactly_the_apps_routes(client):
    spec = client.get("/openapi.json").json()
    validate(spec)
    documented = {(method.upper(), path) for path, ops in spec["paths"].items()
                  for method in ops}
    routes = {(method, route.path) for route in api_routes(client.app.routes)
              if route.include_in_schema for method in route.methods}
    assert documented == routes
    assert ("POST", "/v1/events") in routes and ("GET", "/v1/alerts") in routes


def test_the_openapi_document_names_bodies_statuses_and_the_bearer_scheme(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        **spec["components"]["securitySchemes"]["apiKey"], "type": "http", "scheme": "bearer"}
    post_event = spec["paths"]["/v1/events"]["post"]
    assert set(post_event["responses"]) >= {"200", "201", "400", "401", "403", "409", "413",
                                            "415", "422"}
    assert post_event["security"] == [{"apiKey": []}]
    body = post_event["requestBody"]["content"]
    assert body["application/cloudevents+json"]["schema"] == {
        "$ref": "#/components/schemas/CloudEvent"}
    batch = spec["paths"]["/v1/events:batch"]["post"]["requestBody"]["content"]
    assert {"application/cloudevents-batch+json", "application/x-ndjson"} <= set(batch)
    refused = post_event["responses"]["422"]["content"]
    assert refused == {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    envelope = spec["components"]["schemas"]["CloudEvent"]
    assert "subject" in envelope["required"] and "$id" not in envelope
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert "200" in op["responses"] or "201" in op["responses"], path
            if path not in ("/healthz", "/v1/labels", "/v1/session",  # open: sign-in
                            "/v1/public/status"):  # the applicants' lookup
                assert op["security"] == [{"apiKey": []}], path


def test_unknown_routes_and_wrong_methods_answer_problem_details(client):
    assert_problem(client.get("/v1/nowhere"), 404)
    wrong = client.delete("/v1/events", headers=bearer(HALL_KEY))
    assert_problem(wrong, 405)
    assert "POST" in wrong.headers["allow"]


def test_a_missing_key_a_wrong_role_and_a_bad_query_answer_problem_details(client):
    missing = client.get("/v1/alerts")
    assert_problem(missing, 401, "Authorization")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_problem(client.get("/v1/dashboard", headers=bearer(HALL_KEY)), 403)
    assert_problem(client.get("/v1/alerts", params={"limit": 0}, headers=bearer(BUREAU_KEY)),
                   422, "query.limit")
    assert_problem(client.get("/v1/alerts", params={"cursor": "bm9wZQ"},
                              headers=bearer(BUREAU_KEY)), 422, "cursor")


def test_an_unexpected_error_answers_500_problem_details_without_a_traceback(world):
    broken = APIRouter()

    @broken.get("/v1/broken")
    def fail() -> None:
        raise RuntimeError("secret internals: /etc/hallwatch")

    client = TestClient(full_app(world, broken))
    response = client.get("/v1/broken")
    body = assert_problem(response, 500)
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["detail_zh"].startswith("服务内部错误")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_response_carries_the_security_headers(client):
    answers = [client.get("/healthz"), client.get("/v1/nowhere"),
               client.post("/v1/events", content=json.dumps(accepted("C1")),
                           headers=auth(HALL_KEY)),
               client.get("/v1/dashboard", headers=bearer(BUREAU_KEY)),
               client.get("/docs"), client.get("/openapi.json")]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
    assert answers[3].headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src 'self'" in answers[4].headers["content-security-policy"]


def test_case_history_with_personal_data_is_never_cached(client):
    client.post("/v1/events", content=json.dumps(accepted("C1", applicant={"name": "王小明"})),
                headers=auth(HALL_KEY))
    history = client.get("/v1/cases/C1/history", params={"reason": "核查投诉"},
                         headers=bearer(AUDITOR_KEY))
    assert history.json()["events"][0]["fact"]["data"]["applicant"]["name"] == "王小明"
    assert history.headers["cache-control"] == "no-store"


def test_metrics_and_health_detail_need_a_monitor_or_bureau_key(client, world):
    assert_problem(client.get("/metrics"), 401)
    assert_problem(client.get("/metrics", headers=bearer(HALL_KEY)), 403)
    assert_problem(client.get("/v1/health", headers=bearer(AUDITOR_KEY)), 403)
    assert "hallwatch_events_accepted_total" in client.get(
        "/metrics", headers=bearer(BUREAU_KEY)).text
    monitor_key = "monitor-secret-00000001"
    keys = Keyring(world.settings.model_copy(
        update={"keys": world.settings.keys + f",monitor:prometheus:{monitor_key}"}
    ).key_specs)
    monitored = TestClient(create_app(world.intake.router, keys=keys))
    assert monitored.get("/metrics", headers=bearer(monitor_key)).status_code == 200
    detail = monitored.get("/v1/health", headers=bearer(monitor_key)).json()
    assert detail == {"status": "ok", "workers": detail["workers"]}
    assert client.get("/healthz").json() == {"status": "ok"}  # open, and says no more


def test_the_docs_load_their_scripts_from_this_server(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("/static-offline-docs/swagger-ui-bundle.js",
                  "/static-offline-docs/swagger-ui.css"):
        assert asset in page.text
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 10_000
    redoc = client.get("/redoc")
    assert "/static-offline-docs/redoc.standalone.js" in redoc.text
    assert client.get("/static-offline-docs/redoc.standalone.js").status_code == 200
