"""Publishing bulletins: a small event-sourced application with a store of its own.

Publishing freezes a bulletin: its JSON, HTML and PDF bytes are recorded in the
``bulletin.published`` event (``Publication.Published``) with the period, the scope, the
log positions the figures were computed at, the SHA-256 of each format, the document
number (文号) and who published it. A published bulletin answers the same bytes forever,
whatever arrives later. Publishing the same period and scope again is a revision: it
names the publication it revises and every figure that changed since.

Document numbers count per year of issue in a register aggregate saved atomically with
the publication, so two bureaus publishing at once never share a number (the loser of
the optimistic-concurrency race retries with the next one).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import NAMESPACE
from hallwatch.errors import ImpossibleSequence, NotFound
from services.common import storage
from services.common.settings import Settings
from services.projections.figures import COUNT_KEYS

FORMATS = ("json", "html", "pdf")
DOCUMENT_PREFIX = "政务监察通报"
ATTEMPTS = 20

Render = Callable[[dict[str, Any], str, str], bytes]  # report, format, document number


class Register(Aggregate):
    """The document numbers of one year of issue."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid5(NAMESPACE, f"bulletin-register/{year}")

    @event("Opened")
    def __init__(self, year: int) -> None:
        self.year = year
        self.last = 0

    @event("NumberAssigned")
    def assign(self, number: int) -> None:
        self.last = number


class Publication(Aggregate):
    """A published bulletin (bulletin.published)."""

    @staticmethod
    def create_id(document_no: str) -> UUID:
        return uuid5(NAMESPACE, "bulletin/" + document_no)

    @event("Published")
    def __init__(self, document_no: str, period: str, scope: str, positions: dict[str, int],
                 hashes: dict[str, str], documents: dict[str, str], published_by: str,
                 published_at: str, revises: str | None, changes: list[dict[str, Any]]
                 ) -> None:
        self.document_no = document_no
        self.period = period
        self.scope = scope
        self.positions = positions
        self.hashes = hashes
        self.documents = documents  # format -> base64 of the bytes
        self.published_by = published_by
        self.published_at = published_at
        self.revises = revises
        self.changes = changes

    def record(self) -> dict[str, Any]:
        """What was published, without the bytes."""
        return {"id": str(self.id), "document_no": self.document_no, "period": self.period,
                "scope": self.scope, "positions": self.positions, "sha256": self.hashes,
                "published_by": self.published_by, "published_at": self.published_at,
                "revises": self.revises, "changes": self.changes}

    def content(self, kind: str) -> bytes:
        return base64.b64decode(self.documents[kind])


def publishing_env(settings: Settings) -> dict[str, str]:
    """The hall store's kind of database; SQLite gets a file of its own. Compressed: the
    bytes of three documents travel in each publication."""
    env = {**storage.store_env(settings),
           "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    if urlparse(settings.store_url).scheme == "sqlite":
        env["SQLITE_DBNAME"] = str((settings.data_dir / "bulletins.db").resolve())
    return env


def changed_figures(before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]
                    ) -> list[dict[str, Any]]:
    """Every count that differs between two bulletins of one period and scope, per row."""
    def index(report: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
        return {tuple(str(r[k]) for k in keys): r for r in report["rows"]}

    old, new = index(before), index(after)
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        for figure in COUNT_KEYS:
            if a.get(figure, 0) != b.get(figure, 0):
                out.append({**dict(zip(keys, key, strict=True)), "figure": figure,
                            "before": a.get(figure, 0), "after": b.get(figure, 0)})
    return out


class Publications(Application[UUID]):
    name = "Bulletins"

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        if settings.store_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(env=publishing_env(settings))
        self.clock = clock

    def construct_recorder(self) -> Any:
        with storage.schema_lock(self.env):  # other processes may create tables now
            return super().construct_recorder()

    def publish(self, report: dict[str, Any], keys: tuple[str, ...], by: str,
                render: Render) -> dict[str, Any]:
        """Freeze ``report`` under the next document number; returns the record."""
        def attempt() -> dict[str, Any]:
            now = self.clock().astimezone(CHINA_TZ)
            latest = self.latest(report["period"]["name"], report["scope"])
            changes: list[dict[str, Any]] = []
            if latest is not None:
                earlier = json.loads(latest.content("json"))
                changes = changed_figures(earlier, report, keys)
                if not changes:
                    raise ImpossibleSequence(
                        f"nothing changed since {latest.document_no} (id {latest.id}); "
                        "it stays the published bulletin", "period")
            register = self._register(now.year)
            number = register.last + 1
            register.assign(number)
            document_no = f"{DOCUMENT_PREFIX}〔{now.year}〕{number}号"
            frozen = {**report, "document_no": document_no,
                      "revises": str(latest.id) if latest else None, "changes": changes}
            documents = {kind: render(frozen, kind, document_no) for kind in FORMATS}
            publication = Publication(
                document_no=document_no, period=report["period"]["name"],
                scope=report["scope"], positions=report["positions"],
                hashes={k: hashlib.sha256(v).hexdigest() for k, v in documents.items()},
                documents={k: base64.b64encode(v).decode() for k, v in documents.items()},
                published_by=by, published_at=now.isoformat(),
                revises=str(latest.id) if latest else None, changes=changes)
            self.save(register, publication)
            return publication.record()
        return storage.retrying(attempt, ATTEMPTS, 0.01)

    def _register(self, year: int) -> Register:
        try:
            register: Register = self.repository.get(Register.create_id(year))
        except AggregateNotFoundError:
            register = Register(year)
        return register

    def get(self, ident: UUID) -> Publication:
        try:
            publication: Publication = self.repository.get(ident)
        except AggregateNotFoundError:
            raise NotFound(f"no bulletin was published with id {ident}", "id") from None
        if not isinstance(publication, Publication):
            raise NotFound(f"no bulletin was published with id {ident}", "id")
        return publication

    def records(self, period: str | None = None, scope: str | None = None
                ) -> list[dict[str, Any]]:
        """Every publication (oldest first), optionally of one period and scope."""
        out = []
        for notification in self._published():
            publication = self.get(notification.originator_id)
            if period not in (None, publication.period) or scope not in (None,
                                                                         publication.scope):
                continue
            out.append(publication.record())
        return out

    def latest(self, period: str, scope: str) -> Publication | None:
        found = None
        for notification in self._published():
            publication = self.get(notification.originator_id)
            if (publication.period, publication.scope) == (period, scope):
                found = publication
        return found

    def _published(self) -> list[Any]:
        notifications = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 500)
            notifications += [n for n in page if n.topic.endswith("Publication.Published")]
            if len(page) < 500:
                return notifications
            start = page[-1].id + 1
