"""``prompts/list``, ``prompts/get``, and ``completion/complete`` (the completions of a prompt's
arguments or a template's variables; a fixed resource may be named, and gets none).

A prompt function's ``NotFound`` (or ``Forbidden``: audited as denied) is an invalid-params error
naming what was not found. It may ask the client (``ctx.elicit``, ...): in the 2026-07-28 era a
question without an answer yet is an ``input_required`` answer; an uncaught ``ClientCannot`` is -32021.
"""

from __future__ import annotations

from typing import Any

from .. import audit, completions, conf, pagination, results
from ..definitions import Definition, Forbidden, NotFound, Prompt
from ..exceptions import InvalidParams
from ..interaction.asking import begin, refusal
from ..interaction.questions import ClientCannot
from ..interaction.rounds import Incomplete, InputRequired
from ..schemas import SchemaError
from .context import Context, allowed, call_arguments, scope_hint, usable


def prompts_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    page = pagination.paginate(ctx.params, lambda after: ctx.visible("prompt", after), "prompts")
    return scope_hint(ctx, "prompt", page)


def _prompt_arguments(ctx: Context, prompt: Prompt) -> dict[str, str]:
    arguments = call_arguments(ctx)
    if any(not isinstance(value, str) for value in arguments.values()):
        raise InvalidParams("Prompt arguments must be strings")
    known = {argument.name for argument in prompt.arguments}
    missing = [a.name for a in prompt.arguments if a.required and a.name not in arguments]
    if missing:
        raise InvalidParams(f"Missing required argument(s): {', '.join(missing)}")
    given = {key: value for key, value in arguments.items() if key in known}
    if prompt.validator is None:
        return given
    try:
        return prompt.validator.validate_strings(given)
    except SchemaError as exc:
        raise InvalidParams(f"Invalid arguments: {exc}") from None


def prompts_get(ctx: Context) -> dict[str, Any] | Incomplete:
    name = ctx.params.get("name")
    if not isinstance(name, str):
        raise InvalidParams("prompts/get needs a prompt name")
    trail = audit.Trail(ctx, "prompt", name, ctx.params.get("arguments"))
    prompt = usable(ctx, ctx.registry.get("prompt", name), InvalidParams(f"Unknown prompt: {name}"), trail)
    try:
        arguments = _prompt_arguments(ctx, prompt)
    except InvalidParams as exc:
        trail.done("invalid", exc.message)
        raise
    begin(ctx, trail, "prompts/get", name, ctx.params.get("arguments"))
    try:
        messages = results.messages(prompt.handler(ctx, **arguments))
    except InputRequired as exc:
        trail.done("input_required", exc.detail)
        return Incomplete(exc.result)
    except ClientCannot as exc:
        trail.done("invalid", str(exc))
        raise refusal(exc) from None
    except Forbidden as exc:
        trail.done("denied", exc.reason)
        raise InvalidParams(str(exc)) from None
    except NotFound as exc:
        trail.done("invalid", str(exc))
        raise InvalidParams(str(exc)) from None
    except Exception:
        trail.done("error")
        raise
    trail.done("ok")
    return {"description": prompt.description, "messages": messages}


def _completion_target(ctx: Context, ref: Any) -> Definition:
    if not isinstance(ref, dict):
        raise InvalidParams("completion/complete needs a ref object")
    if ref.get("type") == "ref/prompt":
        found = ctx.registry.get("prompt", ref.get("name")) if isinstance(ref.get("name"), str) else None
    elif ref.get("type") == "ref/resource":
        uri = ref.get("uri")
        found = (
            (ctx.registry.get("template", uri) or ctx.registry.get("resource", uri))
            if isinstance(uri, str)
            else None
        )
    else:
        raise InvalidParams("ref.type must be ref/prompt or ref/resource")
    if found is None or not allowed(ctx, found):
        raise InvalidParams("Unknown completion target", data={"ref": ref})
    return found


def _context_arguments(ctx: Context) -> dict[str, str]:
    context = ctx.params.get("context")
    arguments = context.get("arguments") if isinstance(context, dict) else None
    if not isinstance(arguments, dict):
        return {}
    return {key: value for key, value in arguments.items() if isinstance(value, str)}


def complete(ctx: Context) -> dict[str, Any]:
    """Argument completion for a prompt or template this caller may use (else "unknown target"); an
    argument without completions gets none."""
    ctx.token.require([conf.get("READ_SCOPE")])
    target = _completion_target(ctx, ctx.params.get("ref"))
    argument = ctx.params.get("argument")
    if not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
        raise InvalidParams("completion/complete needs argument.name and argument.value")
    value = argument.get("value") if isinstance(argument.get("value"), str) else ""
    completer = target.completions.get(argument["name"])
    if completer is None:
        return completions.result([])
    return completions.result(completer.candidates(ctx, value, _context_arguments(ctx)))
