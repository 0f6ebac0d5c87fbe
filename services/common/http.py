"""The HTTP edge shared by every service: error mapping (in one place), health, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hallwatch.errors import (
    DomainError,
    Forbidden,
    IdempotencyConflict,
    ImpossibleSequence,
    InvalidEvent,
    NotFound,
)
from services.common import workers
from services.common.auth import Unauthenticated
from services.common.metrics import event_refused, instrument

STATUS: dict[type[DomainError], int] = {
    InvalidEvent: 422,
    Forbidden: 403,
    NotFound: 404,
    ImpossibleSequence: 409,
    IdempotencyConflict: 409,
}


class BadRequest(DomainError):
    """Unparsable body (400), wrong media type (415) or too large (413)."""

    def __init__(self, status: int, reason: str, field: str = "") -> None:
        super().__init__(reason, field)
        self.status = status


def error_body(status: int, reason: str, field: str = "") -> dict[str, Any]:
    return {"error": {"status": status, "field": field, "reason": reason}}


def status_of(error: DomainError) -> int:
    if isinstance(error, BadRequest):
        return error.status
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install(app: FastAPI) -> None:
    instrument(app)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        status = status_of(error)
        if request.url.path == "/v1/events":  # refusals are counted for events only
            event_refused(status, getattr(request.state, "event", None),
                          getattr(request.state, "hall", None))
        return JSONResponse(error_body(status, error.reason, error.field), status_code=status)

    @app.exception_handler(Unauthenticated)
    async def _unauth(_: Request, error: Unauthenticated) -> JSONResponse:
        return JSONResponse(error_body(401, str(error), "Authorization"), status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return JSONResponse(error_body(422, first["msg"], field), status_code=422)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        healthy, states = workers.health()
        return JSONResponse({"status": "ok" if healthy else "failing", "workers": states},
                            status_code=200 if healthy else 503)

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)
