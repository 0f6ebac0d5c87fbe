"""The log chain: one keyed hash chain across the whole event log, in log order.

Each case has its own chain (``hallwatch.case.link``); that cannot see a case's last event
deleted, or the newest events of the log cut off. The log chain links every stored event
at its log position to the one before it:

    link(n) = HMAC-SHA256(key, link(n-1) ‖ position ‖ stream ‖ version ‖ topic
                                 ‖ SHA-256(stored bytes))

so changing, deleting, inserting or swapping any stored row changes every link from it on.
The newest link (the head) is published outside the database (Kafka, ClickHouse); a log
that no longer reaches a published head, or reaches it with another link, was cut or
rewritten. The stored bytes are hashed as stored (encrypted), so checking needs no
decryption and a row nobody can decrypt is still judged. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GENESIS = "0" * 64


@dataclass(frozen=True)
class Row:
    """One stored event as the log holds it."""

    position: int
    stream: str
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class Sealed:
    """A recorded link: the chain's value at a position."""

    position: int
    link: str


@dataclass(frozen=True)
class Break:
    """The first broken link and what is wrong with it."""

    position: int
    reason: str


@dataclass(frozen=True)
class Verdict:
    verified: bool
    checked: int  # sealed links recomputed and equal
    head: Sealed | None  # the last good link
    unsealed: int  # stored events after the last sealed link (not yet linked)
    broken: Break | None

    def as_dict(self) -> dict[str, object]:
        return {"verified": self.verified, "checked": self.checked,
                "head": None if self.head is None else {"position": self.head.position,
                                                         "link": self.head.link},
                "unsealed": self.unsealed,
                "broken": None if self.broken is None else {
                    "position": self.broken.position, "reason": self.broken.reason}}


def link(key: bytes, previous: str, row: Row) -> str:
    """The link of ``row`` following ``previous``."""
    body = hashlib.sha256(row.state).hexdigest()
    text = f"{previous}|{row.position}|{row.stream}|{row.version}|{row.topic}|{body}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def seal(key: bytes, previous: str, rows: Iterable[Row]) -> Iterator[Sealed]:
    """Links for ``rows`` (in log order) continuing from ``previous``."""
    for row in rows:
        previous = link(key, previous, row)
        yield Sealed(row.position, previous)


def verify(key: bytes, rows: Iterable[Row], sealed: Iterable[Sealed],
           published: Iterable[Sealed] = ()) -> Verdict:
    """Recompute the chain over ``rows`` and compare it with the ``sealed`` links (both in
    log order) and with heads ``published`` outside the database; name the first break.

    Stored events past the last sealed link are counted as unsealed, not judged: the
    sealer links them moments after they are saved.
    """
    rows_iter, sealed_list = iter(rows), list(sealed)
    previous, checked, head = GENESIS, 0, None
    pending: Row | None = next(rows_iter, None)
    for mark in sealed_list:
        if pending is not None and pending.position < mark.position:
            return Verdict(False, checked, head, 0, Break(
                pending.position, "a stored event that the chain does not link "
                                  "(inserted, or moved from another position)"))
        if pending is None or pending.position > mark.position:
            return Verdict(False, checked, head, 0, Break(
                mark.position, "the event linked at this position is missing (deleted)"))
        expected = link(key, previous, pending)
        if not hmac.compare_digest(expected, mark.link):
            return Verdict(False, checked, head, 0, Break(
                mark.position, "the stored event differs from the one linked "
                               "(edited, corrupted or swapped)"))
        previous, checked, head = mark.link, checked + 1, mark
        pending = next(rows_iter, None)
    unsealed = 0 if pending is None else 1 + sum(1 for _ in rows_iter)
    known = {mark.position: mark.link for mark in sealed_list}
    for out in sorted(published, key=lambda s: s.position):
        mine = known.get(out.position)
        if mine is None:
            return Verdict(False, checked, head, unsealed, Break(
                out.position, "a published head is no longer in the log "
                              "(the newest events were deleted or the log truncated)"))
        if not hmac.compare_digest(mine, out.link):
            return Verdict(False, checked, head, unsealed, Break(
                out.position, "the log no longer matches a published head (rewritten)"))
    return Verdict(True, checked, head, unsealed, None)
