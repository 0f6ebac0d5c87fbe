"""An embedded ``hallwatch serve`` as a child process, on an accelerated clock shared
with the simulator (the demo and ``hallwatch simulate`` without ``--target``)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from services.simulator.directory import Hall

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hall_keys(halls: list[Hall], prefix: str = "") -> dict[str, str]:
    """One key per hall: ``{prefix}-{hall}-key-0001`` (the demo's printed, local keys), or
    random secrets without a prefix."""
    if prefix:
        return {hall.id: f"{prefix}-{hall.id}-key-0001".ljust(16, "0") for hall in halls}
    return {hall.id: secrets.token_urlsafe(24) for hall in halls}


@dataclass
class EmbeddedServer:
    data_dir: Path
    clock: str
    keys: str  # HALLWATCH_KEYS
    port: int = 0
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedServer:
        """Starts the server and waits until it answers /healthz (or raises)."""
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")}
        env.update(HALLWATCH_DATA_DIR=str(self.data_dir), HALLWATCH_CLOCK=self.clock,
                   HALLWATCH_KEYS=self.keys)
        self.log = self.log or self.data_dir / "serve.log"
        with self.log.open("ab") as log:
            # Its own process group: a Ctrl-C at the terminal reaches the simulator, which
            # then stops the server cleanly, instead of killing both mid-write.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "--port", str(self.port)],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hallwatch serve exited; see {self.log}")
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"hallwatch serve did not answer in {START_SECONDS}s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Stop a child process: SIGTERM (a clean shutdown), SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)
