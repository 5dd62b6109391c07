"""The ``AUTHSERVER`` settings namespace, read at call time so tests can override it."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "ISSUER": "http://127.0.0.1:8000",
    "DEFAULT_RESOURCE": "http://127.0.0.1:8000/mcp",
    "ALLOWED_RESOURCES": ["http://127.0.0.1:8000/mcp"],
    "SIGNING_KEY_SIZE": 2048,
    "SIGNING_KEY_RECHECK_SECONDS": 5,
    # Longest a worker trusts its memo of a client without reloading it (changes made through the
    # models reach every worker at once through the change feed; see authserver.clientmemo). 0: off.
    "CLIENT_RECHECK_SECONDS": 5,
    "MAX_TOKEN_LIFETIME": 24 * 3600,
    "LOGIN_FAILURE_LIMIT": 5,
    "LOGIN_IP_FAILURE_LIMIT": 50,
    "LOGIN_LOCKOUT_SECONDS": 300,
    # DPoP at the token endpoint (RFC 9449 §5): proof algorithms (advertised as
    # dpop_signing_alg_values_supported), how old a proof's iat may be, and server nonces.
    "DPOP_ALGORITHMS": ["ES256", "RS256", "PS256"],
    "DPOP_PROOF_LIFETIME": 60,
    "DPOP_NONCE_REQUIRED": False,
    "DPOP_NONCE_SECONDS": 300,
    "TOKEN_RATE_LIMIT": 6000,
    "TOKEN_RATE_WINDOW": 60,
    # Dynamic client registration and client ID metadata documents
    "DCR_POLICY": "open",  # open | token | closed; DOT's permission classes follow it (config.settings.oauth)
    "DCR_DEFAULT_SCOPES": None,  # None: every scope some ordinary (non-staff) user's roles grant
    "DCR_RATE_LIMIT": 60,  # registration attempts per address per window
    "DCR_RATE_WINDOW": 3600,
    "DCR_MAX_REDIRECT_URIS": 10,  # per client, registered or in a metadata document (each is a CORS origin)
    "DCR_MAX_METADATA_BYTES": 16 * 1024,  # a registration body (DOT caps metadata documents alike)
    "CIMD_RATE_LIMIT": 10,  # unknown or stale metadata documents fetched per address per window
    "CIMD_RATE_WINDOW": 3600,
    "CIMD_PRIVATE_HOSTS": [],  # hosts (ALLOWED_HOSTS syntax) whose metadata may live on private addresses
    # Signed client assertions (private_key_jwt, RFC 7523 §2.2)
    "CLIENT_ASSERTION_MAX_LIFETIME": 300,  # seconds an assertion may live (exp - iat, and exp - now)
    "CLIENT_ASSERTION_LEEWAY": 30,  # seconds of clock skew allowed on exp, iat and nbf
    "CLIENT_JWKS_CACHE_SECONDS": 300,  # a client's fetched jwks_uri is reused this long
    "CLIENT_JWKS_REFRESH_SECONDS": 60,  # an unknown kid refetches a jwks_uri at most once per this
    # Identity assertion authorization grants (ID-JAG) from the trusted identity providers
    "IDENTITY_ASSERTION_MAX_LIFETIME": 600,  # seconds an ID-JAG may live (exp - iat, and exp - now)
    "IDENTITY_ASSERTION_LEEWAY": 30,  # seconds of clock skew allowed on its exp and iat
    # RFC 8628 device authorization
    "DEVICE_CODE_LIFETIME": 600,  # seconds a device code and its user code live
    "DEVICE_USER_CODE_ATTEMPTS": 10,  # wrong user codes per address (IPv6: per /64) per window
    "DEVICE_USER_CODE_WINDOW": 900,
}


def get(name: str) -> Any:
    """Return one AUTHSERVER setting, falling back to its default."""
    return getattr(settings, "AUTHSERVER", {}).get(name, DEFAULTS[name])


def access_token_lifetime() -> int:
    from oauth2_provider.settings import oauth2_settings

    return int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
