"""Dynamic client registration policy (RFC 7591/7592) for DOT's registration views.

DOT parses, validates and stores registrations; this module decides who may register (DOT's
``DCR_REGISTRATION_PERMISSION_CLASSES``, chosen by ``DCR_POLICY``), refuses what DOT would accept
but this server does not (redirect URIs, grants), gives every self-registered client its scope
ceiling and completes the answer with the fields MCP clients read.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import parse_bearer_token

from . import clientkeys, conf, grants, metadata, redirects, scopes
from .models import ClientPolicy, InitialAccessToken, Scope, token_checksum

DPOP_FIELD = "dpop_bound_access_tokens"  # RFC 9449 §5.2 client metadata

RESPONSE_TYPES = ["code"]
SIGNING = ClientPolicy.PRIVATE_KEY_JWT


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
    method = data.get("token_endpoint_auth_method")
    problem = clientkeys.registration_problem(method, data.get("jwks"), data.get("jwks_uri") or "")
    if problem is not None:
        return "invalid_client_metadata", problem
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


def signing_keys(body: bytes) -> dict[str, Any] | None:
    """The key source (``jwks``, ``jwks_uri``) of metadata registering a ``private_key_jwt`` client, or None.

    DOT registers secret and public clients only: such metadata reaches it as a ``client_secret_basic``
    (confidential) client without keys (``as_secret_client``), and ``keep_keys`` then stores the keys.
    """
    data = _metadata(body)
    if data is None or data.get("token_endpoint_auth_method") != SIGNING:
        return None
    return {"jwks": data.get("jwks") or None, "jwks_uri": data.get("jwks_uri") or ""}


def as_secret_client(body: bytes) -> bytes:
    """Metadata of a ``private_key_jwt`` client as DOT registers it: confidential, keys left out."""
    data = {key: value for key, value in json.loads(body).items() if key not in ("jwks", "jwks_uri")}
    return json.dumps({**data, "token_endpoint_auth_method": "client_secret_basic"}).encode()


def keep_keys(client_id: str, keys: dict[str, Any] | None) -> None:
    """Make the client just registered (or updated) a ``private_key_jwt`` client with these keys, or
    (None) a client without keys, as DOT registered it."""
    application = get_application_model().objects.get(client_id=client_id)
    policy = ensure_policy(application)
    if keys is None and not policy.signs_assertions:
        return
    policy.token_endpoint_auth_method = ClientPolicy.SECRET if keys is None else SIGNING
    policy.jwks, policy.jwks_uri = (None, "") if keys is None else (keys["jwks"], keys["jwks_uri"])
    policy.save(update_fields=["token_endpoint_auth_method", "jwks", "jwks_uri"])


def keep_dpop_flag(application, bound: bool) -> None:
    """Set the client's ``dpop_bound_access_tokens`` (RFC 9449 §5.2) to what its metadata says."""
    policy = ensure_policy(application)
    if bound != policy.dpop_bound_access_tokens:
        policy.dpop_bound_access_tokens = bound
        policy.save(update_fields=[DPOP_FIELD])


def _dpop_flag(data: dict[str, Any]) -> bool:
    """The metadata's ``dpop_bound_access_tokens``, false when absent; ValueError when not a boolean."""
    value = data.get(DPOP_FIELD, False)
    if not isinstance(value, bool):
        raise ValueError(f"{DPOP_FIELD} must be a boolean.")
    return value


@dataclass(frozen=True)
class _DocumentPolicy:
    """What a metadata document says that DOT does not store: its key source (None: it signs nothing)
    and whether its tokens must be DPoP-bound."""

    keys: dict[str, Any] | None
    dpop_bound: bool


# What each metadata document this thread fetched says beyond DOT's fields, until its client is loaded
# (``settle_document``): DOT fetches a document and creates or updates its client in one call.
_documents = threading.local()


def document_for_dot(client_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A fetched Client ID Metadata Document as DOT builds its (public) client from it.

    DOT builds clients only from documents with ``token_endpoint_auth_method`` ``none``; one declaring
    ``private_key_jwt`` with ``jwks`` or ``jwks_uri`` is handed to DOT as such. Its keys and its
    ``dpop_bound_access_tokens`` are remembered for ``settle_document``. Raises ``ValueError`` for keys
    this server refuses and a ``dpop_bound_access_tokens`` that is not a boolean.
    """
    method = data.get("token_endpoint_auth_method")
    problem = clientkeys.registration_problem(method, data.get("jwks"), data.get("jwks_uri") or "")
    if problem is not None:
        raise ValueError(problem)
    signs = method == SIGNING
    keys = {"jwks": data.get("jwks") or None, "jwks_uri": data.get("jwks_uri") or ""} if signs else None
    pending = getattr(_documents, "pending", None)
    if pending is None:
        pending = _documents.pending = {}
    pending[client_id] = _DocumentPolicy(keys, _dpop_flag(data))
    return {**data, "token_endpoint_auth_method": "none"} if signs else data


def settle_document(application) -> None:
    """Give this client's policy what the metadata document just fetched for it says (if this thread
    fetched one): its keys and its ``dpop_bound_access_tokens``."""
    pending = getattr(_documents, "pending", None) or {}
    document = pending.pop(application.client_id, None)
    if document is not None:
        keep_keys(application.client_id, document.keys)
        keep_dpop_flag(application, document.dpop_bound)


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
        sync_origins(application)
        keep_dpop_flag(application, (_metadata(requested) or {}).get(DPOP_FIELD, False) is True)
    data = {
        **data,
        "client_id_issued_at": int(application.created.timestamp()),
        "response_types": RESPONSE_TYPES,
    }
    data["scope"] = " ".join(sorted(scopes.ceiling(application)))
    if ClientPolicy.objects.filter(application=application, dpop_bound_access_tokens=True).exists():
        data[DPOP_FIELD] = True
    policy = ClientPolicy.objects.filter(application=application).first()
    if policy is not None and policy.signs_assertions:
        # Its secret (DOT made one) authenticates nothing: the client signs assertions.
        data.pop("client_secret", None)
        data["token_endpoint_auth_method"] = SIGNING
        data.update({"jwks": policy.jwks} if policy.jwks else {"jwks_uri": policy.jwks_uri})
    if "client_secret" in data:
        data["client_secret_expires_at"] = 0  # §3.2.1: required with a secret; 0 means it never expires
    return data
