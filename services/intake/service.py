"""Wires the intake service: the event store and its HTTP routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter

from services.common.auth import Keyring
from services.common.settings import Settings
from services.intake import api
from services.intake.store import HallStore


@dataclass
class Intake:
    store: HallStore
    router: APIRouter
    store_settings: Settings


def build(settings: Settings, clock: Callable[[], datetime] | None = None) -> Intake:
    store = HallStore(settings, clock or settings.now())
    return Intake(store, api.router(store, Keyring.of(settings),
                                         settings.time_floor), settings)
