"""The console's routes: its page and files, sign-in and sign-out, and the alert feed.

Sign-in answers a session token in an HttpOnly, SameSite=Strict cookie (scripts never
see it; other sites' pages never send it); the page then calls the ordinary API with
that cookie. Only bureau and auditor principals may sign in to the console.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from hallwatch import labels
from hallwatch.errors import Forbidden
from services.common.auth import (
    BEARER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Keyring,
    Principal,
    Unauthenticated,
)
from services.common.http import documented
from services.console.stream import RESYNC, Broadcaster

STATIC = Path(__file__).with_name("static")
CONSOLE_ROLES = ("bureau", "auditor")
FILES = {"console.js": "text/javascript", "console.css": "text/css"}


class SignIn(BaseModel):
    """A user name and password, or a key."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field("", max_length=200)
    password: str = Field("", max_length=1000)
    key: str = Field("", max_length=1000)


class Who(BaseModel):
    signed_in: bool
    id: str = ""
    name: str = ""
    role: str = ""
    role_zh: str = ""


def _who(principal: Principal) -> Who:
    return Who(signed_in=True, id=principal.id, name=principal.name or principal.id,
               role=principal.role, role_zh=labels.label("roles", principal.role))


def router(keys: Keyring, broadcaster: Broadcaster) -> APIRouter:
    api = APIRouter(tags=["console"])
    readers = keys.requires(*CONSOLE_ROLES)

    @api.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console_page() -> str:
        return (STATIC / "console.html").read_text(encoding="utf-8")

    @api.get("/console/{name}", include_in_schema=False)
    def console_file(name: str) -> FileResponse:
        if name not in FILES:
            from hallwatch.errors import NotFound
            raise NotFound(f"no console file {name}", "name")
        return FileResponse(STATIC / name, media_type=FILES[name] + "; charset=utf-8")

    @api.get("/favicon.ico", include_in_schema=False, status_code=204)
    def no_icon() -> Response:
        """Browsers ask every page's origin for one; answering nothing is not an error."""
        return Response(status_code=204)

    @api.get("/dashboard", include_in_schema=False)
    def dashboard_moved() -> RedirectResponse:
        return RedirectResponse("/console", status_code=301)

    @api.get("/v1/labels", response_model=dict[str, dict[str, str]])
    def get_labels() -> dict[str, dict[str, str]]:
        """The Chinese names of rules, severities, statuses, lights and event kinds
        (open: they are the published measures' vocabulary)."""
        return labels.as_dict()

    @api.post("/v1/session", response_model=Who, responses=documented(403, 422))
    def sign_in(body: SignIn, request: Request, response: Response) -> Who:
        """Sign in to the console with ``user`` and ``password``, or a ``key``; sets the
        session cookie (HttpOnly, SameSite=Strict, 8 hours). 401 for a wrong one, 403
        for a role that may not use the console (halls, monitors)."""
        principal, token = keys.sign_in(user=body.user.strip(), password=body.password,
                                        key=body.key)
        request.state.principal = principal.id
        if principal.role not in CONSOLE_ROLES:
            raise Forbidden(f"role {principal.role} may not use the console", "role")
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, path="/",
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return _who(principal)

    @api.get("/v1/session", response_model=Who)
    def whoami(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None,
                                      Depends(BEARER)]) -> Who:
        """Who the console is signed in as; ``signed_in`` false without a valid session
        (the page asks this first, so it is not an error)."""
        try:
            principal = keys.identify(credentials.credentials if credentials else "")
        except Unauthenticated:
            return Who(signed_in=False)
        request.state.principal = principal.id
        if principal.role not in CONSOLE_ROLES:
            return Who(signed_in=False)
        return _who(principal)

    @api.delete("/v1/session", response_model=Who)
    def sign_out(response: Response) -> Who:
        """Sign out: the session cookie is removed."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return Who(signed_in=False)

    @api.get("/v1/stream/alerts", responses={
        **documented(403),
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": "server-sent events: `alert` (an alert as it now stands, "
                             "as in /v1/alerts) and `resync` (reload the list)"}})
    async def alert_stream(request: Request,
                           _: Annotated[Principal, Depends(readers)]) -> EventSourceResponse:
        """Every alert raised or moved from now on, as it happens (bureau or auditor)."""
        subscriber = broadcaster.subscribe()

        async def events() -> AsyncIterator[dict[str, Any]]:
            try:
                yield {"event": "ready", "data": "{}"}
                while True:
                    alert = await subscriber.queue.get()
                    if alert is RESYNC:
                        yield {"event": "resync", "data": "{}"}
                        while not subscriber.queue.empty():
                            subscriber.queue.get_nowait()
                        continue
                    body = {k: v for k, v in alert.items() if k != "position"}
                    yield {"event": "alert", "data": json.dumps(body, ensure_ascii=False)}
            finally:
                broadcaster.unsubscribe(subscriber)

        return EventSourceResponse(events(), ping=15)

    return api
