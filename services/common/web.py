"""Assembles one FastAPI app from the routers of the services a process runs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.common import http


def create_app(*routers: APIRouter) -> FastAPI:
    app = FastAPI(title="hallwatch", version="1")
    http.install(app)
    for router in routers:
        app.include_router(router)
    return app
