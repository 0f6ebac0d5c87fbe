"""One way to reach ClickHouse: chDB in-process (``chdb:///PATH``) or a server over HTTP.

The same SQL runs on both. chDB's ``default`` database is not Atomic, so hallwatch
keeps its tables in an Atomic database of its own.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect

DATABASE = "hallwatch"


def connect(url: str) -> Any:
    """A client for ``url``; chDB is imported (by clickhouse-connect) only for ``chdb://``."""
    try:
        client = clickhouse_connect.get_client(dsn=url)
    except ImportError as error:  # chDB is the `embedded` extra, absent from production images
        raise SystemExit(f"HALLWATCH_CLICKHOUSE: {url}: {error} (install hallwatch[embedded] "
                         "or point HALLWATCH_CLICKHOUSE at a ClickHouse server)") from None
    client.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE} ENGINE = Atomic")
    return client
