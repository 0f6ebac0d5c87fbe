"""The directory the bureau publishes (measures art. 17(6) A/B posts, 17(8) 办事公开):
halls, windows with their A and B posts, staff, and the matter catalogue (事项目录).

A directory document has the shape of ``schemas/directory.schema.json`` (checked at the
edge); :func:`consistency_problems` checks what the schema cannot. Each load is an event
of the :class:`DirectoryVersions` aggregate in the hall store (encrypted at rest there,
with the staff names in it); everything that leaves the store carries the document with
the names masked (:func:`masked_document`). The judge reads it as a typed
:class:`Directory`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch.case import NAMESPACE
from hallwatch.catalogue import mask_text
from hallwatch.notify import Channel, channels_of

DIRECTORY_LOADED = "directory.loaded"
STAFF_NAME_MASK = (1, 0)  # 张* : like the applicant's name


def consistency_problems(document: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: ids and codes are unique, references resolve, a B post
    is never the A post, the promise never exceeds the law, tolerable materials are on
    the published list. Each problem starts with the field path it concerns."""
    problems: list[str] = []
    halls = {h["id"]: h for h in document["halls"]}
    staff = {s["id"]: s for s in document["staff"]}
    if len(halls) != len(document["halls"]):
        problems.append("halls: hall ids are not unique")
    if len(staff) != len(document["staff"]):
        problems.append("staff: staff ids are not unique")
    windows = [w["id"] for h in document["halls"] for w in h["windows"]]
    if len(set(windows)) != len(windows):
        problems.append("halls: window ids are not unique")
    for i, person in enumerate(document["staff"]):
        if person["hall_id"] not in halls:
            problems.append(f"staff.{i}.hall_id: unknown hall {person['hall_id']}")
    for h, hall in enumerate(document["halls"]):
        for w, window in enumerate(hall["windows"]):
            path = f"halls.{h}.windows.{w}"
            for post in ("a_post", "b_post"):
                holder = staff.get(window[post])
                if holder is None:
                    problems.append(f"{path}.{post}: unknown staff {window[post]}")
                elif holder["hall_id"] != hall["id"]:
                    problems.append(f"{path}.{post}: {window[post]} works in another hall")
            if window["a_post"] == window["b_post"]:
                problems.append(f"{path}.b_post: the B post is the A post")
        channel_ids = [c["id"] for c in hall.get("notify", [])]
        if len(set(channel_ids)) != len(channel_ids):
            problems.append(f"halls.{h}.notify: channel ids are not unique")
    codes = [m["implementation_code"] for m in document["matters"]]
    if len(set(codes)) != len(codes):
        problems.append("matters: implementation codes are not unique")
    for i, matter in enumerate(document["matters"]):
        path = f"matters.{i}"
        if not re.fullmatch(r"[A-Za-z0-9]{1,24}", matter["implementation_code"]) or \
                not matter["implementation_code"].startswith(matter["basic_code"]):
            problems.append(f"{path}.implementation_code: does not extend its basic code")
        if matter["hall_id"] not in halls:
            problems.append(f"{path}.hall_id: unknown hall {matter['hall_id']}")
        if matter["promised_days"] > matter["statutory_days"]:
            problems.append(f"{path}.promised_days: exceeds the statutory days")
        if (matter["kind"] == "immediate") != (matter["promised_days"] == 0):
            problems.append(f"{path}.promised_days: {matter['promised_days']} days for an "
                            f"{matter['kind']} matter")
        tolerable = set(matter.get("tolerable_materials", []))
        if not tolerable <= set(matter["materials"]):
            problems.append(f"{path}.tolerable_materials: not on the material list")
        if matter["tolerance_allowed"] != bool(tolerable):
            problems.append(f"{path}.tolerance_allowed: disagrees with its tolerable "
                            f"materials")
    return problems


def masked_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every staff name masked (张*): for anyone but auditors."""
    staff = [{**person, "name": mask_text(str(person["name"]), *STAFF_NAME_MASK)}
             for person in document["staff"]]
    return {**document, "staff": staff}


def digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Matter:
    """One catalogued matter, as the judge needs it."""

    code: str
    name: str
    hall_id: str
    kind: str
    promised_days: int
    statutory_days: int
    tolerance_allowed: bool
    materials: frozenset[str]


@dataclass(frozen=True)
class Window:
    id: str
    hall_id: str
    a_post: str
    b_post: str


@dataclass(frozen=True)
class Directory:
    """A loaded directory version, read-only: what the judge asks of it."""

    version: str
    matters: Mapping[str, Matter]
    windows: Mapping[str, Window]
    halls: Mapping[str, str]  # hall id -> name
    # hall id -> how its people are notified of warnings, notices and red cards
    channels: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Directory:
        matters = {m["implementation_code"]: Matter(
            m["implementation_code"], m["name"], m["hall_id"], m["kind"],
            int(m["promised_days"]), int(m["statutory_days"]), bool(m["tolerance_allowed"]),
            frozenset(m["materials"])) for m in document["matters"]}
        windows = {w["id"]: Window(w["id"], h["id"], w["a_post"], w["b_post"])
                   for h in document["halls"] for w in h["windows"]}
        return cls(str(document["version"]), matters, windows,
                   {h["id"]: h["name"] for h in document["halls"]},
                   {h["id"]: channels_of(h) for h in document["halls"] if h.get("notify")})

    def matter(self, code: str | None) -> Matter | None:
        return self.matters.get(code or "")

    def window(self, window_id: str | None) -> Window | None:
        return self.windows.get(window_id or "")


class DirectoryVersions(Aggregate):
    """Every directory version the bureau loaded, in order (each load an event)."""

    @staticmethod
    def create_id() -> UUID:
        return uuid5(NAMESPACE, "directory")

    @event("Loaded")
    def __init__(self, document: dict[str, Any], directory_version: str, loaded_by: str,
                 loaded_at: str) -> None:
        self.document = document
        self.directory_version = directory_version

    @event("Reloaded")
    def reload(self, document: dict[str, Any], directory_version: str, loaded_by: str,
               loaded_at: str) -> None:
        self.document = document
        self.directory_version = directory_version


def version_of(document: Mapping[str, Any]) -> str:
    """The recorded version: the document's own version and a digest of its content, so a
    corrected file under the same version number is still a new version."""
    return f"{document['version']}:{digest(document)}"
