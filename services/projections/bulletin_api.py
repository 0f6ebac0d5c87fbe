"""HTTP routes of the bulletins: named periods, the document forms, the older from/to form."""

# No `from __future__ import annotations`: FastAPI must see the dependencies in the
# signatures as objects, not strings naming local aliases.

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hallwatch.errors import InvalidEvent
from services.common.auth import Keyring, Principal
from services.common.http import bounded_date
from services.projections import live_api, periods
from services.projections.bulletin import KEYS, SCOPES, Bulletins, UnknownScope
from services.projections.publishing import Publications
from services.projections.views import Views

FORMATS = {"json": "application/json", "html": "text/html; charset=utf-8",
           "pdf": "application/pdf"}


def router(views: Views, keys: Keyring, clock: Callable[[], datetime],
           bulletins: Bulletins | None = None, floor: date = date(2000, 1, 1)) -> APIRouter:
    """``floor``: the earliest day the older from/to form may name."""
    api = APIRouter(tags=["bulletins"])
    Official = Annotated[Principal, Depends(keys.requires("bureau", "auditor"))]
    bulletins = bulletins or Bulletins(views.client)
    api.include_router(live_api.router(views, keys, clock))  # the dashboard's live views

    def compute(period: periods.Period, scope: str) -> dict[str, Any]:
        if scope not in SCOPES:
            raise InvalidEvent(f"must be one of {', '.join(SCOPES)}", "scope")
        try:
            return bulletins.bulletin(period, scope, clock())
        except UnknownScope as error:
            raise InvalidEvent(str(error), "scope") from None

    @api.get("/v1/bulletins")
    def get_bulletin_range(_principal: Official, start: str = Query(..., alias="from"),
                           end: str = Query(..., alias="to"), by: str = "hall") -> dict[str, Any]:
        """定期通报 for [from, to) (dates, +08:00), per scope (``by``). Whole weeks, months,
        quarters, halves and years are the named period of the same span."""
        first, stop = bounded_date(start, "from", floor), bounded_date(end, "to", floor)
        if not first < stop or (stop - first).days > 366:
            raise InvalidEvent("must be after from, and at most 366 days later", "to")
        if by not in SCOPES:
            raise InvalidEvent(f"must be one of {', '.join(SCOPES)}", "by")
        return compute(periods.range_period(first, stop), by)

    @api.get("/v1/bulletins/{period}")
    def get_bulletin(_principal: Official, period: str, scope: str = "hall",
                     format: str | None = None, accept: str | None = Header(None)) -> Response:
        """The bulletin of a named period: JSON, or the document (``Accept: text/html`` or
        ``application/pdf``, or ``?format=json|html|pdf``)."""
        named = _period(period)
        kind = _format(format, accept)
        report = compute(named, scope)
        body = render(report, kind)
        return Response(body, media_type=FORMATS[kind])

    return api


def publishing_router(views: Views, keys: Keyring, clock: Callable[[], datetime],
                      publications: Publications, bulletins: Bulletins | None = None
                      ) -> APIRouter:
    """Publishing (bureau) and reading published bulletins, byte for byte. Included
    before :func:`router`: ``/v1/bulletins/published`` is not a period."""
    api = APIRouter(tags=["bulletins"])
    Bureau = Annotated[Principal, Depends(keys.requires("bureau"))]
    Reader = Annotated[Principal, Depends(keys.requires("bureau", "auditor", "hall"))]
    bulletins = bulletins or Bulletins(views.client)

    @api.post("/v1/bulletins/{period}:publish", status_code=201)
    async def publish(principal: Bureau, period: str, scope: str = "hall") -> dict[str, Any]:
        """Freeze the bulletin of ``period`` per ``scope`` as it stands now, under the next
        document number (a revision if that period and scope were published before)."""
        named = _period(period)
        if scope not in SCOPES:
            raise InvalidEvent(f"must be one of {', '.join(SCOPES)}", "scope")

        def work() -> dict[str, Any]:
            try:
                report = bulletins.bulletin(named, scope, clock())
            except UnknownScope as error:
                raise InvalidEvent(str(error), "scope") from None
            return publications.publish(report, KEYS[scope], principal.id, _render)
        return await run_in_threadpool(work)

    @api.get("/v1/bulletins/{period}/publications")
    def list_publications(_principal: Reader, period: str, scope: str | None = None
                          ) -> dict[str, Any]:
        """What was published for ``period`` (every scope, or one), oldest first."""
        records = publications.records(_period(period).name, scope)
        return {"publications": records, "count": len(records)}

    @api.get("/v1/bulletins/published")
    def list_published(_principal: Reader, period: str | None = None,
                       scope: str | None = None) -> dict[str, Any]:
        """Every published bulletin, newest first (optionally of one ``period`` and
        ``scope``), each with the links to its frozen bytes in every format."""
        records = publications.records(_period(period).name if period else None, scope)
        listed = [{**record, "links": {kind: f"/v1/bulletins/published/{record['id']}"
                                             f"?format={kind}" for kind in FORMATS}}
                  for record in reversed(records)]
        return {"publications": listed, "count": len(listed)}

    @api.get("/v1/bulletins/published/{ident}")
    def get_published(_principal: Reader, ident: str, format: str | None = None,
                      accept: str | None = Header(None)) -> Response:
        """The published bytes, in the format asked for (JSON by default)."""
        try:
            key = UUID(ident)
        except ValueError:
            raise InvalidEvent(f"{ident!r} is not a publication id", "id") from None
        publication = publications.get(key)
        kind = _format(format, accept)
        return Response(publication.content(kind), media_type=FORMATS[kind],
                        headers={"ETag": f'"{publication.hashes[kind]}"'})

    return api


def render(report: dict[str, Any], kind: str) -> bytes:
    """The bulletin in one format (json, html or pdf) as bytes."""
    from services.projections import document

    return document.render(report, kind)


def _render(report: dict[str, Any], kind: str, document_no: str) -> bytes:
    from services.projections import document

    return document.render(report, kind, document_no)


def _period(text: str) -> periods.Period:
    try:
        return periods.parse(text)
    except ValueError as error:
        raise InvalidEvent(str(error), "period") from None


def _format(query: str | None, accept: str | None) -> str:
    if query is not None:
        if query not in FORMATS:
            raise InvalidEvent(f"must be one of {', '.join(FORMATS)}", "format")
        return query
    wanted = (accept or "").lower()
    if "application/pdf" in wanted:
        return "pdf"
    if "text/html" in wanted:
        return "html"
    return "json"

