"""Faults from a seeded schedule, and the background PostgreSQL connection killer.

Every fault is undone by a later entry of the same schedule (a paused process is resumed,
a killed broker restarted, chDB made writable, a stopped instance started); killed
services come back by the System's keeper. ``rounds`` repeats the whole set of faults.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos.system import System

SERVICES = ("intake", "relay", "sup1", "sup2", "projections")
WITH_POSTGRES = ("intake", "relay", "sup1", "sup2", "sup3")
STORM_SECONDS = 8.0


@dataclass(order=True)
class Fault:
    at: float
    what: str = field(compare=False)
    target: str = field(compare=False, default="")


def schedule(seed: int, seconds: float, rounds: int) -> list[Fault]:
    """Every kind of fault, ``rounds`` times, at seeded moments within ``seconds``."""
    rng = random.Random(seed ^ 0x5EED)
    faults: list[Fault] = []
    span = seconds / rounds
    for r in range(rounds):
        lo = r * span

        def moment(lo: float = lo) -> float:
            return lo + rng.uniform(0.05, 0.75) * span

        for service in SERVICES:
            faults.append(Fault(moment(), "kill -9", service))
            at = moment()
            faults.append(Fault(at, "SIGSTOP", service))
            faults.append(Fault(at + rng.uniform(1, 4), "SIGCONT", service))
        # One broker per round, killed early enough to come back within the round.
        at = lo + rng.uniform(0.05, 0.4) * span
        broker = str(rng.randrange(3))
        faults.append(Fault(at, "broker kill", broker))
        faults.append(Fault(at + rng.uniform(3, 8), "broker restart", broker))
        faults.append(Fault(moment(), "postgres restart -m immediate"))
        at = moment()
        faults.append(Fault(at, "chdb read-only"))
        faults.append(Fault(at + rng.uniform(4, 10), "chdb writable"))
        at = moment()
        back = at + rng.uniform(5, 10)
        faults.append(Fault(at, "stop instance", "sup2"))
        faults.append(Fault(back, "start instance", "sup2"))
        # While the group rebalances and the instances catch up on what queued meanwhile
        # (big batches), cut their PostgreSQL connections every quarter second.
        faults.append(Fault(back, "postgres storm", "sup1"))
        faults.append(Fault(back + 1, "postgres storm", "sup2"))
        # Both supervision instances frozen while facts queue up, then thawed into a storm:
        # their first rounds judge big batches while their connections are being cut.
        at = moment()
        back = at + rng.uniform(5, 9)
        for name in ("sup1", "sup2"):
            faults.append(Fault(at, "SIGSTOP", name))
            faults.append(Fault(back, "SIGCONT", name))
            faults.append(Fault(back + 0.2, "postgres storm", name))
        at = moment()
        faults.append(Fault(at, "start instance", "sup3"))
        faults.append(Fault(at + rng.uniform(5, 10), "stop instance", "sup3"))
    return sorted(faults)


class Injector:
    """Runs a schedule against a System; also cuts one service's PostgreSQL connections
    every ``terminate_every`` seconds (a seeded choice of service)."""

    def __init__(self, system: System, faults: list[Fault], seed: int,
                 terminate_every: tuple[float, float] = (2.0, 4.0),
                 log: Callable[[str], None] = print) -> None:
        self.system = system
        self.faults = faults
        self.rng = random.Random(seed ^ 0xFA17)
        self.terminate_every = terminate_every
        self.log = log
        self.done: list[str] = []
        self.terminated = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._broker: threading.Thread | None = None

    def start(self) -> None:
        for target in (self._run_schedule, self._terminate_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        self._threads[0].join()
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join(timeout=30)
        if self._broker is not None:
            self._broker.join(timeout=120)

    def _run_schedule(self) -> None:
        started = time.monotonic()
        for fault in self.faults:
            wait = started + fault.at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self._apply(fault)
                self.done.append(f"{time.monotonic() - started:6.1f}s {fault.what} "
                                 f"{fault.target}".rstrip())
            except Exception as error:  # a fault that could not be applied is reported
                self.done.append(f"{fault.what} {fault.target}: FAILED {error!r}")
        self.log(f"faults done: {len(self.done)}")

    def _apply(self, fault: Fault) -> None:
        system, what, target = self.system, fault.what, fault.target
        if what == "kill -9":
            system.kill(target)
        elif what == "SIGSTOP":
            system.pause(target)
        elif what == "SIGCONT":
            system.resume(target)
        elif what == "broker kill":
            if self._broker is not None:
                self._broker.join()  # never two brokers down at once
            system.kafka.kill(int(target))
        elif what == "broker restart":
            self._broker = threading.Thread(target=self._restart_broker, args=(int(target),),
                                            daemon=True)
            self._broker.start()
        elif what == "postgres restart -m immediate":
            threading.Thread(target=self._background, args=(fault, system.pg.restart),
                             daemon=True).start()
        elif what == "chdb read-only":
            # Only a live process can fail a write (a dead one just fails to start).
            deadline = time.monotonic() + 60
            while not system.procs["projections"].serving() and time.monotonic() < deadline:
                time.sleep(0.2)
            system.break_chdb()
        elif what == "chdb writable":
            system.restore_chdb()
        elif what == "postgres storm":
            threading.Thread(target=self._storm, args=(target, STORM_SECONDS),
                             daemon=True).start()
        elif what == "stop instance":
            system.set_wanted(target, False)
        elif what == "start instance":
            system.set_wanted(target, True)
        else:
            raise ValueError(what)

    def _restart_broker(self, index: int) -> None:
        self._background(Fault(0, "broker restart", str(index)),
                         lambda: self.system.kafka.restart(index))

    def _background(self, fault: Fault, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as error:  # recorded; the end of the run restarts what is down
            self.done.append(f"{fault.what} {fault.target}: FAILED {error!r}"[:300])

    def _storm(self, service: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until and not self._stop.is_set():
            self.terminated += self.system.terminate_backends(service)
            time.sleep(0.25)

    def _terminate_loop(self) -> None:
        lo, hi = self.terminate_every
        while not self._stop.wait(self.rng.uniform(lo, hi)):
            self.terminated += self.system.terminate_backends(self.rng.choice(WITH_POSTGRES))
