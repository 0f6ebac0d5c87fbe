"""Typed settings from the environment (prefix ``HALLWATCH_``).

With nothing set, everything is embedded under ``HALLWATCH_DATA_DIR``: a SQLite event
store, chDB for ClickHouse, and the event store's notification log instead of Kafka.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common import clocks

ROLES = ("hall", "bureau", "auditor", "monitor")  # monitor: metrics and health detail


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class KeySpec:
    role: str
    principal: str
    secret: str


def parse_case_prefixes(text: str) -> dict[str, tuple[str, ...]]:
    """``hall:PREFIX|PREFIX,hall2:PREFIX`` -> {hall: (prefixes)}."""
    out: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(p.strip() for p in text.split(",") if p.strip()):
        hall, _, prefixes = item.partition(":")
        found = tuple(p for p in prefixes.split("|") if p)
        if not hall or not found:
            raise ValueError(f"entry {index + 1} must be hall:PREFIX[|PREFIX...]")
        out[hall] = found
    return out


def parse_keys(text: str) -> list[KeySpec]:
    keys = []
    for index, item in enumerate(p.strip() for p in text.split(",") if p.strip()):
        parts = item.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"entry {index + 1} must be role:principal:secret")
        role, principal, secret = parts
        if role not in ROLES:
            raise ValueError(f"entry {index + 1}: role {role!r} is not one of {', '.join(ROLES)}")
        if len(secret) < 16:
            raise ValueError(f"entry {index + 1}: secret must be at least 16 characters")
        keys.append(KeySpec(role, principal, secret))
    return keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALLWATCH_", extra="ignore")

    # Each description is what `hallwatch --help` and the README's settings table say.
    data_dir: Path = Field(default=Path("./var"), description="where the embedded stores live "
                           "(SQLite event stores, chDB, the generated cipher key)")
    event_store: str = Field(default="", description="the event store: sqlite:///PATH or "
                             "postgresql://user:pass@host:port/db; empty = "
                             "sqlite:///$DATA_DIR/events.db")
    kafka_bootstrap: str = Field(default="", description="Kafka brokers host:port,...; empty = "
                                 "embedded (the store's notification log instead of Kafka)")
    clickhouse: str = Field(default="", description="chdb:///PATH or "
                            "http(s)://user:pass@host:8123; empty = chdb:///$DATA_DIR/chdb")
    keys: str = Field(default="", description="API keys role:principal:secret,...; roles hall "
                      "(principal = hall id), bureau, auditor, monitor (metrics and health "
                      "detail); secrets of 16+ characters")
    keys_file: str = Field(default="", description="JSON file of named principals (argon2 "
                           "password hashes, key digests), re-read when it changes")
    session_key: str = Field(default="", description="signs console sessions; the same in every "
                             "process behind one console; empty = made once in "
                             "$DATA_DIR/session.key")
    cipher_key: str = Field(default="", description="base64 AES key of the event store "
                            "(`hallwatch keygen`); empty = made once in $DATA_DIR/cipher.key")
    chain_key: str = Field(default="", description="base64 key of the hash chains (never the "
                           "cipher key; SECURITY.md); required outside the embedded mode "
                           "unless HALLWATCH_CHAIN_KEY_FILE is set")
    chain_key_file: str = Field(default="", description="a file holding the chain key "
                                "(e.g. a secrets mount); embedded default: "
                                "$DATA_DIR/chain.key")
    hall_topic: str = Field(default="hall.events", description="Kafka topic of hall events")
    alerts_topic: str = Field(default="supervision.alerts", description="Kafka topic of alerts")
    consumer_group: str = Field(default="hallwatch", description="prefix of the services' Kafka "
                                "consumer groups")
    instance_id: str = Field(default="", description="Kafka static membership (group.instance.id): "
                             "a restarted instance takes its partitions back at once")
    summer_start: str = Field(default="05-01", description="MM-DD the summer office hours begin")
    winter_start: str = Field(default="10-01", description="MM-DD the winter office hours begin")
    poll_seconds: float = Field(default=0.2, gt=0, description="the longest a background "
                                "loop waits for new events before looking again")
    batch_size: int = Field(default=5000, gt=0, description="most events a consumer handles in one "
                            "round (one transaction per partition)")
    rules_file: str = Field(default="", description="the supervision thresholds (JSON); empty = "
                            "deploy/rules/supervision.v1.json")
    clock: str = Field(default="system", description="'system', or fixed:<RFC 3339 time> for demos "
                       "and tests")
    # Which case numbers each hall may open (GB/T 39046 numbers embed the issuing unit's
    # code). A hall not listed is not restricted.
    case_prefixes: str = Field(default="", description="hall:PREFIX|PREFIX,...: the case "
                               "numbers each hall may open; a hall not listed is unrestricted")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or "
                           "CRITICAL: the least severe log line written (JSON lines on "
                           "standard error; kafka-python stays at WARNING)")
    smtp_url: str = Field(default="", description="the SMTP server e-mail notifications go "
                          "through: smtp://[user:password@]host:port, or smtps:// (TLS), or "
                          "smtp+starttls://; empty = e-mail deliveries fail and are retried")
    smtp_from: str = Field(default="hallwatch@localhost", description="the From address of "
                           "e-mail notifications")
    notify_secrets_file: str = Field(default="", description="JSON file {NAME: key} of the "
                                     "webhook channels' HMAC keys (e.g. a secrets mount); "
                                     "HALLWATCH_NOTIFY_SECRET_<NAME> overrides an entry")
    notify_attempts: int = Field(default=8, ge=1, le=100, description="attempts of one "
                                 "notification before it is given up")
    notify_backoff_seconds: float = Field(default=30.0, gt=0, description="wait after the first "
                                          "failed attempt; doubled after each (at most 1 h)")
    notify_timeout_seconds: float = Field(default=10.0, gt=0, description="the longest one "
                                          "delivery attempt (HTTP or SMTP) may take")
    time_floor: date = Field(default=date(2000, 1, 1), description="no event, query or report "
                             "reaches before this date (YYYY-MM-DD, +08:00)")

    @field_validator("event_store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value and urlparse(value).scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be sqlite:///PATH or postgresql://user@host:port/db")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str) -> str:
        if value and (urlparse(value).scheme not in ("smtp", "smtps", "smtp+starttls")
                      or not urlparse(value).hostname):
            raise ValueError("must be smtp://host:port, smtps://host:port or "
                             "smtp+starttls://host:port")
        return value

    @field_validator("clickhouse")
    @classmethod
    def _clickhouse(cls, value: str) -> str:
        if value and urlparse(value).scheme not in ("chdb", "http", "https"):
            raise ValueError("must be chdb:///PATH or http(s)://host:port")
        return value

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: str) -> str:
        parse_keys(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        from services.common.logs import level_of

        level_of(value)
        return value.strip().upper()

    @field_validator("case_prefixes")
    @classmethod
    def _prefixes(cls, value: str) -> str:
        parse_case_prefixes(value)
        return value

    @field_validator("cipher_key")
    @classmethod
    def _cipher(cls, value: str) -> str:
        if value:
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                raise ValueError("must be base64 (e.g. from `hallwatch keygen`)") from None
            if len(raw) not in (16, 24, 32):
                raise ValueError("must decode to 16, 24 or 32 bytes")
        return value

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str) -> str:
        # An accelerated clock is anchored once here, so every clock of this process agrees.
        return clocks.anchored(value)

    def now(self) -> Callable[[], datetime]:
        """The process clock: the system's, a fixed moment, or an accelerated one."""
        return clocks.parse_clock(self.clock)

    @field_validator("summer_start", "winter_start")
    @classmethod
    def _month_day(cls, value: str) -> str:
        month, _, day = value.partition("-")
        if not (month.isdigit() and day.isdigit() and 1 <= int(month) <= 12
                and 1 <= int(day) <= 31):
            raise ValueError("must be MM-DD")
        return value

    @property
    def store_url(self) -> str:
        return self.event_store or f"sqlite:///{(self.data_dir / 'events.db').resolve()}"

    @property
    def clickhouse_url(self) -> str:
        return self.clickhouse or f"chdb:///{(self.data_dir / 'chdb').resolve()}"

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def key_specs(self) -> list[KeySpec]:
        return parse_keys(self.keys)

    def cipher(self) -> str:
        """The AES key; embedded with none set, one is made once and kept in the data dir."""
        if self.cipher_key:
            return self.cipher_key
        path = self.data_dir / "cipher.key"
        if not path.exists():
            # Processes starting together must all end up with the first one's key: each
            # writes a whole file of its own and links it into place; only one link wins.
            self.data_dir.mkdir(parents=True, exist_ok=True)
            draft = self.data_dir / f".cipher.key.{secrets.token_hex(8)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(32)).decode())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip()

    def session_secret(self) -> bytes:
        """The console session key; embedded with none set, one is made once and kept in
        the data dir (like the cipher key)."""
        if self.session_key:
            return self.session_key.encode()
        path = self.data_dir / "session.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    def chain_secret(self) -> bytes:
        """The hash chains' key: HALLWATCH_CHAIN_KEY, else HALLWATCH_CHAIN_KEY_FILE; only an
        embedded SQLite store may keep a generated one in its data dir (see SECURITY.md)."""
        from services.common.chainkey import chain_secret

        return chain_secret(self)

    def notify_secret(self, name: str) -> bytes | None:
        """A webhook channel's HMAC key by its name in the directory:
        HALLWATCH_NOTIFY_SECRET_<NAME>, else the entry of HALLWATCH_NOTIFY_SECRETS_FILE
        (re-read each time, so a rotated key needs no restart); None when neither has it."""
        value = os.environ.get(f"HALLWATCH_NOTIFY_SECRET_{name}")
        if value:
            return value.encode()
        if self.notify_secrets_file:
            try:
                found = json.loads(Path(self.notify_secrets_file).read_text()).get(name)
            except (OSError, ValueError, AttributeError):
                return None
            if isinstance(found, str) and found:
                return found.encode()
        return None

    def season_starts(self) -> tuple[tuple[int, int], tuple[int, int]]:
        def pair(text: str) -> tuple[int, int]:
            month, day = text.split("-")
            return int(month), int(day)
        return pair(self.summer_start), pair(self.winter_start)


def load_settings() -> Settings:
    """Settings from the environment, or a SettingsError naming the bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = "HALLWATCH_" + str(item["loc"][0]).upper() if item["loc"] else "HALLWATCH_*"
            problems.append(f"{name}: {item['msg']}")
        raise SettingsError("; ".join(problems)) from None
