"""One way to reach ClickHouse: chDB in-process (``chdb:///PATH``) or a server over HTTP.

The same SQL runs on both. chDB's ``default`` database is not Atomic, so hallwatch
keeps its tables in an Atomic database of its own.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect

DATABASE = "hallwatch"


def connect(url: str) -> Any:
    client = clickhouse_connect.get_client(dsn=url)
    client.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE} ENGINE = Atomic")
    return client
