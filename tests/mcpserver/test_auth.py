"""Token verification and challenges: each 401 and 403 case, caching, and revocation on every request."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mcpserver import auth, challenges, denylist, jwks
from mcpserver.exceptions import InsufficientScope, InvalidToken
from tests.workers import redis_url

pytestmark = pytest.mark.django_db

PRM = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"


def challenge_params(response) -> dict[str, str]:
    value = response["WWW-Authenticate"]
    assert value.startswith("Bearer ")
    params = {}
    for part in value[len("Bearer ") :].split('", '):
        name, _, quoted = part.partition("=")
        params[name.strip()] = quoted.strip('"')
    return params


def test_missing_token_is_401_without_error_code(mcp):
    response = mcp.modern("tools/list", token="")
    assert response.status_code == 401
    params = challenge_params(response)
    assert "error" not in params
    assert params["resource_metadata"] == PRM
    assert params["scope"] == "mcp:read mcp:tools mcp:prompts"


def test_non_bearer_scheme_counts_as_no_token(client):
    response = client.post("/mcp", "{}", content_type="application/json", HTTP_AUTHORIZATION="Basic YTpi")
    assert response.status_code == 401
    assert "error" not in challenge_params(response)


@pytest.mark.parametrize("bad", ["garbage", "a.b.c", "Zm9v.YmFy.YmF6", "x" * 9000, "tok en"])
def test_malformed_token_is_401_invalid_token(mcp, bad):
    response = mcp.modern("tools/list", token=bad)
    assert response.status_code == 401
    params = challenge_params(response)
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == PRM


@pytest.mark.parametrize(
    ("overrides", "remove", "headers"),
    [
        ({"exp": int(time.time()) - 3600}, (), None),  # expired
        ({"aud": "http://127.0.0.1:8000/other"}, (), None),  # wrong audience
        ({"iss": "http://127.0.0.1:8000/"}, (), None),  # issuer differs by a slash
        ({"iss": "https://evil.example"}, (), None),  # foreign issuer
        ({}, ("exp",), None),  # no exp
        ({}, ("aud",), None),  # no aud
        ({"nbf": int(time.time()) + 3600}, (), None),  # not yet valid
        ({}, (), {"typ": "JWT"}),  # not an RFC 9068 token
        ({}, (), {"kid": "unknown-kid"}),  # unknown key
    ],
    ids=["expired", "audience", "issuer-slash", "issuer", "no-exp", "no-aud", "nbf", "typ", "kid"],
)
def test_invalid_claims_are_401(mcp, sign, overrides, remove, headers):
    response = mcp.modern("tools/list", token=sign(overrides, remove, headers))
    assert response.status_code == 401, response.content
    assert challenge_params(response)["error"] == "invalid_token"
    assert response.json()["error"] == "invalid_token"


def test_wrong_signature_is_401(mcp, sign):
    genuine = sign()
    kid = jwt.get_unverified_header(genuine)["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(genuine, options={"verify_signature": False}),
        other,
        algorithm="RS256",
        headers={"kid": kid, "typ": "at+jwt"},
    )
    assert mcp.modern("tools/list", token=forged).status_code == 401


def test_hmac_and_none_algorithms_are_refused(mcp, sign):
    claims = jwt.decode(sign(), options={"verify_signature": False})
    kid = jwt.get_unverified_header(sign())["kid"]
    hmac = jwt.encode(claims, "secret" * 8, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid, "typ": "at+jwt"})
    assert mcp.modern("tools/list", token=hmac).status_code == 401
    assert mcp.modern("tools/list", token=unsigned).status_code == 401


def test_valid_token_is_accepted(mcp):
    assert mcp.modern("tools/list").status_code == 200


def test_revoked_token_is_refused_on_the_next_request_even_when_cached(client, mcp, token):
    from oauth2_provider.models import AccessToken

    assert mcp.modern("tools/list").status_code == 200  # now in the per-process verification cache
    AccessToken.objects.filter(token_checksum=hashlib.sha256(token.encode()).hexdigest()).delete()
    response = mcp.modern("tools/list")
    assert response.status_code == 401
    assert challenge_params(response)["error"] == "invalid_token"


def test_revocation_through_the_revocation_endpoint(client, mcp, token, application):
    assert mcp.modern("tools/list").status_code == 200
    response = client.post(
        "/oauth/revoke/",
        f"token={token}&client_id={application.client_id}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    assert mcp.modern("tools/list").status_code == 401


def test_revoked_token_is_refused_before_it_was_ever_cached(mcp, token, settings):
    import sharedstate

    sharedstate.set(settings.TOKEN_REVOCATION_PREFIX + hashlib.sha256(token.encode()).hexdigest(), 1, 60)
    assert mcp.modern("tools/list").status_code == 401


def test_token_without_a_scope_gets_403_naming_every_scope_needed(mcp, issue):
    reader = issue(scopes=["mcp:read"], roles=["guest"])
    response = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "hi"}}, token=reader)
    assert response.status_code == 403
    params = challenge_params(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "mcp:tools"
    assert params["resource_metadata"] == PRM


def test_prompts_get_needs_mcp_prompts(mcp, issue):
    reader = issue(scopes=["mcp:read", "mcp:tools"])
    response = mcp.modern("prompts/get", {"name": "greeting"}, token=reader)
    assert response.status_code == 403
    assert challenge_params(response)["scope"] == "mcp:prompts"


def test_lists_need_mcp_read(mcp, issue):
    caller = issue(scopes=["mcp:tools"])
    response = mcp.modern("tools/list", token=caller)
    assert response.status_code == 403
    assert challenge_params(response)["scope"] == "mcp:read"


def test_verification_is_cached_per_token(mcp, token, monkeypatch):
    assert mcp.modern("tools/list").status_code == 200
    monkeypatch.setattr(auth, "_decode", lambda token: pytest.fail("verified twice"))
    assert mcp.modern("tools/list").status_code == 200


def test_key_source_is_refreshed_on_an_unknown_kid(sign, client, mcp):
    from authserver import keys

    assert mcp.modern("tools/list", token=sign()).status_code == 200
    keys.rotate()
    assert mcp.modern("tools/list", token=sign()).status_code == 200


def test_a_new_key_of_this_deployment_verifies_at_once_despite_the_refresh_interval(settings, sign, mcp):
    """A rotation announces itself on the ``signing-keys`` change feed: a verifier that loaded the keys
    a moment before takes the new key on the first token signed with it, without waiting out
    ``KEY_REFRESH_INTERVAL`` (which only paces re-reads for kids nobody announced)."""
    from authserver import keys

    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_REFRESH_INTERVAL": 3600}
    assert mcp.modern("tools/list", token=sign()).status_code == 200  # the keys loaded just now
    keys.rotate()
    assert mcp.modern("tools/list", token=sign()).status_code == 200


def test_key_source_may_be_a_jwks_url(settings, sign, monkeypatch):
    from authserver import keys

    fetched = []

    def fetch(source):
        fetched.append(source)
        return keys.jwks()

    monkeypatch.setattr(jwks, "fetch", fetch)
    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_SOURCE": "https://issuer.example/jwks.json"}
    assert auth.authenticate(f"Bearer {sign()}").subject == "42"
    assert fetched == ["https://issuer.example/jwks.json"]


def test_authenticate_returns_the_callers_context(sign):
    caller = auth.authenticate(f"Bearer {sign({'roles': ['admin'], 'scope': 'mcp:read'})}")
    assert caller.subject == "42"
    assert caller.roles == frozenset({"admin"})
    assert caller.scopes == frozenset({"mcp:read"})
    assert caller.username == "signed"


def test_challenge_quoting_strips_characters_that_could_break_the_header():
    value = challenges.challenge(InvalidToken('bad "token"\r\nX-Injected: 1\\'))
    assert "\r" not in value and "\n" not in value
    assert 'error_description="bad token' in value
    assert challenges.quote('a"b\\c') == '"abc"'


def test_insufficient_scope_challenge_lists_sorted_unique_scopes():
    value = challenges.challenge(InsufficientScope(["mcp:tools", "extra", "mcp:tools"]))
    assert 'scope="extra mcp:tools"' in value
    assert 'error="insufficient_scope"' in value


def test_concurrent_first_requests_wait_for_the_key_refresh(sign, monkeypatch):
    import threading

    from authserver import keys

    key_set = keys.jwks()
    token = sign()

    def slow_fetch(source):
        time.sleep(0.2)
        return key_set

    monkeypatch.setattr(jwks, "fetch", slow_fetch)
    # No database from these threads.
    monkeypatch.setattr(denylist, "is_revoked", lambda digest, issued_at=None, fallback=True: False)
    auth.reset()
    outcomes = []

    def verify():
        try:
            outcomes.append(auth.authenticate(f"Bearer {token}").subject)
        except InvalidToken as exc:
            outcomes.append(exc.description)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["42"] * 8


def test_key_source_outage_keeps_the_keys_we_had(sign, monkeypatch, settings):
    token = sign()
    assert auth.authenticate(f"Bearer {token}").subject == "42"
    auth._tokens.clear()
    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_CACHE_SECONDS": 0}

    def broken(source):
        raise OSError("down")

    monkeypatch.setattr(jwks, "fetch", broken)
    assert auth.authenticate(f"Bearer {token}").subject == "42"


def test_a_key_we_could_not_load_is_a_503_not_an_invalid_token(mcp, sign, monkeypatch):
    def unreachable(source):
        raise OSError("connection refused")

    monkeypatch.setattr(jwks, "fetch", unreachable)
    response = mcp.legacy("tools/list", token=sign())
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == -32000


def _redis_available() -> bool:
    from tests.helpers import redis_available

    return redis_available()


def _redis_shared_state(settings) -> None:
    """The shared state on Redis (db 13, a key prefix of its own), its change feed up."""
    import uuid

    import sharedstate

    settings.SHARED_STATE = {
        "BACKEND": "sharedstate.redis.RedisState",
        "LOCATION": redis_url("redis://127.0.0.1:6379/13"),
        "KEY_PREFIX": uuid.uuid4().hex,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    deadline = time.monotonic() + 5
    while sharedstate.version(denylist.TOPIC) is None:  # it subscribes in a thread of its own
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.skipif(not _redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_revocation_check_through_redis(settings, sign):
    from django.utils import timezone

    import sharedstate
    from authserver import revoking

    _redis_shared_state(settings)
    try:
        token = sign()
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert auth.authenticate(f"Bearer {token}").subject == "42"
        assert denylist.is_revoked(digest) is False
        revoking.deny(digest, timezone.now() + timezone.timedelta(minutes=5))
        assert denylist.is_revoked(digest) is True
        with pytest.raises(InvalidToken):
            auth.authenticate(f"Bearer {token}")
    finally:
        sharedstate.clear()


def test_scope_may_come_as_an_scp_list(sign):
    caller = auth.authenticate(f"Bearer {sign({'scp': ['mcp:read', 'mcp:tools']}, remove=('scope',))}")
    assert caller.scopes == frozenset({"mcp:read", "mcp:tools"})


def test_malformed_scope_claim_is_401(mcp, sign):
    assert mcp.modern("tools/list", token=sign({"scope": ["mcp:read"]})).status_code == 401


# --- a signing key retired as compromised ---


def _forge_with(kid: str) -> str:
    """What a thief holding that private key mints: an admin with every scope, issued now."""
    from django.conf import settings

    from authserver.models import SigningKey

    pem = SigningKey.objects.get(kid=kid).private_key
    now = int(time.time())
    claims = {
        "iss": settings.MCPSERVER["ISSUER"],
        "sub": "999",
        "aud": settings.MCPSERVER["RESOURCE_URL"],
        "client_id": "forged",
        "scope": "mcp:read mcp:tools mcp:prompts",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def _whoami(mcp, token):
    return mcp.modern("tools/call", {"name": "whoami", "arguments": {}}, token=token)


def _deny_list_running_for_an_hour():
    """As in production, where the deny-list is older than any token a thief mints now: the revocation
    fallback (which knows no forged token) is not asked, so only the key decides."""
    from django.conf import settings

    import sharedstate

    sharedstate.set(settings.TOKEN_REVOCATION_PREFIX + denylist.MARKER, int(time.time()) - 3600, None)


def test_a_key_retired_as_compromised_verifies_nothing_on_the_next_request(mcp, application):
    from django.core.management import call_command

    from authserver import keys

    _deny_list_running_for_an_hour()
    stolen = keys.ensure_key().kid
    forged = _forge_with(stolen)
    assert _whoami(mcp, forged).status_code == 200  # the key is trusted (and cached, with the token)
    call_command("rotate_signing_key", "--compromised", stdout=__import__("io").StringIO())
    response = _whoami(mcp, forged)
    assert response.status_code == 401
    assert challenge_params(response)["error"] == "invalid_token"
    fresh = _forge_with(stolen)  # never seen before: the per-process key cache must not take it either
    assert _whoami(mcp, fresh).status_code == 401
    assert mcp.modern("tools/list", token=mcp.token).status_code == 401  # honest tokens of that key too


def test_tokens_of_other_keys_survive_a_compromise(mcp, issue):
    from authserver import keys

    keys.ensure_key()
    keys.rotate(compromised=True)
    honest = issue()
    assert _whoami(mcp, honest).status_code == 200
    assert _whoami(mcp, honest).status_code == 200


def test_a_normal_rotation_keeps_the_old_key_verifying(mcp, application):
    from authserver import keys

    _deny_list_running_for_an_hour()
    old = keys.ensure_key().kid
    forged = _forge_with(old)  # stands for any live token of the old key
    assert _whoami(mcp, forged).status_code == 200
    keys.rotate()
    assert _whoami(mcp, forged).status_code == 200


def test_an_unannounced_kid_waits_for_the_refresh_interval(settings, mcp, application, monkeypatch):
    """Without an announcement on the change feed, an unknown ``kid`` re-reads the key source at most
    every ``KEY_REFRESH_INTERVAL`` (a flood of made-up kids must not become a flood of reads)."""
    from authserver import keys

    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_REFRESH_INTERVAL": 3600}
    _deny_list_running_for_an_hour()
    assert _whoami(mcp, _forge_with(keys.ensure_key().kid)).status_code == 200  # the keys loaded now
    monkeypatch.setattr(keys, "_announce", lambda using=None: None)  # a key nobody announces
    fetched = []
    real_fetch = jwks.fetch
    monkeypatch.setattr(jwks, "fetch", lambda source: fetched.append(source) or real_fetch(source))
    new = keys.rotate()
    assert _whoami(mcp, _forge_with(new.kid)).status_code == 401
    assert fetched == []


@pytest.mark.skipif(not _redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_a_compromise_reaches_verifiers_through_redis(settings, mcp, application):
    """The withdrawal is announced on Redis's change feed: the verification cached (and the token
    remembered clean) a moment before is dropped on the next request."""
    import sharedstate
    from authserver import keys

    _redis_shared_state(settings)
    try:
        _deny_list_running_for_an_hour()
        stolen = keys.ensure_key().kid
        forged = _forge_with(stolen)
        assert _whoami(mcp, forged).status_code == 200
        assert _whoami(mcp, forged).status_code == 200  # verified and remembered clean
        keys.rotate(compromised=True)
        assert _whoami(mcp, forged).status_code == 401
    finally:
        sharedstate.clear()


def test_a_registration_access_token_is_no_access_token_for_mcp(client, mcp, application):
    body = {"redirect_uris": ["http://127.0.0.1:33418/callback"], "token_endpoint_auth_method": "none"}
    registered = client.post("/oauth/register/", body, content_type="application/json").json()
    response = mcp.modern("tools/list", token=registered["registration_access_token"])
    assert response.status_code == 401
    assert challenge_params(response)["error"] == "invalid_token"
