"""HTTP for the benchmark: servers as child processes (run by uvicorn exactly as
``hallwatch`` runs them) and a load client of concurrent, kept-alive connections.

The client is plain ``http.client`` (what ``hallwatch simulate``'s sender uses) on one
thread per concurrent client; the empty endpoint is measured with the very same client,
so the HTTP ceiling includes the client's own cost as every system figure does.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.simulator.embedded import stop_process

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A child process serving HTTP on ``port``; ``start`` returns once ``health``
    answers (any status below 500)."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    health: str = "/healthz"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")}
        env.update(self.env)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [PYTHON, *self.argv, "--port", str(self.port)], env=env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); "
                                   f"see {self.log}:\n{tail(self.log)}")
            try:
                urllib.request.urlopen(self.url + self.health, timeout=2)
                return self
            except urllib.error.HTTPError as answered:
                if answered.code < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f}s; see {self.log}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mb(self) -> float:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Client:
    """One kept-alive connection (one concurrent client)."""

    def __init__(self, url: str, timeout: float = 60) -> None:
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in range(3):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(self.host, self.port,
                                                                 timeout=self.timeout)
                self.connection.request(method, path, body, headers or {})
                response = self.connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Load:
    """What a load run did: requests answered, by status, their latencies, the time."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def ok(self, statuses: tuple[int, ...] = (200, 201)) -> int:
        return sum(n for s, n in self.statuses.items() if s in statuses)


Request = Callable[[int, int], tuple[str, str, bytes | None, dict[str, str]]]


def closed_loop(url: str, request: Request, clients: int, seconds: float,
                requests: int | None = None) -> Load:
    """``clients`` threads, each sending ``request(client, n)`` one after the other for
    ``seconds`` (or until ``requests`` in all were sent). ``request`` answers
    (method, path, body, headers)."""
    load = Load()
    lock = threading.Lock()
    counter = iter(range(requests if requests is not None else 1 << 62))
    go = threading.Barrier(clients + 1)
    deadline = [0.0]

    def run(index: int) -> None:
        client = Client(url)
        mine: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        try:
            go.wait()
            while time.perf_counter() < deadline[0]:
                with lock:
                    n = next(counter, None)
                if n is None:
                    break
                method, path, body, headers = request(index, n)
                began = time.perf_counter()
                try:
                    status, _ = client.request(method, path, body, headers)
                except (OSError, http.client.HTTPException):
                    errors += 1
                    continue
                mine.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            client.close()
            with lock:
                load.latencies.extend(mine)
                load.requests += len(mine)
                load.errors += errors
                for status, count in statuses.items():
                    load.statuses[status] = load.statuses.get(status, 0) + count

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    go.wait()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - began
    return load


def get_json(url: str, path: str, key: str) -> tuple[int, Any]:
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
