"""HTTP routes of the live views: halls, a hall's windows, pages of cases."""

# No `from __future__ import annotations`: FastAPI must see the dependencies in the
# signatures as objects, not strings naming local aliases.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from hallwatch.errors import Forbidden, InvalidEvent
from services.common.auth import Keyring, Principal
from services.projections.live import LIGHTS, RECORD_TYPES, Live, decode_cursor, records
from services.projections.views import Views

STATUSES = ("noticed", "accepted", "suspended", "completed", "delivered", "rejected",
            "returned", "withdrawn")


def _own_hall(principal: Principal, hall: str | None) -> str | None:
    """A hall key reads only its own hall; the bureau and auditors read any."""
    if principal.role == "hall":
        if hall not in (None, principal.id):
            raise Forbidden("a hall reads only its own cases and counters", "hall")
        return principal.id
    return hall


def router(views: Views, keys: Keyring, clock: Callable[[], datetime]) -> APIRouter:
    api = APIRouter()
    Reader = Annotated[Principal, Depends(keys.requires("bureau", "auditor", "hall"))]
    live = Live(views.client)

    @api.get("/v1/halls")
    def get_halls(principal: Reader) -> dict[str, Any]:
        """Every hall with its live counters (a hall key: its own only)."""
        now = clock()
        halls = live.units("hall", now, _own_hall(principal, None))
        return {"as_of": now.isoformat(), "halls": halls}

    @api.get("/v1/halls/{hall}/windows")
    def get_windows(principal: Reader, hall: str) -> dict[str, Any]:
        now = clock()
        windows = live.units("window", now, _own_hall(principal, hall))
        return {"as_of": now.isoformat(), "hall_id": hall, "windows": windows}

    @api.get("/v1/halls/{hall}/records")
    def get_records(principal: Reader, hall: str, type: str | None = None,
                    referred: bool = False, limit: int = Query(100, ge=1, le=1000)
                    ) -> dict[str, Any]:
        """A hall's records, newest first: first inquiries and referrals, liaison reports,
        comment-book and appeal-register entries, the bureau's inspections (``type``: one
        of them; ``referred=true``: only inquiries referred elsewhere), with the count of
        each kind. A hall key reads its own hall only."""
        if type is not None and type not in RECORD_TYPES:
            raise InvalidEvent(f"must be one of {', '.join(RECORD_TYPES)}", "type")
        kinds = (type,) if type else RECORD_TYPES
        return records(views.client, _own_hall(principal, hall) or hall, kinds, referred,
                       limit)

    @api.get("/v1/cases")
    def get_cases(principal: Reader, hall: str | None = None, window: str | None = None,
                  light: str | None = None, status: str | None = None,
                  matter: str | None = None, cursor: str | None = None,
                  limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        """A page of cases in case-number order; pass ``next`` back as ``cursor``."""
        if light is not None and light not in LIGHTS:
            raise InvalidEvent(f"must be one of {', '.join(LIGHTS)}", "light")
        if status is not None and status not in STATUSES:
            raise InvalidEvent(f"must be one of {', '.join(STATUSES)}", "status")
        if cursor is not None:
            try:
                decode_cursor(cursor)
            except ValueError as error:
                raise InvalidEvent(str(error), "cursor") from None
        filters = {k: v for k, v in (("hall", _own_hall(principal, hall)), ("window", window),
                                     ("light", light), ("status", status),
                                     ("matter", matter)) if v is not None}
        return live.cases(clock(), filters, cursor, limit)

    return api
