"""``/mcp`` behind an external issuer (``TRUSTED_ISSUERS``) next to this server's own: tokens shaped as
Keycloak 26 issues them, verified with keys the realm serves over HTTP."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.apps import apps

from mcpserver import auth, callers, checks, issuers
from mcpserver.exceptions import InvalidToken
from mcpserver.registry import Registry
from tests.mcpserver.keycloak import Realm, new_key
from tests.mcpserver.test_auth import PRM, challenge_params

pytestmark = pytest.mark.django_db

RESOURCE = "http://127.0.0.1:8000/mcp"
WITH_AUDIENCE_MAPPER = [RESOURCE, "account"]


@pytest.fixture
def realm():
    served = Realm().serve()
    yield served
    served.stop()


@pytest.fixture
def trusted(settings, realm):
    """This server's issuer and the realm (the Keycloak preset), side by side."""
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUSTED_ISSUERS": [{"issuer": realm.issuer, "preset": "keycloak"}],
    }
    return realm


@pytest.fixture
def served_me():
    """Serve the built-ins and the authoring test's ``me`` tool (``ctx.user``, ``ctx.client``)."""
    app = apps.get_app_config("mcpserver")
    original = app.registry
    registry = Registry()
    for module in ("mcpserver.tools", "tests.mcpserver.authoring_capabilities"):
        registry.register_module(module)
    app.registry = registry
    yield registry
    app.registry = original


def call(mcp, name, token):
    response = mcp.modern("tools/call", {"name": name, "arguments": {}}, token=token)
    assert response.status_code == 200, response.content
    return response.json()["result"]["structuredContent"]


def test_a_keycloak_token_reaches_whoami_with_its_roles_username_and_client(mcp, trusted):
    """Header typ JWT, roles in realm_access, the user in preferred_username, the client in azp. The
    deny-list starts with this request and the token is as old as it: the revocation fallback (this
    issuer's database, which knows no Keycloak token) must not be asked."""
    result = call(mcp, "whoami", trusted.token(WITH_AUDIENCE_MAPPER))
    assert result["username"] == "kim"
    assert result["roles"] == ["default-roles-demo", "mcp-user", "offline_access", "uma_authorization"]
    assert result["client_id"] == "mcp-inspector"
    assert result["scopes"] == ["email", "mcp:read", "mcp:tools", "openid", "profile"]
    assert len(result["subject"]) == 36  # Keycloak's user id


def test_ctx_user_is_the_local_user_named_by_the_username_claim(mcp, trusted, make_user, served_me):
    make_user("kim")
    result = call(mcp, "me", trusted.token(WITH_AUDIENCE_MAPPER))
    assert result["user"] == "kim"
    assert result["client"] is None  # no client objects for another issuer's clients
    assert result["caller"] == "User"
    assert (
        call(mcp, "me", trusted.token(WITH_AUDIENCE_MAPPER, {"preferred_username": "nobody"}))["user"] is None
    )


def test_the_username_claim_is_the_issuers_configured_one(settings, realm, make_user):
    make_user("kim@example.com")
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUSTED_ISSUERS": [{"issuer": realm.issuer, "preset": "keycloak", "claims": {"username": "email"}}],
    }
    token = auth.authenticate(f"Bearer {realm.token(WITH_AUDIENCE_MAPPER)}")
    assert token.username == "kim@example.com"
    assert callers.loader(token).user(token).username == "kim@example.com"


def test_client_roles_may_be_added_by_a_second_path(settings, realm):
    paths = ["realm_access.roles", "resource_access.mcp-inspector.roles"]
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUSTED_ISSUERS": [{"issuer": realm.issuer, "preset": "keycloak", "claims": {"roles": paths}}],
    }
    assert "operator" in auth.authenticate(f"Bearer {realm.token(WITH_AUDIENCE_MAPPER)}").roles


def test_the_own_issuers_tokens_still_work_beside_it(mcp, trusted, issue, served_me, application):
    own = issue(username="carol")
    result = call(mcp, "whoami", own)
    assert result["username"] == "carol" and result["roles"] == ["user"]
    me = call(mcp, "me", own)  # this issuer's loader (CALLER_LOADER): its users and client objects
    assert me["user"] == "carol" and me["client"] == application.client_id
    assert call(mcp, "whoami", trusted.token(WITH_AUDIENCE_MAPPER))["username"] == "kim"


def test_the_metadata_lists_every_trusted_issuer(client, trusted, settings):
    body = client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert body["authorization_servers"] == [settings.MCPSERVER["ISSUER"], trusted.issuer]
    assert body["resource"] == RESOURCE


def test_the_own_issuer_can_be_left_out(client, settings, realm, sign):
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUST_OWN_ISSUER": False,
        "TRUSTED_ISSUERS": [{"issuer": realm.issuer, "preset": "keycloak"}],
    }
    assert client.get("/.well-known/oauth-protected-resource/mcp").json()["authorization_servers"] == [
        realm.issuer
    ]
    with pytest.raises(InvalidToken, match="trusted issuer"):
        auth.authenticate(f"Bearer {sign()}")


def _refused(mcp, token, description):
    response = mcp.modern("tools/list", token=token)
    assert response.status_code == 401, response.content
    params = challenge_params(response)
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == PRM
    assert params["scope"] == "mcp:read mcp:tools mcp:prompts"
    assert description in params["error_description"]


def test_keycloaks_default_audience_is_refused(mcp, trusted):
    """Without an audience mapper Keycloak's tokens name only ``account``: not for this resource."""
    _refused(mcp, trusted.token("account"), "not issued for this resource")


def test_an_unknown_issuer_is_refused(mcp, trusted):
    other = Realm("other").serve()
    try:
        _refused(mcp, other.token(WITH_AUDIENCE_MAPPER), "trusted issuer")
        assert other.fetches == 0  # an untrusted issuer's keys are never fetched
        _refused(mcp, trusted.token(WITH_AUDIENCE_MAPPER, {"iss": trusted.issuer + "/"}), "trusted issuer")
    finally:
        other.stop()


def test_a_keycloak_id_token_is_refused(mcp, trusted):
    """Same keys, same header typ: only the ``typ`` claim tells Keycloak's ID token from its access token."""
    id_token = trusted.token(RESOURCE, {"typ": "ID", "aud": RESOURCE}, remove=("scope", "realm_access"))
    _refused(mcp, id_token, "not an access token")


def test_accepted_typ_is_per_issuer(mcp, settings, trusted, sign):
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUSTED_ISSUERS": [{"issuer": trusted.issuer, "preset": "keycloak", "accepted_typ": ["at+jwt"]}],
    }
    _refused(mcp, trusted.token(WITH_AUDIENCE_MAPPER), "type (typ)")
    assert (
        mcp.modern(
            "tools/list", token=trusted.token(WITH_AUDIENCE_MAPPER, headers={"typ": "at+jwt"})
        ).status_code
        == 200
    )
    _refused(mcp, sign(headers={"typ": "JWT"}), "RFC 9068")  # this server's issuer: at+jwt only


def test_one_issuers_keys_never_verify_anothers_tokens(mcp, trusted, settings):
    """A token signed by the realm's key but claiming this server's issuer is checked against this
    server's keys, which do not have that kid."""
    forged = trusted.token(
        WITH_AUDIENCE_MAPPER, {"iss": settings.MCPSERVER["ISSUER"]}, headers={"typ": "at+jwt"}
    )
    _refused(mcp, forged, "unknown key")


def test_a_configured_audience_replaces_the_resource_url(mcp, settings, realm):
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "TRUSTED_ISSUERS": [{"issuer": realm.issuer, "preset": "keycloak", "audience": "mcp-server"}],
    }
    assert mcp.modern("tools/list", token=realm.token(["mcp-server", "account"])).status_code == 200
    _refused(mcp, realm.token(WITH_AUDIENCE_MAPPER), "not issued for this resource")


def test_a_revoked_keycloak_token_is_refused(mcp, trusted, settings):
    """The deny-list is consulted for every issuer's tokens (whoever writes to it)."""
    import sharedstate
    from mcpserver import denylist

    token = trusted.token(WITH_AUDIENCE_MAPPER)
    assert mcp.modern("tools/list", token=token).status_code == 200
    sharedstate.set(settings.TOKEN_REVOCATION_PREFIX + hashlib.sha256(token.encode()).hexdigest(), 1, 60)
    sharedstate.changed(denylist.TOPIC)
    _refused(mcp, token, "revoked")


# --- keys at the issuer ---


def test_a_rotation_at_the_issuer_is_picked_up_on_the_new_kid(mcp, trusted):
    old = trusted.token(WITH_AUDIENCE_MAPPER)
    assert mcp.modern("tools/list", token=old).status_code == 200
    assert trusted.fetches == 1
    trusted.rotate(keep_old=False)
    assert mcp.modern("tools/list", token=trusted.token(WITH_AUDIENCE_MAPPER)).status_code == 200
    assert trusted.fetches == 2


def test_unknown_kids_refresh_the_jwks_at_most_once_per_interval(mcp, trusted, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_REFRESH_INTERVAL": 2.0}
    _, stranger = new_key()
    flood = [trusted.token(WITH_AUDIENCE_MAPPER, key=(f"made-up-{n}", stranger)) for n in range(40)]
    assert mcp.modern("tools/list", token=trusted.token(WITH_AUDIENCE_MAPPER)).status_code == 200
    assert trusted.fetches == 1
    for token in flood[:20]:  # a flood of made-up kids, just after the load
        _refused(mcp, token, "unknown key")
    assert trusted.fetches == 1
    trusted.rotate()
    rotated = trusted.token(WITH_AUDIENCE_MAPPER)
    _refused(mcp, rotated, "unknown key")  # inside the interval: not fetched yet
    time.sleep(2.05)
    for token in flood[20:]:
        _refused(mcp, token, "unknown key")
    assert trusted.fetches == 2  # the first unknown kid after the interval fetched; the rest waited
    assert mcp.modern("tools/list", token=rotated).status_code == 200


def test_an_unreachable_issuer_is_a_503_for_a_key_not_yet_loaded(mcp, trusted):
    trusted.stop()
    response = mcp.modern("tools/list", token=trusted.token(WITH_AUDIENCE_MAPPER))
    assert response.status_code == 503


# --- configuration ---


def test_the_keycloak_preset():
    found = issuers.parse({"issuer": "https://sso.example.com/realms/acme", "preset": "keycloak"})
    assert found.key_source == "https://sso.example.com/realms/acme/protocol/openid-connect/certs"
    assert found.accepted_typ == {"at+jwt", "jwt"}
    assert found.paths("username") == ("preferred_username",)
    assert found.paths("roles") == ("realm_access.roles",)
    assert found.paths("client_id") == ("azp",)
    assert found.require == {"typ": "Bearer"}
    assert found.caller_loader == "mcpserver.callers.ClaimsLoader"


@pytest.mark.parametrize(
    "entry",
    [
        "https://sso.example.com",
        {"issuer": "https://sso.example.com/"},
        {"issuer": "sso.example.com", "jwks_url": "https://sso.example.com/certs"},
        {"issuer": "https://sso.example.com"},  # no jwks_url, no preset
        {"issuer": "https://sso.example.com", "preset": "okta"},
        {"issuer": "https://sso.example.com", "preset": ["keycloak"]},
        {"issuer": "https://sso.example.com", "preset": "keycloak", "accepted_typ": []},
        {"issuer": "https://sso.example.com", "preset": "keycloak", "audience": 5},
        {"issuer": "https://sso.example.com", "preset": "keycloak", "claims": {"email": "email"}},
        {"issuer": "https://sso.example.com", "preset": "keycloak", "jwks": "https://x"},  # a typo
    ],
)
def test_a_bad_entry_fails_the_checks(settings, entry):
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [entry]}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E007"]
    assert list(issuers.trusted()) == [settings.MCPSERVER["ISSUER"]]  # never trusted


def test_an_unimportable_caller_loader_fails_the_checks(settings):
    entry = {"issuer": "https://sso.example.com", "preset": "keycloak", "caller_loader": "no.such.Loader"}
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [entry]}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E007"]


def test_an_issuer_trusted_twice_or_none_at_all_fails_the_checks(settings):
    keycloak = {"issuer": "https://sso.example.com/realms/acme", "preset": "keycloak"}
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [keycloak]}
    assert checks.check_trusted_issuers(None) == []
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [keycloak, keycloak]}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E008"]
    own = {"issuer": settings.MCPSERVER["ISSUER"], "jwks_url": "https://elsewhere.example/jwks"}
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [own]}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E008"]
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [], "TRUST_OWN_ISSUER": False}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E009"]
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": "https://sso.example.com"}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E007"]


def test_a_plain_http_jwks_url_off_loopback_warns(settings):
    entry = {"issuer": "http://sso.example.com/realms/acme", "preset": "keycloak"}
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [entry]}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.W003"]
    settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": {"issuer": "not a list"}}
    assert [error.id for error in checks.check_trusted_issuers(None)] == ["mcpserver.E007"]
    assert list(issuers.trusted()) == [settings.MCPSERVER["ISSUER"]]


def _settings_with(**env: str):
    import subprocess
    import sys

    code = "from config.settings import MCPSERVER as m; print(m['TRUSTED_ISSUERS'], m['TRUST_OWN_ISSUER'])"
    env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)


def test_the_environment_names_trusted_issuers_as_json():
    one = '{"issuer": "https://sso.example.com/realms/acme", "preset": "keycloak"}'
    assert _settings_with(MCP_TRUSTED_ISSUERS=one).stdout.strip() == (
        "[{'issuer': 'https://sso.example.com/realms/acme', 'preset': 'keycloak'}] True"
    )
    assert _settings_with(MCP_TRUSTED_ISSUERS=f"[{one}, {one}]").stdout.count("acme") == 2
    assert _settings_with(MCP_TRUST_OWN_ISSUER="false").stdout.strip() == "[] False"
    broken = _settings_with(MCP_TRUSTED_ISSUERS="{issuer: nope}")
    assert broken.returncode != 0
    assert "MCP_TRUSTED_ISSUERS is not valid JSON" in broken.stderr
