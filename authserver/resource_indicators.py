"""RFC 8707 resource indicators: the allow-list of resources this server issues tokens for.

DOT stores ``resource`` on grants and tokens but accepts any absolute URI. These two oauthlib
custom validators (wired by ``authserver.server.Server``) refuse anything outside the allow-list
with ``invalid_target`` and settle each token's audience *before* the token is generated.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from . import conf, grants


def allowed() -> list[str]:
    return list(conf.get("ALLOWED_RESOURCES"))


def default() -> str:
    return conf.get("DEFAULT_RESOURCE")


def audience(requested: list[str]) -> list[str]:
    """The resources a token for this request is for: the ones it names, else the default."""
    return list(dict.fromkeys(requested)) or [default()]


def _invalid_target(request, resource: str) -> CustomOAuth2Error:
    return CustomOAuth2Error(
        error="invalid_target",
        description=f"This server issues no tokens for the resource {resource!r}.",
        request=request,
        status_code=400,
    )


def check(request, resources: list[str]) -> list[str]:
    """Return the resources unchanged when all are allowed; raise ``invalid_target`` otherwise."""
    permitted = allowed()
    for resource in resources:
        if resource not in permitted:
            raise _invalid_target(request, resource)
    return resources


def _requested(pairs) -> list[str]:
    return [value for key, value in pairs or [] if key == "resource"]


def requested(request) -> list[str]:
    """The ``resource`` values of an oauthlib request's form body, in order, repeats dropped."""
    return list(dict.fromkeys(_requested(request.decoded_body)))


def check_authorization_request(request) -> dict:
    """post_auth validator: every ``resource`` on /authorize must be one we serve.

    The consent page GET carries them in the query; its POST carries them in a hidden form field
    that DOT hands over as a list in the credentials, and a tampered form must fail the same way.
    """
    requested = _requested(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))
    consented = getattr(request, "resource", None)
    if isinstance(consented, list):
        requested += consented
    check(request, requested)
    return {}


def _bound_to_code(request) -> list[str] | None:
    from oauth2_provider.models import get_grant_model

    return get_grant_model().objects.filter(code=request.code).values_list("resource", flat=True).first()


def _bound_to_refresh_token(request) -> list[str] | None:
    instance = getattr(request, "refresh_token_instance", None)
    return instance.resource if instance is not None else None


def _bound_to_device_code(request) -> list[str] | None:
    from .models import DeviceAudience

    audiences = DeviceAudience.objects.filter(
        device_grant__device_code=request.device_code, device_grant__client_id=request.client_id
    )
    return audiences.values_list("resource", flat=True).first()


def _bound_to_assertion(request) -> list[str] | None:
    return getattr(request, "assertion_resource", None)  # set by the validator from the ID-JAG's resource


# A grant's ``resource_binding`` (authserver.grants): where the resources bound earlier are kept.
BINDINGS = {
    "code": _bound_to_code,
    "refresh": _bound_to_refresh_token,
    "device": _bound_to_device_code,
    "assertion": _bound_to_assertion,
}


def _bound(request) -> list[str]:
    grant = grants.get(request.grant_type)
    binding = BINDINGS.get(grant.resource_binding) if grant is not None else None
    return list(binding(request) or []) if binding is not None else []


def settle_token_audience(request) -> None:
    """post_token validator: decide the token's audience and put it on ``request.resource``.

    Requested resources must be allowed and, for code, refresh, device and identity assertion grants,
    within what was bound to the code, refresh token, device code or assertion. No request falls
    back to the bound resources, then the default.
    """
    asked = requested(request)
    bound = _bound(request)
    for resource in asked:
        if bound and resource not in bound:
            raise _invalid_target(request, resource)
    request.resource = check(request, asked or bound or [default()])
