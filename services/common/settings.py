"""Typed settings from the environment (prefix ``HALLWATCH_``).

With nothing set, everything is embedded under ``HALLWATCH_DATA_DIR``: a SQLite event
store, chDB for ClickHouse, and the event store's notification log instead of Kafka.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

from pydantic import ValidationError, field_validator
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

    data_dir: Path = Path("./var")
    event_store: str = ""
    kafka_bootstrap: str = ""
    clickhouse: str = ""
    keys: str = ""
    cipher_key: str = ""
    hall_topic: str = "hall.events"
    alerts_topic: str = "supervision.alerts"
    consumer_group: str = "hallwatch"
    instance_id: str = ""  # Kafka static membership: a restart takes its partitions back at once
    summer_start: str = "05-01"
    winter_start: str = "10-01"
    poll_seconds: float = 0.2
    batch_size: int = 5000
    rules_file: str = ""
    clock: str = "system"
    # Which case numbers each hall may open (GB/T 39046 numbers embed the issuing unit's
    # code). A hall not listed is not restricted.
    case_prefixes: str = ""
    # No event, query or report reaches before this date (YYYY-MM-DD, +08:00).
    time_floor: date = date(2000, 1, 1)

    @field_validator("event_store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value and urlparse(value).scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be sqlite:///PATH or postgresql://user@host:port/db")
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
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()

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
