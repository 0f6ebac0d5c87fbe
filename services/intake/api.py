"""Intake routes: hall systems POST CloudEvents here. Thin: decode, call, respond.

One event: structured mode (the whole CloudEvent as the JSON body) or binary mode
(attributes in ``ce-*`` headers, the data as the JSON body). A batch: NDJSON, one
structured CloudEvent a line, or the JSON batch format (an array of them); the answer has
one result a line, in order, whatever happens to the others.
"""

# No `from __future__ import annotations`: FastAPI must see the dependencies in the
# annotations, which name this module's local keyring.
import asyncio
import json
import logging
from datetime import date
from typing import Annotated, Any
from urllib.parse import unquote

from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hallwatch.calendar import YearRules
from hallwatch.catalogue import check_author
from hallwatch.errors import DomainError, InvalidEvent
from services.common.auth import Keyring, Principal
from services.common.http import (
    SHARED_SCHEMAS,
    LineResult,
    Problem,
    bounded_time,
    decode_cursor,
    documented,
    encode_cursor,
    problem_body,
    refusal,
)
from services.common.metrics import REQUEST_SECONDS, event_accepted
from services.intake import validation
from services.intake.store import HallStore, Recorded

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 1_000_000
MAX_BATCH_BYTES = 10_000_000
MAX_BATCH_EVENTS = 10_000
STRUCTURED = "application/cloudevents+json"
MEDIA_TYPES = (STRUCTURED, "application/json")
JSON_BATCH = "application/cloudevents-batch+json"
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl",
                "application/cloudevents-batch+ndjson")
BATCH_MEDIA_TYPES = (JSON_BATCH, *NDJSON_TYPES)
CE_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "ce-time",
              "ce-dataschema")

_envelope_schema = json.loads(validation.ENVELOPE.read_text())
SHARED_SCHEMAS["CloudEvent"] = {k: v for k, v in _envelope_schema.items()
                                if k not in ("$schema", "$id")}
CLOUDEVENT_REF = {"$ref": "#/components/schemas/CloudEvent"}


# -- answers ------------------------------------------------------------------------------


class Stored(BaseModel):
    """A stored event (201), or the same event already stored (200)."""

    id: str = Field(description="the event id (CloudEvent id)")
    subject: str = Field(description="case number, window or staff id")
    sequence: int = Field(description="the event's number in its stream (case)")
    position: int = Field(description="the event's position in the store's log")


class BatchAnswer(BaseModel):
    stored: int = Field(description="lines stored now or before (status 201 or 200)")
    refused: int = Field(description="lines refused (4xx): nothing stored for them")
    failed: int = Field(0, description="lines not stored because of an internal error "
                                       "(5xx): send them again")
    results: list[LineResult] = Field(description="one result a line, in order")


class YearLoaded(BaseModel):
    year: int
    version: str = Field(description="calendar version, YEAR:SOURCE:DIGEST")
    recomputed: list[str] = Field(description="cases whose deadline was recomputed")


class YearView(BaseModel):
    year: int
    source: str = Field(description="official (loaded notice), packaged or estimated")
    reference: str
    holidays: list[str]
    workdays: list[str]
    version: str
    provisional: bool


class HistoryEvent(BaseModel):
    sequence: int
    position: int
    recorded_at: str
    topic: str
    chain: str
    fact: dict[str, Any] | None = None
    recomputed: dict[str, Any] | None = None


class History(BaseModel):
    case_no: str
    as_of: str | None
    events: list[HistoryEvent] = Field(description="this page of the case's events")
    count: int = Field(description="total events recorded up to as_of (every page)")
    next: str | None = Field(description="cursor of the next page; null on the last")
    summary: dict[str, Any] | None
    chain_head: str
    verified: bool = Field(description="every link of the whole chain recomputed and equal")
    broken_at_sequence: int | None
    broken_reason: str | None = Field(None, description="what is wrong at the first break")


YEAR_BODY = {"type": "object", "required": ["year", "holidays", "workdays"],
             "additionalProperties": False, "properties": {
                 "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
                 "holidays": {"type": "array", "items": {"type": "string", "format": "date"}},
                 "workdays": {"type": "array", "items": {"type": "string", "format": "date"}},
                 "reference": {"type": "string", "maxLength": 200}}}


def _body(content: dict[str, Any], description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description,
                            "content": content}}


EVENT_BODY = _body(
    {STRUCTURED: {"schema": CLOUDEVENT_REF},
     "application/json": {"schema": {"type": "object"}}},
    "Structured mode: the CloudEvent as JSON (application/cloudevents+json, or "
    "application/json without ce-* headers). Binary mode: the attributes in ce-* headers "
    "(ce-specversion, ce-id, ce-source, ce-type, ce-subject, ce-time; percent-encoded) and "
    "the event's data as the application/json body.")
BATCH_BODY = _body(
    {JSON_BATCH: {"schema": {"type": "array", "items": CLOUDEVENT_REF}},
     **{media: {"schema": {"type": "string", "description": "one CloudEvent a line"}}
        for media in NDJSON_TYPES}},
    f"The JSON batch format (an array of CloudEvents) or NDJSON (one a line); at most "
    f"{MAX_BATCH_EVENTS} events and {MAX_BATCH_BYTES} bytes.")


# -- decoding -----------------------------------------------------------------------------


def media_of(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_media(content_type: str | None, allowed: tuple[str, ...]) -> str:
    media = media_of(content_type)
    if media not in allowed:
        raise Problem(415, f"Content-Type must be {' or '.join(allowed)}", "Content-Type")
    return media


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds ``limit`` (never buffered past it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body may be at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


decode = validation.decode


class _StrictData(JSONFormat):
    """The SDK's JSON format, reading binary-mode data with our strict decoder."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> Any:
        return decode(body)


def binary_envelope(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A binary-mode event as the structured envelope it stands for.

    The SDK checks the CloudEvents attributes; ``time`` keeps the sender's exact text
    (not the SDK's parsed datetime) and ``datacontenttype`` (always JSON) is left out, so
    the same event sent in either mode has the same content and is stored once."""
    message = HTTPMessage({k: v for k, v in headers.items()
                           if k.startswith("ce-") or k == "content-type"}, body)
    try:
        event = from_binary(message, _StrictData(), CloudEvent)
    except CloudEventValidationError as error:
        name, problems = next(iter(error.errors.items()))
        raise InvalidEvent(str(problems[0]), name) from None
    except (ValueError, OverflowError, TypeError):  # an unparsable ce-time
        raise InvalidEvent("not an RFC 3339 timestamp", "time") from None
    envelope = {k: v for k, v in event.get_attributes().items()
                if k not in ("time", "datacontenttype")}
    envelope["time"] = unquote(headers.get("ce-time", ""))
    envelope["data"] = event.get_data()
    return envelope


def batch_items(media: str, body: bytes) -> list[bytes | Any]:
    """The batch's events, undecoded lines for NDJSON, decoded items for JSON."""
    if media == JSON_BATCH:
        items = decode(body, check=False)  # each item is checked on its own
        if not isinstance(items, list):
            raise Problem(400, "a JSON batch is an array of CloudEvents")
        return items
    return [line for line in body.split(b"\n") if line.strip()]


def router(store: HallStore, keys: Keyring, floor: date = validation.DEFAULT_FLOOR
           ) -> APIRouter:
    """``floor``: the earliest moment any event or query may name."""
    api = APIRouter(tags=["intake"])
    # Halls post their actions; the bureau posts its inspections (catalogue.check_author).
    Hall = Annotated[Principal, Depends(keys.requires("hall", "bureau"))]

    def check(envelope: Any, principal: Principal) -> dict[str, Any]:
        validation.validate(envelope, floor)
        check_author(envelope, principal.role)
        return envelope  # type: ignore[no-any-return]

    @api.post("/v1/events", status_code=201, response_model=Stored,
              responses={200: {"model": Stored, "description": "already stored (same id "
                                                               "and content)"},
                         **documented(400, 403, 409, 413, 415, 422)},
              openapi_extra=EVENT_BODY)
    async def post_event(request: Request, response: Response, principal: Hall) -> Stored:
        """A hall (hall key) records one action; the bureau (bureau key) records an
        inspection of a hall (inspection.recorded only; a hall key gets 403 for it).
        Idempotent on the event id: the same event again answers 200 with the first
        answer."""
        request.state.hall = principal.hall  # labels of the refusal metric, if refused
        content_type = request.headers.get("content-type")
        body = await read_body(request, MAX_EVENT_BYTES)
        if "ce-specversion" in request.headers:
            check_media(content_type, ("application/json",))
            envelope = binary_envelope(dict(request.headers), body)
        else:
            check_media(content_type, MEDIA_TYPES)
            envelope = decode(body)
        request.state.event = envelope
        check(envelope, principal)
        with REQUEST_SECONDS.time():
            # Group commit: answered once the transaction holding this event has
            # committed, shared with the other single events waiting meanwhile.
            result = await asyncio.wrap_future(store.submit(envelope, principal.hall))
        if result.created:
            event_accepted(envelope, principal.hall)
        response.status_code = 201 if result.created else 200
        return Stored(**result.body())

    @api.post("/v1/events:batch", response_model=BatchAnswer,
              responses=documented(400, 403, 413, 415), openapi_extra=BATCH_BODY)
    async def post_batch(request: Request, principal: Hall) -> BatchAnswer:
        """Many events (hall key; bureau key: inspections); one result a line, in order.
        Each line is stored whole or not at all; a bad line does not stop the others; a
        line that failed for an internal reason says so (status 500: send it again) while
        the others keep theirs."""
        media = check_media(request.headers.get("content-type"), BATCH_MEDIA_TYPES)
        items = batch_items(media, await read_body(request, MAX_BATCH_BYTES))
        if len(items) > MAX_BATCH_EVENTS:
            raise Problem(413, f"a batch may hold at most {MAX_BATCH_EVENTS} events")
        answers: list[dict[str, Any]] = [{}] * len(items)
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, item in enumerate(items):
            try:
                valid.append((index, check(decode(item) if isinstance(item, bytes) else item,
                                           principal)))
            except DomainError as refused:
                answers[index] = refusal(refused, principal.hall)
        results: list[Recorded | Exception]
        try:
            results = list(await run_in_threadpool(
                store.record_batch, [e for _, e in valid], principal.hall))
        except Exception as error:  # the store reports per line; this is a last resort
            log.exception("batch failed before any line was answered")
            results = [error] * len(valid)
        for (index, envelope), result in zip(valid, results, strict=True):
            if isinstance(result, DomainError):
                answers[index] = refusal(result, principal.hall, envelope)
            elif isinstance(result, Exception):
                answers[index] = {"status": 500, **problem_body(
                    500, "this line was not stored; send it again")}
            else:
                answers[index] = {"status": 201 if result.created else 200, **result.body()}
                if result.created:
                    event_accepted(envelope, principal.hall)
        stored = sum(1 for a in answers if a["status"] in (200, 201))
        failed = sum(1 for a in answers if a["status"] >= 500)
        return BatchAnswer(stored=stored, refused=len(items) - stored - failed, failed=failed,
                           results=[LineResult(**a) for a in answers])

    @api.post("/v1/calendar/years", status_code=201, response_model=YearLoaded,
              tags=["calendar"], responses=documented(400, 403, 413, 415, 422),
              openapi_extra=_body({"application/json": {"schema": YEAR_BODY}},
                                  "a State Council holiday notice for one year"))
    async def load_year(request: Request,
                        principal: Annotated[Principal, Depends(keys.requires("bureau"))]
                        ) -> YearLoaded:
        """The bureau loads a State Council holiday notice for a year (JSON: year,
        holidays, workdays, reference). Provisional deadlines touching it are recomputed,
        each as a new event."""
        check_media(request.headers.get("content-type"), ("application/json",))
        body = decode(await read_body(request, MAX_EVENT_BYTES))
        if not isinstance(body, dict):
            raise InvalidEvent("the body must be a JSON object", "")
        try:
            rules = YearRules.from_dict(body)
        except ValueError as error:
            field, _, reason = str(error).partition(": ")
            raise InvalidEvent(reason, field) from None
        recomputed = await run_in_threadpool(store.load_calendar_year, rules, principal.id)
        return YearLoaded(year=rules.year, version=rules.version, recomputed=recomputed)

    @api.get("/v1/calendar/years/{year}", response_model=YearView, tags=["calendar"],
             responses=documented(422),
             dependencies=[Depends(keys.requires("hall", "bureau", "auditor"))])
    def get_year(year: int = Path(ge=2000, le=2100)) -> YearView:
        """A year's working-day rules as the system applies them (any role)."""
        store.refresh_calendar()
        rules = store.calendar.year(year)
        return YearView(**rules.as_dict(), version=rules.version,  # type: ignore[arg-type]
                        provisional=rules.provisional)

    @api.get("/v1/cases/{case_no}/history", response_model=History, tags=["audit"],
             responses=documented(403, 404, 422))
    def get_history(case_no: str,
                    principal: Annotated[Principal,
                                         Depends(keys.requires("auditor", "bureau"))],
                    as_of: str | None = None, cursor: str | None = None,
                    limit: int = Query(200, ge=1, le=1000),
                    reason: str | None = Query(None, min_length=4, max_length=500)
                    ) -> History:
        """Auditors (applicant data in clear; ``reason`` required, and the read recorded
        for the bureau: GET /v1/audit/reads) and the bureau (masked) replay a case as it
        was recorded up to ``as_of``, with the whole hash chain re-verified; events come
        in pages of ``limit`` from ``cursor``."""
        moment = bounded_time(as_of, "as_of", floor) if as_of else None
        after = decode_cursor(cursor, int)[0] if cursor else 0
        if principal.role == "auditor" and reason is None:
            raise InvalidEvent("an auditor reading personal data in clear must say why",
                               "reason")
        whole = store.history(case_no, moment, unmasked=principal.role == "auditor")
        if reason is not None and principal.role == "auditor":  # recorded before answered
            store.reads.record(principal.id, case_no, reason, "history", store.clock())
        events = [e for e in whole["events"] if e["sequence"] > after]
        page = events[:limit]
        more = len(events) > limit
        return History(**{**whole, "events": page, "count": len(whole["events"]),
                          "next": encode_cursor(page[-1]["sequence"]) if more else None})

    return api
