"""The parts of a directory file (``schemas/directory.schema.json``) the simulator uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "directory" / "sample-city.v1.json"


@dataclass(frozen=True)
class Window:
    id: str
    a_post: str
    b_post: str


@dataclass(frozen=True)
class Matter:
    code: str  # 实施编码
    name: str
    kind: str  # immediate | promised
    promised_days: int
    materials: tuple[str, ...]
    tolerable: tuple[str, ...]
    legal_basis: str


@dataclass(frozen=True)
class Hall:
    id: str
    name: str
    unit_code: str | None
    windows: tuple[Window, ...]
    matters: tuple[Matter, ...]


def load(path: Path = SAMPLE) -> list[Hall]:
    """The halls of a directory file, each with its windows and the matters it accepts."""
    document: dict[str, Any] = json.loads(Path(path).read_text())
    halls = []
    for hall in document["halls"]:
        matters = tuple(
            Matter(m["implementation_code"], m["name"], m["kind"], m["promised_days"],
                   tuple(m["materials"]), tuple(m.get("tolerable_materials", [])),
                   m["legal_basis"])
            for m in document["matters"] if m["hall_id"] == hall["id"])
        windows = tuple(Window(w["id"], w["a_post"], w["b_post"]) for w in hall["windows"])
        halls.append(Hall(hall["id"], hall["name"], hall.get("unit_code"), windows, matters))
    return halls
