"""Two ASGI layers every service runs: the console's session cookie as the bearer, and
one structured access-log line per request.

The access log (logger ``hallwatch.access``) writes one JSON object per line:
``{"time", "method", "route", "status", "ms", "principal"}``. ``route`` is the route's
template (``/v1/cases/{case_no}``), never the path or query, and ``principal`` is the
principal's id, never a key or token, so no secret and no applicant's data is logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from services.common.auth import SESSION_COOKIE

ACCESS = logging.getLogger("hallwatch.access")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
Scope = MutableMapping[str, Any]


def _configure() -> None:
    """Access lines are JSON on stderr, not the service log's text format."""
    if not ACCESS.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        ACCESS.addHandler(handler)
        ACCESS.setLevel(logging.INFO)
        ACCESS.propagate = False


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name and v:
                    return v
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class SessionCookieMiddleware:
    """A request without an Authorization header but with the console's session cookie
    is authenticated by the cookie (as ``Bearer <token>``). A state-changing request
    carried by the cookie must come from this origin (SameSite=Strict already keeps
    other sites' pages from sending it; this refuses anything that slips through)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _header(scope, b"authorization") is None:
            token = _cookie(scope, SESSION_COOKIE)
            if token is not None:
                origin = _header(scope, b"origin")
                host = _header(scope, b"host") or ""
                if scope["method"] in UNSAFE and origin is not None and \
                        origin.split("://", 1)[-1] != host:
                    from services.common.http import problem
                    await problem(403, "cross-origin request with a session cookie",
                                  "Origin")(scope, receive, send)
                    return
                # In place: the layers outside read what routing adds to this scope.
                scope["headers"] = [*scope["headers"],
                                    (b"authorization", f"Bearer {token}".encode())]
        await self.app(scope, receive, send)


class AccessLogMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        _configure()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})

        async def record_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None and "endpoint" in scope:  # a plain Starlette route (docs)
                route = scope["path"] if not scope.get("path_params") else \
                    getattr(scope["endpoint"], "__name__", "(route)")
            fields = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "route": route or "(no route)",
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "principal": state.get("principal"),
            }
            # The message is the JSON line itself; services.common.logs merges ``fields``
            # into the process's JSON lines instead.
            ACCESS.info(json.dumps(fields, ensure_ascii=False),
                        extra={"fields": fields, "summary": "request"})
