"""Validates CloudEvents against the JSON Schemas in ``schemas/`` (the same files the
docs and the AsyncAPI document describe), reporting the first error's field path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource

from hallwatch.catalogue import short_type
from hallwatch.errors import InvalidEvent

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ENVELOPE = SCHEMAS / "cloudevent.schema.json"


def data_schema_path(short: str, version: int = 1) -> Path:
    return SCHEMAS / "events" / short / f"v{version}.schema.json"


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        document = json.loads(path.read_text())
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


def _anchored_pattern(validator: Any, pattern: str, instance: Any, schema: Any
                     ) -> Iterator[ValidationError]:
    """Like ``pattern``, but an anchored ``...$`` pattern must match the whole string:
    Python's ``$`` also matches before a final newline, which would let "C1\n" through."""
    if not isinstance(instance, str):
        return
    whole = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if not re.search(whole, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


HallValidator = validators.extend(Draft202012Validator, {"pattern": _anchored_pattern})


@cache
def _validator(path: Path) -> Any:
    schema = json.loads(path.read_text())
    return HallValidator(schema, registry=_registry(), format_checker=FormatChecker())


def _first_error(validator: Any, instance: Any, prefix: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        error = min(errors, key=lambda e: len(e.absolute_path))
        path = ".".join([prefix, *map(str, error.absolute_path)]).strip(".")
        if error.validator == "required" or error.validator == "additionalProperties":
            # The message names the property; make it part of the path too.
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(p for p in (path, missing) if p)
        raise InvalidEvent(error.message, path or prefix)


def validate(envelope: Any) -> None:
    """Raise InvalidEvent (field path, reason) unless ``envelope`` is a valid hall event."""
    if not isinstance(envelope, dict):
        raise InvalidEvent("the body must be one JSON object (a CloudEvent)", "")
    _first_error(_validator(ENVELOPE), envelope, "")
    _first_error(_validator(data_schema_path(short_type(envelope["type"]))),
                 envelope["data"], "data")
