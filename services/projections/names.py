"""The names bulletins print: halls, departments, windows, staff and matters, from the
latest directory the bureau loaded (docs/directory.md), as the projections see it.

The directory reaches the views as the ``directory.loaded`` event in the events view,
published with every staff name already masked (张*, ``hallwatch.directory``): the views
never hold a full staff name, so no bulletin can print one, whoever asks for it and
whatever becomes of its published bytes. With no directory loaded every name is None and
the documents print ids.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.clickhouse import DATABASE

# By the primary key (subject first), without FINAL: a replayed load is the same row, and
# this runs on every live-view read. Which load is the latest is asked first; the document
# (hundreds of kilobytes for a city's halls, staff and matters) is read and parsed only
# when that changed.
DIRECTORY = f"{DATABASE}.events WHERE subject = 'directory' AND type = 'directory.loaded'"
LATEST_POSITION = f"SELECT max(position), count() FROM {DIRECTORY}"
LATEST = f"SELECT cloudevent FROM {DIRECTORY} ORDER BY position DESC LIMIT 1"
# Per client (a process may read several databases): the latest load's (position, number
# of loads) and its names.
_parsed: weakref.WeakKeyDictionary[Any, tuple[tuple[int, int], Names]] = \
    weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Names:
    """Who and what the bulletin's keys name. ``windows`` is keyed by (hall, window) as
    the figures are; ``staff`` holds masked names only; ``statutory_days`` maps a matter's
    implementation code to its 法定办结时限."""

    version: str | None = None
    halls: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)  # hall id -> 主管单位
    windows: Mapping[tuple[str, str], str] = field(default_factory=dict)
    staff: Mapping[tuple[str, str], str] = field(default_factory=dict)
    matters: Mapping[str, str] = field(default_factory=dict)
    statutory_days: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Names:
        """From a directory document as published (staff names masked)."""
        halls = document.get("halls", [])
        return cls(
            version=str(document.get("version")) if document.get("version") else None,
            halls={h["id"]: h["name"] for h in halls},
            departments={h["id"]: h["department"] for h in halls if h.get("department")},
            windows={(h["id"], w["id"]): w["name"] for h in halls for w in h["windows"]},
            staff={(s["hall_id"], s["id"]): s["name"] for s in document.get("staff", [])},
            matters={m["implementation_code"]: m["name"] for m in document.get("matters", [])},
            statutory_days={m["implementation_code"]: int(m["statutory_days"])
                            for m in document.get("matters", [])})

    @classmethod
    def latest(cls, client: Any) -> Names:
        """The latest directory in the views, or no names at all."""
        position, loads = client.query(LATEST_POSITION).result_rows[0]
        key = (int(position or 0), int(loads))
        known = _parsed.get(client)
        if known is not None and known[0] == key:
            return known[1]
        rows = client.query(LATEST).result_rows
        names = cls.from_document(json.loads(rows[0][0]).get("data") or {}) if rows \
            else cls()
        _parsed[client] = (key, names)
        return names

    def name(self, scope: str, row: Mapping[str, Any]) -> str | None:
        """The name of the unit a row of ``scope`` is about, or None if unknown."""
        if scope == "hall":
            return self.halls.get(row["hall_id"])
        if scope == "department":
            return str(row["department_id"])  # the directory names departments by name
        if scope == "window":
            return self.windows.get((row["hall_id"], row["window_id"]))
        if scope == "staff":
            return self.staff.get((row["hall_id"], row["staff_id"]))
        if scope == "matter":
            return self.matters.get(row["matter_code"])
        raise ValueError(f"unknown scope {scope!r}")

    def annotate(self, scope: str, rows: list[dict[str, Any]]) -> None:
        """Set ``name`` on every row (and ``hall_name`` where the row is within a hall)."""
        for row in rows:
            row["name"] = self.name(scope, row)
            if "hall_id" in row and scope != "hall":
                row["hall_name"] = self.halls.get(row["hall_id"])


def label(row: Mapping[str, Any], scope: str) -> str:
    """How the documents name a row: its names where the directory gives them, its ids
    where not. Staff are named with their id too: masked names (张*) collide."""
    name, hall = row.get("name"), row.get("hall_name") or row.get("hall_id", "")
    if scope == "hall":
        return str(name or row["hall_id"])
    if scope == "department":
        return str(row["department_id"])
    if scope == "window":
        return f"{hall} {name or row['window_id']}"
    if scope == "staff":
        who = f"{name}（{row['staff_id']}）" if name else str(row["staff_id"])
        return f"{hall} {who}"
    if scope == "matter":
        return f"{name}（{row['matter_code']}）" if name else str(row["matter_code"])
    raise ValueError(f"unknown scope {scope!r}")
