"""Tool arguments checked against JSON Schema 2020-12, compiled once a tool.

The jsonschema library is the reference: it checks the schema at start-up and explains every refusal.
Arguments are first offered to jsonschema-rs (a compiled validator that passes the same official test
suite, about a hundred times faster), with jsonschema's format checkers put in place of its own:
what it accepts is accepted at once, and only what it refuses goes to jsonschema, whose verdict wins.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import SchemaError as BrokenSchema
from jsonschema.exceptions import ValidationError, best_match
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

logger = logging.getLogger(__name__)

# A reason longer than this is cut: jsonschema quotes the offending value, which may be 10,000 characters.
MAX_REASON = 300
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)

# jsonschema checks date, email, idn-email, ipv4, ipv6, regex and uuid (idn-hostname with idna) on its
# own; date-time needs a package we do not ship, so the standard library checks it (RFC 3339 §5.6).
FORMATS = FormatChecker(Draft202012Validator.FORMAT_CHECKER.checkers)


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    found = _RFC3339.fullmatch(value)
    if found is None:
        return False
    second = found.group(1)  # a leap second (60) is valid RFC 3339 but not a datetime
    stamp = value[: found.start(1)] + ("59" if second == "60" else second) + value[found.end(1) :]
    datetime.fromisoformat(stamp.upper().replace("Z", "+00:00"))
    return True


class SchemaError(ValueError):
    """Where and why the arguments break their schema: a short message meant for the caller."""


class ArgumentValidator:
    """A tool's input schema, compiled once; no network: only references inside the schema resolve."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft202012Validator(schema, format_checker=FORMATS, registry=Registry())
        self._split = _split(self._validator)
        self._compiled = _compiled(schema)

    def validate(self, arguments: Any, ctx: Any = None) -> Any:
        """The arguments, unchanged, when they fit; else raise ``SchemaError`` saying where and why,
        e.g. ``arguments.count: 11 is greater than …``. (``ctx``, the call's context, is not needed.)"""
        try:
            if self._fits(arguments):  # the common case: no error objects built
                return arguments
            error = best_match(self._validator.iter_errors(arguments))
            if error is None:  # cannot happen while _split is right; jsonschema's own verdict wins
                return arguments
        except Unresolvable:  # a $ref the start-up check could not see (one under a nested $id)
            logger.exception("A tool's input schema has an unresolvable $ref")
            raise SchemaError("arguments: the tool's input schema cannot be resolved") from None
        raise SchemaError(_reason(error))

    def _fits(self, arguments: Any) -> bool:
        if self._compiled is not None and self._compiled.is_valid(arguments):
            return True  # what the compiled validator refuses, jsonschema looks at again
        if self._split is None or not isinstance(arguments, dict):
            return self._validator.is_valid(arguments)
        rest, properties = self._split
        return rest.is_valid(arguments) and all(
            validator.is_valid(arguments[name]) for name, validator in properties if name in arguments
        )

    def check(self) -> None:
        """Raise ``jsonschema.SchemaError`` for an invalid 2020-12 schema or a $ref that dangles."""
        Draft202012Validator.check_schema(self.schema, format_checker=FORMATS)
        resolver = SPECIFICATIONS.resolver_with_root(DRAFT202012.create_resource(self.schema))
        for reference in _references(self.schema):
            try:
                resolver.lookup(reference)
            except Unresolvable as exc:
                raise BrokenSchema(f"$ref {reference!r} does not resolve (no remote references)") from exc


def _format_check(name: str) -> Any:
    return lambda value: FORMATS.conforms(value, name)


def _compiled(schema: dict[str, Any]) -> Any:
    """jsonschema-rs's validator of ``schema``, offline, checking formats exactly as ``FORMATS`` does
    (the formats jsonschema leaves alone are checked by jsonschema-rs's own rules, which can only make
    it refuse more); None when it cannot compile the schema (jsonschema alone then decides)."""
    try:
        return jsonschema_rs.Draft202012Validator(
            schema,
            validate_formats=True,
            formats={name: _format_check(name) for name in FORMATS.checkers},
            offline=True,
        )
    except Exception:  # noqa: BLE001  (any schema jsonschema-rs cannot take is jsonschema's alone)
        return None


def _split(validator: Draft202012Validator) -> tuple[Any, tuple[tuple[str, Any], ...]] | None:
    """The root's ``properties`` as validators of their own, next to the root with each property ``true``.

    The same verdict without the rebuilding: jsonschema builds a validator for every property it
    descends into on every call; these are built once. Whatever reads the root's properties still sees
    their names (``additionalProperties``) and, through the unchanged resolver, their schemas (``$ref``).
    """
    schema = validator.schema
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        return None
    if any(isinstance(sub, dict) and "$id" in sub for sub in properties.values()):
        return None  # a new base URI: leave the resolver's bookkeeping to jsonschema
    # Without $schema, evolve keeps Draft 2020-12 (it would pick the class $schema names) and the resolver.
    root = {key: value for key, value in schema.items() if key != "$schema"}
    rest = validator.evolve(schema={**root, "properties": dict.fromkeys(properties, True)})
    return rest, tuple((name, validator.evolve(schema=sub)) for name, sub in properties.items())


def _reason(error: ValidationError) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    reason = f"arguments{where}: {error.message}"
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def _references(schema: Any, root: bool = True) -> Iterator[str]:
    """Every ``$ref`` in the schema, except under a nested ``$id`` (resolved against another base)."""
    if isinstance(schema, dict):
        if not root and "$id" in schema:
            return
        if isinstance(schema.get("$ref"), str):
            yield schema["$ref"]
        for key, value in schema.items():
            if key not in ("enum", "const", "default", "examples"):
                yield from _references(value, root=False)
    elif isinstance(schema, list):
        for value in schema:
            yield from _references(value, root=False)
