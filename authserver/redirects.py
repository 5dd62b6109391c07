"""Which redirect URIs a client may register and be sent to: one policy for every way a client is made
(admin, CLI, DCR, CIMD) and for the authorization and token endpoints.

https anywhere; plain http only to a loopback address; a private-use scheme for native apps (RFC 8252
§7.1); exact string matching against the registered URIs (RFC 9700 §2.1).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
# RFC 8252 §7.1: a private-use scheme is a reversed domain name the app controls, so it has a dot;
# that also keeps out javascript:, data:, file:, vbscript: and every other dot-less scheme.
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$")


def is_private_use_scheme(scheme: str) -> bool:
    return bool(PRIVATE_USE_SCHEME.match(scheme)) and scheme not in {"http", "https"}


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI is refused, or None when it is acceptable.

    https anywhere; plain http only to a loopback address, any port, which is then matched exactly;
    a private-use scheme for native apps (RFC 8252 §7.1). Never a fragment (RFC 6749 §3.1.2), a
    wildcard (RFC 9700 §2.1: exact matching), credentials in the URI, or whitespace.
    """
    if not uri or any(char.isspace() for char in uri):
        return "it is empty or contains whitespace"
    if "#" in uri:
        return "a redirect URI must not contain a fragment"
    if "*" in uri:
        return "wildcards are not allowed; register each redirect URI exactly"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (an out-of-range port raises ValueError)
    except ValueError:
        return "it is not a valid URI"
    if parts.username is not None or parts.password is not None:
        return "a redirect URI must not contain credentials"
    if parts.scheme == "https":
        return None if parts.hostname else "an https redirect URI needs a host"
    if parts.scheme == "http":
        if parts.hostname in LOOPBACK_HOSTS:
            return None
        return "plain http is allowed only to a loopback address (127.0.0.1, [::1], localhost)"
    if is_private_use_scheme(parts.scheme):
        return None if (parts.path or parts.netloc) else "it has no path"
    scheme = parts.scheme or "missing"
    return f"the {scheme} scheme is not allowed; use https, loopback http or a private-use scheme"


def redirect_uri_allowed(uri: str) -> bool:
    return redirect_uri_problem(uri) is None


def registered(application, uri: str) -> bool:
    """Exact string matching (RFC 9700 §2.1), including a loopback URI's port.

    Stricter than DOT, which lets a loopback IP's port vary (RFC 8252 §7.3): a client registers
    the port it listens on, and another local process on another port cannot receive its codes.
    """
    return uri in application.redirect_uris.split()


def allowed_schemes(application) -> list[str]:
    """DOT's ``Application.get_allowed_schemes``: http(s) plus this client's own private-use schemes.

    DOT allows one global scheme list (``ALLOWED_REDIRECT_URI_SCHEMES``), which cannot name every
    native app's reversed-domain scheme; each client may use the private-use schemes it registered.
    """
    from oauth2_provider.settings import oauth2_settings

    own = {urlsplit(uri).scheme for uri in application.redirect_uris.split()}
    private = sorted(scheme for scheme in own if is_private_use_scheme(scheme))
    return [*oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES, *private]
