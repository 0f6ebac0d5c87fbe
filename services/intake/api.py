"""Intake routes: hall systems POST CloudEvents here. Thin: decode, call, respond."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.common.auth import Keyring, require
from services.common.http import BadRequest
from services.common.metrics import ACCEPTED, REQUEST_SECONDS
from services.intake import validation
from services.intake.store import HallStore

MAX_EVENT_BYTES = 1_000_000
MEDIA_TYPES = ("application/cloudevents+json", "application/json")


def decode(body: bytes, content_type: str | None) -> Any:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise BadRequest(415, f"Content-Type must be {' or '.join(MEDIA_TYPES)}",
                         "Content-Type")
    if len(body) > MAX_EVENT_BYTES:
        raise BadRequest(413, f"an event may be at most {MAX_EVENT_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(400, f"body is not JSON: {error}") from None


def router(store: HallStore, keys: Keyring) -> APIRouter:
    api = APIRouter()

    @api.post("/v1/events")
    async def post_event(request: Request, authorization: str | None = Header(None),
                         content_type: str | None = Header(None)) -> JSONResponse:
        principal = keys.authenticate(authorization)
        require(principal, "hall")
        envelope = decode(await request.body(), content_type)
        validation.validate(envelope)
        with REQUEST_SECONDS.time():
            result = await run_in_threadpool(store.record, envelope, principal.hall)
        if result.created:
            ACCEPTED.labels(envelope["type"]).inc()
        return JSONResponse(result.body(), status_code=201 if result.created else 200)

    return api
