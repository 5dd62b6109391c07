"""DPoP at the token endpoint (RFC 9449 §5): the proof of a token request, the key its tokens are bound
to, and the refresh tokens of public clients bound to that key.

``check_token_request`` is a ``post_token`` validator of every grant (``authserver.server``): it leaves
the proof's key thumbprint on ``request.dpop_jkt``, which ``authserver.tokens`` signs into
``cnf.jkt``, ``BoundTokenType`` answers as ``token_type: DPoP`` and the validator stores beside a
public client's new refresh token (``bind_refresh_token``). A refresh token or an authorization code
bound to a key (§5.0, §10 ``dpop_jkt``) is redeemed only with a proof of that key (``invalid_grant``).
"""

from __future__ import annotations

from django.urls import reverse
from oauthlib.oauth2 import BearerToken
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error

from mcpserver import dpop

from . import conf, dpop_jkt
from .models import ClientPolicy, RefreshTokenBinding


class InvalidDpopProof(OAuth2Error):
    """RFC 9449 §5: the token request's DPoP proof is missing, invalid or replayed."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonce(OAuth2Error):
    """RFC 9449 §8: retry with the nonce of the ``DPoP-Nonce`` header."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, nonce: str, **kwargs):
        super().__init__(**kwargs)
        self.nonce = nonce

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "DPoP-Nonce": self.nonce}


def token_endpoint() -> str:
    return conf.get("ISSUER") + reverse("oauth2_provider:token")


def algorithms() -> list[str]:
    return list(conf.get("DPOP_ALGORITHMS"))


def check_token_request(request) -> None:
    """post_token validator: verify a ``DPoP`` header, require one where the client or its refresh
    token or code is bound, and put the key's thumbprint (or None) on ``request.dpop_jkt``."""
    proof = request.headers.get("HTTP_DPOP")
    jkt = None if proof is None else _verified(proof, request)
    if jkt is None and required(request.client):
        raise InvalidDpopProof(description="This client must send a DPoP proof.", request=request)
    _check_binding(request, jkt)
    request.dpop_jkt = jkt


def _verified(proof: str, request) -> str:
    window = conf.get("DPOP_NONCE_SECONDS") if conf.get("DPOP_NONCE_REQUIRED") else None
    try:
        return dpop.verify(
            proof,
            method="POST",
            uri=token_endpoint(),
            lifetime=conf.get("DPOP_PROOF_LIFETIME"),
            nonce_window=window,
            algorithms=tuple(algorithms()),
        ).jkt
    except dpop.UseNonce as exc:
        raise UseDpopNonce(dpop.nonce(window), description=str(exc), request=request) from exc
    except dpop.InvalidProof as exc:
        raise InvalidDpopProof(description=str(exc), request=request) from exc


def required(application) -> bool:
    """Whether the client's policy demands DPoP-bound tokens (RFC 9449 §5.2), read once per loaded
    application instance (``authserver.clientmemo`` memoises it with the client)."""
    cached = getattr(application, "_dpop_required", None)
    if cached is None:
        policy = ClientPolicy.objects.filter(application=application, dpop_bound_access_tokens=True)
        cached = application._dpop_required = policy.exists()
    return cached


def _refresh_binding(request) -> str | None:
    used = getattr(request, "refresh_token_instance", None)
    if used is None:
        return None
    return RefreshTokenBinding.objects.filter(refresh_token=used).values_list("jkt", flat=True).first()


def _code_binding(request) -> str | None:
    return dpop_jkt.bound_to_code(request.code)


# The key an earlier step bound a grant to, by grant type (what is bound, where its key is kept): a
# public client's refresh token (§5.0) and a code asked for with ``dpop_jkt`` (§10).
_BINDINGS = {
    "refresh_token": ("refresh token", _refresh_binding),
    "authorization_code": ("authorization code", _code_binding),
}


def _check_binding(request, jkt: str | None) -> None:
    """``invalid_grant`` unless the key a refresh token or code is bound to (if any) is the proof's."""
    what, binding = _BINDINGS.get(request.grant_type, (None, None))
    bound = binding(request) if binding is not None else None
    if bound is not None and bound != jkt:
        description = f"The {what} is bound to another DPoP key; send a proof of that key."
        raise InvalidGrantError(description=description, request=request)


def bind_refresh_token(refresh_token, request) -> None:
    """RFC 9449 §5.0: a public client's refresh token is bound to the key of the proof it came with."""
    jkt = getattr(request, "dpop_jkt", None)
    if jkt is not None and request.client.client_type == request.client.CLIENT_PUBLIC:
        RefreshTokenBinding.objects.create(refresh_token=refresh_token, jkt=jkt)


class BoundTokenType(BearerToken):
    """oauthlib's token type, answering ``token_type: DPoP`` for a token bound to a key (RFC 9449 §5)."""

    def create_token(self, request, refresh_token=False, **kwargs):
        token = super().create_token(request, refresh_token=refresh_token, **kwargs)
        if getattr(request, "dpop_jkt", None) is not None:
            token["token_type"] = "DPoP"
        return token
