"""The sample directory of the seed city passes its JSON Schema and is consistent."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

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


def consistency_problems(directory: dict[str, Any]) -> list[str]:
    """What the schema cannot say: references resolve, ids and codes are unique, the
    promise never exceeds the law, tolerable materials are on the published list."""
    problems: list[str] = []
    halls = {h["id"]: h for h in directory["halls"]}
    staff = {s["id"]: s for s in directory["staff"]}
    if len(halls) != len(directory["halls"]):
        problems.append("hall ids are not unique")
    if len(staff) != len(directory["staff"]):
        problems.append("staff ids are not unique")
    window_ids = [w["id"] for h in directory["halls"] for w in h["windows"]]
    if len(set(window_ids)) != len(window_ids):
        problems.append("window ids are not unique")
    for person in directory["staff"]:
        if person["hall_id"] not in halls:
            problems.append(f"staff {person['id']}: unknown hall {person['hall_id']}")
    for hall in directory["halls"]:
        for window in hall["windows"]:
            for post in ("a_post", "b_post"):
                holder = staff.get(window[post])
                if holder is None:
                    problems.append(f"window {window['id']}: {post} {window[post]} is unknown")
                elif holder["hall_id"] != hall["id"]:
                    problems.append(f"window {window['id']}: {post} works in another hall")
            if window["a_post"] == window["b_post"]:
                problems.append(f"window {window['id']}: B post is the A post")
    codes = [m["implementation_code"] for m in directory["matters"]]
    if len(set(codes)) != len(codes):
        problems.append("implementation codes are not unique")
    for matter in directory["matters"]:
        code = matter["implementation_code"]
        if not re.fullmatch(r"[A-Za-z0-9]{1,10}", matter["basic_code"]):
            problems.append(f"{code}: basic code is not an..10")
        if not re.fullmatch(r"[A-Za-z0-9]{1,24}", code):
            problems.append(f"{code}: implementation code is not an..24")
        if not code.startswith(matter["basic_code"]):
            problems.append(f"{code}: does not extend its basic code {matter['basic_code']}")
        if matter["hall_id"] not in halls:
            problems.append(f"{code}: unknown hall {matter['hall_id']}")
        if matter["promised_days"] > matter["statutory_days"]:
            problems.append(f"{code}: promised days exceed the statutory days")
        if (matter["kind"] == "immediate") != (matter["promised_days"] == 0):
            problems.append(f"{code}: kind {matter['kind']} with {matter['promised_days']} days")
        tolerable = set(matter.get("tolerable_materials", []))
        if not tolerable <= set(matter["materials"]):
            problems.append(f"{code}: tolerable materials not on the material list")
        if matter["tolerance_allowed"] != bool(tolerable):
            problems.append(f"{code}: tolerance_allowed disagrees with its tolerable materials")
    return problems


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
    assert f"window {window['id']}: B post is the A post" in problems
    assert any("a_post S9999 is unknown" in p for p in problems)
    assert "implementation codes are not unique" in problems
    assert any("promised days exceed" in p for p in problems)


def test_staff_names_are_marked_as_personal_data_in_the_schema() -> None:
    name = load(SCHEMA)["$defs"]["staff"]["properties"]["name"]
    assert name["x-personal-data"] is True
