"""Read API for the bureau and auditors, served from the ClickHouse views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import light
from hallwatch.catalogue import parse_time
from hallwatch.errors import Forbidden, InvalidEvent, NotFound
from hallwatch.summary import CaseSummary
from services.common.auth import Keyring, require
from services.projections.bulletin import GROUPS, Bulletins
from services.projections.views import Views

DASHBOARD_PAGE = Path(__file__).with_name("dashboard.html")

CASE_FIELDS = ("case_no", "hall_id", "matter_code", "matter_name", "kind", "status",
               "promised_days", "accepted_at", "due_at", "yellow_at", "provisional",
               "window_id", "staff_id", "receipt_no", "closed_at", "supplement_due_at",
               "supplement_pending", "office_hours", "rating")


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(CHINA_TZ).isoformat() if moment else None


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


def router(views: Views, keys: Keyring, clock: Callable[[], datetime]) -> APIRouter:
    api = APIRouter()

    @api.get("/v1/cases/{case_no}")
    def get_case(case_no: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        require(keys.authenticate(authorization), "bureau", "auditor")
        summary = views.case(case_no)
        if summary is None:
            raise NotFound(f"case {case_no} is unknown", "case_no")
        return case_body(summary, clock(), views.alerts({"case": case_no}))

    @api.get("/v1/alerts")
    def get_alerts(hall: str | None = None, case: str | None = None, rule: str | None = None,
                   severity: str | None = None, status: str | None = None,
                   since: str | None = None, until: str | None = None,
                   limit: int = Query(500, ge=1, le=10_000),
                   authorization: str | None = Header(None)) -> dict[str, Any]:
        """Warnings and findings, newest first; every filter optional."""
        principal = keys.authenticate(authorization)
        require(principal, "bureau", "auditor", "hall")
        filters = {k: v for k, v in (("hall", hall), ("case", case), ("rule", rule),
                                     ("severity", severity), ("status", status)) if v}
        if principal.role == "hall":
            if hall not in (None, principal.id):
                raise Forbidden("a hall reads only its own alerts", "hall")
            filters["hall"] = principal.id  # a hall sees nothing of other halls
        alerts = views.alerts(filters, parse_time(since, "since") if since else None,
                              parse_time(until, "until") if until else None, limit)
        return {"alerts": alerts, "count": len(alerts)}

    bulletins = Bulletins(views.client)

    @api.get("/v1/bulletins")
    def get_bulletin(start: str = Query(..., alias="from"), end: str = Query(..., alias="to"),
                     by: str = "hall", authorization: str | None = Header(None)
                     ) -> dict[str, Any]:
        """定期通报 for [from, to) (dates, +08:00), per hall, window or staff."""
        require(keys.authenticate(authorization), "bureau", "auditor")
        first, stop = _date(start, "from"), _date(end, "to")
        if by not in GROUPS:
            raise InvalidEvent(f"must be one of {', '.join(GROUPS)}", "by")
        if not first < stop or (stop - first).days > 366:
            raise InvalidEvent("must be after from, and at most 366 days later", "to")
        return bulletins.bulletin(by, first, stop, clock())

    @api.get("/v1/dashboard")
    def get_dashboard(authorization: str | None = Header(None)) -> dict[str, Any]:
        require(keys.authenticate(authorization), "bureau", "auditor")
        return bulletins.dashboard(clock())

    @api.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page() -> str:
        return DASHBOARD_PAGE.read_text()

    return api


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"{text!r} is not a YYYY-MM-DD date", field) from None
