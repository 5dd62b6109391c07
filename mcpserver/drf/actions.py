"""One ViewSet action as one tool: its schemas (from drf-spectacular's view of the action), the split of
a call's arguments into the lookup, the query and the body, and the action run for real.

The arguments are the lookup (``id`` for ``pk``, else the lookup's own name) on a detail action, the
filter backends' and the ``@extend_schema`` query parameters, the request serializer's fields, and
``cursor`` on a paginated action (the paginator's own parameters are not arguments). Only the lookup,
the query parameters and the known names are checked here; the body is the serializer's to check.

A call builds a Django request (method, JSON body, query string) for the caller, and runs the view
``ViewSet.as_view()`` makes: the ViewSet's own ``initial()``, permission classes, ``get_queryset()``,
``get_object()`` and serializers, with the caller authenticated by ``requests.CallerAuthentication``,
JSON in and out, and no throttles. ``responses`` reads its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from jsonschema import Draft202012Validator
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from ..schemas import SchemaError
from . import cursors, requests, responses
from .schemas import Inspector
from .serializers import items_schema

# What an MCP call changes about the ViewSet: who is authenticated, JSON only, no throttling.
FORCED = {
    "authentication_classes": (requests.CallerAuthentication,),
    "parser_classes": (JSONParser,),
    "renderer_classes": (JSONRenderer,),
    "throttle_classes": (),
}
INSPECTED = {name: value for name, value in FORCED.items() if name != "authentication_classes"}
CURSOR_SCHEMA = {"type": "string", "description": "The nextCursor of a page, for the page after it."}
NEXT_CURSOR_SCHEMA = {"type": "string", "description": "Pass as cursor for the next page; none on the last."}
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Action:
    name: str  # the ViewSet method: list, retrieve, ... or an @action's
    method: str  # lower-case HTTP method
    detail: bool  # about one object (a lookup in the path)
    initkwargs: tuple[tuple[str, Any], ...] = ()  # an @action's own (serializer_class=..., ...)


@dataclass(frozen=True)
class Arguments:
    schema: dict[str, Any]  # the tool's input schema
    filters: frozenset[str]  # query parameters (the filter backends', @extend_schema's)
    fields: frozenset[str]  # the request body's


class ActionTool:
    """The validator (``schema``, ``validate``, ``check``) and the handler of one action's tool."""

    def __init__(self, viewset: type, prefix: str, action: Action, name: str) -> None:
        self.action, self.prefix, self.name = action, prefix, name
        initkwargs = {**dict(action.initkwargs), "basename": prefix, "detail": action.detail}
        self.view = viewset.as_view({action.method: action.name}, **initkwargs, **FORCED)
        self.lookup = viewset.lookup_url_kwarg or viewset.lookup_field
        self.argument = ("id" if self.lookup == "pk" else self.lookup) if action.detail else None
        # Inspected with its own authenticators: drf-spectacular knows them; the schema has no use for them.
        inspected = viewset.as_view({action.method: action.name}, **initkwargs, **INSPECTED)
        inspector = Inspector.of_action(inspected, action.method)
        path = f"/{prefix}/{{{self.lookup}}}/" if action.detail else f"/{prefix}/"
        regex = f"^{prefix}/(?P<{self.lookup}>[^/.]+)/$" if action.detail else f"^{prefix}/$"
        operation = inspector.operation(path, regex, action.method)
        pages = _pagination_names(inspector.view) if _paginated(operation, inspector.view) else None
        self.arguments = self._arguments(operation, inspector, pages)
        self.schema = self.arguments.schema
        self.names = frozenset(self.schema["properties"])
        # What a cursor may carry (None: the action is not paginated).
        self.cursor_names = None if pages is None else self.arguments.filters | pages
        # The published output, and whether it is a list (True), an object (False) or absent (None).
        self.output_schema, self.listing = self._output(operation, inspector)

    # --- schemas, once ---

    def _arguments(
        self, operation: dict[str, Any], inspector: Inspector, pages: frozenset[str] | None
    ) -> Arguments:
        properties, required, filters = self._parameters(operation, inspector, pages)
        body = _json_schema(operation.get("requestBody"))
        body = inspector.plain(body) if body else {"type": "object"}
        fields = body.get("properties", {})
        if body.get("type") != "object":
            raise ImproperlyConfigured(f"MCP tool {self.name!r}: the request body must be an object.")
        clash = set(fields) & {*properties, *(("cursor",) if pages is not None else ())}
        if clash:
            names = ", ".join(sorted(clash))
            raise ImproperlyConfigured(f"MCP tool {self.name!r}: {names} is both a field and a parameter.")
        properties.update(fields)
        required.extend(name for name in body.get("required", ()) if name not in required)
        if pages is not None:
            properties["cursor"] = dict(CURSOR_SCHEMA)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        if "$defs" in body:
            schema["$defs"] = body["$defs"]
        return Arguments(schema, frozenset(filters), frozenset(fields))

    def _parameters(
        self, operation: dict[str, Any], inspector: Inspector, pages: frozenset[str] | None
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        """The lookup and the query parameters (the paginator's left out): schemas, required, filters."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        filters: list[str] = []
        for parameter in operation.get("parameters", ()):
            name, where = parameter.get("name"), parameter.get("in")
            if where == "path" and name == self.lookup:
                name = self.argument
            elif where != "query" or (pages is not None and name in pages):
                continue
            else:
                filters.append(name)
            properties[name] = _described(inspector.plain(parameter.get("schema", {})), parameter)
            if parameter.get("required"):
                required.append(name)
        return properties, required, filters

    def _output(
        self, operation: dict[str, Any], inspector: Inspector
    ) -> tuple[dict[str, Any] | None, bool | None]:
        answers = operation.get("responses", {})
        found = next((_json_schema(answers[code]) for code in sorted(answers) if code.startswith("2")), None)
        if not found:
            return None, None
        schema = inspector.plain(found)
        if schema.get("type") == "array" or self.cursor_names is not None:
            item = schema.get("items") or schema.get("properties", {}).get("results", {}).get("items", {})
            if "$defs" in schema:
                item = {**item, "$defs": schema["$defs"]}
            more = {"nextCursor": dict(NEXT_CURSOR_SCHEMA)} if self.cursor_names is not None else {}
            return items_schema(item, **more), True
        return (schema, False) if schema.get("type") == "object" else (None, None)

    def check(self) -> None:
        """Raise ``jsonschema.SchemaError`` if drf-spectacular made a schema that is not 2020-12."""
        Draft202012Validator.check_schema(self.schema)

    # --- each call ---

    def validate(self, arguments: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
        """``{"lookup": ..., "query": [...], "body": {...}, "paged": bool}``; ``SchemaError`` for an unknown
        name, a missing lookup, a parameter that is no scalar, or a cursor this server did not make."""
        unknown = [name for name in arguments if name not in self.names]
        if unknown:
            raise SchemaError("; ".join(f"arguments.{name}: Unknown field." for name in unknown))
        lookup = None
        if self.argument is not None:
            lookup = arguments.get(self.argument)
            if isinstance(lookup, bool) or not isinstance(lookup, str | int) or lookup == "":
                raise SchemaError(f"arguments.{self.argument}: A string or an integer is required.")
        cursor = arguments.get("cursor")
        query = dict(cursors.decode(cursor, self.cursor_names or ())) if cursor is not None else {}
        for name in self.arguments.filters & set(arguments):
            query[name] = _query_value(name, arguments[name])
        body = {name: arguments[name] for name in self.arguments.fields if name in arguments}
        return {"lookup": lookup, "query": list(query.items()), "body": body, "paged": cursor is not None}

    def __call__(
        self, ctx: Any, lookup: Any, query: list[tuple[str, str]], body: dict[str, Any], paged: bool
    ) -> dict[str, Any]:
        path = f"/{self.prefix}/" if lookup is None else f"/{self.prefix}/{quote(str(lookup), safe='')}/"
        sends_body = self.action.method in ("post", "put", "patch")
        request = requests.http_request(ctx, self.action.method, path, query, body if sends_body else None)
        kwargs = {} if lookup is None else {self.lookup: str(lookup)}
        response = self.view(request, **kwargs)
        what = self.prefix if lookup is None else f"{self.prefix}/{lookup}"
        if 200 <= response.status_code < 300:
            return responses.success(response, self.name, what, self.listing, self.cursor_names)
        raise responses.failure(response, self.name, what, self.action.detail, paged)


def _paginated(operation: dict[str, Any], view: Any) -> bool:
    paginator = getattr(view, "paginator", None)
    names = _pagination_names(view)
    return paginator is not None and any(p.get("name") in names for p in operation.get("parameters", ()))


def _pagination_names(view: Any) -> frozenset[str]:
    paginator = getattr(view, "paginator", None)
    if paginator is None:
        return frozenset()
    return frozenset(p["name"] for p in paginator.get_schema_operation_parameters(view))


def _described(schema: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    if parameter.get("description") and "description" not in schema:
        return {**schema, "description": parameter["description"]}
    return schema


def _json_schema(part: Any) -> dict[str, Any] | None:
    if not isinstance(part, dict):
        return None
    return part.get("content", {}).get("application/json", {}).get("schema")


def _query_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _SCALARS):
        return str(value)
    raise SchemaError(f"arguments.{name}: A string, a number or a boolean is required.")
