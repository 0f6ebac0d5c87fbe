"""Audit routes: verifying the whole log's chain (or one case's), for auditors and the
bureau. A tampered store is an answer here (``verified: false`` and the first broken
link), never an error."""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations.
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hallwatch.errors import InvalidEvent, NotFound
from services.common.auth import Keyring, Principal
from services.common.http import decode_cursor, documented, encode_cursor
from services.intake import dossier, heads
from services.intake.store import HallStore
from services.projections.views import Views


class Link(BaseModel):
    position: int = Field(description="the event's position in the log")
    link: str = Field(description="HMAC-SHA256 chain value at that position")


class BrokenLink(BaseModel):
    position: int = Field(description="log position of the first broken link")
    sequence: int | None = Field(None, description="the case's event number (case checks)")
    reason: str


class Verification(BaseModel):
    scope: str = Field(description="'log' (the whole event log) or the case number")
    verified: bool
    checked: int = Field(description="links recomputed and found equal")
    head: Link | None = Field(description="the last good link")
    unsealed: int = Field(description="events stored after the last link (linked moments "
                                      "after saving; not judged yet)")
    published_heads: int = Field(description="heads published outside the database "
                                             "(ClickHouse) that were compared")
    broken: BrokenLink | None


class Read(BaseModel):
    id: int
    principal: str = Field(description="the auditor's key name")
    case_no: str
    reason: str
    what: str = Field(description="what was read (history, dossier)")
    read_at: str


class Reads(BaseModel):
    reads: list[Read]
    next: str | None = Field(description="cursor of the next page; null on the last")


def verify_log(store: HallStore, clickhouse: Any) -> Verification:
    """The whole log against its links and every head published in ClickHouse."""
    out = heads.published(clickhouse) if clickhouse is not None else []
    verdict = store.log_chain.verify(out).as_dict()
    return Verification(scope="log", published_heads=len(out), **verdict)  # type: ignore[arg-type]


def verify_case(store: HallStore, case_no: str) -> Verification:
    """One case: its own chain and its events' links in the log chain."""
    history = store.history(case_no, None, unmasked=False)
    sequence = history["broken_at_sequence"]
    broken = None
    if sequence is not None:
        positions = dict((v, p) for p, v in store.log_chain.stream_marks(
            _case_uuid(case_no)))
        broken = BrokenLink(position=positions.get(sequence, 0), sequence=sequence,
                            reason=history["broken_reason"] or "broken")
    last = history["events"][-1] if history["events"] else None
    head = Link(position=last["position"], link=last["chain"]) if last and not broken else None
    return Verification(scope=case_no, verified=broken is None,
                        checked=len(history["events"]), head=head, unsealed=0,
                        published_heads=0, broken=broken)


def verify_command(settings: Any, case_no: str | None) -> int:
    """``hallwatch verify``: print the verdict as JSON; 0 if verified, 1 if not."""
    import json

    from services.common.clickhouse import connect

    store = HallStore(settings, settings.now())
    try:
        if case_no:
            verdict = verify_case(store, case_no)
        else:
            try:
                clickhouse = connect(settings.clickhouse_url)
            except Exception as error:  # e.g. chDB held by a running server
                print(f"published heads not compared: {error}", file=sys.stderr)
                clickhouse = None
            verdict = verify_log(store, clickhouse)
    except NotFound as error:
        print(error, file=sys.stderr)
        return 2
    finally:
        store.close()
    print(json.dumps(verdict.model_dump(), ensure_ascii=False, indent=2))
    return 0 if verdict.verified else 1


def _case_uuid(case_no: str) -> Any:
    from hallwatch.case import case_id

    return case_id(case_no)


def router(store: HallStore, keys: Keyring, clickhouse: Callable[[], Any]) -> APIRouter:
    """``clickhouse``: the client holding the published heads (None: compare none)."""
    api = APIRouter(tags=["audit"])
    Reader = Annotated[Principal, Depends(keys.requires("auditor", "bureau"))]

    @api.get("/v1/audit/verify", response_model=Verification,
             responses=documented(403, 404, 422))
    async def get_verify(principal: Reader, case: str | None = None) -> Verification:
        """Auditors and the bureau recheck the chain across the whole event log (each
        stored event's link, and every head published in ClickHouse), or one ``case``;
        the answer names the first broken link."""
        if case is not None:
            return await run_in_threadpool(verify_case, store, case)
        return await run_in_threadpool(verify_log, store, clickhouse())

    @api.get("/v1/audit/reads", response_model=Reads, responses=documented(403, 422))
    def get_reads(principal: Annotated[Principal, Depends(keys.requires("bureau"))],
                  case: str | None = None, cursor: str | None = None,
                  limit: int = Query(500, ge=1, le=10_000)) -> Reads:
        """The bureau sees every clear read of personal data by auditors (who, which case,
        when, why), oldest first, in pages of ``limit`` from ``cursor``."""
        after = decode_cursor(cursor, int)[0] if cursor else 0
        rows = store.reads.page(case, after, limit + 1)
        page = rows[:limit]
        return Reads(reads=[Read(**r) for r in page],
                     next=encode_cursor(page[-1]["id"]) if len(rows) > limit else None)

    @api.get("/v1/cases/{case_no}/dossier", response_model=None,
             responses={200: {"description": "the dossier",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "text/html": {"schema": {"type": "string"}},
                                          "application/pdf": {"schema": {
                                              "type": "string", "format": "binary"}}}},
                        **documented(403, 404, 422)})
    async def get_dossier(case_no: str, request: Request, principal: Reader,
                    format: str | None = Query(None, pattern="^(json|html|pdf)$"),
                    reason: str | None = Query(None, min_length=4, max_length=500)
                    ) -> Response:
        """A case's dossier (auditor: personal data in clear, ``reason`` required and the
        read recorded; bureau: masked): timeline, deadline with calendar versions, alerts
        with their lifecycle, the hash proof and how to recheck it. JSON, HTML or PDF
        (``format``, else the Accept header)."""
        auditor = principal.role == "auditor"
        if auditor and reason is None:
            raise InvalidEvent("an auditor reading personal data in clear must say why",
                               "reason")
        client = clickhouse()
        found = (await run_in_threadpool(Views(client).alerts, {"case": case_no})
                 if client is not None else [])
        data = await run_in_threadpool(dossier.build, store, case_no, found, principal.id,
                                       auditor, store.clock())
        if auditor and reason is not None:  # recorded before answered
            store.reads.record(principal.id, case_no, reason, "dossier", store.clock())
        accept = request.headers.get("accept", "")
        wanted = format or ("pdf" if "application/pdf" in accept
                            else "html" if "text/html" in accept else "json")
        if wanted == "pdf":
            body = await run_in_threadpool(dossier.pdf, data)
            name = re.sub(r"[^A-Za-z0-9._-]", "_", case_no)
            return Response(body, media_type="application/pdf", headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="dossier-{name}.pdf"'})
        if wanted == "html":
            return HTMLResponse(dossier.html(data), headers={"Cache-Control": "no-store"})
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    return api
