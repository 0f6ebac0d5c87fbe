"""docs/integration.md shows vendors events the intake accepts, one per action, a calendar
the intake loads, and every refusal status the intake gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hallwatch.calendar import YearRules
from hallwatch.catalogue import ALL_TYPES, TYPE_PREFIX
from services.common.http import STATUS
from services.intake import validation

DOC = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text()


def blocks(tag: str) -> list[str]:
    return re.findall(rf"```{tag}\n(.*?)\n```", DOC, flags=re.S)


def test_every_example_event_passes_the_intakes_validation_and_every_action_has_one():
    events = [json.loads(b) for b in blocks("json")]
    for event in events:
        validation.validate(event)  # raises, naming the field, if a doc example drifted
    assert sorted(e["type"] for e in events) == sorted(TYPE_PREFIX + t for t in ALL_TYPES)
    assert len({e["id"] for e in events}) == len(events)


def test_the_example_calendar_loads():
    (calendar,) = blocks("json calendar")
    rules = YearRules.from_dict(json.loads(calendar))
    assert rules.holidays and rules.workdays


def test_the_refusal_table_explains_every_status_the_intake_can_answer():
    table = DOC.split("## 5.", 1)[1].split("\n## ", 1)[0]
    documented = {int(s) for s in re.findall(r"^\| (\d{3}) \|", table, flags=re.M)}
    assert documented == set(STATUS.values()) | {400, 401, 413, 415}


def test_every_section_is_in_chinese_and_english():
    for section in DOC.split("\n## ")[1:]:
        title = section.splitlines()[0]
        assert re.search(r"[\u4e00-\u9fff]", section), title
        assert re.search(r"\b(the|and|is)\b", section), title
