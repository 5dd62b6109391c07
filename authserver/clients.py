"""Creating OAuth clients (DOT applications) together with their scope ceiling; enabling and disabling them.

Which redirect URIs a client may register is ``redirects``' policy; the token endpoint's per-process
memo of loaded clients is ``clientmemo``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from . import clientkeys, grants, revoking
from .models import ClientPolicy, Scope
from .redirects import redirect_uri_problem

GRANTS = grants.APPLICATION_GRANTS  # the CLI's names are DOT's application grant values


UNCHANGED = object()  # update_client: a policy value the caller did not give (None has a meaning there)


class ClientError(ValueError):
    """A client definition that cannot be created as asked."""


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None
    application: object


def _scopes(names: list[str]) -> list[Scope]:
    found = {scope.name: scope for scope in Scope.objects.filter(name__in=names)}
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise ClientError(f"Unknown scope(s): {', '.join(unknown)}")
    return [found[name] for name in names]


@transaction.atomic
def create_client(
    name: str,
    grant: str,
    scopes: list[str],
    redirect_uris: list[str] = (),
    public: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    may_introspect: bool = False,
    allowed_origins: list[str] = (),
    dpop_bound_access_tokens: bool = False,
    jwks: dict | None = None,
    jwks_uri: str = "",
    refresh_grace_seconds: int | None = None,
    token_exchange_audiences: list[str] = (),
) -> NewClient:
    """Create a client and its scope ceiling; return the secret once (stored only hashed).

    ``may_introspect``: a resource server that may ask the introspection endpoint about any token;
    ``allowed_origins``: the web origins that may call the token and revocation endpoints (CORS);
    ``dpop_bound_access_tokens``: every token request must carry a DPoP proof (RFC 9449 §5.2).
    ``jwks`` or ``jwks_uri``: the client's public keys; it then authenticates with signed assertions
    (``private_key_jwt``) and has no secret.
    ``refresh_grace_seconds``: its own refresh grace window (None: the server's; at most the server's).
    ``token_exchange_audiences``: the absolute URIs it may exchange users' tokens for (RFC 8693); none:
    it may not exchange tokens (``authserver.delegation``).
    """
    method = ClientPolicy.PRIVATE_KEY_JWT if (jwks or jwks_uri) else ClientPolicy.SECRET
    problem = clientkeys.registration_problem(method, jwks, jwks_uri)
    if problem:
        raise ClientError(problem)
    if method == ClientPolicy.PRIVATE_KEY_JWT and (public or client_secret):
        raise ClientError("A private_key_jwt client is confidential and has no secret.")
    if grant not in GRANTS:
        raise ClientError(f"Unknown grant {grant!r}; choose one of {', '.join(GRANTS)}.")
    if grant == "authorization-code" and not redirect_uris:
        raise ClientError("An authorization-code client needs at least one redirect URI.")
    if grant == "client-credentials" and public:
        raise ClientError("A client-credentials client must be confidential.")
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientError(f"Redirect URI {uri!r} refused: {problem}.")
    ceiling = _scopes(scopes)
    Application = get_application_model()
    secret = None if public else (client_secret or generate_client_secret())
    # A signing client's secret opens nothing: it is never shown.
    shown = None if method == ClientPolicy.PRIVATE_KEY_JWT else secret
    application = Application(
        name=name,
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=" ".join(redirect_uris),
        client_secret=secret or "",
        hash_client_secret=True,
        allowed_origins=" ".join(allowed_origins),
    )
    if client_id:
        if Application.objects.filter(client_id=client_id).exists():
            raise ClientError(f"A client with id {client_id!r} already exists.")
        application.client_id = client_id
    try:
        application.full_clean(exclude=["client_secret", "user"])
    except Exception as exc:  # ValidationError: report its messages, not a traceback
        raise ClientError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
    application.save()
    policy = ClientPolicy(
        application=application, may_introspect=may_introspect, token_endpoint_auth_method=method,
        jwks=jwks or None, jwks_uri=jwks_uri, dpop_bound_access_tokens=dpop_bound_access_tokens,
        refresh_grace_seconds=refresh_grace_seconds,
        token_exchange_audiences=_lines(token_exchange_audiences),
    )  # fmt: skip
    _check_policy(policy)
    policy.save()
    policy.scopes.set(ceiling)
    return NewClient(application.client_id, shown, application)


@transaction.atomic
def update_client(
    application,
    *,
    scopes: list[Scope] | None = None,
    enabled: bool | None = None,
    may_introspect: bool | None = None,
    dpop_bound_access_tokens: bool | None = None,
    jwks: dict | None = None,
    jwks_uri: str | None = None,
    refresh_grace_seconds: int | None | object = UNCHANGED,
    token_exchange_audiences: list[str] | None = None,
    **fields,
):
    """Change a client's own fields (``name``, ``redirect_uris``, ``allowed_origins``) and its policy
    (None: unchanged; for ``refresh_grace_seconds``, None is the server's window and leaving it out
    keeps it; ``token_exchange_audiences`` replaces the list). Disabling revokes its tokens (``set_enabled``). A ``private_key_jwt`` client may get a new
    key source (``jwks`` or ``jwks_uri``, replacing the other).

    Raises Django's ``ValidationError`` (a message per field) for fields the model refuses, and
    ``ClientError`` for a redirect URI this server refuses.
    """
    for uri in fields.get("redirect_uris", "").split():
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientError(f"Redirect URI {uri!r} refused: {problem}.")
    for name, value in fields.items():
        setattr(application, name, value)
    application.full_clean(exclude=["client_secret", "user"])
    application.save()
    policy, _ = ClientPolicy.objects.get_or_create(application=application)
    if jwks is not None or jwks_uri is not None:
        _replace_keys(policy, jwks, jwks_uri or "")
    if scopes is not None:
        policy.scopes.set(scopes)
    changed = []
    if may_introspect is not None and may_introspect != policy.may_introspect:
        policy.may_introspect = may_introspect
        changed.append("may_introspect")
    if dpop_bound_access_tokens is not None and dpop_bound_access_tokens != policy.dpop_bound_access_tokens:
        policy.dpop_bound_access_tokens = dpop_bound_access_tokens
        changed.append("dpop_bound_access_tokens")
    if refresh_grace_seconds is not UNCHANGED and refresh_grace_seconds != policy.refresh_grace_seconds:
        policy.refresh_grace_seconds = refresh_grace_seconds
        changed.append("refresh_grace_seconds")
    audiences = None if token_exchange_audiences is None else _lines(token_exchange_audiences)
    if audiences is not None and audiences != policy.token_exchange_audiences:
        policy.token_exchange_audiences = audiences
        changed.append("token_exchange_audiences")
    if changed:
        policy.full_clean(exclude=["application"], validate_unique=False)
        policy.save(update_fields=changed)
    if enabled is not None:
        set_enabled([application], enabled)
    return application


def _lines(values) -> str:
    """A list as the policy's one-per-line text, repeats dropped."""
    return "\n".join(dict.fromkeys(values))


def _replace_keys(policy: ClientPolicy, jwks: dict | None, jwks_uri: str) -> None:
    problem = clientkeys.registration_problem(policy.token_endpoint_auth_method, jwks, jwks_uri)
    if problem:
        raise ClientError(problem)
    policy.jwks, policy.jwks_uri = jwks or None, jwks_uri
    policy.save(update_fields=["jwks", "jwks_uri"])


def _check_policy(policy: ClientPolicy) -> None:
    try:
        policy.full_clean(exclude=["application"], validate_unique=False)
    except Exception as exc:  # ValidationError: report its messages, not a traceback
        raise ClientError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc


def rotate_secret(application) -> str:
    """Give a confidential client a new generated secret and return it, once: it is stored hashed.
    Tokens issued under the old secret stay valid; the old secret authenticates no more."""
    if application.client_type != application.CLIENT_CONFIDENTIAL:
        raise ClientError("A public client has no secret to rotate.")
    signing = ClientPolicy.objects.filter(application=application, token_endpoint_auth_method=ClientPolicy.PRIVATE_KEY_JWT)
    if signing.exists():
        raise ClientError("A private_key_jwt client authenticates with its keys, not a secret.")
    secret = generate_client_secret()
    application.client_secret, application.hash_client_secret = secret, True
    application.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    return secret


def internal_client(client_id: str, name: str):
    """The client that tokens minted on the server itself (``manage.py issue_token``) are issued to.

    Public, so that whoever holds such a token can revoke it at the RFC 7009 endpoint (a confidential
    client would need a secret nobody knows), and inert otherwise: an authorization-code client
    without redirect URIs can start no flow. Its ceiling is the whole scope catalogue, kept current;
    the user's roles do the narrowing.
    """
    Application = get_application_model()
    application, _ = Application.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": name,
            "client_type": Application.CLIENT_PUBLIC,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": "",
            "client_secret": "",
        },
    )
    ClientPolicy.objects.get_or_create(application=application)[0].scopes.set(Scope.objects.all())
    return application


@transaction.atomic
def set_enabled(applications, enabled: bool) -> int:
    """Enable or disable clients; disabling also revokes every token they hold. Returns tokens revoked.

    A disabled client's ceiling reads as empty, so it is granted nothing until it is enabled again,
    and its ceiling is kept for that day.
    """
    revoked = 0
    for application in applications:
        ClientPolicy.objects.update_or_create(application=application, defaults={"enabled": enabled})
        if not enabled:
            revoked += revoking.revoke_tokens(application=application)
    return revoked
