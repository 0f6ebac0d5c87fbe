"""Wires the intake service: the event store and its HTTP routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter

from services.common.auth import Keyring
from services.common.settings import Settings
from services.intake import api, directory
from services.intake.store import HallStore


@dataclass
class Intake:
    store: HallStore
    router: APIRouter
    store_settings: Settings


def build(settings: Settings, clock: Callable[[], datetime] | None = None) -> Intake:
    store = HallStore(settings, clock or settings.now())
    routes = api.router(store, Keyring(settings.key_specs), settings.time_floor)
    routes.include_router(directory.router(store, Keyring(settings.key_specs), store.clock))
    return Intake(store, routes, settings)
