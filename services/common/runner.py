"""The consumer loop shared by projections and supervision: poll, handle, commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from services.common.messages import Message
from services.common.sources import Source

log = logging.getLogger(__name__)


def consume(sources: list[Source], handle: Callable[[list[Message]], None],
            stop: threading.Event, batch_size: int, poll_seconds: float) -> None:
    """Run until ``stop``: a batch is committed only after ``handle`` returned."""
    while not stop.is_set():
        busy = False
        for source in sources:
            batch = source.poll(batch_size, poll_seconds / len(sources))
            if batch:
                handle(batch)
                source.commit(batch)
                busy = True
        if not busy:
            stop.wait(poll_seconds)
