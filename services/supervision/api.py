"""The bureau's actions on alerts. Thin: decode, call, respond."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hallwatch.errors import InvalidEvent
from services.common.auth import Keyring, Principal
from services.common.http import documented
from services.common.models import AlertView
from services.supervision.app import Supervision

ACTIONS = ("acknowledge", "notice", "resolve")


class Action(BaseModel):
    """What the bureau says with its action; every field optional."""

    model_config = ConfigDict(extra="forbid")

    working_days: int | None = Field(None, ge=1, le=60, strict=True,
                                     description="notice: working days to rectify")
    content: str = Field("", max_length=2000, description="notice: what must be done")
    resolution: str = Field("", max_length=2000, description="resolve: how it was settled")


def _alert_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidEvent(f"{text!r} is not an alert id", "alert_id") from None


def router(app: Supervision, keys: Keyring) -> APIRouter:
    api = APIRouter(tags=["supervision"])

    @api.get("/v1/alerts/{alert_id}", response_model=AlertView,
             dependencies=[Depends(keys.requires("bureau", "auditor"))],
             responses=documented(403, 404, 422))
    def get_alert(alert_id: str) -> dict[str, Any]:
        """One alert with its lifecycle (bureau or auditor key)."""
        return app.alert(_alert_id(alert_id)).view()

    @api.post("/v1/alerts/{alert_id}/{action}", response_model=AlertView,
              responses=documented(403, 404, 409, 422))
    async def act(alert_id: str, action: Literal["acknowledge", "notice", "resolve"],
                  principal: Annotated[Principal, Depends(keys.requires("bureau"))],
                  body: Action | None = Body(None)) -> dict[str, Any]:
        """acknowledge; notice (督办: optional ``working_days`` and ``content``);
        resolve (optional ``resolution``). Bureau key; the actor (name and id) is recorded."""
        payload = body.model_dump(exclude_none=True) if body else {}
        return await run_in_threadpool(app.act, _alert_id(alert_id), action, principal.actor,
                                       payload)

    return api
