"""One logging set-up for every hallwatch process: JSON lines on standard error.

Each line is one JSON object: ``time`` (UTC, ms), ``level``, ``logger``, ``message``, the
fields a record carries in ``extra={"fields": {...}}`` (the access log's request fields),
and ``error`` (the traceback) when an exception is logged. The level is
``HALLWATCH_LOG_LEVEL`` (default INFO). kafka-python stays at WARNING whatever the level
(its INFO is a line per connection and rebalance), and its complaint about a topic that
does not exist — repeated at every metadata refresh, several times a second — is said
once per topic, plainly, by ``hallwatch.kafka``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
KAFKA_LEVEL = logging.WARNING
ACCESS_LOGGER = "hallwatch.access"
TOPIC_LOGGER = "hallwatch.kafka"
# kafka-python (kafka.cluster, the consumer's coordinator and fetcher) on a missing topic.
_MISSING = (
    re.compile(r"^Topic (?P<topic>\S+) not found in cluster metadata$"),
    re.compile(r"^Topic (?P<topic>\S+) is not available during auto-create initialization$"),
    re.compile(r"^OffsetFetchRequest -- unknown topic (?P<topic>\S+)"),
    re.compile(r"^Received unknown topic or partition error in ListOffsets request for "
               r"partition (?P<topic>[^-\s]\S*?)-\d+"),
)


class JsonLines(logging.Formatter):
    """A record as one JSON object per line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line["message"] = getattr(record, "summary", record.name.rsplit(".", 1)[-1])
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class MissingTopicOnce(logging.Filter):
    """Turns kafka-python's stream of missing-topic records into one plain line per topic
    (the first), and drops the rest."""

    def __init__(self) -> None:
        super().__init__()
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        topic = _missing_topic(record.getMessage())
        if topic is None:
            return True
        with self._lock:
            if topic in self._said:
                return False
            self._said.add(topic)
        record.name = TOPIC_LOGGER
        record.levelno, record.levelname = logging.ERROR, "ERROR"
        record.msg = ("Kafka topic %r does not exist: create it (docs/deployment.md, "
                      "Topics); hallwatch keeps trying and says this once")
        record.args = (topic,)
        return True


def _missing_topic(message: str) -> str | None:
    for pattern in _MISSING:
        match = pattern.match(message)
        if match:
            return match.group("topic")
    return None


def level_of(text: str | None) -> int:
    """The logging level named ``text`` (case-insensitive; empty = INFO); raises
    ValueError naming the levels understood."""
    name = (text or "INFO").strip().upper()
    if name not in LEVELS:
        raise ValueError(f"must be one of {', '.join(LEVELS)}")
    return int(logging.getLevelName(name))


def configure(level: str | None = None, stream: IO[str] | None = None) -> logging.Handler:
    """Send every record of this process as JSON lines to ``stream`` (standard error),
    replacing any earlier set-up; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    handler.addFilter(MissingTopicOnce())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_of(level))
    kafka = logging.getLogger("kafka")
    kafka.setLevel(max(KAFKA_LEVEL, root.level))
    access = logging.getLogger(ACCESS_LOGGER)
    for old in list(access.handlers):
        access.removeHandler(old)
    access.addHandler(handler)
    access.setLevel(root.level)  # access lines are INFO: HALLWATCH_LOG_LEVEL=WARNING drops them
    access.propagate = False
    return handler
