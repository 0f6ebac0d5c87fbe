"""Read API for the bureau and auditors, served from the ClickHouse views."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import light
from hallwatch.errors import Forbidden, InvalidEvent, NotFound
from hallwatch.summary import CaseSummary
from services.common.auth import Keyring, Principal
from services.common.http import (
    bounded_time,
    decode_cursor,
    documented,
    encode_cursor,
)
from services.common.models import AlertView
from services.projections import bulletin_api
from services.projections.bulletin import Bulletins
from services.projections.views import Views

DEFAULT_FLOOR = date(2000, 1, 1)

CASE_FIELDS = ("case_no", "hall_id", "matter_code", "matter_name", "kind", "status",
               "promised_days", "accepted_at", "due_at", "yellow_at", "provisional",
               "window_id", "staff_id", "receipt_no", "closed_at", "supplement_due_at",
               "supplement_pending", "office_hours", "rating")


class CaseView(BaseModel):
    """A case as the views know it: its deadline explained, its light now, its findings."""

    model_config = ConfigDict(extra="allow")

    case_no: str
    hall_id: str
    status: str
    light: str | None = Field(description="green, yellow or red while open")
    deadline: dict[str, Any] = Field(description="calendar versions and the steps of the "
                                                 "deadline computation")
    findings: list[AlertView]


class AlertPage(BaseModel):
    alerts: list[AlertView] = Field(description="this page, newest first")
    count: int = Field(description="total alerts matching the filters (every page)")
    next: str | None = Field(description="cursor of the next page; null on the last")


class Report(BaseModel):
    """A bulletin or the dashboard (shape in the README)."""

    model_config = ConfigDict(extra="allow")


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(CHINA_TZ).isoformat() if moment else None


def _raised(alert: dict[str, Any]) -> datetime:
    raised = alert["raised_at"]
    return raised if isinstance(raised, datetime) else datetime.fromisoformat(str(raised))


def case_body(summary: CaseSummary, now: datetime, findings: list[dict[str, Any]]
              ) -> dict[str, Any]:
    shown = summary.as_dict()
    body = {k: shown[k] for k in CASE_FIELDS}
    for key in ("accepted_at", "due_at", "yellow_at", "closed_at", "supplement_due_at"):
        body[key] = _local(getattr(summary, key))
    deadline = summary.deadline
    body["deadline"] = {
        "calendar": list(deadline.calendar) if deadline else [],
        "steps": [s.as_dict() for s in deadline.steps] if deadline else [],
    }
    body["light"] = light(summary, now)
    body["findings"] = findings
    return body


def router(views: Views, keys: Keyring, clock: Callable[[], datetime],
           floor: date = DEFAULT_FLOOR, past: Callable[..., Any] | None = None) -> APIRouter:
    """``floor``: the earliest moment a query may name; ``past``: the event store's
    as-of reader (services.intake.asof.reader, wired by services/system.py), where the
    process has one."""
    api = APIRouter(tags=["views"])
    readers = Depends(keys.requires("bureau", "auditor"))

    @api.get("/v1/cases/{case_no}", response_model=CaseView, dependencies=[readers],
             responses=documented(403, 404, 422))
    def get_case(case_no: str, as_of: str | None = None,
                 position: int | None = Query(None, ge=1)) -> dict[str, Any]:
        """A case (bureau or auditor key); with ``as_of`` (a time) or ``position`` (a log
        position), as the system knew it then: its light judged at that moment and the
        findings raised by then."""
        if as_of is not None or position is not None:
            if past is None:
                raise InvalidEvent("as-of reads need the event store in this process",
                                   "as_of")
            moment = bounded_time(as_of, "as_of", floor) if as_of else None
            summary, at = past(case_no, moment, position)
            return case_body(summary, at, [a for a in views.case_alerts(case_no)
                                           if _raised(a) <= at])
        summary = views.case(case_no)
        if summary is None:
            raise NotFound(f"case {case_no} is unknown", "case_no")
        return case_body(summary, clock(), views.case_alerts(case_no))

    @api.get("/v1/alerts", response_model=AlertPage, responses=documented(403, 422))
    def get_alerts(principal: Annotated[Principal,
                                        Depends(keys.requires("bureau", "auditor", "hall"))],
                   hall: str | None = None, case: str | None = None, rule: str | None = None,
                   severity: str | None = None, status: str | None = None,
                   since: str | None = None, until: str | None = None,
                   cursor: str | None = None,
                   limit: int = Query(500, ge=1, le=10_000)) -> AlertPage:
        """Warnings and findings, newest first, in pages of ``limit`` from ``cursor``;
        every filter optional. A hall key reads only its own hall's alerts."""
        filters = {k: v for k, v in (("hall", hall), ("case", case), ("rule", rule),
                                     ("severity", severity), ("status", status)) if v}
        if principal.role == "hall":
            if hall not in (None, principal.id):
                raise Forbidden("a hall reads only its own alerts", "hall")
            filters["hall"] = principal.id  # a hall sees nothing of other halls
        after = decode_cursor(cursor, int, str) if cursor else None
        alerts, last, total = views.alert_page(
            filters, bounded_time(since, "since", floor) if since else None,
            bounded_time(until, "until", floor) if until else None, limit,
            (after[0], after[1]) if after else None)
        return AlertPage(alerts=[AlertView(**a) for a in alerts], count=total,
                         next=encode_cursor(*last) if last else None)

    bulletins = Bulletins(views.client)
    api.include_router(bulletin_api.router(views, keys, clock, bulletins, floor))

    @api.get("/v1/dashboard", response_model=Report, dependencies=[readers],
             responses=documented(403))
    def get_dashboard() -> dict[str, Any]:
        """Live figures per hall (bureau or auditor key)."""
        return bulletins.dashboard(clock())

    return api
