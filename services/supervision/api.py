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
from services.supervision.notifier import Notifier

ACTIONS = ("acknowledge", "notice", "resolve")


class Action(BaseModel):
    """What the bureau says with its action; every field optional."""

    model_config = ConfigDict(extra="forbid")

    working_days: int | None = Field(None, ge=1, le=60, strict=True,
                                     description="notice: working days to rectify")
    content: str = Field("", max_length=2000, description="notice: what must be done")
    resolution: str = Field("", max_length=2000, description="resolve: how it was settled")


class NotificationView(BaseModel):
    """One notification of the alert over one channel, with every attempt."""

    model_config = ConfigDict(extra="allow")

    delivery_id: str
    idempotency_key: str = Field(description="alert/occasion/channel: sent as the "
                                 "Idempotency-Key header (webhook) or "
                                 "X-Hallwatch-Idempotency-Key (e-mail)")
    occasion: str = Field(description="yellow, red, notice (督办) or red_card")
    channel: str
    kind: str = Field(description="webhook or email")
    status: str = Field(description="pending, sending, sent or given_up")
    attempts: int
    next_attempt_at: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list, description="queued, "
                                          "attempt_started, attempt_failed (with the error "
                                          "and the next attempt), sent or given_up")


class AlertDetail(AlertView):
    """One alert, its lifecycle and its notifications."""

    notifications: list[NotificationView] = Field(default_factory=list)


def _alert_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidEvent(f"{text!r} is not an alert id", "alert_id") from None


def router(app: Supervision, keys: Keyring, notifier: Notifier | None = None) -> APIRouter:
    api = APIRouter(tags=["supervision"])

    def detail(ident: UUID, view: dict[str, Any]) -> dict[str, Any]:
        deliveries = notifier.deliveries(ident) if notifier is not None else []
        return {**view, "notifications": deliveries}

    @api.get("/v1/alerts/{alert_id}", response_model=AlertDetail,
             dependencies=[Depends(keys.requires("bureau", "auditor"))],
             responses=documented(403, 404, 422))
    def get_alert(alert_id: str) -> dict[str, Any]:
        """One alert with its lifecycle and its notifications, each with every delivery
        attempt (bureau or auditor key)."""
        ident = _alert_id(alert_id)
        return detail(ident, app.alert(ident).view())

    @api.post("/v1/alerts/{alert_id}/{action}", response_model=AlertDetail,
              responses=documented(403, 404, 409, 422))
    async def act(alert_id: str, action: Literal["acknowledge", "notice", "resolve"],
                  principal: Annotated[Principal, Depends(keys.requires("bureau"))],
                  body: Action | None = Body(None)) -> dict[str, Any]:
        """acknowledge; notice (督办: optional ``working_days`` and ``content``);
        resolve (optional ``resolution``). Bureau key; the actor (name and id) is recorded."""
        payload = body.model_dump(exclude_none=True) if body else {}
        ident = _alert_id(alert_id)
        view = await run_in_threadpool(app.act, ident, action, principal.actor, payload)
        return await run_in_threadpool(detail, ident, view)

    return api
