"""Strict decoding and validation of hall events.

Bodies are UTF-8 JSON only, with no duplicate member names and at most ``MAX_DEPTH``
levels of nesting. Events are validated against the JSON Schemas in ``schemas/`` (the
same files the docs and the AsyncAPI document describe), reporting the first error's
field path, with three tightenings of JSON Schema's defaults:

- ``integer`` means a JSON integer: ``365.0`` is refused where a whole number is meant;
- every ``date-time`` lies between the configured floor (``HALLWATCH_TIME_FLOOR``,
  default 2000-01-01, +08:00) and 2100-12-31 (the calendar's last year);
- no string anywhere (values or member names) holds a control character other than
  tab, line feed and carriage return, a bidirectional-text control (U+200E, U+200F,
  U+202A–U+202E, U+2066–U+2069), a lone surrogate or a non-character (U+FFFE, U+FFFF).
  Such characters are refused, never stripped, so a stored event is what the hall sent.
  Tab and line breaks pass only in free text (reasons, comments, names): identifiers'
  patterns refuse them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource

from hallwatch.catalogue import short_type
from hallwatch.errors import InvalidEvent
from services.common.http import Problem, check_moment

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ENVELOPE = SCHEMAS / "cloudevent.schema.json"
MAX_DEPTH = 16  # an event is 4 levels deep; anything far deeper is an attack
DEFAULT_FLOOR = date(2000, 1, 1)
FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]")


@cache  # one per event type and version
def data_schema_path(short: str, version: int = 1) -> Path:
    return SCHEMAS / "events" / short / f"v{version}.schema.json"


# -- decoding -------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Problem(400, f"member {key!r} appears twice in one object", key)
        out[key] = value
    return out


def decode(body: bytes, check: bool = True) -> Any:
    """Strict JSON: UTF-8 only (no BOM), no duplicate members, bounded depth; raises a
    400 Problem saying what is wrong. ``check=False`` leaves depth and characters to be
    checked item by item (a batch refuses only the items at fault)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(400, f"the body must be UTF-8 ({error.reason} at byte "
                           f"{error.start})") from None
    if text.startswith("\ufeff"):
        raise Problem(400, "the body must be UTF-8 without a byte order mark")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise Problem(400, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise Problem(400, f"body is not JSON: {error}") from None
    if check:
        check_shape(value)
    return value


def check_shape(value: Any) -> bool:
    """Refuse nesting beyond MAX_DEPTH and forbidden characters, naming the field.
    Returns whether any number in ``value`` is a float (see :func:`validate`)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    floats = False
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Problem(400, f"JSON nested deeper than {MAX_DEPTH} levels", path)
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, float):
            floats = True
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                _check_text(key, child_path)
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return floats


def _check_text(text: str, path: str) -> None:
    found = FORBIDDEN_CHARACTERS.search(text)
    if found:
        raise InvalidEvent(f"character U+{ord(found.group()):04X} is not allowed here "
                           "(control, bidirectional or unpaired surrogate)", path)


# -- schema validation ---------------------------------------------------------------------


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


def _whole_number(_: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


FORMAT = Draft202012Validator.VALIDATORS["format"]


@cache
def _validator_class(floor: date) -> Any:
    def bounded_format(validator: Any, format: str, instance: Any, schema: Any
                       ) -> Iterator[ValidationError]:
        yield from FORMAT(validator, format, instance, schema)
        if format == "date-time" and isinstance(instance, str):
            try:
                moment = datetime.fromisoformat(instance.replace("Z", "+00:00"))
            except ValueError:
                return  # the format check above has said so
            try:
                check_moment(moment, "", floor)
            except InvalidEvent as error:
                yield ValidationError(f"{instance!r}: {error.reason}")

    types = Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole_number)
    return validators.extend(Draft202012Validator,
                             {"pattern": _anchored_pattern, "format": bounded_format},
                             type_checker=types)


@cache
def _validator(path: Path, floor: date) -> Any:
    schema = json.loads(path.read_text())
    return _validator_class(floor)(schema, registry=_registry(),
                                   format_checker=FormatChecker())


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


# -- the compiled fast path ------------------------------------------------------------------
#
# jsonschema interprets the schemas at every call (most of the intake's time per event).
# fastjsonschema compiles each schema to Python once. It decides only that an event is
# valid: whenever it refuses one, or cannot be trusted to decide, the interpreted
# validator above judges the event and names the field, so a refusal reads exactly the
# same either way. Where the two could differ, the compiled one is made at least as strict:
# formats are checked by jsonschema's own format checker (with the date-time bounds), its
# patterns already end at the end of the string (it rewrites `$` to `\Z`), defaults are
# never filled in, and an event holding any float goes to the interpreted validator (the
# compiled one counts 365.0 as an integer). tests/unit/test_compiled_validation.py keeps
# the schemas within the keywords both implement.


@cache
def _schemas_by_id() -> dict[str, Any]:
    return {document["$id"]: document for document in
            (json.loads(path.read_text()) for path in SCHEMAS.rglob("*.schema.json"))}


def _local_schema(uri: str) -> Any:
    """Every $ref names one of our schema files by its $id; nothing is fetched."""
    try:
        return _schemas_by_id()[uri]
    except KeyError:
        raise LookupError(f"no schema with $id {uri}") from None


def _within_bounds(text: str, floor: date) -> bool:
    try:
        check_moment(datetime.fromisoformat(text.replace("Z", "+00:00")), "", floor)
    except (ValueError, InvalidEvent):
        return False
    return True


@cache
def _compiled(path: Path, floor: date) -> Callable[[Any], Any]:
    checker = FormatChecker()

    def conforming(name: str) -> Callable[[str], bool]:
        def conforms(text: str) -> bool:
            return checker.conforms(text, name) and (
                name != "date-time" or _within_bounds(text, floor))
        return conforms

    return fastjsonschema.compile(  # type: ignore[no-any-return]
        json.loads(path.read_text()), handlers={"https": _local_schema, "http": _local_schema},
        formats={name: conforming(name) for name in checker.checkers}, use_default=False)


def _passes(path: Path, floor: date, instance: Any) -> bool:
    try:
        _compiled(path, floor)(instance)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def validate(envelope: Any, floor: date = DEFAULT_FLOOR) -> None:
    """Raise InvalidEvent (field path, reason) unless ``envelope`` is a valid hall event."""
    if not isinstance(envelope, dict):
        raise InvalidEvent("the body must be one JSON object (a CloudEvent)", "")
    floats = check_shape(envelope)
    if not floats and _passes(ENVELOPE, floor, envelope) and _passes(
            data_schema_path(short_type(envelope["type"])), floor, envelope["data"]):
        return
    _first_error(_validator(ENVELOPE, floor), envelope, "")
    _first_error(_validator(data_schema_path(short_type(envelope["type"])), floor),
                 envelope["data"], "data")
