"""docs/integration.md's calendar and directory sections: the examples load with the same
checks the intake runs, and the calendar schema agrees with what the intake accepts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from hallwatch.calendar import YearRules
from hallwatch.errors import InvalidEvent
from services.intake import api, directory

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "integration.md").read_text()
CALENDAR_SCHEMA = json.loads((ROOT / "schemas" / "calendar.schema.json").read_text())


def block(tag: str) -> dict:
    (text,) = re.findall(rf"```json {tag}\n(.*?)\n```", DOC, flags=re.S)
    return json.loads(text)


def section(title: str) -> str:
    return DOC.split(title, 1)[1].split("\n## ", 1)[0]


def test_both_sections_point_at_their_schemas_in_chinese_and_english():
    calendar = section("工作日历 · The calendar format")
    names = section("名录格式 · The directory format")
    assert "schemas/calendar.schema.json" in calendar and "格式定义" in calendar
    assert "schemas/directory.schema.json" in names and "docs/directory.md" in names
    for part in (calendar, names):
        assert "**中文。**" in part and "**English.**" in part
    for path in ("schemas/calendar.schema.json", "schemas/directory.schema.json"):
        assert (ROOT / path).is_file()


def test_the_example_directory_passes_the_intakes_schema_and_consistency_checks():
    document = block("directory")
    assert directory.check(document) == document  # raises InvalidEvent naming the field


def test_the_example_directory_with_a_b_post_equal_to_its_a_post_is_refused():
    document = block("directory")
    document["halls"][0]["windows"][0]["b_post"] = "S0011"
    with pytest.raises(InvalidEvent) as refused:
        directory.check(document)
    assert refused.value.field.endswith("b_post")


def test_the_example_calendar_validates_against_the_calendar_schema():
    jsonschema.Draft202012Validator.check_schema(CALENDAR_SCHEMA)
    jsonschema.validate(block("calendar"), CALENDAR_SCHEMA,
                        format_checker=jsonschema.FormatChecker())


def test_the_calendar_schema_is_the_body_the_intake_documents():
    body = api.YEAR_BODY
    assert CALENDAR_SCHEMA["required"] == body["required"]
    assert CALENDAR_SCHEMA["additionalProperties"] is body["additionalProperties"] is False
    assert set(CALENDAR_SCHEMA["properties"]) == set(body["properties"])
    year = CALENDAR_SCHEMA["properties"]["year"]
    assert (year["minimum"], year["maximum"]) == (body["properties"]["year"]["minimum"],
                                                  body["properties"]["year"]["maximum"])


@pytest.mark.parametrize("change", [
    {"year": 1999}, {"holidays": ["2026-13-01"]}, {"workdays": "2026-10-10"},
    {"year": "2026"},
])
def test_a_calendar_the_schema_refuses_the_intake_refuses_too(change):
    document = {**copy.deepcopy(block("calendar")), **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, CALENDAR_SCHEMA, format_checker=jsonschema.FormatChecker())
    with pytest.raises(ValueError):
        YearRules.from_dict(document)
