"""Argument completion (``completion/complete``): the values a prompt argument or a URI template
variable may take.

A completer is declared per argument: a list of choices (offered when they start with what was typed
so far), or a callable ``(ctx, value)``, or ``(ctx, value, arguments)`` where ``arguments`` holds
what the client already chose for the other arguments (``params.context.arguments``). A callable
does its own matching and returns candidates. A ``Literal`` or ``Enum`` parameter completes from its
values without being declared. At most 100 values are returned, with the total and ``hasMore``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MAX_VALUES = 100  # the spec's cap on one response


class Completer:
    """The candidates for one argument: fixed choices, or a function asked per request."""

    def __init__(self, source: Callable[..., Iterable[str]] | Iterable[str]) -> None:
        if isinstance(source, str | bytes):
            raise TypeError("A completion is a list of choices or a callable, not a string.")
        self.choices: tuple[str, ...] | None = None if callable(source) else tuple(map(str, source))
        self.function = source if callable(source) else None
        self.takes_arguments = self.function is not None and _positional(self.function) >= 3

    def candidates(self, ctx: Any, value: str, arguments: dict[str, str]) -> list[str]:
        if self.function is None:
            return [choice for choice in self.choices or () if choice.startswith(value)]
        found = self.function(ctx, value, arguments) if self.takes_arguments else self.function(ctx, value)
        if isinstance(found, str | bytes):
            raise TypeError("A completion function returns a list of values, not a string.")
        return [str(candidate) for candidate in found]


def completers(
    declared: Mapping[str, Any] | None,
    names: Iterable[str],
    inferred: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, Completer]:
    """One completer per argument: the declared ones (each must name an argument), then the inferred
    choices of the others."""
    declared = dict(declared or {})
    unknown = set(declared) - set(names)
    if unknown:
        raise TypeError(f"Completions for unknown arguments: {', '.join(sorted(unknown))}")
    found = {name: Completer(choices) for name, choices in (inferred or {}).items() if choices}
    found.update((name, Completer(source)) for name, source in declared.items())
    return found


def result(candidates: list[str]) -> dict[str, Any]:
    """The ``completion/complete`` result for these candidates (the first 100 of them)."""
    return {
        "completion": {
            "values": candidates[:MAX_VALUES],
            "total": len(candidates),
            "hasMore": len(candidates) > MAX_VALUES,
        }
    }


def _positional(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: called with (ctx, value)
        return 2
    if any(parameter.kind is parameter.VAR_POSITIONAL for parameter in parameters):
        return 3
    return sum(
        parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        for parameter in parameters
    )
