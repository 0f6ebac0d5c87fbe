"""Background loops (relays, consumers, the judge) that survive failures and say so.

A round that raises is logged and retried with exponential back-off, never ending the
thread; ``/healthz`` answers 503 while any worker is failing repeatedly or has stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from services.common import metrics

log = logging.getLogger(__name__)
UNHEALTHY_AFTER = 3  # consecutive failed rounds
MAX_BACKOFF = 30.0


class Worker:
    running: ClassVar[list[Worker]] = []

    def __init__(self, name: str, step: Callable[[], Any], stop: threading.Event,
                 idle_seconds: float) -> None:
        """``step`` runs one round and returns something truthy if it found work."""
        self.name = name
        self.step = step
        self.stop = stop
        self.idle = idle_seconds
        self.failures = 0
        self.last_error = ""
        self.thread: threading.Thread | None = None
        metrics.worker_started(name)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                busy = self.step()
            except Exception as error:  # a round failed; the worker must not die of it
                self.failures += 1
                metrics.worker_failed(self.name)
                said = f"{type(error).__name__}: {error}"
                if self.failures == 1 or said != self.last_error:
                    log.exception("%s: round failed (%d in a row)", self.name, self.failures)
                else:  # the same failure again: said once; /healthz and metrics keep count
                    log.debug("%s: round failed again (%d in a row): %s", self.name,
                              self.failures, said)
                self.last_error = said
                self.stop.wait(min(MAX_BACKOFF, self.idle * 2 ** self.failures))
                continue
            if self.failures:
                log.info("%s: recovered after %d failed rounds", self.name, self.failures)
            self.failures = 0
            if not busy:
                self.stop.wait(self.idle)

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.thread.start()
        Worker.running.append(self)
        return self.thread

    def state(self) -> dict[str, Any]:
        alive = bool(self.thread and self.thread.is_alive())
        return {"name": self.name, "alive": alive, "failures": self.failures,
                "last_error": self.last_error,
                "healthy": alive and self.failures < UNHEALTHY_AFTER}


def health() -> tuple[bool, list[dict[str, Any]]]:
    """Every started worker of this process that has not been asked to stop."""
    states = [w.state() for w in Worker.running if not w.stop.is_set()]
    return all(s["healthy"] for s in states), states

