"""Redirect URI rules (authserver.redirects), the same for every way a client comes to exist."""

from __future__ import annotations

import pytest

from authserver import redirects


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.test/cb",
        "https://app.example.test/cb?tenant=a",
        "http://127.0.0.1:33418/callback",
        "http://[::1]/cb",
        "http://localhost:6274/oauth/callback",
        "com.example.app:/oauth2redirect",
        "com.example.app://callback",
    ],
)
def test_allowed(uri):
    assert redirects.redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("javascript:alert(1)", "scheme is not allowed"),
        ("data:text/html,hi", "scheme is not allowed"),
        ("vbscript:msgbox", "scheme is not allowed"),
        ("file:///etc/passwd", "scheme is not allowed"),
        ("myapp:/cb", "scheme is not allowed"),  # a private-use scheme is a reversed domain name
        ("https://app.example.test/cb#x", "fragment"),
        ("https://*.example.test/cb", "wildcards"),
        ("http://app.example.test/cb", "loopback"),
        ("http://127.0.0.1.nip.io/cb", "loopback"),
        ("https://user:pw@app.example.test/cb", "credentials"),
        ("https:///cb", "needs a host"),
        ("https://app.example.test:70000/cb", "not a valid URI"),
        ("/relative", "scheme is not allowed"),
        ("", "empty"),
        ("https://app.example.test/a b", "whitespace"),
        ("com.example.app:", "no path"),
    ],
)
def test_refused(uri, reason):
    assert reason in (redirects.redirect_uri_problem(uri) or "")


def test_allowed_schemes_add_only_the_clients_own_private_schemes(settings):
    class Client:
        redirect_uris = "com.example.app:/cb https://app.example.test/cb myapp:/x"

    assert redirects.allowed_schemes(Client()) == ["http", "https", "com.example.app"]


def test_create_client_accepts_a_private_use_scheme(world, make_client):
    client = make_client(
        "native", "authorization-code", ["mcp:read"], public=True, redirect_uris=["com.example.app:/cb"]
    )
    assert client.application.redirect_uris == "com.example.app:/cb"
