"""JSON Schemas of DRF serializers and ViewSet operations, made by drf-spectacular.

drf-spectacular's ``AutoSchema`` maps serializer fields, filter backends, pagination and lookups to
OpenAPI 3.1, whose schemas are JSON Schema 2020-12; it runs with ``COMPONENT_SPLIT_REQUEST`` on, so a
request schema has no read-only field and a response schema no write-only one. What an MCP client
gets is a plain JSON Schema: each ``#/components/schemas/X`` reference is inlined, except where a
serializer nests itself, which keeps its ``$defs``. OpenAPI's ``nullable`` becomes a ``null`` type.
"""

from __future__ import annotations

import copy
from typing import Any

# OpenAPI 3.1 (so that schemas are JSON Schema), request and response schemas split by direction.
SPECTACULAR_SETTINGS = {"OAS_VERSION": "3.1.0", "COMPONENT_SPLIT_REQUEST": True}
_COMPONENT = "#/components/schemas/"
_DROPPED = {"x-spec-enum-id"}  # drf-spectacular's bookkeeping, no meaning to a client


class Inspector:
    """drf-spectacular's ``AutoSchema`` pointed at one view, with the components it resolves."""

    def __init__(self, view: Any = None, generator: Any = None) -> None:
        from drf_spectacular.openapi import AutoSchema
        from drf_spectacular.plumbing import ComponentRegistry
        from rest_framework.generics import GenericAPIView

        if view is None:  # a serializer on its own: a view is only its context
            view = GenericAPIView()
            view.request = _mock_request("POST", "/", view)
        self.view = view  # AutoSchema holds a weak reference only
        self.generator = generator  # holds an @extend_schema action's schema, the view's a weak proxy
        own = getattr(view, "schema", None)
        self.schema = own if isinstance(own, AutoSchema) else AutoSchema()
        self.schema.view = view
        self.schema.registry = self.registry = ComponentRegistry()

    @classmethod
    def of_action(cls, callback: Any, method: str) -> Inspector:
        """An inspector of the view ``callback`` (from ``as_view``) makes for ``method``, the instance
        drf-spectacular's generator would inspect (its ``@extend_schema`` applied)."""
        from drf_spectacular.generators import SchemaGenerator

        generator = SchemaGenerator()
        view = generator.create_view(callback, method.upper())
        view.swagger_fake_view = True  # the convention views check before touching request.user
        return cls(view, generator)

    def serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """The plain JSON Schema of a serializer (a class or an instance) in ``direction`` (``request``:
        what it reads, ``response``: what it writes)."""
        from drf_spectacular.settings import patched_settings

        with patched_settings(SPECTACULAR_SETTINGS):
            self.schema.method, self.schema.path = "POST", "/"
            component = self.schema.resolve_serializer(serializer, direction)
        if not component:  # a serializer without fields
            return {"type": "object", "properties": {}}
        return self.plain(component.ref)

    def operation(self, path: str, path_regex: str, method: str) -> dict[str, Any]:
        """The OpenAPI operation of this inspector's view for ``method`` at ``path`` (its references
        unresolved: ``plain`` resolves them)."""
        from drf_spectacular.settings import patched_settings

        with patched_settings(SPECTACULAR_SETTINGS):
            self.view.request = _mock_request(method, path, self.view)
            return self.schema.get_operation(path, path_regex, "", method.upper(), self.registry) or {}

    def plain(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with the components it refers to inlined (those that nest themselves in ``$defs``)."""
        components = self.registry.build({}).get("schemas", {})
        return Plain(components).schema(schema)


def _mock_request(method: str, path: str, view: Any) -> Any:
    from drf_spectacular.settings import spectacular_settings

    return spectacular_settings.GET_MOCK_REQUEST(method.upper(), path, view, None)


class Plain:
    """Resolves ``#/components/schemas/X`` references against ``components``."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        self.defs: dict[str, Any] = {}

    def schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        found = self._walk(schema, frozenset())
        if self.defs:
            found = {**found, "$defs": {**found.get("$defs", {}), **self.defs}}
        return found

    def _walk(self, node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [self._walk(item, expanding) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENT):
            return self._resolved(ref[len(_COMPONENT) :], node, expanding)
        walked = {key: self._walk(value, expanding) for key, value in node.items() if key not in _DROPPED}
        return _nullable(walked)

    def _resolved(self, name: str, node: dict[str, Any], expanding: frozenset[str]) -> dict[str, Any]:
        rest = self._walk({key: value for key, value in node.items() if key != "$ref"}, expanding)
        if name in expanding:  # the serializer nests itself: refer to one definition
            if name not in self.defs:
                self.defs[name] = {}
                self.defs[name] = self._walk(copy.deepcopy(self.components[name]), frozenset({name}))
            return {"$ref": f"#/$defs/{name}", **rest}
        return {**self._walk(copy.deepcopy(self.components[name]), expanding | {name}), **rest}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's ``nullable: true`` (which filter backends and paginators still write) as JSON Schema."""
    if not schema.pop("nullable", False):
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    elif kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema
