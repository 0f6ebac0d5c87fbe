"""The consumer loop shared by projections and supervision: poll, handle, commit.

A round that fails anywhere between poll and commit rewinds its source before the error
goes on to the worker (which logs it and backs off): the next poll re-reads the failed
batch from the recorded position, so no message is ever skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from services.common.messages import Message
from services.common.sources import Source


def consume_once(sources: list[Source], handle: Callable[[list[Message]], None],
                 batch_size: int, poll_seconds: float) -> int:
    """One round over every source, waiting at most ``poll_seconds`` in all: a batch is
    committed only after ``handle`` returned. Returns how many messages were handled."""
    handled = 0
    for source in sources:
        batch = source.poll(batch_size, poll_seconds / len(sources))
        if not batch:
            continue
        try:
            handle(batch)
            source.commit(batch)
        except BaseException:
            source.rewind(batch)
            raise
        handled += len(batch)
    return handled
