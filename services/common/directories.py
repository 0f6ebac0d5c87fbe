"""Directory versions loaded by the bureau, as recorded in an application's own store
(the hall store where the bureau loads them, the supervision store that judges by them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from hallwatch.directory import DirectoryVersions, version_of


def pending(app: Application[Any], document: dict[str, Any], version: str, loaded_by: str,
            at: datetime) -> DirectoryVersions:
    """The app's directory aggregate with this load as a pending event; the caller saves."""
    ident = DirectoryVersions.create_id()
    if ident in app.repository:
        versions: DirectoryVersions = app.repository.get(ident)
        versions.reload(document=document, directory_version=version, loaded_by=loaded_by,
                        loaded_at=at.isoformat())
        return versions
    return DirectoryVersions(document=document, directory_version=version, loaded_by=loaded_by,
                             loaded_at=at.isoformat())


def record(app: Application[Any], document: dict[str, Any], loaded_by: str, at: datetime
           ) -> str:
    """Record a checked document as the next directory version; returns that version."""
    version = version_of(document)
    app.save(pending(app, document, version, loaded_by, at))
    return version
