"""The HTTP edge shared by every service, in one place: errors as RFC 9457 problem
details, security headers, the OpenAPI document's shared parts, health and metrics.

The pattern every route module follows::

    from services.common.http import Problem, documented, encode_cursor, requires
    ...
    @api.get("/v1/things", response_model=ThingPage, responses=documented(403, 422))
    def list_things(principal: Annotated[Principal, Depends(requires(keys, "bureau"))],
                    cursor: str | None = None) -> ThingPage: ...

(no ``from __future__ import annotations`` in route modules: FastAPI must evaluate the
annotations, which name the router's local keyring).

A route raises a ``DomainError`` (or ``Problem``); this module turns it into
``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``, the
``field`` path, and Chinese ``title_zh`` / ``detail_zh`` beside the English ones.
Unknown routes (404), wrong methods (405), request validation (422) and any unexpected
exception (500, logged with its traceback, never shown) answer the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date, datetime, time
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hallwatch.calendar import CHINA_TZ
from hallwatch.errors import (
    DomainError,
    Forbidden,
    IdempotencyConflict,
    ImpossibleSequence,
    InvalidEvent,
    NotFound,
)
from services.common import workers
from services.common.auth import Keyring, Principal, Unauthenticated
from services.common.metrics import event_refused, instrument

log = logging.getLogger(__name__)

PROBLEM_MEDIA = "application/problem+json"
TYPE_BASE = "https://hallwatch.example/problems/"
# Moments after the last year the calendar knows are refused everywhere (they cannot be a
# hall's fact, and year 9999 with an offset overflows date arithmetic).
TIME_CEILING = datetime(2100, 12, 31, 23, 59, 59, tzinfo=CHINA_TZ)

STATUS: dict[type[DomainError], int] = {
    InvalidEvent: 422,
    Forbidden: 403,
    NotFound: 404,
    ImpossibleSequence: 409,
    IdempotencyConflict: 409,
}

# status: (slug, English title, Chinese title)
TITLES: dict[int, tuple[str, str, str]] = {
    400: ("malformed-body", "Malformed request body", "请求体格式错误"),
    401: ("unauthenticated", "Missing or unknown API key", "缺少或无效的接口密钥"),
    403: ("forbidden", "Not allowed for this key", "该密钥无权执行此操作"),
    404: ("not-found", "Not found", "资源不存在"),
    405: ("method-not-allowed", "Method not allowed", "不支持该请求方法"),
    409: ("conflict", "Conflicts with what is recorded", "与已记录的内容冲突"),
    413: ("too-large", "Request too large", "请求内容过大"),
    415: ("unsupported-media-type", "Unsupported Content-Type", "不支持的内容类型"),
    422: ("invalid", "Invalid field", "字段内容不合法"),
    500: ("internal", "Internal error; nothing was stored", "服务内部错误，本次请求未保存任何内容"),
    503: ("unavailable", "Temporarily unavailable; retry", "服务暂不可用，请稍后重试"),
}


def requires(keys: Keyring, *roles: str) -> Callable[..., Principal]:
    """The dependency a route declares to admit ``roles`` (401 without a known key, 403
    for another role); it answers the caller's Principal. Same as ``keys.requires``."""
    return keys.requires(*roles)


class Problem(DomainError):
    """A refusal with an explicit HTTP status: unparsable body (400), wrong media type
    (415), too large (413), or any other status a route needs."""

    def __init__(self, status: int, reason: str, field: str = "") -> None:
        super().__init__(reason, field)
        self.status = status


BadRequest = Problem  # the older name


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with the field path and Chinese text for hall vendors
    and officials."""

    type: str = Field(description="URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what was wrong with this request")
    field: str = Field("", description="path of the offending field, e.g. data.kind; "
                                       "empty when the request as a whole is refused")
    title_zh: str = Field(description="问题类型（中文）")
    detail_zh: str = Field(description="问题说明（中文）")


class LineResult(BaseModel):
    """One line of a batch: a stored event (status 201 or 200) or a problem."""

    status: int
    id: str | None = None
    subject: str | None = None
    sequence: int | None = None
    position: int | None = None
    type: str | None = None
    title: str | None = None
    detail: str | None = None
    field: str | None = None
    detail_zh: str | None = None


def status_of(error: DomainError) -> int:
    if isinstance(error, Problem):
        return error.status
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem_body(status: int, detail: str, field: str = "") -> dict[str, Any]:
    slug, title, title_zh = TITLES.get(status, ("error", "Error", "错误"))
    detail, field = _printable(detail), _printable(field)
    where = f"（字段 {field}）" if field else ""
    return {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "field": field, "title_zh": title_zh, "detail_zh": f"{title_zh}{where}：{detail}"}


def problem(status: int, detail: str, field: str = "",
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, field), status_code=status,
                        media_type=PROBLEM_MEDIA, headers=headers)


def refusal(error: DomainError, hall: str | None = None, envelope: Any = None
            ) -> dict[str, Any]:
    """A refused batch line: its status and problem details (counted as refused)."""
    status = status_of(error)
    event_refused(status, envelope, hall)
    return {"status": status, **problem_body(status, error.reason, error.field)}


def _printable(text: str) -> str:
    """Text that encodes as UTF-8 whatever the client sent (a lone surrogate in a member
    name would otherwise break the answer itself)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# Schemas the OpenAPI document shares by reference (e.g. the CloudEvent envelope, kept
# once in schemas/ and registered by the route module that reads it).
SHARED_SCHEMAS: dict[str, dict[str, Any]] = {}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (401 and 500 always included)."""
    wanted = sorted({401, 500, *statuses})
    return {s: {"model": ProblemDetails, "description": TITLES[s][1]} for s in wanted}


# -- bounded inputs ---------------------------------------------------------------------


def bounded_time(text: str, field: str, floor: date) -> datetime:
    """An RFC 3339 moment with an offset, no earlier than ``floor`` (+08:00)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        raise InvalidEvent(f"{text!r} is not an RFC 3339 timestamp", field) from None
    if moment.tzinfo is None:
        raise InvalidEvent("timestamp needs an offset, e.g. +08:00", field)
    check_moment(moment, field, floor)
    return moment


def check_moment(moment: datetime, field: str, floor: date) -> None:
    """Refuse moments before ``floor`` or after 2100; never overflows."""
    if moment.tzinfo is None:
        raise InvalidEvent("timestamp needs an offset, e.g. +08:00", field)
    start = datetime.combine(floor, time(), CHINA_TZ)
    try:
        inside = start <= moment <= TIME_CEILING
    except OverflowError:  # year 1 or 9999 with an offset cannot even be compared
        inside = False
    if not inside:
        raise InvalidEvent(f"must be between {floor.isoformat()} and 2100-12-31", field)


def bounded_date(text: str, field: str, floor: date) -> date:
    try:
        day = date.fromisoformat(text)
    except (ValueError, TypeError):
        raise InvalidEvent(f"{text!r} is not a YYYY-MM-DD date", field) from None
    if not floor <= day <= TIME_CEILING.date():
        raise InvalidEvent(f"must be between {floor.isoformat()} and 2100-12-31", field)
    return day


# -- cursors ------------------------------------------------------------------------------


def encode_cursor(*values: Any) -> str:
    """An opaque cursor for the next page (the position after the last item shown)."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(text: str, *kinds: type) -> list[Any]:
    """The values a cursor holds, one of each of ``kinds``; 422 for anything else."""
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if not (isinstance(values, list) and len(values) == len(kinds)
            and all(isinstance(v, k) and not isinstance(v, bool)
                    for v, k in zip(values, kinds, strict=True))):
        raise InvalidEvent("not a cursor this list gave out", "cursor")
    return values


# -- the application-wide pieces -----------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Pages (docs, dashboard) load their scripts and styles from this server only; their
# small inline start-up scripts need 'unsafe-inline'.
PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class EdgeMiddleware:
    """Security headers on every response; any exception a route lets escape becomes a
    500 problem (logged with its traceback, which never reaches the client)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                is_html = any(k.lower() == b"content-type" and v.startswith(b"text/html")
                              for k, v in headers)
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"),
                         (b"content-security-policy",
                          (PAGE_CSP if is_html else API_CSP).encode())]
                if not path.startswith("/static-offline-docs"):
                    # Any answer may carry personal data or a key-gated view: never cached.
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if started:
                raise  # too late to answer; the server closes the connection
            response = problem(500, "an unexpected error occurred; nothing was stored")
            await response(scope, receive, send_with_headers)


class Health(BaseModel):
    status: str = Field(description="ok, or failing when a background worker is")


class HealthDetail(Health):
    workers: list[dict[str, Any]]


def install(app: FastAPI, keys: Keyring | None = None) -> None:
    """Problem-details handlers, the edge middleware, health, metrics and the OpenAPI
    post-processing. Without ``keys`` the key-gated routes answer 401 to everyone."""
    keyring = keys or Keyring([])
    instrument(app)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        status = status_of(error)
        if request.url.path == "/v1/events":  # refusals are counted for events only
            event_refused(status, getattr(request.state, "event", None),
                          getattr(request.state, "hall", None))
        return problem(status, error.reason, error.field)

    @app.exception_handler(Unauthenticated)
    async def _unauth(_: Request, error: Unauthenticated) -> JSONResponse:
        return problem(401, str(error), "Authorization", {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return problem(422, str(first["msg"]), field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = {404: "no such route", 405: "this route does not take this method"}.get(
            error.status_code, str(error.detail))
        return problem(error.status_code, detail, headers=dict(error.headers or {}))

    app.add_middleware(EdgeMiddleware)  # type: ignore[arg-type]

    @app.get("/healthz", response_model=Health, tags=["operations"],
             responses={503: {"model": Health, "description": "a worker is failing"}})
    def healthz() -> JSONResponse:
        """Liveness and readiness without detail (open: load balancers call it)."""
        healthy, _ = workers.health()
        return JSONResponse({"status": "ok" if healthy else "failing"},
                            status_code=200 if healthy else 503)

    monitor = Depends(keyring.requires("monitor", "bureau"))

    @app.get("/v1/health", response_model=HealthDetail, tags=["operations"],
             dependencies=[monitor], responses={
                 **documented(403), 503: {"model": HealthDetail, "description": "failing"}})
    def health_detail() -> JSONResponse:
        """Each background worker's state and last error (monitor or bureau key)."""
        healthy, states = workers.health()
        return JSONResponse({"status": "ok" if healthy else "failing", "workers": states},
                            status_code=200 if healthy else 503)

    @app.get("/metrics", tags=["operations"], dependencies=[monitor],
             response_class=PlainTextResponse, responses={
                 **documented(403),
                 200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                       "description": "Prometheus text format"}})
    def metrics() -> PlainTextResponse:
        """Prometheus metrics (monitor or bureau key: scrape with a bearer token)."""
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_as_problem_json(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problems_as_problem_json(spec: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx answer is documented as application/problem+json with our schema
    (FastAPI's own 422 schema describes a body we never send)."""
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if code[0] in "45" and "Health" not in json.dumps(response.get("content")):
                    response["content"] = {PROBLEM_MEDIA: {"schema": ref}}
                    response["description"] = TITLES.get(int(code), ("", "Error"))[1]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
    schemas.update(SHARED_SCHEMAS)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec
