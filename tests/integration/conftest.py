"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.common.auth import Keyring
from services.common.web import create_app
from services.intake.service import build


@pytest.fixture(params=["sqlite", "postgresql"])
def intake(request, clock):
    """The intake service on each kind of event store."""
    settings = request.getfixturevalue("settings" if request.param == "sqlite"
                                       else "pg_settings")
    service = build(settings, clock)
    yield service
    service.store.close()


@pytest.fixture
def client(intake):
    return TestClient(create_app(intake.router, keys=Keyring(intake.store_settings.key_specs)))



@pytest.fixture(scope="session")
def document_tools():
    """Fonts, Pango and poppler for bulletin PDFs (installed with apt when missing)."""
    from tests.documents import ensure_document_tools

    ensure_document_tools()
