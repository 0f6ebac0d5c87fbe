"""Read API for the bureau and auditors, served from the ClickHouse views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import light
from hallwatch.catalogue import parse_time
from hallwatch.errors import Forbidden, NotFound
from services.common.auth import Keyring, require
from services.projections import bulletin_api
from services.projections.bulletin import Bulletins
from services.projections.views import Views

DASHBOARD_PAGE = Path(__file__).with_name("dashboard.html")

CASE_FIELDS = ("case_no", "hall_id", "matter_code", "matter_name", "kind", "status",
               "promised_days", "accepted_at", "due_at", "yellow_at", "provisional",
               "window_id", "staff_id", "receipt_no", "closed_at", "supplement_due_at",
               "supplement_pending", "office_hours", "rating")


def _local(text: str | None) -> str | None:
    return datetime.fromisoformat(text).astimezone(CHINA_TZ).isoformat() if text else None


def case_body(summary: dict[str, Any], now: datetime, findings: list[dict[str, Any]]
              ) -> dict[str, Any]:
    body = {k: summary.get(k) for k in CASE_FIELDS}
    for key in ("accepted_at", "due_at", "yellow_at", "closed_at", "supplement_due_at"):
        body[key] = _local(body[key])
    deadline = summary.get("deadline") or {}
    body["deadline"] = {
        "calendar": deadline.get("calendar", []),
        "steps": deadline.get("steps", []),
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
    api.include_router(bulletin_api.router(views, keys, clock, bulletins))

    @api.get("/v1/dashboard")
    def get_dashboard(authorization: str | None = Header(None)) -> dict[str, Any]:
        require(keys.authenticate(authorization), "bureau", "auditor")
        return bulletins.dashboard(clock())

    @api.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page() -> str:
        return DASHBOARD_PAGE.read_text()

    return api
