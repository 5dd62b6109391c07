"""The authorization server: django-oauth-toolkit's settings (``OAUTH2_PROVIDER``) and ``AUTHSERVER``.

``AUTHSERVER`` is this project's namespace, read at call time through ``authserver.conf``.
"""

from authserver import grants  # the grant table; it imports no models and reads no settings

from .env import MCP_RESOURCE_URL, OAUTH_ISSUER, env, env_bool, env_int, env_list

# --- OAuth engine (django-oauth-toolkit). Only DOT's own settings live here. ---
ACCESS_TOKEN_LIFETIME = env_int("ACCESS_TOKEN_LIFETIME", 900)
# Dynamic client registration (RFC 7591/7592): who may register is DOT's permission-class list.
DCR_POLICY = env("DCR_POLICY", "open").lower()
DCR_PERMISSION_CLASSES = {
    "open": ["oauth2_provider.dcr.AllowAllDCRPermission"],
    "token": ["authserver.registration.InitialAccessTokenPermission"],
    "closed": ["authserver.registration.ClosedRegistration"],
}
OAUTH_PASSWORD_GRANT = env_bool("OAUTH_PASSWORD_GRANT", True)
# RFC 8628 device grant (authserver.devices), for clients registered with it; false: offered nowhere.
OAUTH_DEVICE_GRANT = env_bool("OAUTH_DEVICE_GRANT", True)
# RFC 8693 token exchange (authserver.delegation), for confidential clients whose policy lists token
# exchange audiences; false: offered nowhere.
OAUTH_TOKEN_EXCHANGE = env_bool("OAUTH_TOKEN_EXCHANGE", True)
# A rotated refresh token presented again this soon, by its client with the same request, gets the
# pair its first use got (authserver.rotations) instead of revoking the family; 0: never.
OAUTH_REFRESH_GRACE_SECONDS = env_int("OAUTH_REFRESH_GRACE_SECONDS", 5)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "oauth2_provider.DeviceGrant"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "authserver.server.Server",
    "OAUTH2_VALIDATOR_CLASS": "authserver.validators.OAuth2Validator",
    # DOT's bridge to oauthlib, keeping a repeated RFC 8693 audience as DOT keeps a repeated resource.
    "OAUTH2_BACKEND_CLASS": "authserver.backends.OAuthLibCore",
    "SCOPES_BACKEND_CLASS": "authserver.scopes.DatabaseScopes",
    "APPLICATION_ADMIN_CLASS": "authserver.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "authserver.admin.AccessTokenAdmin",
    "ACCESS_TOKEN_GENERATOR": "authserver.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": env_int("AUTHORIZATION_CODE_LIFETIME", 60),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": OAUTH_REFRESH_GRACE_SECONDS,
    "PKCE_REQUIRED": True,
    "OIDC_ISS_ENDPOINT": OAUTH_ISSUER,
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # Schemes of a client's CORS origins; plain http counts only on loopback (authserver.cors).
    "ALLOWED_SCHEMES": ["https", "http"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": not OAUTH_PASSWORD_GRANT,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    # What the token endpoint offers; everything else about each grant is in authserver.grants.
    "OAUTH2_GRANT_TYPES_SUPPORTED": grants.grant_types_supported(
        password=OAUTH_PASSWORD_GRANT, device_code=OAUTH_DEVICE_GRANT, token_exchange=OAUTH_TOKEN_EXCHANGE
    ),
    # RFC 8628: where a person enters the user code (the issuer's own page, authserver.views.device),
    # and how often a device may poll (each too-early poll answers slow_down and adds five seconds).
    "OAUTH_DEVICE_VERIFICATION_URI": OAUTH_ISSUER + "/oauth/device/",
    "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": OAUTH_ISSUER + "/oauth/device/?user_code={user_code}",
    "DEVICE_FLOW_INTERVAL": env_int("OAUTH_DEVICE_POLL_INTERVAL", 5),
    # DOT's device pre-token hook loads the device grant unguarded (a 500 for a missing or unknown
    # device_code); the validator's validate_device_code loads it instead (authserver.validators).
    "OAUTH_PRE_TOKEN_VALIDATION": [],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": MCP_RESOURCE_URL,
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [OAUTH_ISSUER],
    "OAUTH2_PROTECTED_RESOURCE_NAME": env("MCP_RESOURCE_NAME", "MCP server"),
    "DCR_ENABLED": True,
    # An unknown DCR_POLICY registers nobody (and authserver.E003 says why at start-up).
    "DCR_REGISTRATION_PERMISSION_CLASSES": DCR_PERMISSION_CLASSES.get(
        DCR_POLICY, DCR_PERMISSION_CLASSES["closed"]
    ),
    # Client ID Metadata Documents: an https client_id URL is fetched on first use, from public
    # addresses only (SSRF rules; CIMD_PRIVATE_HOSTS excepted), from hosts on the allow-list
    # (ALLOWED_HOSTS syntax; default "*": any), at most CIMD_RATE_LIMIT new ones per address.
    "CIMD_ENABLED": env_bool("CIMD_ENABLED", True),
    "CIMD_ALLOWED_HOSTS": env_list("CIMD_ALLOWED_HOSTS", "*"),
    "CIMD_REGISTRATION_PERMISSION_CLASSES": [
        "oauth2_provider.cimd.HostAllowlistCIMDPermission",
        "authserver.cimd.PerAddressLimit",
    ],
    "CIMD_METADATA_FETCHER": "authserver.cimd.MetadataFetcher",
    # One wall-clock deadline for the whole fetch (lookup, connect, TLS, headers, body).
    "CIMD_FETCH_TIMEOUT_SECONDS": env_int("CIMD_FETCH_TIMEOUT", 5),
    # Fetches in flight per process, below its request threads (THREADS, 3), so that slow metadata
    # servers can never hold them all; one more is refused at once (an unknown client, no backoff).
    "CIMD_MAX_CONCURRENT_FETCHES": env_int("CIMD_MAX_CONCURRENT_FETCHES", 2),
}
SILENCED_SYSTEM_CHECKS = [
    # 'http' stays in DOT's scheme list only for RFC 8252 loopback redirect URIs; authserver's own
    # check (authserver.W001) and redirect-URI validation refuse plain http anywhere else.
    "oauth2_provider.W008",
    # DOT's grace path answers a repeated refresh with the stored token columns, which hashed storage
    # empties, hence its error; the repeat never reaches it here: authserver.rotations answers with the
    # sealed pair (and authserver.E021 says when that is not so).
    "oauth2_provider.E001",
]
if OAUTH_PASSWORD_GRANT:
    # The password grant is a product requirement for scripts; OAUTH_PASSWORD_GRANT=false turns it off.
    SILENCED_SYSTEM_CHECKS.append("oauth2_provider.W002")

# --- this project's namespaced settings, read at call time through authserver.conf ---
AUTHSERVER = {
    "ISSUER": OAUTH_ISSUER,
    "DEFAULT_RESOURCE": MCP_RESOURCE_URL,
    "ALLOWED_RESOURCES": [MCP_RESOURCE_URL, *env_list("OAUTH_EXTRA_RESOURCES")],
    "SIGNING_KEY_SIZE": env_int("SIGNING_KEY_SIZE", 2048),
    "SIGNING_KEY_RECHECK_SECONDS": env_int("SIGNING_KEY_RECHECK_SECONDS", 5),
    # Longest a worker trusts its in-memory copy of a client (authserver.clientmemo); changes made
    # through the models reach every worker at once through the change feed. 0 turns the memo off.
    "CLIENT_RECHECK_SECONDS": env_int("CLIENT_RECHECK_SECONDS", 5),
    "MAX_TOKEN_LIFETIME": env_int("MAX_ACCESS_TOKEN_LIFETIME", 24 * 3600),
    "LOGIN_FAILURE_LIMIT": env_int("LOGIN_FAILURE_LIMIT", 5),
    "LOGIN_IP_FAILURE_LIMIT": env_int("LOGIN_IP_FAILURE_LIMIT", 50),
    "LOGIN_LOCKOUT_SECONDS": env_int("LOGIN_LOCKOUT_SECONDS", 300),
    # DPoP at the token endpoint (RFC 9449 §5).
    "DPOP_ALGORITHMS": env_list("DPOP_ALGORITHMS", "ES256,RS256,PS256"),
    "DPOP_PROOF_LIFETIME": env_int("DPOP_PROOF_LIFETIME", 60),
    "DPOP_NONCE_REQUIRED": env_bool("DPOP_NONCE_REQUIRED", False),
    "DPOP_NONCE_SECONDS": env_int("DPOP_NONCE_SECONDS", 300),
    "TOKEN_RATE_LIMIT": env_int("TOKEN_RATE_LIMIT", 6000),
    "TOKEN_RATE_WINDOW": env_int("TOKEN_RATE_WINDOW", 60),
    "DCR_POLICY": DCR_POLICY,
    "DCR_DEFAULT_SCOPES": env_list("DCR_DEFAULT_SCOPES") or None,
    "DCR_RATE_LIMIT": env_int("DCR_RATE_LIMIT", 60),
    "DCR_RATE_WINDOW": env_int("DCR_RATE_WINDOW", 3600),
    # Per client, registered or in a metadata document; each one's origin becomes a CORS origin.
    "DCR_MAX_REDIRECT_URIS": env_int("DCR_MAX_REDIRECT_URIS", 10),
    "DCR_MAX_METADATA_BYTES": env_int("DCR_MAX_METADATA_BYTES", 16 * 1024),
    "CIMD_RATE_LIMIT": env_int("CIMD_RATE_LIMIT", 10),
    "CIMD_RATE_WINDOW": env_int("CIMD_RATE_WINDOW", 3600),
    # Hosts whose metadata documents may live on private or loopback addresses (default: none).
    "CIMD_PRIVATE_HOSTS": env_list("CIMD_PRIVATE_HOSTS"),
    # Signed client assertions (private_key_jwt): their longest lifetime, clock leeway, jwks_uri caching.
    "CLIENT_ASSERTION_MAX_LIFETIME": env_int("CLIENT_ASSERTION_MAX_LIFETIME", 300),
    "CLIENT_ASSERTION_LEEWAY": env_int("CLIENT_ASSERTION_LEEWAY", 30),
    "CLIENT_JWKS_CACHE_SECONDS": env_int("CLIENT_JWKS_CACHE_SECONDS", 300),
    "CLIENT_JWKS_REFRESH_SECONDS": env_int("CLIENT_JWKS_REFRESH_SECONDS", 60),
    # Identity assertion grants (ID-JAG): their longest lifetime and clock leeway.
    "IDENTITY_ASSERTION_MAX_LIFETIME": env_int("IDENTITY_ASSERTION_MAX_LIFETIME", 600),
    "IDENTITY_ASSERTION_LEEWAY": env_int("IDENTITY_ASSERTION_LEEWAY", 30),
    # RFC 8628: how long a device code and its user code live; failed user codes per address per window.
    "DEVICE_CODE_LIFETIME": env_int("OAUTH_DEVICE_CODE_LIFETIME", 600),
    "DEVICE_USER_CODE_ATTEMPTS": env_int("OAUTH_DEVICE_USER_CODE_ATTEMPTS", 10),
    "DEVICE_USER_CODE_WINDOW": env_int("OAUTH_DEVICE_USER_CODE_WINDOW", 900),
}
