"""Lockouts after failed sign-ins (password grant and login page) and the per-client token flood limit."""

from __future__ import annotations

import types

import pytest

import sharedstate
from authserver import throttle

LIMIT = 3
# 30 s into a 60 s window and into an hour: counts made by one test never straddle a window's end.
MID_WINDOW = 1_800_000_030.0


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    """The limits count in fixed windows of the wall clock; a test that crossed a window's end would see
    its count start again (a rare, timing-dependent failure), so the throttle's clock stands still."""
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: MID_WINDOW))


@pytest.fixture
def limits(settings):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "LOGIN_FAILURE_LIMIT": LIMIT,
        "LOGIN_IP_FAILURE_LIMIT": 50,
        "LOGIN_LOCKOUT_SECONDS": 120,
    }


def _password(post_token, world, username="alice", password="wrong", **extra):
    return post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": username,
            "password": password,
        },
        **extra,
    )


def _login(client, username="alice", password="wrong", **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def _assert_locked_json(response):
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 120
    body = response.json()
    assert body["error"]
    assert body["error_description"]
    assert "no-store" in response.get("Cache-Control", "")


# --- password grant ---


def test_password_grant_locks_out_after_the_failure_limit(world, limits, post_token):
    for _ in range(LIMIT):
        assert _password(post_token, world).status_code == 400
    _assert_locked_json(_password(post_token, world, password="alice-password"))


def test_lockout_is_per_username(world, limits, post_token):
    for _ in range(LIMIT):
        _password(post_token, world)
    assert _password(post_token, world, username="guest", password="guest-password").status_code == 200


def test_lockout_counters_live_in_the_shared_state(world, limits, post_token):
    for _ in range(LIMIT):
        _password(post_token, world)
    assert _password(post_token, world, password="alice-password").status_code == 429
    sharedstate.clear()  # what another worker sees depends only on the shared state
    assert _password(post_token, world, password="alice-password").status_code == 200


def test_success_resets_the_failure_count(world, limits, post_token):
    for _ in range(LIMIT - 1):
        _password(post_token, world)
    assert _password(post_token, world, password="alice-password").status_code == 200
    for _ in range(LIMIT - 1):
        _password(post_token, world)
    assert _password(post_token, world, password="alice-password").status_code == 200


def test_ip_limit_locks_out_many_usernames_from_one_address(world, settings, post_token):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "LOGIN_FAILURE_LIMIT": 100,
        "LOGIN_IP_FAILURE_LIMIT": 4,
        "LOGIN_LOCKOUT_SECONDS": 120,
    }
    for i in range(4):
        _password(post_token, world, username=f"user{i}", REMOTE_ADDR="10.0.0.9")
    _assert_locked_json(_password(post_token, world, password="alice-password", REMOTE_ADDR="10.0.0.9"))
    assert _password(post_token, world, password="alice-password", REMOTE_ADDR="10.0.0.10").status_code == 200


def test_unknown_usernames_are_counted_too(world, limits, post_token):
    for _ in range(LIMIT):
        assert _password(post_token, world, username="ghost").status_code == 400
    assert _password(post_token, world, username="ghost").status_code == 429


# --- login page ---


def test_login_page_locks_out_with_429_and_retry_after(world, limits, client):
    for _ in range(LIMIT):
        assert _login(client).status_code == 200
    response = _login(client, password="alice-password")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 120
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_and_password_grant_share_the_counter(world, limits, client, post_token):
    for _ in range(LIMIT):
        _login(client)
    _assert_locked_json(_password(post_token, world, password="alice-password"))


def test_login_success_resets_the_failure_count(world, limits, client):
    for _ in range(LIMIT - 1):
        _login(client)
    assert _login(client, password="alice-password").status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        _login(client)
    assert _login(client, password="alice-password").status_code == 302


# --- one username, however it is spelled: the form's normalisation (strip, NFKC) keys the lockout ---

VARIANTS = [" guest", "guest ", "\tguest", "\uff47\uff55\uff45\uff53\uff54"]  # the last: full-width ｇｕｅｓｔ


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_locked_username_stays_locked_however_it_is_spelled(world, limits, client, post_token, variant):
    for _ in range(LIMIT):
        _login(client, username="guest")
    response = _login(client, username=variant, password="guest-password")
    assert response.status_code == 429, variant
    assert "_auth_user_id" not in client.session
    _assert_locked_json(_password(post_token, world, username=variant, password="guest-password"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_failures_under_any_spelling_count_for_the_one_username(world, limits, client, post_token, variant):
    for attempt in range(LIMIT):
        if attempt % 2:
            _login(client, username=variant)
        else:
            _password(post_token, world, username=variant)
    assert _login(client, username="guest", password="guest-password").status_code == 429
    _assert_locked_json(_password(post_token, world, username="guest", password="guest-password"))


def test_the_password_grant_accepts_the_spellings_the_login_page_accepts(world, limits, post_token):
    for variant in VARIANTS:
        assert _password(post_token, world, username=variant, password="guest-password").status_code == 200


# --- addresses: the client behind a trusted proxy, IPv6 per /64 ---


@pytest.fixture
def behind_proxy(settings):
    """The test client's requests come from 127.0.0.1: make it docs/deployment.md's nginx."""
    settings.OBSERVABILITY = {**settings.OBSERVABILITY, "TRUSTED_PROXIES": ["127.0.0.1"]}


@pytest.fixture
def ip_limit(settings):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "LOGIN_FAILURE_LIMIT": 100,
        "LOGIN_IP_FAILURE_LIMIT": 3,
        "LOGIN_LOCKOUT_SECONDS": 120,
    }


def _from(address: str) -> dict:
    return {"HTTP_X_FORWARDED_FOR": f"198.51.100.66, {address}"}  # the left entry: client-sent, ignored


def test_behind_a_trusted_proxy_failures_lock_only_that_client(world, ip_limit, behind_proxy, client):
    for i in range(3):
        _login(client, username=f"user{i}", **_from("203.0.113.5"))
    assert _login(client, password="alice-password", **_from("203.0.113.5")).status_code == 429
    assert _login(client, password="alice-password", **_from("203.0.113.6")).status_code == 302


def test_the_forwarded_header_of_an_untrusted_peer_changes_nothing(world, ip_limit, client):
    for i in range(3):
        _login(client, username=f"user{i}", **_from(f"203.0.113.{i}"))
    assert _login(client, password="alice-password", **_from("203.0.113.77")).status_code == 429


def test_the_password_grant_counts_the_forwarded_client(world, ip_limit, behind_proxy, post_token):
    for i in range(3):
        _password(post_token, world, username=f"user{i}", **_from("203.0.113.5"))
    _assert_locked_json(_password(post_token, world, password="alice-password", **_from("203.0.113.5")))
    assert _password(post_token, world, password="alice-password", **_from("203.0.113.6")).status_code == 200


def test_ipv6_callers_are_counted_per_64(world, ip_limit, client):
    for i in range(3):
        _login(client, username=f"user{i}", REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}")
    assert _login(client, password="alice-password", REMOTE_ADDR="2001:db8:1:2:ffff::1").status_code == 429
    assert _login(client, password="alice-password", REMOTE_ADDR="2001:db8:1:3::1").status_code == 302


def test_the_token_flood_limit_counts_the_forwarded_client(world, settings, behind_proxy, post_token):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 2, "TOKEN_RATE_WINDOW": 60}
    service = world.clients["service"]
    auth = (service.client_id, service.client_secret)
    body = {"grant_type": "client_credentials"}
    assert [post_token(body, auth, **_from("203.0.113.5")).status_code for _ in range(3)] == [200, 200, 429]
    assert post_token(body, auth, **_from("203.0.113.6")).status_code == 200
    assert post_token(body, auth, **_from("2001:db8::1")).status_code == 200
    assert post_token(body, auth, **_from("2001:db8::2")).status_code == 200
    assert post_token(body, auth, **_from("2001:db8::3")).status_code == 429  # the same /64


# --- token endpoint flood limit ---


def test_token_flood_limit_per_client(world, settings, post_token):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 3, "TOKEN_RATE_WINDOW": 60}
    service = world.clients["service"]
    auth = (service.client_id, service.client_secret)
    for _ in range(3):
        assert post_token({"grant_type": "client_credentials"}, auth).status_code == 200
    response = post_token({"grant_type": "client_credentials"}, auth)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 61
    assert response.json()["error"] == "temporarily_unavailable"
    # another client is not affected
    other = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "alice-password",
        }
    )
    assert other.status_code == 200


def test_a_flood_naming_a_client_from_elsewhere_does_not_lock_that_client_out(world, settings, post_token):
    """The client_id is counted before authentication, so the count must not be the client's alone."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 3, "TOKEN_RATE_WINDOW": 60}
    service = world.clients["service"]
    for _ in range(5):
        post_token({"grant_type": "client_credentials"}, (service.client_id, "guess"), REMOTE_ADDR="10.9.9.9")
    flooded = post_token(
        {"grant_type": "client_credentials"}, (service.client_id, "guess"), REMOTE_ADDR="10.9.9.9"
    )
    assert flooded.status_code == 429
    own = post_token({"grant_type": "client_credentials"}, (service.client_id, service.client_secret))
    assert own.status_code == 200, own.content


def test_token_flood_limit_counts_form_post_clients_too(world, settings, post_token):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 2, "TOKEN_RATE_WINDOW": 60}
    body = {
        "grant_type": "password",
        "client_id": world.clients["cli"].client_id,
        "username": "alice",
        "password": "alice-password",
    }
    assert [post_token(body).status_code for _ in range(3)] == [200, 200, 429]


# --- the functions ---


def test_lockout_remaining_is_zero_until_locked(db, limits):
    assert throttle.lockout_remaining("carol", "10.1.1.1") == 0
    for _ in range(LIMIT - 1):
        throttle.record_login_failure("carol", "10.1.1.1")
    assert throttle.lockout_remaining("carol", "10.1.1.1") == 0
    throttle.record_login_failure("carol", "10.1.1.1")
    assert 119 <= throttle.lockout_remaining("carol", "10.1.1.1") <= 120


def test_token_limit_is_exact_for_one_worker(db, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 1000, "TOKEN_RATE_WINDOW": 3600}
    waits = [throttle.token_requests_exceeded("bulk-client") for _ in range(1001)]
    assert not any(waits[:1000])
    assert 0 < waits[1000] <= 3601


def test_token_limit_counts_other_workers_through_the_cache(db, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 1000, "TOKEN_RATE_WINDOW": 3600}
    other_worker = throttle._BatchedCounter()
    window_id = int(MID_WINDOW // 3600)
    key = throttle._key("token", "shared-client")
    for _ in range(900):
        other_worker.hit(key, window_id, 3600, 1000)
    batch = 1000 // 200
    waits = [throttle.token_requests_exceeded("shared-client") for _ in range(100 + 2 * batch)]
    assert any(waits), "this worker never saw the other worker's 900 requests"
    assert not any(waits[: 100 - batch])
