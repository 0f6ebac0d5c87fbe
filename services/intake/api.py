"""Intake routes: hall systems POST CloudEvents here. Thin: decode, call, respond."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hallwatch.calendar import YearRules
from hallwatch.catalogue import parse_time
from hallwatch.errors import DomainError, InvalidEvent
from services.common.auth import Keyring, require
from services.common.http import BadRequest, status_of
from services.common.metrics import REQUEST_SECONDS, event_accepted, event_refused
from services.intake import validation
from services.intake.store import HallStore

MAX_EVENT_BYTES = 1_000_000
MAX_BATCH_BYTES = 10_000_000
MAX_BATCH_EVENTS = 10_000
MEDIA_TYPES = ("application/cloudevents+json", "application/json")
BATCH_MEDIA_TYPES = ("application/x-ndjson", "application/jsonl",
                     "application/cloudevents-batch+ndjson")


def check_media(content_type: str | None, allowed: tuple[str, ...]) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in allowed:
        raise BadRequest(415, f"Content-Type must be {' or '.join(allowed)}", "Content-Type")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds ``limit`` (never buffered past it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"the body may be at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"the body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(400, f"body is not JSON: {error}") from None


def decode_line(line: bytes) -> dict[str, Any]:
    """One NDJSON line, validated; raises a DomainError naming the field."""
    envelope = decode(line)
    validation.validate(envelope)
    return envelope  # type: ignore[no-any-return]


def router(store: HallStore, keys: Keyring) -> APIRouter:
    api = APIRouter()

    @api.post("/v1/events")
    async def post_event(request: Request, authorization: str | None = Header(None),
                         content_type: str | None = Header(None)) -> JSONResponse:
        principal = keys.authenticate(authorization)
        require(principal, "hall")
        request.state.hall = principal.hall  # labels of the refusal metric, if refused
        check_media(content_type, MEDIA_TYPES)
        envelope = request.state.event = decode(await read_body(request, MAX_EVENT_BYTES))
        validation.validate(envelope)
        with REQUEST_SECONDS.time():
            result = await run_in_threadpool(store.record, envelope, principal.hall)
        if result.created:
            event_accepted(envelope, principal.hall)
        return JSONResponse(result.body(), status_code=201 if result.created else 200)

    @api.post("/v1/calendar/years", status_code=201)
    async def load_year(request: Request, authorization: str | None = Header(None),
                        content_type: str | None = Header(None)) -> dict[str, Any]:
        """The bureau loads a State Council holiday notice for a year (JSON: year,
        holidays, workdays, reference). Provisional deadlines touching it are recomputed,
        each as a new event."""
        principal = keys.authenticate(authorization)
        require(principal, "bureau")
        check_media(content_type, ("application/json",))
        body = decode(await read_body(request, MAX_EVENT_BYTES))
        if not isinstance(body, dict):
            raise InvalidEvent("the body must be a JSON object", "")
        try:
            rules = YearRules.from_dict(body)
        except ValueError as error:
            field, _, reason = str(error).partition(": ")
            raise InvalidEvent(reason, field) from None
        recomputed = await run_in_threadpool(store.load_calendar_year, rules, principal.id)
        return {"year": rules.year, "version": rules.version, "recomputed": recomputed}

    @api.get("/v1/calendar/years/{year}")
    def get_year(year: int, authorization: str | None = Header(None)) -> dict[str, Any]:
        keys.authenticate(authorization)  # any role may read the calendar
        store.refresh_calendar()
        rules = store.calendar.year(year)
        return {**rules.as_dict(), "version": rules.version, "provisional": rules.provisional}

    @api.get("/v1/cases/{case_no}/history")
    def get_history(case_no: str, as_of: str | None = None,
                    authorization: str | None = Header(None)) -> dict[str, Any]:
        """Auditors (applicant data in clear) and the bureau (masked) replay a case as it
        was recorded up to ``as_of``, with the hash chain re-verified."""
        principal = keys.authenticate(authorization)
        require(principal, "auditor", "bureau")
        moment = parse_time(as_of, "as_of") if as_of else None
        return store.history(case_no, moment, unmasked=principal.role == "auditor")

    @api.post("/v1/events:batch")
    async def post_batch(request: Request, authorization: str | None = Header(None),
                         content_type: str | None = Header(None)) -> JSONResponse:
        """NDJSON, one CloudEvent a line; answers one result a line, in order.

        Each line is stored whole or not at all; a bad line does not stop the others.
        """
        principal = keys.authenticate(authorization)
        require(principal, "hall")
        check_media(content_type, BATCH_MEDIA_TYPES)
        lines = [ln for ln in (await read_body(request, MAX_BATCH_BYTES)).split(b"\n")
                 if ln.strip()]
        if len(lines) > MAX_BATCH_EVENTS:
            raise BadRequest(413, f"a batch may hold at most {MAX_BATCH_EVENTS} events")
        answers: list[dict[str, Any] | None] = [None] * len(lines)
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, line in enumerate(lines):
            try:
                valid.append((index, decode_line(line)))
            except DomainError as refusal:
                answers[index] = refusal_body(refusal, principal.hall)
        results = await run_in_threadpool(store.record_batch, [e for _, e in valid],
                                          principal.hall)
        for (index, envelope), result in zip(valid, results, strict=True):
            if isinstance(result, DomainError):
                answers[index] = refusal_body(result, principal.hall, envelope)
            else:
                answers[index] = {"status": 201 if result.created else 200, **result.body()}
                if result.created:
                    event_accepted(envelope, principal.hall)
        stored = sum(1 for a in answers if a and a["status"] in (200, 201))
        return JSONResponse({"stored": stored, "refused": len(lines) - stored,
                             "results": answers}, status_code=200)

    return api


def refusal_body(refusal: DomainError, hall: str | None = None, envelope: Any = None
                 ) -> dict[str, Any]:
    status = status_of(refusal)
    event_refused(status, envelope, hall)
    return {"status": status, "field": refusal.field, "reason": refusal.reason}
