"""DPoP proofs (RFC 9449): the one verifier of proof JWTs, key thumbprints (RFC 7638) and server nonces.

Shared by the resource server (``auth``) and the authorization server's token endpoint; it imports
nothing from either. A proof is accepted once: its ``jti`` is offered to ``sharedstate.seen_once``
for as long as the proof could still pass the ``iat`` window, so a replay fails on every instance.

Nonces are stateless: an HMAC of ``SECRET_KEY`` over a time window, so any instance that shares the
secret accepts a nonce any other one issued, for up to two windows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from django.utils.crypto import salted_hmac

import sharedstate

ALGORITHMS = ("ES256", "RS256", "PS256")
# Whatever a setting lists, only these can verify a proof: asymmetric, so the header's jwk is public.
ASYMMETRIC = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
PROOF_TYPE = "dpop+jwt"
MAX_PROOF_LENGTH = 4096
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


class InvalidProof(Exception):
    """RFC 9449 §7.1/§5 ``invalid_dpop_proof``: the proof is missing, malformed or does not match."""

    error = "invalid_dpop_proof"


class UseNonce(InvalidProof):
    """RFC 9449 §8/§9 ``use_dpop_nonce``: the proof must carry the nonce the server supplies."""

    error = "use_dpop_nonce"


@dataclass(frozen=True)
class Proof:
    """What a verified proof established: the key's RFC 7638 thumbprint, and the proof's ``jti``."""

    jkt: str
    jti: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: base64url SHA-256 of the key's required members, sorted, without whitespace."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        raise InvalidProof("The proof's jwk is not a supported public key.")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """RFC 9449 §4.2 ``ath``: base64url SHA-256 of the access token's ASCII bytes."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalise_uri(uri: str) -> str:
    """RFC 9449 §4.3: the URI without query and fragment, scheme and host lower-case, default port dropped."""
    parts = urlsplit(uri)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and (scheme, parts.port) not in {("http", 80), ("https", 443)}:
        netloc += f":{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


# --- nonces ---


def _nonce_for(window: int) -> str:
    return b64url(salted_hmac("mcpserver.dpop.nonce", str(window), algorithm="sha256").digest()[:18])


def nonce(window_seconds: int, now: float | None = None) -> str:
    """The nonce to hand out now (``DPoP-Nonce``); valid in this window and the next."""
    return _nonce_for(int((now or time.time()) // window_seconds))


def nonce_valid(value: Any, window_seconds: int, now: float | None = None) -> bool:
    """Whether ``value`` is a nonce this deployment issued in the current or the previous window."""
    if not isinstance(value, str):
        return False
    window = int((now or time.time()) // window_seconds)
    return any(hmac.compare_digest(value, _nonce_for(w)) for w in (window, window - 1))


# --- verification ---


def _header(proof: str, algorithms: tuple[str, ...]) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError as exc:
        raise InvalidProof("The DPoP proof is not a JWT.") from exc
    if header.get("typ") != PROOF_TYPE:
        raise InvalidProof("The DPoP proof's typ is not dpop+jwt.")
    if header.get("alg") not in algorithms or header.get("alg") not in ASYMMETRIC:
        raise InvalidProof("The DPoP proof's algorithm is not allowed.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidProof("The DPoP proof carries no jwk header.")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidProof("The DPoP proof's jwk holds private key material.")
    return header


def _claims(proof: str, header: dict[str, Any]) -> dict[str, Any]:
    try:
        key = jwt.PyJWK(header["jwk"], algorithm=header["alg"])
        return jwt.decode(
            proof,
            key,
            algorithms=[header["alg"]],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidProof("The DPoP proof's signature or key is invalid.") from exc
    except (TypeError, ValueError) as exc:  # a jwk whose members do not make a key
        raise InvalidProof("The DPoP proof's jwk is not a usable key.") from exc


def verify(
    proof: str | None,
    *,
    method: str,
    uri: str,
    lifetime: int,
    leeway: int = 5,
    access_token: str | None = None,
    nonce_window: int | None = None,
    algorithms: tuple[str, ...] = ALGORITHMS,
    now: float | None = None,
) -> Proof:
    """Check one ``DPoP`` header value against the request it came with (RFC 9449 §4.3).

    ``uri``: the request's target URI (its query and fragment are ignored). ``lifetime``: how old
    ``iat`` may be; ``leeway``: how far in the future. ``access_token``: the token presented with the
    proof, whose hash ``ath`` must carry (None: no ``ath`` is checked, as at the token endpoint).
    ``nonce_window``: when set, the proof must carry a current server nonce (``UseNonce`` otherwise).
    The ``jti`` is spent last, so a proof that fails any other check can still be corrected and sent.
    """
    if not proof or len(proof) > MAX_PROOF_LENGTH or "," in proof:  # one proof, one header (§4.3 rule 1)
        raise InvalidProof("Exactly one DPoP proof is required.")
    header = _header(proof, algorithms)
    claims = _claims(proof, header)
    _check_claims(claims, method, uri, lifetime, leeway, access_token, now or time.time())
    if nonce_window is not None and not nonce_valid(claims.get("nonce"), nonce_window, now):
        raise UseNonce("A fresh server nonce is required in the DPoP proof.")
    jkt = thumbprint(header["jwk"])
    replay_key = "dpop-jti:" + hashlib.sha256(f"{jkt} {claims['jti']}".encode()).hexdigest()
    if not sharedstate.seen_once(replay_key, lifetime + 2 * leeway):
        raise InvalidProof("This DPoP proof was used before.")
    return Proof(jkt=jkt, jti=claims["jti"])


def _check_claims(
    claims: dict[str, Any], method: str, uri: str, lifetime: int, leeway: int, token: str | None, now: float
) -> None:
    jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidProof("The DPoP proof lacks a jti.")
    if htm != method:
        raise InvalidProof("The DPoP proof's htm does not match the request method.")
    if not isinstance(htu, str) or _safe_normalise(htu) != normalise_uri(uri):
        raise InvalidProof("The DPoP proof's htu does not match the request URI.")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise InvalidProof("The DPoP proof lacks an iat.")
    if iat < now - lifetime or iat > now + leeway:
        raise InvalidProof("The DPoP proof's iat is outside the acceptable window.")
    if token is not None and not (
        isinstance(claims.get("ath"), str) and hmac.compare_digest(claims["ath"], access_token_hash(token))
    ):
        raise InvalidProof("The DPoP proof's ath does not match the access token.")


def _safe_normalise(uri: str) -> str | None:
    try:
        return normalise_uri(uri)
    except ValueError:  # a malformed port or host
        return None
