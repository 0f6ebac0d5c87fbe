"""schemathesis against the OpenAPI document: requests generated from it for every
operation, sent with a key that passes the operation's role check, never answer 5xx, and
every answer matches its documented status, media type and schema. A bounded number of
examples per operation keeps the suite fast. Real SQLite + chDB."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.auth import Keyring
from services.common.web import create_app
from tests.builders import accepted
from tests.conftest import BUREAU_KEY, HALL_KEY, bearer
from tests.world import World

EXAMPLES_PER_OPERATION = 12
HALL_ROUTES = ("/v1/events", "/v1/events:batch")


@schemathesis.serializer("application/x-ndjson", "application/jsonl",
                         "application/cloudevents-batch+ndjson")
def _ndjson(_: Any, value: Any) -> bytes:
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture
def world(settings, clock):
    world = World(settings, clock)
    world.send(accepted("C1"))  # something for the reads to find
    world.settle()
    yield world
    world.close()


def test_generated_requests_never_answer_5xx_and_match_the_document(world):
    app = create_app(world.intake.router, world.projections.router, world.supervision.router,
                     keys=Keyring(world.settings.key_specs))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/stream/alerts":
            continue  # an endless event stream: tests/e2e/test_console_browser.py reads it
        fuzz(operation, HALL_KEY if operation.path in HALL_ROUTES else BUREAU_KEY)
        tried += 1
    assert tried >= 14


def fuzz(operation: Any, key: str) -> None:
    """Send EXAMPLES_PER_OPERATION generated requests to one operation, with ``key``."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **bearer(key)}
        response = case.call_and_validate(checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance])
        if response.status_code >= 400:
            assert response.headers["content-type"] == ["application/problem+json"]

    run()
