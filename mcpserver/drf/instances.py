"""The serializer instance a tool call uses, and its context: reused per thread when its fields are static.

DRF builds a serializer's fields anew for every instance (deep copies of the declared fields, or the
model's introspection for a ``ModelSerializer``), which costs more than checking a few arguments. A
``ListSerializer`` runs its one child for every item (``child.run_validation(item)``, after setting its
``initial_data``); a tool does the same across calls. Each thread keeps one instance per tool; a call
fills its context, runs it (``run_validation()`` for input, ``to_representation()`` for output) and
empties the context again.

The fields are static when no serializer in the tree overrides ``__init__`` or ``get_fields()``, the
places where fields may depend on the context (the request's user, say). Any other serializer gets a
fresh instance per call, as a view makes one per request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework.serializers import BaseSerializer, ListSerializer, ModelSerializer, Serializer

from . import requests

_STATIC_GET_FIELDS = (Serializer.get_fields, ModelSerializer.get_fields)


class CallContext(dict):
    """A serializer's context during a call: the call's context as ``ctx``, and the caller as ``request``
    (for ``CurrentUserDefault`` and the like), a DRF request made when first read."""

    def begin(self, ctx: Any) -> CallContext:
        self.clear()
        if ctx is not None:
            self["ctx"] = ctx
        return self

    def __missing__(self, key: str) -> Any:
        if key != "request" or "ctx" not in self:
            raise KeyError(key)
        made = self["request"] = requests.caller_request(self["ctx"])
        return made

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (key == "request" and super().__contains__("ctx"))

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (dict.get skips __missing__)


class Instances:
    """Serializer instances of one class (``many`` or not) for the calls of one tool."""

    def __init__(self, serializer_class: type[BaseSerializer], many: bool = False) -> None:
        self.serializer_class, self.many = serializer_class, many
        self.reusable = static(serializer_class(many=many))
        self.local = threading.local()

    @contextmanager
    def __call__(self, ctx: Any) -> Iterator[BaseSerializer]:
        """The instance for one call of this thread, its context filled for ``ctx`` until the end."""
        if not self.reusable or getattr(self.local, "busy", False):
            yield self.serializer_class(many=self.many, context=CallContext().begin(ctx))
            return
        serializer = getattr(self.local, "serializer", None)
        if serializer is None:
            serializer = self.local.serializer = self.serializer_class(many=self.many, context=CallContext())
        self.local.busy = True
        serializer.context.begin(ctx)
        try:
            yield serializer
        finally:
            serializer.context.clear()
            self.local.busy = False


def static(serializer: BaseSerializer) -> bool:
    """Whether the fields of ``serializer`` and of the serializers nested in it never depend on context."""
    if isinstance(serializer, ListSerializer):
        return static(serializer.child)
    cls = type(serializer)
    if cls.__init__ is not BaseSerializer.__init__ or cls.get_fields not in _STATIC_GET_FIELDS:
        return False
    nested = (getattr(field, "child", field) for field in serializer.fields.values())
    return all(static(field) for field in nested if isinstance(field, BaseSerializer))
