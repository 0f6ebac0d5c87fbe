"""Real PostgreSQL and Apache Kafka servers for the test suite.

Both servers run as child processes on 127.0.0.1 with ports picked at random,
so several test runs can share a machine. Nothing here is a mock: if a server
cannot be started, a ``ServerStartError`` explains why (with the tail of the
server's log) instead of letting tests skip.

* ``Postgres(base_dir)``: a throwaway cluster made by ``initdb``. When the
  process runs as root the cluster runs as the ``postgres`` OS user, because
  PostgreSQL refuses to run as root.
* ``Kafka(base_dir)``: a single-node KRaft broker+controller built from the
  jars listed in ``deploy/kafka/pom.xml`` (fetched once with Maven and cached,
  see ``kafka_jars()``).

On a fresh Debian machine, running as root, missing pieces are installed with
apt-get: ``postgresql``, ``maven`` and ``default-jre-headless``.

Run ``python -m tests.servers`` to start both by hand; Ctrl-C stops them.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import functools
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
KAFKA_POM = KAFKA_DEPLOY_DIR / "pom.xml"
KAFKA_PROPERTIES_TEMPLATE = KAFKA_DEPLOY_DIR / "server.properties.template"
KAFKA_VERSION = "4.1.1"
KAFKA_BROKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"

POSTGRES_USER = "hallwatch"
POSTGRES_DATABASE = "hallwatch"
POSTGRES_OS_USER = "postgres"
POSTGRES_BIN_ROOT = Path("/usr/lib/postgresql")

POSTGRES_READY_TIMEOUT_S = 30.0
KAFKA_READY_TIMEOUT_S = 60.0
KAFKA_STOP_TIMEOUT_S = 20.0
TOPIC_READY_TIMEOUT_S = 30.0
# A port picked as free can be taken by someone else before the server binds
# it; servers that fail that way are retried on new ports this many times.
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 60

# Kafka's own log4j2 setup lives in its distribution, not in the Maven jars;
# without one, log4j2 prints only errors. This sends INFO to stdout, which
# the harness redirects into the broker log file.
_KAFKA_LOG4J2_PROPERTIES = """\
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = WARN
"""


class ServerStartError(RuntimeError):
    """A test server could not be installed, started or reached."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free ports (all held open while choosing)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _read_log(path: Path, start: int = 0) -> str:
    """Text of a log file from byte offset ``start`` ("" if it cannot be read)."""
    try:
        with open(path, "rb") as log:
            log.seek(start)
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


_PROBLEM_LINE = re.compile(r"\b(ERROR|FATAL|PANIC)\b|Exception\b|already in use")
_PORT_CLASH = re.compile(r"Address already in use|could not bind|BindException")


def _failure(
    message: str, log: Path | None = None, output: str | None = None, *, log_start: int = 0
) -> ServerStartError:
    """Build a ServerStartError with the first problem lines and the tail of a log."""
    parts = [message]
    if output:
        parts.append("--- command output ---\n" + "\n".join(output.splitlines()[-LOG_TAIL_LINES:]))
    if log is not None:
        lines = _read_log(log, log_start).splitlines()
        problems = [line for line in lines if _PROBLEM_LINE.search(line)][:8]
        if problems:
            parts.append(f"--- first problems in {log.name} ---\n" + "\n".join(problems))
        tail = "\n".join(lines[-LOG_TAIL_LINES:]) or f"({log} is empty or unreadable)"
        parts.append(f"--- last lines of {log} ---\n{tail}")
    return ServerStartError("\n".join(parts))


def _run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    log_start: int = 0,
    timeout: float = 600.0,
) -> str:
    """Run a command to completion; raise ServerStartError (with output) if it fails."""
    try:
        done = subprocess.run(
            [os.fspath(part) for part in cmd],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise _failure(f"{what}: program not found: {exc.filename}") from exc
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else None
        raise _failure(
            f"{what}: timed out after {timeout:.0f}s", log, output, log_start=log_start
        ) from exc
    if done.returncode != 0:
        shown = " ".join(os.fspath(part) for part in cmd)
        raise _failure(
            f"{what} failed with exit code {done.returncode}: {shown}",
            log,
            done.stdout,
            log_start=log_start,
        )
    return done.stdout


def _is_root() -> bool:
    return os.geteuid() == 0


# Servers started by this process that have not been stopped yet; stopped at
# interpreter exit so that a crashed test run does not leave them running.
_running: set[Postgres | Kafka] = set()  # cluster nodes are Kafka too


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


# --------------------------------------------------------------------------- Kafka jars


def kafka_cache_dir() -> Path:
    """``${HALLWATCH_CACHE:-~/.cache/hallwatch}/kafka-<version>``."""
    root = os.environ.get("HALLWATCH_CACHE") or "~/.cache/hallwatch"
    return Path(root).expanduser() / f"kafka-{KAFKA_VERSION}"


def _has_kafka_jars(libs: Path) -> bool:
    return (libs / KAFKA_BROKER_JAR).is_file()


def kafka_jars() -> Path:
    """Return the directory holding the Kafka broker jars, downloading them once.

    The jars are fetched with Maven into a temporary sibling directory that is
    renamed into place only after Maven succeeded, so an interrupted download
    is never used. A lock file serialises concurrent test runs.
    """
    cache = kafka_cache_dir()
    libs = cache / "libs"
    if _has_kafka_jars(libs):
        return libs
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _has_kafka_jars(libs):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            _apt_install(
                ["maven"],
                f"Maven (mvn) is needed once to download the Kafka jars into {libs} "
                "but is not on PATH",
            )
            mvn = shutil.which("mvn")
            if mvn is None:
                raise ServerStartError("installed the 'maven' package but mvn is still not on PATH")
        download = Path(tempfile.mkdtemp(prefix="libs.partial-", dir=cache))
        try:
            _run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    KAFKA_POM,
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={download}",
                    "-DincludeScope=runtime",
                ],
                what=f"downloading the Kafka {KAFKA_VERSION} jars with Maven",
            )
            if not _has_kafka_jars(download):
                raise ServerStartError(
                    f"Maven finished but {KAFKA_BROKER_JAR} is not in {download}; check {KAFKA_POM}"
                )
            if libs.exists():  # left over without the broker jar: replace it
                shutil.rmtree(libs)
            download.rename(libs)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin_dir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<version>/bin`` (or PATH) with initdb/pg_ctl/postgres."""
    needed = ("initdb", "pg_ctl", "postgres")

    def complete(directory: Path) -> bool:
        return all(os.access(directory / name, os.X_OK) for name in needed)

    def version(directory: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))

    candidates = [d for d in POSTGRES_BIN_ROOT.glob("*/bin") if complete(d)]
    if candidates:
        return max(candidates, key=version)
    on_path = shutil.which("pg_ctl")
    if on_path is not None and complete(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    return None


def _apt_install(packages: Sequence[str], why: str) -> None:
    """Install Debian packages (as root, with apt-get) or fail explaining ``why``."""
    names = " ".join(packages)
    if not _is_root():
        raise ServerStartError(f"{why}, and installing it needs root: apt-get install {names}")
    if shutil.which("apt-get") is None:
        raise ServerStartError(f"{why}, and apt-get is not available to install it ({names})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], what="apt-get update", env=env)
    _run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        what=f"apt-get install {names}",
        env=env,
    )


def _install_postgres() -> None:
    _apt_install(
        ["postgresql"],
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under "
        f"{POSTGRES_BIN_ROOT}/*/bin or on PATH",
    )


class Postgres:
    """A private PostgreSQL cluster on 127.0.0.1; use as a context manager.

    ``dsn`` points at the ``hallwatch`` database as the ``hallwatch`` superuser
    (trust authentication, no password).
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.port: int = 0
        self.log_path = self.base_dir / "postgres.log"
        self._bin: Path | None = None
        self._run_dir: Path | None = None
        self._own_run_dir = False
        self._os_user: pwd.struct_passwd | None = None
        self._started = False
        self._used = False

    # -- public API

    @property
    def dsn(self) -> str:
        return self.dsn_for(POSTGRES_DATABASE)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database (for test isolation) and return its DSN."""
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def start(self) -> None:
        """Create and start the cluster; an instance is started at most once."""
        if self._started:
            return
        if self._used:
            raise RuntimeError("this Postgres was stopped; create a new one to start again")
        self._used = True
        try:
            self._start()
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``); safe to call more than once."""
        _running.discard(self)
        run_dir, self._run_dir = self._run_dir, None
        if run_dir is None:
            return
        self._started = False
        data = run_dir / "data"
        try:
            if self._bin is not None and (data / "postmaster.pid").exists():
                _run(
                    self._as_db_user(
                        [self._bin / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]
                    ),
                    what="pg_ctl stop",
                    cwd=run_dir,
                    timeout=90,
                )
        finally:
            if self._own_run_dir:
                # The cluster lived outside base_dir; keep its log, drop the rest.
                with contextlib.suppress(OSError):
                    shutil.copyfile(run_dir / "postgres.log", self.log_path)
                shutil.rmtree(run_dir, ignore_errors=True)

    def restart(self, mode: str = "immediate") -> None:
        """``pg_ctl restart -m <mode>`` on the same port; ``immediate`` is a crash: no
        checkpoint, every connection cut, recovery from the WAL on the way up."""
        if self._run_dir is None or self._bin is None:
            raise RuntimeError("this Postgres is not running")
        data = self._run_dir / "data"
        log = self._run_dir / "postgres.log"
        _run(
            self._as_db_user(
                [self._bin / "pg_ctl", "-D", data, "-l", log, "-m", mode, "-w", "-t",
                 str(int(POSTGRES_READY_TIMEOUT_S)), "restart"]
            ),
            what=f"pg_ctl restart -m {mode}",
            cwd=self._run_dir,
            log=log,
            timeout=POSTGRES_READY_TIMEOUT_S + 30,
        )
        self._wait_until_ready(log)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals

    def _as_db_user(self, cmd: Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
        if self._os_user is None:
            return list(cmd)
        return ["runuser", "-u", self._os_user.pw_name, "--", *cmd]

    def _start(self) -> None:
        self._bin = _postgres_bin_dir()
        if self._bin is None:
            _install_postgres()
            self._bin = _postgres_bin_dir()
            if self._bin is None:
                raise ServerStartError(
                    "installed the 'postgresql' package but still found no initdb/pg_ctl/"
                    f"postgres under {POSTGRES_BIN_ROOT}/*/bin"
                )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            try:
                self._os_user = pwd.getpwnam(POSTGRES_OS_USER)
            except KeyError:
                raise ServerStartError(
                    f"running as root, so PostgreSQL must run as the '{POSTGRES_OS_USER}' OS "
                    "user, but that user does not exist (it is normally created by the "
                    "'postgresql' package)"
                ) from None
        self._run_dir = self._choose_run_dir()
        run_dir = self._run_dir
        data, sockets, log = run_dir / "data", run_dir / "sockets", run_dir / "postgres.log"
        sockets.mkdir(exist_ok=True)
        self._give_to_db_user(sockets)

        _run(
            self._as_db_user(
                [
                    self._bin / "initdb",
                    "-D",
                    data,
                    "-A",
                    "trust",
                    "-U",
                    POSTGRES_USER,
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            what="initdb",
            cwd=run_dir,
            timeout=120,
        )

        # pg_ctl hands the options to a shell. Unix socket paths are limited to
        # about 107 bytes; clients here use TCP, so a too-deep directory just
        # turns the Unix socket off.
        socket_dir = shlex.quote(str(sockets) if len(str(sockets)) < 90 else "")
        _running.add(self)
        self._started = True
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {socket_dir} "
                "-c fsync=off -c max_connections=200"
            )
            log_start = _log_size(log)
            try:
                _run(
                    self._as_db_user(
                        [
                            self._bin / "pg_ctl",
                            "-D",
                            data,
                            "-l",
                            log,
                            "-w",
                            "-t",
                            str(int(POSTGRES_READY_TIMEOUT_S)),
                            "-o",
                            options,
                            "start",
                        ]
                    ),
                    what=f"starting PostgreSQL on 127.0.0.1:{self.port}{self._log_note()}",
                    cwd=run_dir,
                    log=log,
                    log_start=log_start,
                    timeout=POSTGRES_READY_TIMEOUT_S + 30,
                )
                break
            except ServerStartError:
                # Someone took the port between picking and binding it: pick again.
                if attempt == PORT_ATTEMPTS or not _PORT_CLASH.search(_read_log(log, log_start)):
                    raise
        self._wait_until_ready(log)
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(POSTGRES_DATABASE)))

    def _log_note(self) -> str:
        if self._own_run_dir:
            return f" (the server log is copied to {self.log_path} on stop)"
        return ""

    def _wait_until_ready(self, log: Path) -> None:
        deadline = time.monotonic() + POSTGRES_READY_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.dsn_for("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise _failure(
                        f"PostgreSQL on 127.0.0.1:{self.port} did not accept connections "
                        f"within {POSTGRES_READY_TIMEOUT_S:.0f}s{self._log_note()}: {exc}",
                        log,
                    ) from exc
                time.sleep(0.2)

    def _give_to_db_user(self, path: Path) -> None:
        if self._os_user is not None:
            os.chown(path, self._os_user.pw_uid, self._os_user.pw_gid)
            path.chmod(0o700)

    def _db_user_can_write(self, path: Path) -> bool:
        if self._os_user is None:
            return os.access(path, os.W_OK | os.X_OK)
        probe = subprocess.run(
            self._as_db_user(["test", "-w", path, "-a", "-x", path]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def _choose_run_dir(self) -> Path:
        """Directory for the cluster: base_dir if the server's OS user can reach it.

        As root, base_dir is handed to the ``postgres`` user. pytest's temporary
        directories sit below a root-only (0700) directory that user cannot
        enter, so then the cluster goes to a fresh directory in the system temp
        dir instead (removed again on stop, after copying its log to base_dir).
        """
        self._give_to_db_user(self.base_dir)
        if self._db_user_can_write(self.base_dir):
            self._own_run_dir = False
            return self.base_dir
        run_dir = Path(tempfile.mkdtemp(prefix="hallwatch-pg-"))
        self._own_run_dir = True
        self._give_to_db_user(run_dir)
        if not self._db_user_can_write(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
            user = self._os_user.pw_name if self._os_user else "the current user"
            raise ServerStartError(
                f"neither {self.base_dir} nor a new directory under {tempfile.gettempdir()} "
                f"is writable by {user}; PostgreSQL cannot create its cluster"
            )
        with contextlib.suppress(OSError):
            (self.base_dir / "cluster-location.txt").write_text(f"{run_dir}\n")
        return run_dir


# --------------------------------------------------------------------------- Kafka


def _java() -> str:
    """The ``java`` to run Kafka with (JAVA_HOME, else PATH, else apt-installed)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home, "bin", "java"), os.X_OK):
        return str(Path(java_home, "bin", "java"))
    java = shutil.which("java")
    if java is None:
        # Debian 12's default JRE is 17, the minimum for a Kafka 4 broker.
        _apt_install(
            ["default-jre-headless"],
            "Java 17+ is needed to run the Kafka broker, but 'java' is not on PATH "
            "and JAVA_HOME is not set",
        )
        java = shutil.which("java")
        if java is None:
            raise ServerStartError("installed default-jre-headless but java is still not on PATH")
    return java


def _new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding.

    Same format as ``kafka-storage random-uuid``, which would cost a JVM start.
    Like Kafka's ``Uuid.randomUuid()``, avoid ids that start with '-' (they
    look like command-line options).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class Kafka:
    """A single-node KRaft Kafka broker on 127.0.0.1; use as a context manager.

    After ``kill()`` or ``stop()``, ``start()`` brings the broker back on the
    same ports with the same data.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.port: int = 0
        self.controller_port: int = 0
        self.data_dir = self.base_dir / "data"
        self.config_path = self.base_dir / "server.properties"
        self.log_path = self.base_dir / "broker.log"
        self.cluster_id: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # where the current run's output starts in log_path

    # -- public API

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        # A restart reuses the ports and the formatted storage. A first start
        # picks ports, formats, and on a port clash tries again from scratch.
        attempts = 1 if self.cluster_id is not None else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self.cluster_id is None:
                self._configure_and_format()
            try:
                self._launch()
                self._wait_until_ready()
                return
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    self.kill()
                clash = _PORT_CLASH.search(_read_log(self.log_path, self._log_start))
                if attempt == attempts or not isinstance(exc, ServerStartError) or not clash:
                    raise
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self.cluster_id = None

    def create_topic(self, name: str, partitions: int = 3) -> None:
        """Create ``name`` unless it exists; return once every partition has a leader."""
        with self._admin() as admin:
            result = admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": 1}},
                raise_errors=False,
            )
            for topic in result["topics"]:
                # 0 = created, 36 = TOPIC_ALREADY_EXISTS
                if topic["error_code"] not in (0, 36):
                    raise RuntimeError(f"could not create topic {name!r}: {topic}")
            self._wait_for_topic(admin, name)

    def kill(self) -> None:
        """SIGKILL the broker (simulates a crash)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._forget_process()

    def stop(self) -> None:
        """SIGTERM the broker (controlled shutdown), SIGKILL it after 20 s."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=KAFKA_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget_process()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals

    def _admin(self, timeout_s: float = 10.0) -> Any:
        timeout_ms = int(timeout_s * 1000)
        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="hallwatch-test-harness",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )

    def _forget_process(self) -> None:
        self._process = None
        _running.discard(self)

    def _configure_and_format(self) -> None:
        java, libs = _java(), kafka_jars()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.controller_port = _free_ports(2)
        template = KAFKA_PROPERTIES_TEMPLATE.read_text(encoding="utf-8")
        self.config_path.write_text(
            template.format(
                port=self.port, controller_port=self.controller_port, log_dir=self.data_dir
            ),
            encoding="utf-8",
        )
        (self.base_dir / "log4j2.properties").write_text(_KAFKA_LOG4J2_PROPERTIES, encoding="utf-8")
        cluster_id = _new_cluster_id()
        _run(
            [
                java,
                "-Xmx256m",
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                cluster_id,
                "--config",
                self.config_path,
                "--standalone",
            ],
            what="formatting Kafka storage (kafka.tools.StorageTool format)",
            cwd=self.base_dir,
            timeout=120,
        )
        self.cluster_id = cluster_id

    def _launch(self) -> None:
        java, libs = _java(), kafka_jars()
        command = [
            java,
            "-Xmx512m",
            "-Xms256m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.base_dir / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.config_path),
        ]
        self._log_start = _log_size(self.log_path)
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== starting broker: {' '.join(command)}\n".encode())
            log.flush()
            # Own session: Ctrl-C in a terminal reaches only Python, which
            # then stops the broker in order.
            self._process = subprocess.Popen(
                command,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _running.add(self)

    def _wait_until_ready(self) -> None:
        """Wait until an admin client can list topics (≤ 60 s)."""
        deadline = time.monotonic() + KAFKA_READY_TIMEOUT_S
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise _failure(
                    f"Kafka broker exited during startup (exit code {code})",
                    self.log_path,
                    log_start=self._log_start,
                )
            if not _port_open(self.port):
                time.sleep(0.2)
                continue
            try:
                with self._admin(
                    timeout_s=min(5.0, max(1.0, deadline - time.monotonic()))
                ) as admin:
                    admin.list_topics()
                return
            except (KafkaError, OSError) as exc:  # still booting
                last_error = exc
                time.sleep(0.5)
        raise _failure(
            f"Kafka broker on {self.bootstrap} was not ready within "
            f"{KAFKA_READY_TIMEOUT_S:.0f}s (last error: {last_error!r})",
            self.log_path,
            log_start=self._log_start,
        )

    def _wait_for_topic(self, admin: Any, name: str) -> None:
        deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
        while True:
            topics = admin.describe_topics([name])
            topic = next((t for t in topics if t.get("name") == name), None)
            if (
                topic is not None
                and topic["error_code"] == 0
                and topic["partitions"]
                and all(p["error_code"] == 0 and p["leader_id"] >= 0 for p in topic["partitions"])
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topic {name!r} has no leader for every partition after "
                    f"{TOPIC_READY_TIMEOUT_S:.0f}s: {topic}"
                )
            time.sleep(0.1)


# --------------------------------------------------------------------------- Kafka cluster

_CLUSTER_NODE_PROPERTIES = """\
# One node of a three-node KRaft cluster (broker + controller), written by tests/servers.py.
node.id={node_id}
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
# A static quorum: every node is a voter, so any two of the three keep the cluster up.
controller.quorum.voters={voters}
log.dirs={log_dir}
num.partitions=3
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
# A broker that died must not come back as leader with a shorter log.
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
"""


class _ClusterNode(Kafka):
    """One node of a KafkaCluster: its ports and voters are chosen by the cluster."""

    def __init__(self, base_dir: Path, node_id: int, port: int, controller_port: int) -> None:
        super().__init__(base_dir)
        self.node_id = node_id
        self.port, self.controller_port = port, controller_port
        self.voters = ""

    def format(self, cluster_id: str) -> None:
        java, libs = _java(), kafka_jars()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            _CLUSTER_NODE_PROPERTIES.format(
                node_id=self.node_id, port=self.port, controller_port=self.controller_port,
                voters=self.voters, log_dir=self.data_dir),
            encoding="utf-8",
        )
        (self.base_dir / "log4j2.properties").write_text(_KAFKA_LOG4J2_PROPERTIES, encoding="utf-8")
        _run(
            [java, "-Xmx256m", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
             "--cluster-id", cluster_id, "--config", self.config_path],
            what=f"formatting Kafka node {self.node_id} storage",
            cwd=self.base_dir,
            timeout=120,
        )
        self.cluster_id = cluster_id

    def launch(self) -> None:
        self._launch()

    def wait_until_ready(self, attempts: int = 3) -> None:
        """Ready within ``attempts`` x 60 s: a restarted node on a busy machine can take
        a while to load its logs, and is not given up on while its process lives."""
        for attempt in range(attempts):
            try:
                self._wait_until_ready()
                return
            except ServerStartError:
                if attempt == attempts - 1 or not self.running():
                    raise

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running() and self._process else None


def _in_parallel(calls: list[Callable[[], None]]) -> None:
    """Run ``calls`` in threads; re-raise the first failure once all have ended."""
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class KafkaCluster:
    """Three KRaft nodes (each broker and controller) on 127.0.0.1; a context manager.

    Topics are made with replication 3 and ``min.insync.replicas=2``, so one broker may
    be down (``kill(i)``, then ``restart(i)`` on the same ports and data) while producers
    with ``acks=all`` go on writing. ``bootstrap`` lists all three brokers.
    """

    SIZE = 3

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.nodes: list[_ClusterNode] = []

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self) -> None:
        if self.nodes:
            return
        for attempt in range(1, PORT_ATTEMPTS + 1):
            ports = _free_ports(2 * self.SIZE)
            self.nodes = [
                _ClusterNode(self.base_dir / f"node{i + 1}", i + 1, ports[2 * i], ports[2 * i + 1])
                for i in range(self.SIZE)
            ]
            voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
            cluster_id = _new_cluster_id()
            try:
                for node in self.nodes:
                    shutil.rmtree(node.base_dir, ignore_errors=True)
                    node.voters = voters
                _in_parallel([functools.partial(node.format, cluster_id) for node in self.nodes])
                for node in self.nodes:
                    node.launch()
                for node in self.nodes:
                    node.wait_until_ready()
                self._wait_for_brokers(self.SIZE)
                return
            except BaseException as exc:
                self.stop()
                clash = any(_PORT_CLASH.search(_read_log(n.log_path)) for n in self.nodes)
                self.nodes = []
                if attempt == PORT_ATTEMPTS or not isinstance(exc, ServerStartError) or not clash:
                    raise

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based): a broker and a controller crash together."""
        self.nodes[index].kill()

    def restart(self, index: int) -> None:
        """Bring node ``index`` back on its ports with its data; return once it serves."""
        node = self.nodes[index]
        if node.running():
            return
        node.launch()
        node.wait_until_ready()

    def signal(self, index: int, signum: int) -> None:
        pid = self.nodes[index].pid
        if pid is not None:
            os.kill(pid, signum)

    def running(self, index: int) -> bool:
        return self.nodes[index].running()

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()

    def create_topic(self, name: str, partitions: int = 3) -> None:
        """Create ``name`` (replication 3, min ISR 2) unless it exists; return once every
        partition has a leader."""
        with self._admin() as admin:
            result = admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": self.SIZE,
                        "configs": {"min.insync.replicas": "2"}}},
                raise_errors=False,
            )
            for topic in result["topics"]:
                if topic["error_code"] not in (0, 36):
                    raise RuntimeError(f"could not create topic {name!r}: {topic}")
            self.nodes[0]._wait_for_topic(admin, name)

    def _admin(self, timeout_s: float = 10.0) -> Any:
        timeout_ms = int(timeout_s * 1000)
        return KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                client_id="hallwatch-test-harness",
                                bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms)

    def _wait_for_brokers(self, count: int) -> None:
        deadline = time.monotonic() + KAFKA_READY_TIMEOUT_S
        while True:
            with self._admin() as admin:
                brokers = admin.describe_cluster()["brokers"]
            if len(brokers) >= count:
                return
            if time.monotonic() > deadline:
                raise ServerStartError(f"only {len(brokers)} of {count} Kafka brokers joined")
            time.sleep(0.2)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- manual use


@contextlib.contextmanager
def _scratch_dir(base_dir: Path | None) -> Iterator[Path]:
    if base_dir is not None:
        base_dir.mkdir(parents=True, exist_ok=True)
        yield base_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix="hallwatch-servers-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers",
        description="Start a real PostgreSQL and Kafka broker on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument(
        "--base-dir",
        type=Path,
        default=None,
        help="where to keep data and logs (default: a temporary directory removed on exit)",
    )
    args = parser.parse_args(argv)

    # Ctrl-C and SIGTERM both stop the servers cleanly. SIGINT is set
    # explicitly because a shell starting us in the background ignores it.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    with _scratch_dir(args.base_dir) as base:
        try:
            started = time.monotonic()
            with Postgres(base / "postgres") as pg, Kafka(base / "kafka") as kafka:
                print(f"PostgreSQL  {pg.dsn}")
                print(f"Kafka       {kafka.bootstrap}")
                print(f"Logs        {pg.log_path}  {kafka.log_path}")
                print(f"Started in {time.monotonic() - started:.1f}s; Ctrl-C to stop.", flush=True)
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def read_records(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    """The first ``expected`` records of ``topic`` from the earliest offset (fewer if the
    topic stays quiet for ``timeout`` seconds), read by a fresh consumer outside any group."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=int(timeout * 1000))
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records
