"""Schemas, intake, AsyncAPI and docs describe one catalogue and never drift apart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from hallwatch import lifecycle
from hallwatch.catalogue import ALL_TYPES, CASE_TYPES, TYPE_PREFIX
from services.intake import validation

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "events.md").read_text()


def schema(short: str) -> dict:
    return json.loads(validation.data_schema_path(short).read_text())


def documented_fields(section: str) -> set[str]:
    """Field names in the table under ``### <section>`` of docs/events.md."""
    body = DOC.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M))


def test_every_catalogued_type_has_a_data_schema_and_nothing_else_does():
    on_disk = {p.parent.name for p in (ROOT / "schemas" / "events").glob("*/v1.schema.json")}
    assert on_disk == set(ALL_TYPES)


def test_the_envelope_accepts_exactly_the_catalogued_types():
    envelope = json.loads(validation.ENVELOPE.read_text())
    assert set(envelope["properties"]["type"]["enum"]) == {TYPE_PREFIX + t for t in ALL_TYPES}


def test_the_docs_list_exactly_each_schemas_fields():
    for short in ALL_TYPES:
        assert documented_fields(TYPE_PREFIX + short) == set(schema(short)["properties"]), short


def test_the_docs_list_exactly_the_envelopes_fields():
    envelope = json.loads(validation.ENVELOPE.read_text())
    table = DOC.split("## Envelope\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M)) == set(
        envelope["properties"])


def test_the_asyncapi_document_has_a_message_for_every_type_on_hall_events():
    spec = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text())
    assert spec["asyncapi"].startswith("3.")
    messages = set(spec["components"]["messages"])
    assert {TYPE_PREFIX + t for t in ALL_TYPES} <= messages
    assert {"hall.events", "supervision.alerts"} <= {
        c["address"] for c in spec["channels"].values()}


def test_every_case_type_has_a_lifecycle_rule():
    assert set(lifecycle.TRANSITIONS) == set(CASE_TYPES)


def test_the_lifecycle_doc_is_the_generated_table():
    doc = (ROOT / "docs" / "lifecycle.md").read_text()
    assert doc.endswith(lifecycle.as_markdown())


def test_every_schema_field_has_a_description():
    for short in ALL_TYPES:
        for name, prop in schema(short)["properties"].items():
            assert prop.get("description"), f"{short}.{name}"
