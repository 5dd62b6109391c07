"""DOT's OAUTH2_VALIDATOR_CLASS: client authentication, effective scopes, lockout, redirect, user checks."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import IntegrityError
from django.db.models import F
from oauth2_provider.models import get_device_grant_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from oauthlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from observability import clientaddress

from . import (
    assertions,
    clientmemo,
    conf,
    delegation,
    dpop,
    dpop_jkt,
    federation,
    grants,
    idjag,
    redirects,
    registration,
    rotations,
    scopes,
    throttle,
)
from .exceptions import InvalidClientAssertion, TooManyRequests
from .forms import clean_username
from .models import ClientPolicy

RefreshToken = get_refresh_token_model()
DeviceGrant = get_device_grant_model()

# DOT's device grant status -> oauthlib's answer to the polling device (RFC 8628 §3.5).
DEVICE_STATUSES = {
    DeviceGrant.AUTHORIZATION_PENDING: DeviceCodeGrant.DEVICE_CODE_PENDING,
    DeviceGrant.DENIED: DeviceCodeGrant.DEVICE_CODE_DENIED,
    DeviceGrant.EXPIRED: DeviceCodeGrant.DEVICE_CODE_EXPIRED,
}


def client_ip(request) -> str:
    """The client's address (``observability.clientaddress``) from an oauthlib request, whose headers
    are a copy of the Django request's ``META``."""
    return clientaddress.of(getattr(request, "headers", None) or {})


class OAuth2Validator(DOTValidator):
    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """RFC 6749 §2.3.1: only confidential clients authenticate with a secret, and as one client.

        A public client's stored secret is the hash of an empty string, so DOT would accept it with
        no secret at all, and introspection (which only asks ``authenticate_client``) would answer it.
        A body ``client_id`` naming another client than the Basic credentials is ``invalid_client``
        here, not oauthlib's ``server_error`` later. A client registered for ``private_key_jwt``
        authenticates only with a signed assertion, and only such a client may send one.
        """
        if any(_param(request, name) is not None for name in ("client_assertion", "client_assertion_type")):
            return self._authenticate_assertion(request)
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        client = request.client
        named = getattr(request, "client_id", None)
        if _signs_assertions(client):
            raise InvalidClientAssertion("This client authenticates with signed assertions (private_key_jwt).")
        return client.client_type == client.CLIENT_CONFIDENTIAL and named in (None, "", client.client_id)

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        """A request carrying a client assertion authenticates with it, whatever the client's type."""
        if any(_param(request, name) is not None for name in ("client_assertion", "client_assertion_type")):
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        """A client that signs assertions is never taken on its client_id alone (even if public)."""
        if not super().authenticate_client_id(client_id, request, *args, **kwargs):
            return False
        return not _signs_assertions(request.client)

    def _authenticate_assertion(self, request) -> bool:
        """RFC 7523 §2.2: the client named by a signed ``client_assertion``, as its only credentials."""
        if _param(request, "client_assertion_type") != assertions.ASSERTION_TYPE:
            raise InvalidClientAssertion(f"client_assertion_type must be {assertions.ASSERTION_TYPE}.")
        if (request.headers or {}).get("HTTP_AUTHORIZATION") or _param(request, "client_secret") is not None:
            raise InvalidClientAssertion("Send one kind of client credentials: an assertion or a secret.")
        assertion = _param(request, "client_assertion")
        client_id = assertions.issuer(assertion)
        if getattr(request, "client_id", None) not in (None, "", client_id):
            raise InvalidClientAssertion("client_id names another client than the assertion's iss.")
        client = self._load_application(client_id, request)
        if client is None or not _signs_assertions(client):
            raise InvalidClientAssertion("This client does not authenticate with signed assertions.")
        assertions.verify(assertion, client_id, client.policy, _audiences(request))
        request.client_id = client_id
        return True

    def validate_scopes(self, client_id, requested, client, request, *args, **kwargs) -> bool:
        """Narrow the request to ceiling ∩ roles; refuse only when nothing is left (RFC 6749 §3.3).

        At the authorization and device authorization endpoints the user decides later: the request
        narrows to the ceiling now (``role_only`` scopes included) and to the user's roles then.
        """
        delegated = grants.is_user_delegated(request.grant_type) or request.response_type == "code"
        user = request.user if delegated else None
        # An empty ``scope=`` asks for nothing in particular, exactly like an absent one.
        requested = [name for name in requested if name] or self.get_default_scopes(client_id, request)
        if delegated and user is None:
            granted = scopes.within_ceiling(requested, client)
        else:
            granted = scopes.effective_scopes(requested, client, user)
        if not granted:
            _refuse_disabled(client, request)
            whose = "this client's allowed scopes" if user is None else "this client and the user's roles"
            description = f"None of the requested scopes ({' '.join(requested)}) is allowed by {whose}."
            raise InvalidScopeError(description=description, request=request)
        request.scopes = granted
        return True

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        """Name the grant the client is registered for, so its developer knows what to use.

        A self-registered client (DCR or CIMD) gets only the grants the table opens to such clients,
        whatever its metadata declared: DOT builds CIMD clients with any grant a document names.
        """
        grant = grants.get(grant_type)
        if client.registration_source != client.RegistrationSource.MANUAL and grant and not grant.self_registered:
            description = f"A self-registered client may not use the {grant_type} grant."
            raise UnauthorizedClientError(description=description, request=request)
        allowed_elsewhere = _ALLOWED_ELSEWHERE.get(grant_type)
        if allowed_elsewhere is not None:  # no application grant: DOT's check does not know it
            refused = allowed_elsewhere(client)
            if refused is None:
                return True
            raise UnauthorizedClientError(description=refused, request=request)
        if super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs):
            return True
        registered = client.authorization_grant_type.replace("-", "_")
        description = f"This client may not use the {grant_type} grant; it is registered for {registered}."
        raise UnauthorizedClientError(description=description, request=request)

    def validate_identity_assertion(self, assertion, client, request) -> None:
        """The jwt-bearer grant's hook (``authserver.assertion_grant``): check the ID-JAG (``idjag``), and
        put its user (``federation``), its ``resource`` and the scopes to narrow on ``request``.

        The scopes asked for (``scope``, else the assertion's, else the defaults) are kept only where the
        assertion's ``scope`` names them (the MCP extension §6.2.1); the ceiling and the user's roles
        narrow them next, in ``validate_scopes``.
        """
        grant = idjag.verify(assertion, client)
        request.user = federation.user_for(grant.provider, grant.claims)
        request.assertion_resource = grant.resource
        asked = (request.scope or "").split() or grant.scopes or []
        if grant.scopes is not None:
            asked = [name for name in asked if name in grant.scopes]
            if not asked:
                description = "None of the requested scopes is among those the identity provider granted."
                raise InvalidScopeError(description=description, request=request)
        request.scopes = asked

    def _load_application(self, client_id, request):
        """DOT's one place that loads a client (and creates CIMD clients on first sight).

        A client this process loaded before comes from ``clientmemo.memo`` (with its ceiling, checked
        against the ``clients`` change feed); DOT then takes it as already loaded. Its secret is still
        checked on every request, against the stored hash. A client created from its metadata
        document gets the same default ceiling as a dynamically registered one before anything
        reads that ceiling, and what its document says of its keys and of DPoP (``registration``).
        """
        ticket = None
        if not request.client and isinstance(client_id, str):
            request.client, ticket = clientmemo.memo.lookup(client_id)
        client = super()._load_application(client_id, request)
        if client is not None and client.registration_source == client.RegistrationSource.CIMD:
            registration.ensure_policy(client)
            registration.settle_document(client)
        clientmemo.memo.store(ticket, client)
        return client

    def validate_subject_token(self, subject_token, client, request, *args, **kwargs) -> bool:
        """RFC 8693: the token to exchange is a live user token of this server (``delegation``). Its user
        becomes the new token's user, and its remaining life caps the new token's."""
        subject = delegation.check_subject_token(subject_token, request)
        request.exchanged_subject, request.user = subject, subject.user
        request.lifetime_cap = max(1, subject.remaining())  # checked positive a moment ago
        return True

    def validate_exchange_targets(self, targets, client, request, *args, **kwargs) -> bool:
        """RFC 8693 ``audience`` and RFC 8707 ``resource``: on the client's allow-list; the token's ``aud``."""
        request.resource = delegation.check_targets(targets, client, request)
        return True

    def validate_exchange_scopes(self, requested, client, request, *args, **kwargs) -> bool:
        """Never wider than the subject token, within the client's ceiling and the user's roles."""
        request.scopes = delegation.narrow_scopes(requested, request.exchanged_subject, client, request)
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        """A user deactivated between consent and the code exchange gets no token."""
        if super().validate_code(client_id, code, client, request, *args, **kwargs) and request.user.is_active:
            return True
        description = "The authorization code is invalid, expired, already used or issued to another client."
        raise InvalidGrantError(description=description, request=request)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """A deactivated user's refresh tokens stop working at once (DOT does not check).

        A rotated refresh token passes only for its own client within that client's grace window
        (``rotations``; DOT knows only the server's window); any other use is reuse, and revokes its
        family (RFC 9700 §4.14.2), another client's included.
        """
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        used = getattr(request, "refresh_token_instance", None)
        rotated = used is not None and used.revoked is not None
        if rotated and not (valid and rotations.within_window(used, client)):
            RefreshToken.revoke_family(used.token_family)
            valid = False
        if valid and request.user is not None and request.user.is_active:
            return True
        description = "The refresh token is invalid, expired, revoked or issued to another client; sign in again."
        raise InvalidGrantError(description=description, request=request)

    def validate_device_code(self, client_id, code, request, *args, **kwargs) -> str | None:
        """RFC 8628 §3.5: where this client's device code stands; None for an unknown one.

        DOT 3.4 leaves this oauthlib 4 hook unimplemented. A pending code polled again sooner than its
        interval answers ``slow_down``, and its interval grows by five seconds (``throttle``). An
        approved code is spent here, once (a second poll finds it expired), and hands its user and
        scopes to the token.
        """
        device = DeviceGrant.objects.filter(device_code=code, client_id=request.client.client_id).first()
        if device is None:
            return None
        if device.is_expired():
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        pending = device.status == device.AUTHORIZATION_PENDING
        if pending and throttle.device_polled_too_soon(code, device.interval):
            slower = F("interval") + throttle.SLOW_DOWN_SECONDS
            DeviceGrant.objects.filter(pk=device.pk).update(interval=slower)
            return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN
        if device.status != device.AUTHORIZED:
            return DEVICE_STATUSES.get(device.status)
        if device.user is None or not device.user.is_active:
            return None
        spent = DeviceGrant.objects.filter(pk=device.pk, status=device.AUTHORIZED).update(status=device.EXPIRED)
        if not spent:  # a parallel poll took it
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        request.user, request.scopes = device.user, device.scope.split()
        return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED

    def save_bearer_token(self, token, request, *args, **kwargs):
        """DOT wraps every save in a transaction; a token without a refresh token is one INSERT,
        atomic by itself, so it goes without BEGIN and COMMIT (two statements fewer)."""
        if "refresh_token" in token or getattr(request, "refresh_token_instance", None) is not None:
            try:
                return super().save_bearer_token(token, request, *args, **kwargs)
            except rotations.Replayed as replay:  # raised inside the transaction: revoke once it is undone
                RefreshToken.revoke_family(replay.family)
                description = "The refresh token has already been used."
                raise InvalidGrantError(description=description, request=request) from None
        try:
            return self._save_bearer_token(token, request, *args, **kwargs)
        except IntegrityError:
            # The client row is gone: deleted behind the models' back (SQL) while this worker's memo
            # still held it (at most CLIENT_RECHECK_SECONDS). No token; the client is unknown now.
            clientmemo.memo.forget()
            raise InvalidClientError(request=request) from None

    def _save_bearer_token(self, token, request, *args, **kwargs):
        """Rotate a refresh token at most once, even when copies of it race each other.

        DOT checks the refresh token before its save transaction, so parallel uses all pass and would
        fork the token family (the losers crashing on the hashed, empty token column). Inside the
        transaction the row is locked: the first use rotates it and keeps the new pair for the grace
        window (``rotations``); a use that finds it rotated already gets that same pair when the
        window allows, and is reuse (``rotations.Replayed``) when it does not.
        """
        used = getattr(request, "refresh_token_instance", None)
        if used is not None:
            live = RefreshToken.objects.select_for_update().filter(pk=used.pk, revoked__isnull=True)
            if not live.exists():
                pair = rotations.recall(request)
                if pair is None:
                    raise rotations.Replayed(used.token_family)
                token.update(pair)
                return
        super()._save_bearer_token(token, request, *args, **kwargs)
        if used is not None:
            rotations.remember(request, token)

    def _create_authorization_code(self, request, code, expires=None):
        """DOT's one place that stores a code: one asked for with ``dpop_jkt`` is bound to that key."""
        grant = super()._create_authorization_code(request, code, expires)
        dpop_jkt.bind_code(grant, request)
        return grant

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        """DOT's one place that stores a refresh token: a public client's is bound to its DPoP key."""
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        dpop.bind_refresh_token(refresh_token, request)
        return refresh_token

    def get_original_scopes(self, refresh_token, request, *args, **kwargs) -> list[str]:
        """Refresh never widens: the original grant, narrowed again to what is allowed today."""
        original = super().get_original_scopes(refresh_token, request, *args, **kwargs)
        original = original.split() if isinstance(original, str) else list(original or [])
        granted = scopes.effective_scopes(original, request.client, request.user)
        if not granted:
            _refuse_disabled(request.client, request)
            raise InvalidScopeError(description="None of the granted scopes are still allowed.", request=request)
        return granted

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs) -> bool:
        """Whatever registered the client (admin, CLI, DCR, CIMD), plain http goes only to loopback,
        and the URI is one of the registered ones character for character, loopback port included."""
        allowed = super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs)
        if not (allowed and redirects.redirect_uri_allowed(redirect_uri)):
            return False
        return redirects.registered(request.client, redirect_uri)

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs) -> str | None:
        uri = super().get_default_redirect_uri(client_id, request, *args, **kwargs)
        return uri if uri and redirects.redirect_uri_allowed(uri) else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs) -> bool:
        """RFC 6749 §5.2: a redirect URI unlike the authorization request's is ``invalid_grant``."""
        if super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs):
            return True
        description = "The redirect_uri does not match the authorization request."
        raise InvalidGrantError(description=description, request=request)

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        """The password grant: the username as the sign-in page reads it, under the same lockout."""
        username = clean_username(username)
        ip = client_ip(request)
        wait = throttle.lockout_remaining(username, ip)
        if wait:
            raise TooManyRequests(wait, request=request)
        if super().validate_user(username, password, client, request, *args, **kwargs):
            throttle.record_login_success(username)
            return True
        throttle.record_login_failure(username, ip)
        # One answer for a wrong password, an unknown or an inactive user: nothing about who exists.
        raise InvalidGrantError(description="Invalid username or password.", request=request)


def _param(request, name: str):
    """A parameter of an oauthlib request, None when absent."""
    return getattr(request, name, None)


def _signs_assertions(client) -> bool:
    try:
        return client.policy.signs_assertions
    except ClientPolicy.DoesNotExist:
        return False


def _audiences(request) -> list[str]:
    """What an assertion's ``aud`` may name: the issuer, or the endpoint called under the issuer's origin."""
    issuer = conf.get("ISSUER")
    parts = urlsplit(issuer)
    return [issuer, f"{parts.scheme}://{parts.netloc}{urlsplit(request.uri or '').path}"]


def _assertion_refusal(client) -> str | None:
    """Why this client may not exchange identity assertions (jwt-bearer), or None: an enabled identity
    provider lists it."""
    if client.identity_providers.filter(enabled=True).exists():
        return None
    return f"This client may not use the {grants.JWT_BEARER} grant: no identity provider lists it."


# The grants a client is allowed by something other than its application grant (DOT's one grant per
# client): why this client may not use it, or None.
_ALLOWED_ELSEWHERE = {grants.TOKEN_EXCHANGE: delegation.refusal, grants.JWT_BEARER: _assertion_refusal}


def _refuse_disabled(client, request) -> None:
    """Say so when nothing was granted because an admin disabled the client (its ceiling is empty)."""
    if client is not None and ClientPolicy.objects.filter(application=client, enabled=False).exists():
        description = "This client has been disabled by an administrator."
        raise UnauthorizedClientError(description=description, request=request)
