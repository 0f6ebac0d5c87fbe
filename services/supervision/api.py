"""The bureau's actions on alerts. Thin: decode, call, respond."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Header
from starlette.concurrency import run_in_threadpool

from hallwatch.errors import InvalidEvent
from services.common.auth import Keyring, require
from services.supervision.app import Supervision

ACTIONS = ("acknowledge", "notice", "resolve")


def _alert_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidEvent(f"{text!r} is not an alert id", "alert_id") from None


def router(app: Supervision, keys: Keyring) -> APIRouter:
    api = APIRouter()

    @api.get("/v1/alerts/{alert_id}")
    def get_alert(alert_id: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        require(keys.authenticate(authorization), "bureau", "auditor")
        return app.alert(_alert_id(alert_id)).view()

    @api.post("/v1/alerts/{alert_id}/{action}")
    async def act(alert_id: str, action: str, body: dict[str, Any] | None = Body(None),
                  authorization: str | None = Header(None)) -> dict[str, Any]:
        """acknowledge; notice (督办: optional ``working_days`` and ``content``);
        resolve (optional ``resolution``)."""
        principal = keys.authenticate(authorization)
        require(principal, "bureau")
        if action not in ACTIONS:
            raise InvalidEvent(f"action must be one of {', '.join(ACTIONS)}", "action")
        payload = body or {}
        days = payload.get("working_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                                 or not 1 <= days <= 60):
            raise InvalidEvent("must be a whole number from 1 to 60", "working_days")
        for name in ("content", "resolution"):
            if not isinstance(payload.get(name, ""), str) or len(payload.get(name, "")) > 2000:
                raise InvalidEvent("must be text of at most 2000 characters", name)
        return await run_in_threadpool(app.act, _alert_id(alert_id), action, principal.id,
                                       payload)

    return api
