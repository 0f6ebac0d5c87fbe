"""The system under fault: PostgreSQL, a three-broker Kafka cluster and every hallwatch
service as its own OS process, kept running by a small supervisor (like systemd's
``Restart=always``) while faults are injected.

Each service connects to PostgreSQL as its own role, so ``pg_terminate_backend`` can cut
exactly one service's connections. Projections run as the unprivileged ``nobody`` user
(when the harness is root), so making its chDB directory read-only makes its ClickHouse
writes fail inside the live process — the failure a live consumer must survive without
skipping a batch. Supervision instances run on fixed clocks that move forward each time
an instance starts (an advancing clock in steps): cases left open go overdue while the
system runs, and the last restart puts every instance at ``clock_end``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import KEYS
from tests.servers import KafkaCluster, Postgres, free_port

ROOT = Path(__file__).resolve().parents[2]
HALL_PARTITIONS = 6
ALERT_PARTITIONS = 3
SUPERVISORS = ("sup1", "sup2", "sup3")  # sup3 only ever comes and goes (a rebalance)


def _unprivileged() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


class Proc:
    """One ``hallwatch <command>`` process; restarted by System while ``wanted``."""

    def __init__(self, name: str, command: str, env: dict[str, str], log_dir: Path,
                 port: int | None, user: pwd.struct_passwd | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.port = port
        self.user = user
        self.log = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.wanted = True
        self.starts = 0
        self.paused = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() and self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, **env: str) -> None:
        if self.alive():
            return
        self.env.update(env)
        args = [sys.executable, "-m", "services.cli", self.command]
        if self.port:
            args += ["--port", str(self.port)]
        if self.user is not None:
            args = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                    "--clear-groups", *args]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")}
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n==== start {self.starts}: {self.env.get('HALLWATCH_CLOCK')}\n".encode())
            log.flush()
            self.process = subprocess.Popen(args, env={**clean, **self.env}, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.paused = False

    def serving(self) -> bool:
        return self.alive() and (self.port is None or _answers(self.url + "/healthz"))

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            if self.port is None or _answers(self.url + "/healthz"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not serving:\n{self.log.read_text()[-3000:]}")

    def signal(self, signum: int) -> None:
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            if signum == signal.SIGSTOP:
                self.paused = True
            elif signum == signal.SIGCONT:
                self.paused = False

    def kill(self) -> None:
        """kill -9 (resumed first is not needed: SIGKILL ends a stopped process too)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.paused = False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            if self.paused:
                self.signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _answers(url: str) -> bool:
    """Any HTTP answer (200 or 503) counts: the process serves."""
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class System:
    """Everything started, kept alive, and stopped; faults act on its parts."""

    def __init__(self, base: Path, clock_start: datetime, clock_end: datetime,
                 clock_step: timedelta) -> None:
        self.base = base
        self.clock_start, self.clock_end, self.clock_step = clock_start, clock_end, clock_step
        self.clock_starts = 0
        self.pg = Postgres(base / "postgres")
        self.kafka = KafkaCluster(base / "kafka")
        tag = uuid.uuid4().hex[:8]
        self.hall_topic = f"hall.events.{tag}"
        self.alerts_topic = f"supervision.alerts.{tag}"
        self.group = f"chaos-{tag}"
        self.cipher_key = base64.b64encode(os.urandom(32)).decode()
        self.chdb_dir = base / "chdb"
        self.procs: dict[str, Proc] = {}
        self._nobody_dir: Path | None = None
        self.database = "chaos"
        self._keeper: threading.Thread | None = None
        self._stop = threading.Event()
        self.lock = threading.Lock()  # faults and the keeper never act on a process at once

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        self.pg.start()
        self.kafka.start()
        self.kafka.create_topic(self.hall_topic, HALL_PARTITIONS)
        self.kafka.create_topic(self.alerts_topic, ALERT_PARTITIONS)
        self.pg.create_database(self.database)
        logs = self.base / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        nobody = _unprivileged()
        home = self.base / "home"
        if nobody is not None:
            # Projections, as nobody, must reach its directories: a pytest tmp_path lies
            # below a root-only directory, so they live in a directory of their own.
            self._nobody_dir = Path(tempfile.mkdtemp(prefix="hallwatch-chaos-projections-"))
            self._nobody_dir.chmod(0o755)
            self.chdb_dir, home = self._nobody_dir / "chdb", self._nobody_dir / "home"
        for path in (self.chdb_dir, home):
            path.mkdir(parents=True, exist_ok=True)
            if nobody is not None:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        for name, command, port, user in (
                ("intake", "intake", free_port(), None), ("relay", "relay", None, None),
                ("sup1", "supervision", free_port(), None),
                ("sup2", "supervision", free_port(), None),
                ("sup3", "supervision", free_port(), None),
                ("projections", "projections", free_port(), nobody)):
            self.procs[name] = Proc(name, command, self._env(name, home), logs, port, user)
        self.procs["sup3"].wanted = False
        # The intake first (it creates the hall store's tables), then the rest at once; the
        # keeper restarts whatever fails to start.
        self._start("intake")
        self.procs["intake"].wait_healthy()
        with self.lock:
            for name in ("relay", "sup1", "sup2", "projections"):
                self._start(name)
        self._keeper = threading.Thread(target=self._keep, name="keeper", daemon=True)
        self._keeper.start()
        self.wait_serving(["relay", "sup1", "sup2", "projections"])

    def stop(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=10)
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            self.restore_chdb()
        self.kafka.stop()
        self.pg.stop()
        if self._nobody_dir is not None:
            shutil.rmtree(self._nobody_dir, ignore_errors=True)

    def _env(self, name: str, home: Path) -> dict[str, str]:
        env = {
            "HALLWATCH_EVENT_STORE": self.dsn(f"svc_{name}"),
            "HALLWATCH_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "HALLWATCH_HALL_TOPIC": self.hall_topic,
            "HALLWATCH_ALERTS_TOPIC": self.alerts_topic,
            "HALLWATCH_CONSUMER_GROUP": self.group,
            "HALLWATCH_CLICKHOUSE": f"chdb:///{self.chdb_dir}",
            "HALLWATCH_CIPHER_KEY": self.cipher_key,
            "HALLWATCH_DATA_DIR": str(self.base / "var" / name),
            "HALLWATCH_KEYS": KEYS,
            "HALLWATCH_CLOCK": f"fixed:{self.clock_start.isoformat()}",
            "HALLWATCH_INSTANCE_ID": name,
        }
        if name == "projections":
            env["HOME"] = str(home)
            env["HALLWATCH_DATA_DIR"] = str(home / "var")
        return env

    def dsn(self, role: str | None = None) -> str:
        if role is None:
            return self.pg.dsn_for(self.database)
        with psycopg.connect(self.pg.dsn_for("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(
                    sql.Identifier(role)))
        return f"postgresql://{role}@127.0.0.1:{self.pg.port}/{self.database}"

    def _start(self, name: str) -> None:
        proc = self.procs[name]
        env = {}
        if proc.command == "supervision":
            env["HALLWATCH_CLOCK"] = f"fixed:{self.next_supervision_clock().isoformat()}"
        proc.start(**env)

    def next_supervision_clock(self) -> datetime:
        """Each supervision start sees a later moment, up to ``clock_end``."""
        moment = min(self.clock_end, self.clock_start + self.clock_step * self.clock_starts)
        self.clock_starts += 1
        return moment

    def _keep(self) -> None:
        """Restart every wanted process that died (a crash, a kill -9, a failed start)."""
        while not self._stop.wait(0.5):
            with self.lock:
                for name, proc in self.procs.items():
                    if proc.wanted and not proc.alive():
                        with contextlib.suppress(OSError):  # tried again next time
                            self._start(name)

    # -- faults --------------------------------------------------------------------

    def kill(self, name: str) -> None:
        with self.lock:
            self.procs[name].kill()

    def pause(self, name: str) -> None:
        with self.lock:
            self.procs[name].signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        with self.lock:
            self.procs[name].signal(signal.SIGCONT)

    def set_wanted(self, name: str, wanted: bool) -> None:
        """Start or stop (SIGTERM) an instance: a consumer group rebalance."""
        with self.lock:
            proc = self.procs[name]
            proc.wanted = wanted
            if wanted:
                self._start(name)
            else:
                proc.stop()

    def terminate_backends(self, name: str) -> int:
        """pg_terminate_backend every connection of one service; returns how many."""
        try:
            with psycopg.connect(self.pg.dsn_for("postgres"), autocommit=True,
                                 connect_timeout=5) as conn:
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE usename = %s", [f"svc_{name}"]).fetchall()
            return len(rows)
        except psycopg.OperationalError:
            return 0  # PostgreSQL is restarting: its connections are gone anyway

    def break_chdb(self) -> None:
        """Projections' ClickHouse writes fail: its chDB directory becomes read-only."""
        _chmod_tree(self.chdb_dir, writable=False)

    def restore_chdb(self) -> None:
        _chmod_tree(self.chdb_dir, writable=True)

    def restart_everything_at_the_end(self) -> None:
        """Quiescence: every fault undone, supervision instances on ``clock_end``."""
        with self.lock:
            self.restore_chdb()
            try:
                psycopg.connect(self.pg.dsn_for("postgres"), connect_timeout=10).close()
            except psycopg.OperationalError:  # a restart fault that did not come back
                self.pg.restart("fast")
            for index in range(len(self.kafka.nodes)):
                if not self.kafka.running(index):
                    self.kafka.restart(index)
            for proc in self.procs.values():
                if proc.paused:
                    proc.signal(signal.SIGCONT)
            sup3 = self.procs["sup3"]
            sup3.wanted = False
            sup3.stop()
            self.clock_starts = 10**6  # every later start is at clock_end
            for name in ("sup1", "sup2"):
                self.procs[name].wanted = True
                self.procs[name].stop()
                self._start(name)
            for name, proc in self.procs.items():
                if proc.wanted and not proc.alive():
                    self._start(name)
        self.wait_serving([name for name, proc in self.procs.items() if proc.wanted])

    def wait_serving(self, names: list[str], timeout: float = 300) -> None:
        """Until each named process serves (the relay: has logged its start position)."""
        deadline = time.monotonic() + timeout
        for name in names:
            proc = self.procs[name]
            while not (proc.serving() and (proc.port or "relay publishing" in
                                           proc.log.read_text(errors="replace"))):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not serving:\n{proc.log.read_text()[-3000:]}")
                time.sleep(0.3)


def _chmod_tree(root: Path, writable: bool) -> None:
    for directory, _dirs, files in os.walk(root):
        for entry in [directory, *(os.path.join(directory, f) for f in files)]:
            with contextlib.suppress(OSError):
                mode = os.stat(entry).st_mode
                os.chmod(entry, (mode | 0o200) if writable else (mode & ~0o222))
