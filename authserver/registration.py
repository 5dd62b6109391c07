"""Dynamic client registration policy (RFC 7591/7592) for DOT's registration views.

DOT parses, validates and stores registrations; this module decides who may register (DOT's
``DCR_REGISTRATION_PERMISSION_CLASSES``, chosen by ``DCR_POLICY``), refuses what DOT would accept
but this server does not (redirect URIs, grants), gives every self-registered client its scope
ceiling and completes the answer with the fields MCP clients read.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import parse_bearer_token

from . import conf, grants, metadata, redirects, scopes
from .models import ClientPolicy, InitialAccessToken, Scope, token_checksum

DPOP_FIELD = "dpop_bound_access_tokens"  # RFC 9449 §5.2 client metadata

RESPONSE_TYPES = ["code"]


class InitialAccessTokenPermission:
    """``DCR_POLICY=token``: the request carries ``Authorization: Bearer <initial access token>``.

    One use is spent when the check passes; the registration view rolls it back with everything
    else when the registration then fails. The answer is kept on the request, so asking twice
    spends one use.
    """

    def has_permission(self, request) -> bool:
        if not hasattr(request, "initial_access_token"):
            raw = parse_bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
            request.initial_access_token = InitialAccessToken.objects.consume(raw) if raw else None
        return request.initial_access_token is not None


class ClosedRegistration:
    """``DCR_POLICY=closed``: nobody registers; RFC 7592 management of existing clients keeps working."""

    closed = True

    def has_permission(self, request) -> bool:
        return False


def is_closed() -> bool:
    classes = oauth2_settings.DCR_REGISTRATION_PERMISSION_CLASSES
    return not oauth2_settings.DCR_ENABLED or not classes or any(getattr(c, "closed", False) for c in classes)


def new_token_value(token: InitialAccessToken) -> str:
    """Give an unsaved initial access token its value; return the value, which is shown only now."""
    raw = secrets.token_urlsafe(32)
    token.token_checksum = token_checksum(raw)
    return raw


def issue_initial_access_token(description: str, expires_at=None, max_uses=None, created_by=None):
    """Create an initial access token; return the row and its value."""
    token = InitialAccessToken(
        description=description, expires_at=expires_at, max_uses=max_uses, created_by=created_by
    )
    raw = new_token_value(token)
    token.save()
    return token, raw


def default_ceiling() -> QuerySet[Scope]:
    """The ceiling a self-registered client starts with: ``DCR_DEFAULT_SCOPES``, or else every scope
    that some active, ordinary (non-staff) user could consent to through their roles, except those
    granted only through a role (``role_only``), so that admin scopes are never handed to a client
    nobody has vetted."""
    names = conf.get("DCR_DEFAULT_SCOPES")
    if names is not None:
        return Scope.objects.filter(name__in=names)
    ordinary = {
        "roles__users__is_active": True,
        "roles__users__is_staff": False,
        "roles__users__is_superuser": False,
    }
    return Scope.objects.filter(**ordinary).exclude(role_only=True).distinct()


def ensure_policy(application) -> ClientPolicy:
    """Give a self-registered (DCR or CIMD) client its policy with the default ceiling, once."""
    policy, created = ClientPolicy.objects.get_or_create(application=application)
    if created:
        policy.scopes.set(default_ceiling())
    return policy


def _metadata(body: bytes) -> dict | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def refusal(body: bytes) -> tuple[str, str] | None:
    """The RFC 7591 §3.2.2 error (code, description) for metadata this server refuses, or None.

    Runs on what DOT accepted or refused, so that a bad redirect URI is always answered with
    ``invalid_redirect_uri``; malformed JSON and other shapes are left to DOT's own answer.
    """
    data = _metadata(body)
    if data is None:
        return None
    problem = metadata.problem(data)
    if problem is not None:
        return problem
    uris = data.get("redirect_uris", [])
    for uri in uris if isinstance(uris, list) else []:
        problem = redirects.redirect_uri_problem(uri) if isinstance(uri, str) else "it is not a string"
        if problem:
            return "invalid_redirect_uri", f"Redirect URI {uri!r} refused: {problem}."
    grant_types = data.get("grant_types", ["authorization_code"])
    # The table's self_registered flag: a self-registered client_credentials client would get tokens
    # on nobody's behalf, so anyone on the network could mint them.
    allowed = grants.self_registered_grant_types()
    if isinstance(grant_types, list) and not set(map(str, grant_types)) <= set(allowed):
        return "invalid_client_metadata", f"Self-registered clients may use only {' and '.join(allowed)}."
    response_types = data.get("response_types", RESPONSE_TYPES)
    if not isinstance(response_types, list) or set(map(str, response_types)) != set(RESPONSE_TYPES):
        return "invalid_client_metadata", 'response_types must be ["code"].'
    for field in ("client_name", "scope"):
        if field in data and not isinstance(data[field], str):
            return "invalid_client_metadata", f"{field} must be a string."
    if not isinstance(data.get(DPOP_FIELD, False), bool):
        return "invalid_client_metadata", f"{DPOP_FIELD} must be a boolean."
    return None


def sync_origins(application) -> None:
    """A self-registered browser client may call the token endpoint from its redirect URIs' origins.

    RFC 7591 has no field for CORS origins, and a browser-based client's origin is where its
    redirect URIs live; DOT's ``allowed_origins`` then drives CORS on token and revocation.
    """
    parts = [urlsplit(uri) for uri in application.redirect_uris.split()]
    web = [p for p in parts if p.scheme in {"http", "https"} and p.netloc]
    origins = sorted({f"{p.scheme}://{p.netloc}" for p in web})
    application.allowed_origins = " ".join(origins)
    type(application).objects.filter(pk=application.pk).update(allowed_origins=application.allowed_origins)


def describe(data: dict[str, Any], stored: bool = False, requested: bytes = b"") -> dict[str, Any]:
    """Complete DOT's registration answer (RFC 7591 §3.2.1) for the client it names; a client just
    ``stored`` (registered or updated) first gets its policy with the default ceiling and its origins.

    ``scope`` is the ceiling actually registered (the server may substitute requested values,
    §3.2.1): clients then know what they may ask for. A requested ``scope`` does not narrow the
    ceiling, so that an MCP client can step up later without registering again.
    ``requested``: the registration body, whose ``dpop_bound_access_tokens`` (RFC 9449 §5.2) a stored
    client's policy takes; the answer names it when true.
    """
    application = get_application_model().objects.get(client_id=data["client_id"])
    if stored:
        policy = ensure_policy(application)
        sync_origins(application)
        bound = (_metadata(requested) or {}).get(DPOP_FIELD, False) is True
        if bound != policy.dpop_bound_access_tokens:
            policy.dpop_bound_access_tokens = bound
            policy.save(update_fields=[DPOP_FIELD])
    data = {
        **data,
        "client_id_issued_at": int(application.created.timestamp()),
        "response_types": RESPONSE_TYPES,
    }
    data["scope"] = " ".join(sorted(scopes.ceiling(application)))
    if ClientPolicy.objects.filter(application=application, dpop_bound_access_tokens=True).exists():
        data[DPOP_FIELD] = True
    if "client_secret" in data:
        data["client_secret_expires_at"] = 0  # §3.2.1: required with a secret; 0 means it never expires
    return data
