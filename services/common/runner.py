"""The consumer loop shared by projections and supervision: poll, handle, commit."""

from __future__ import annotations

from collections.abc import Callable

from services.common.messages import Message
from services.common.sources import Source


def consume_once(sources: list[Source], handle: Callable[[list[Message]], None],
                 batch_size: int, poll_seconds: float) -> bool:
    """One round over every source: a batch is committed only after ``handle`` returned.
    True if any source had work."""
    busy = False
    for source in sources:
        batch = source.poll(batch_size, poll_seconds / len(sources))
        if batch:
            handle(batch)
            source.commit(batch)
            busy = True
    return busy
