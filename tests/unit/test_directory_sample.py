"""The sample directory of the seed city passes its JSON Schema and is consistent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from hallwatch.directory import consistency_problems

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "directory" / "sample-city.v1.json"
SCHEMA = ROOT / "schemas" / "directory.schema.json"
BRANCHES = {"realestate", "employment", "traffic", "social-insurance", "medical-insurance",
            "housing-fund"}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def schema_errors(document: Any) -> list[str]:
    validator = Draft202012Validator(load(SCHEMA), format_checker=FormatChecker())
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]


def test_the_sample_directory_passes_its_schema() -> None:
    assert schema_errors(load(SAMPLE)) == []


def test_the_sample_directory_is_internally_consistent() -> None:
    assert consistency_problems(load(SAMPLE)) == []


def test_the_sample_covers_the_main_hall_and_every_branch_with_many_immediate_matters() -> None:
    directory = load(SAMPLE)
    kinds = {h["id"]: h["kind"] for h in directory["halls"]}
    assert kinds == {"main": "main", **{b: "branch" for b in BRANCHES}}
    for hall in kinds:
        served = [m for m in directory["matters"] if m["hall_id"] == hall]
        assert served, f"hall {hall} serves no matter"
    immediate = [m for m in directory["matters"] if m["kind"] == "immediate"]
    assert len(immediate) * 2 >= len(directory["matters"])
    promised = [m["promised_days"] for m in directory["matters"] if m["kind"] == "promised"]
    assert min(promised) >= 1 and max(promised) <= 20
    assert any(m["tolerance_allowed"] for m in directory["matters"])


@pytest.mark.parametrize(("path", "value", "field"), [
    (("matters", 0, "basic_code"), "TOO-LONG-CODE", "matters.0.basic_code"),
    (("matters", 0, "kind"), "other", "matters.0.kind"),
    (("halls", 0, "windows", 0, "b_post"), None, "halls.0.windows.0.b_post"),
    (("staff", 0, "name"), "", "staff.0.name"),
])
def test_a_malformed_directory_is_refused_naming_the_field(path: tuple[Any, ...], value: Any,
                                                           field: str) -> None:
    broken = copy.deepcopy(load(SAMPLE))
    target = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert any(error.startswith(field + ":") for error in schema_errors(broken))


def test_consistency_checks_catch_a_b_post_equal_to_the_a_post_and_an_unknown_holder() -> None:
    broken = copy.deepcopy(load(SAMPLE))
    window = broken["halls"][1]["windows"][0]
    window["b_post"] = window["a_post"]
    broken["halls"][2]["windows"][0]["a_post"] = "S9999"
    broken["matters"][1]["implementation_code"] = broken["matters"][0]["implementation_code"]
    broken["matters"][2]["promised_days"] = broken["matters"][2]["statutory_days"] + 1
    problems = consistency_problems(broken)
    assert "halls.1.windows.0.b_post: the B post is the A post" in problems
    assert "halls.2.windows.0.a_post: unknown staff S9999" in problems
    assert "matters: implementation codes are not unique" in problems
    assert "matters.2.promised_days: exceeds the statutory days" in problems


def test_staff_names_are_marked_as_personal_data_in_the_schema() -> None:
    name = load(SCHEMA)["$defs"]["staff"]["properties"]["name"]
    assert name["x-personal-data"] is True
