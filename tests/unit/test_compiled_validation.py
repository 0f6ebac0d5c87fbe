"""The compiled validator (fastjsonschema) only ever says "valid" where the interpreted
one (jsonschema, the reference that names the field) agrees; on the simulator's events
of every type it does say so, so the fast path is the one taken."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallwatch.catalogue import short_type
from hallwatch.errors import InvalidEvent
from services.intake import validation
from services.simulator import directory
from services.simulator.city import City

SAMPLES = [p.envelope for p in City(directory.load(), 5, scale=0.5).plan_day(date(2026, 3, 3))]
# Keywords both validators implement alike (fastjsonschema: drafts 4 to 2019-09 without
# the 2019 vocabulary changes); annotations neither checks.
COMPILED_ALIKE = {"type", "properties", "required", "additionalProperties", "pattern", "enum",
                  "format", "items", "minimum", "maximum", "const", "minItems", "maxItems",
                  "uniqueItems", "minLength", "maxLength", "if", "then", "else", "allOf",
                  "anyOf", "oneOf", "not", "$ref", "$defs"}
ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "examples",
               "x-personal-data"}


def keywords(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key in ("properties", "$defs"):
                for child in value.values():
                    found |= keywords(child)
            elif key not in ("enum", "const", "required", "default", "examples"):
                found |= keywords(value)
            if key == "$ref":
                # 2020-12 applies a $ref's siblings; older drafts ignore them.
                assert not set(schema) - {"$ref"} - ANNOTATIONS, schema
    elif isinstance(schema, list):
        for item in schema:
            found |= keywords(item)
    return found


def reference_accepts(envelope: Any) -> bool:
    """The interpreted validator alone."""
    floor = validation.DEFAULT_FLOOR
    try:
        validation._first_error(validation._validator(validation.ENVELOPE, floor), envelope, "")
        schema = validation.data_schema_path(short_type(envelope["type"]))
        validation._first_error(validation._validator(schema, floor), envelope["data"], "data")
    except InvalidEvent:
        return False
    return True


def compiled_accepts(envelope: Any) -> bool:
    """What ``validate`` decides without the interpreted validator (floats never are)."""
    floor = validation.DEFAULT_FLOOR
    try:
        if validation.check_shape(envelope):
            return False
    except InvalidEvent:
        return False
    return validation._passes(validation.ENVELOPE, floor, envelope) and validation._passes(
        validation.data_schema_path(short_type(envelope["type"])), floor, envelope["data"])


def test_the_schemas_use_only_keywords_both_validators_implement_alike():
    for path in validation.SCHEMAS.rglob("*.schema.json"):
        used = keywords(json.loads(path.read_text()))
        assert used <= COMPILED_ALIKE | ANNOTATIONS, (path.name, used - COMPILED_ALIKE)


def test_every_type_of_simulated_event_takes_the_compiled_path():
    assert {short_type(e["type"]) for e in SAMPLES} >= {
        "case.accepted", "case.completed", "post.absence_noticed", "complaint.received"}
    for envelope in SAMPLES:
        assert compiled_accepts(envelope), envelope


odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False),
    st.integers(-10, 400).map(float),
    st.sampled_from(["", "C1\n", "W01", "2026-03-03T10:00:00+08:00", "1999-12-31T23:59:59Z",
                     "2101-01-01T00:00:00+08:00", "2026-02-30", "2026-03-03", "x" * 300,
                     "approved", "promised", "/halls/H1", "\u202e", "365.0"]),
    st.text(max_size=12), st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.sampled_from(["name", "id_type", "id_no", "phone", "x"]),
                    st.text(max_size=8), max_size=3))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    envelope = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["envelope", "data"]))
        target = envelope if where == "envelope" or not isinstance(envelope.get("data"), dict) \
            else envelope["data"]
        names = [*sorted(target), "extra"]
        name = draw(st.sampled_from(names))
        if name != "type" and draw(st.booleans()):
            target.pop(name, None)
        elif name != "type":
            target[name] = draw(odd_values)
    return envelope


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_compiled_validator_never_accepts_what_the_reference_refuses(envelope):
    if compiled_accepts(envelope):
        assert reference_accepts(envelope), envelope
