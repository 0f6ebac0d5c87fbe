"""The public status lookup (信息服务): an applicant checks a case with its number and the
query code printed on the receipt. Nothing personal is answered; an unknown case and a
wrong code answer the same 404 (no oracle); lookups are limited per client address."""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations.
import base64
import hashlib
import hmac
import threading
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import light
from hallwatch.errors import Forbidden, NotFound
from services.common.auth import Keyring, Principal
from services.common.http import Problem, documented
from services.intake.store import HallStore

LOOKUPS_PER_MINUTE = 20


def query_code(key: bytes, case_no: str) -> str:
    """Eight letters and digits, keyed: only hallwatch (and the hall it tells) knows them."""
    mac = hmac.new(key, f"query-code|{case_no}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:8]


class Limiter:
    """At most ``per_minute`` calls per client address in any 60 seconds."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 if allowed now, else the seconds to wait."""
        now = self.clock()
        with self.lock:
            times = self.seen.setdefault(client, deque())
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return 60 - (now - times[0])
            times.append(now)
            if len(self.seen) > 100_000:  # forget idle addresses
                self.seen = {k: v for k, v in self.seen.items() if v}
            return 0.0


class PublicStatus(BaseModel):
    case_no: str
    matter_name: str
    status: str
    accepted_at: str | None = Field(description="when the case was accepted (+08:00)")
    promised_days: int | None = Field(description="the working days promised")
    due_at: str | None = Field(description="the promised completion moment (+08:00)")
    light: str = Field(description="green, yellow, red; none once closed")


class QueryCode(BaseModel):
    case_no: str
    query_code: str = Field(description="print this on the receipt")


def router(store: HallStore, keys: Keyring, limiter: Limiter | None = None) -> APIRouter:
    api = APIRouter(tags=["public"])
    limits = limiter or Limiter(LOOKUPS_PER_MINUTE)
    code_key = hmac.new(store.chain_key, b"public query codes", hashlib.sha256).digest()

    @api.get("/v1/public/status", response_model=PublicStatus,
             responses=documented(404, 422, 429), openapi_extra={"security": []})
    def get_status(request: Request, case: str = Query(min_length=1, max_length=64),
                   code: str = Query(min_length=8, max_length=8)) -> PublicStatus:
        """No key: with the case number and the receipt's query code, the case's status,
        promised and due dates and light; nothing personal. Limited per client address."""
        wait = limits.allow(request.client.host if request.client else "?")
        if wait:
            raise Problem(429, f"too many lookups; try again in {int(wait) + 1} s")
        unknown = NotFound("no case with this number and query code", "code")
        if not hmac.compare_digest(code.upper().encode(), query_code(code_key, case).encode()):
            raise unknown
        try:
            summary = store.case(case).summary
        except NotFound:
            raise unknown from None
        shown = summary.as_dict()
        return PublicStatus(
            case_no=case, matter_name=shown.get("matter_name") or "",
            status=shown["status"],
            accepted_at=_local(summary.accepted_at), promised_days=shown.get("promised_days"),
            due_at=_local(summary.due_at), light=light(summary, store.clock()))

    @api.get("/v1/cases/{case_no}/query-code", response_model=QueryCode,
             responses=documented(403, 404))
    def get_code(case_no: str,
                 principal: Annotated[Principal, Depends(keys.requires("hall"))]) -> QueryCode:
        """The hall that opened the case (hall key) gets the code to print on the receipt."""
        case = store.case(case_no)
        if case.hall_id != principal.id:
            raise Forbidden("a hall gets the query codes of its own cases only", "case_no")
        return QueryCode(case_no=case_no, query_code=query_code(code_key, case_no))

    return api


def _local(moment: object) -> str | None:
    return moment.astimezone(CHINA_TZ).isoformat() if hasattr(moment, "astimezone") else None
