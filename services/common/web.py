"""Assembles one FastAPI app from the routers of the services a process runs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from services.common import http
from services.common.auth import Keyring

DESCRIPTION = """Electronic supervision of government service halls.

Every route but `/healthz` and the documentation needs `Authorization: Bearer <key>`;
the roles each route admits are in its description. Errors are RFC 9457 problem details
(`application/problem+json`) with the field path and a Chinese message (`detail_zh`)."""


def create_app(*routers: APIRouter, keys: Keyring | None = None) -> FastAPI:
    """``keys`` opens /metrics and /v1/health to monitor and bureau keys; the docs'
    scripts and styles are served from this process (no CDN, works offline)."""
    app = FastAPIOffline(title="hallwatch", version="1", description=DESCRIPTION)
    http.install(app, keys)
    for router in routers:
        app.include_router(router)
    return app
