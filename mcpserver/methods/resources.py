"""``resources/list``, ``resources/templates/list`` and ``resources/read``.

A URI is read from the resource registered at exactly that URI, else from the first template (in key
order) that matches it, its variables converted to the function's parameter types (a value that does
not convert is an invalid-params error). A resource function's ``LookupError`` (``NotFound`` is one)
means no such resource; a ``Forbidden`` is answered the same and audited as denied. A resource
function may ask the client as a prompt's may (``methods.prompts``).
"""

from __future__ import annotations

from typing import Any

from .. import audit, conf, pagination, results
from ..definitions import Forbidden, Resource
from ..exceptions import InvalidParams
from ..interaction.asking import begin, refusal
from ..interaction.questions import ClientCannot
from ..interaction.rounds import Incomplete, InputRequired
from ..schemas import SchemaError
from .context import Context, usable


def resources_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("resource", after), "resources")


def templates_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("template", after), "resourceTemplates")


def _find_resource(ctx: Context, uri: str, trail: audit.Trail) -> tuple[Resource, dict[str, str]]:
    unknown = InvalidParams(f"Unknown resource: {uri}", data={"uri": uri})
    fixed = ctx.registry.get("resource", uri)
    if fixed is not None:
        return usable(ctx, fixed, unknown, trail), {}
    found = ctx.registry.find_template(uri)
    if found is None:
        raise unknown
    template, variables = found
    trail.arguments = variables
    template = usable(ctx, template, unknown, trail)
    if template.validator is None:
        return template, variables
    try:
        return template, template.validator.validate_strings(variables, "uri")
    except SchemaError as exc:
        trail.done("invalid", str(exc))
        raise InvalidParams(f"Invalid resource URI {uri}: {exc}", data={"uri": uri}) from None


def resources_read(ctx: Context) -> dict[str, Any] | Incomplete:
    uri = ctx.params.get("uri")
    if not isinstance(uri, str):
        raise InvalidParams("resources/read needs a uri")
    ctx.token.require([conf.get("READ_SCOPE")])
    trail = audit.Trail(ctx, "resource", uri, None)
    resource, variables = _find_resource(ctx, uri, trail)
    begin(ctx, trail, "resources/read", uri, None)
    try:
        contents = results.contents(resource, uri, resource.handler(ctx, **variables))
    except InputRequired as exc:
        trail.done("input_required", exc.detail)
        return Incomplete(exc.result)
    except ClientCannot as exc:
        trail.done("invalid", str(exc))
        raise refusal(exc) from None
    except LookupError as exc:  # a Forbidden is told as an unknown resource, too
        if isinstance(exc, Forbidden):
            trail.done("denied", exc.reason)
        else:
            trail.done("invalid")
        raise InvalidParams(f"Unknown resource: {uri}", data={"uri": uri}) from None
    except Exception:
        trail.done("error")
        raise
    trail.done("ok")
    return {"contents": contents}
