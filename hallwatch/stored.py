"""How the domain's typed values are stored in events and snapshots.

Each typed value converts itself with ``as_dict``/``from_dict``; this registers those
as eventsourcing transcodings, so recorded events hold typed values and every
application that reads them (the hall store, supervision) gets the same types back.
Events recorded before a value was typed hold plain dicts: their classes upcast them.
"""

from __future__ import annotations

from typing import Any, Protocol

from eventsourcing.persistence import JSONTranscoder, Transcoding

from hallwatch.notify import Channel
from hallwatch.summary import CaseSummary
from hallwatch.watch import Clear, Finding, Timer, WatchState


class _Stored(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class AsDict(Transcoding):
    """Stores a typed value as its ``as_dict`` under ``name``."""

    def __init__(self, kind: type[Any], name: str) -> None:
        self.type = kind
        self.name = name
        self._from_dict = kind.from_dict

    def encode(self, obj: _Stored) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Any:
        return self._from_dict(data)


TRANSCODINGS = (
    AsDict(CaseSummary, "case_summary"),
    AsDict(WatchState, "watch_state"),
    AsDict(Timer, "watch_timer"),
    AsDict(Finding, "finding"),
    AsDict(Clear, "clear"),
    AsDict(Channel, "notify_channel"),
)


def register(transcoder: JSONTranscoder) -> None:
    for transcoding in TRANSCODINGS:
        transcoder.register(transcoding)
