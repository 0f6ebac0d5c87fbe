"""Loading the bureau's directory into the hall store: ``POST /v1/directory`` and the
``hallwatch directory load FILE`` command share :func:`check` and
:func:`services.common.directories.record`.

A document is checked against ``schemas/directory.schema.json`` and for consistency
(:func:`hallwatch.directory.consistency_problems`); the first problem is refused naming
its field (422), nothing stored. Each accepted load is a new event of the store's
:class:`~hallwatch.directory.DirectoryVersions`, relayed to every service like a calendar
year.
"""

# No `from __future__ import annotations`: FastAPI reads the dependency annotations.
import json
from pathlib import Path
from typing import Annotated, Any

from eventsourcing.application import Application
from fastapi import APIRouter, Depends, Request
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hallwatch.directory import DirectoryVersions, consistency_problems, masked_document
from hallwatch.errors import InvalidEvent, NotFound
from services.common.auth import Keyring, Principal
from services.common.directories import record
from services.common.http import documented
from services.intake.api import MAX_BATCH_BYTES, check_media, decode, read_body

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "directory.schema.json"
_validator = Draft202012Validator(json.loads(SCHEMA.read_text()),
                                  format_checker=FormatChecker())


def check(document: Any) -> dict[str, Any]:
    """The document if it is a valid, consistent directory; else InvalidEvent naming the
    field of the first problem (schema errors first, in document order)."""
    if not isinstance(document, dict):
        raise InvalidEvent("a directory is a JSON object", "")
    errors = sorted(_validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        raise InvalidEvent(first.message, ".".join(map(str, first.absolute_path)))
    problems = consistency_problems(document)
    if problems:
        field, _, reason = problems[0].partition(": ")
        raise InvalidEvent(reason, field)
    return document


class DirectoryLoaded(BaseModel):
    version: str = Field(description="the recorded version: the document's version and a "
                                     "digest of its content")
    halls: int
    windows: int
    matters: int


def router(app: Application[Any], keys: Keyring, clock: Any) -> APIRouter:
    api = APIRouter(tags=["directory"])

    @api.post("/v1/directory", status_code=201, response_model=DirectoryLoaded,
              responses=documented(400, 403, 413, 415, 422))
    async def load_directory(request: Request,
                             principal: Annotated[Principal,
                                                  Depends(keys.requires("bureau"))]
                             ) -> DirectoryLoaded:
        """The bureau loads a directory (schemas/directory.schema.json): halls, windows
        with their A/B posts, staff, the matter catalogue. Each load records a new
        version, relayed to every service; a malformed one is refused naming the field."""
        check_media(request.headers.get("content-type"), ("application/json",))
        document = check(decode(await read_body(request, MAX_BATCH_BYTES)))
        version = await run_in_threadpool(record, app, document, principal.id, clock())
        return DirectoryLoaded(version=version, halls=len(document["halls"]),
                               windows=sum(len(h["windows"]) for h in document["halls"]),
                               matters=len(document["matters"]))

    @api.get("/v1/directory", responses=documented(403, 404),
             response_description="the directory document, version as recorded")
    def get_directory(principal: Annotated[Principal,
                                           Depends(keys.requires("bureau", "auditor"))]
                      ) -> dict[str, Any]:
        """The current directory: staff names in clear for auditors, masked (张*) for
        the bureau."""
        ident = DirectoryVersions.create_id()
        if ident not in app.repository:
            raise NotFound("no directory has been loaded", "")
        versions: DirectoryVersions = app.repository.get(ident)
        document = {**versions.document, "version": versions.directory_version}
        return document if principal.role == "auditor" else masked_document(document)

    return api
