"""Who may reach the project and how: hosts, HTTPS and proxy headers, cookies, security headers, CORS.

Every HTTPS-only setting defaults to on exactly when ``PUBLIC_URL`` is an https URL.
"""

from urllib.parse import urlsplit

from .env import HTTPS, PUBLIC_URL, env_bool, env_int, env_list

_public = urlsplit(PUBLIC_URL)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"127.0.0.1,localhost,[::1],{_public.hostname}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", f"{_public.scheme}://{_public.netloc}")

# --- HTTPS and proxy headers ---
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("TRUST_X_FORWARDED_HOST")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# Probes and scrapers talk plain HTTP to each instance, behind the TLS-terminating proxy.
SECURE_REDIRECT_EXEMPT = [r"^(health|ready|metrics)$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- CORS for browser-based clients (django-cors-headers) ---
# Which origin may read which endpoint is decided per path by authserver.cors (any origin for the
# metadata, JWKS and registration; origins registered on some client for token and revocation).
# /mcp and the protected-resource metadata answer CORS themselves (mcpserver, MCP_ALLOWED_ORIGINS),
# so nothing here matches them. No credentials: none of these endpoints uses cookies.
CORS_URLS_REGEX = r"^/(\.well-known/(oauth-authorization-server|jwks\.json)|oauth/(register|token|revoke)/)"
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "MCP-Protocol-Version",
    "Mcp-Method",
    "Mcp-Name",
    "Mcp-Session-Id",
    "Last-Event-ID",
    "DPoP",  # RFC 9449: a browser client's proof on token requests
]
CORS_EXPOSE_HEADERS = ["Mcp-Session-Id", "WWW-Authenticate", "MCP-Protocol-Version", "DPoP-Nonce"]
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 86400
