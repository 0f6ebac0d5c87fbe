"""Rebuild the views from the event stores' logs without taking reads down.

1. Shadow tables (``events__rebuild``…) are created empty with the live tables' structure.
2. Both logs — the hall event store's and the supervision store's — are replayed from
   position 0 into the shadows, while the live tables keep answering and keep being fed.
3. Each shadow is swapped with its live table (``EXCHANGE TABLES``, atomic per table).
4. The replay goes on from where it reached to the logs' ends, into the (new) live
   tables: whatever the live consumer wrote between 2 and 3 is written again there, which
   is harmless because every view is idempotent (ReplacingMergeTree keyed by event or
   version). Then the old tables are dropped.

Reads never see an empty or half-built table: before the swap they read the old tables,
after it the complete rebuilt ones (the three swaps are separate statements, so for an
instant one view may be rebuilt and the next not yet, both complete).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.common.clickhouse import DATABASE
from services.common.sources import LogSource
from services.projections.views import TABLES, Views

SHADOW = "__rebuild"


@dataclass
class Replay:
    """One log to replay: the application and how its notifications become messages."""

    name: str
    app: Any
    convert: Callable[[Any, Any], dict[str, Any] | None]


def _drain(source: LogSource, views: Views, batch_size: int) -> int:
    """Write everything the log holds now; returns how many messages were written."""
    written = 0
    while True:
        before = source.position
        batch = source.poll(batch_size, 0)
        if batch:
            views.write(batch)
            written += len(batch)
        source.commit(batch)
        if source.position == before:
            return written


def rebuild(client: Any, replays: list[Replay], batch_size: int = 1000,
            before_swap: Callable[[], None] | None = None) -> dict[str, int]:
    """Replay ``replays`` into shadow tables and swap them in; returns the positions
    reached per log. ``before_swap`` runs just before the swap (tests use it to show
    that the live tables still answered until then)."""
    distributed = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        "AND engine = 'Distributed'", parameters={"db": DATABASE}).result_rows
    if distributed:  # a shadow made AS a Distributed table would write into the live data
        raise RuntimeError("the views are the scale-out variant (Distributed tables): rebuild "
                           "into a new database or cluster instead (docs/deployment.md, "
                           "Rebuilding projections)")
    for table in TABLES:
        client.command(f"DROP TABLE IF EXISTS {DATABASE}.{table}{SHADOW}")
        client.command(f"CREATE TABLE {DATABASE}.{table}{SHADOW} AS {DATABASE}.{table}")
    shadow = Views(client, suffix=SHADOW)
    sources = {r.name: LogSource(r.app, lambda: 0, lambda position: None, r.convert,
                                 topic=f"rebuild-{r.name}") for r in replays}
    for source in sources.values():
        _drain(source, shadow, batch_size)
    if before_swap is not None:
        before_swap()
    for table in TABLES:
        client.command(f"EXCHANGE TABLES {DATABASE}.{table} AND {DATABASE}.{table}{SHADOW}")
    live = Views(client)
    for source in sources.values():
        _drain(source, live, batch_size)
    for table in TABLES:
        client.command(f"DROP TABLE IF EXISTS {DATABASE}.{table}{SHADOW}")
    return {name: source.position for name, source in sources.items()}
