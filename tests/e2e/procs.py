"""Running hallwatch services as real OS processes, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class Service:
    """One ``hallwatch <command>`` process with its own log file."""

    def __init__(self, command: str, env: dict[str, str], log_dir: Path,
                 port: int | None = None) -> None:
        self.command = command
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")},
                    **env}
        self.port = port
        self.log = log_dir / f"{command}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        args = [sys.executable, "-m", "services.cli", self.command]
        if self.port:
            args += ["--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)
        if self.port:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited:\n{self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.command} not healthy:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the crash case, no clean shutdown."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def call(url: str, method: str, key: str, body: Any = None,
         content_type: str = "application/cloudevents+json") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else (
        json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def post_event(url: str, body: dict[str, Any], key: str) -> int:
    """POST one hall event; it must be stored (201) or already stored (200)."""
    status, answer = call(f"{url}/v1/events", "POST", key, body)
    assert status in (200, 201), answer
    return status


def wait_for(check, timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``check`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def dump_views(chdb_dir: Path) -> dict[str, Any]:
    """The views' rows, read by a separate process (one process per chDB directory)."""
    out = subprocess.run([sys.executable, "-m", "tests.e2e.dump_views", str(chdb_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


__all__ = ["Service", "call", "cpu_seconds", "dump_views", "free_port", "post_event", "wait_for"]
