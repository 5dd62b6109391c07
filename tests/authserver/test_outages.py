"""An unreachable database or cache: 503 with Retry-After in the endpoint's shape, never a traceback."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

import sharedstate
from authserver import outages, throttle, validators
from authserver.views import wellknown
from tests.helpers import UNREACHABLE_STATE

# A Redis nobody listens on: every command fails at once with "connection refused".
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
UNREACHABLE_STATE = {  # the shared state (the deny-list) on that Redis
    "BACKEND": "sharedstate.redis.RedisState",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
}


def _unreachable(settings) -> None:
    """Redis gone: the shared state (lockouts, counters, change feeds) and the cache behind it."""
    settings.CACHES = UNREACHABLE_REDIS
    settings.SHARED_STATE = UNREACHABLE_STATE


def _assert_unavailable_json(response):
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content) == {
        "error": "temporarily_unavailable",
        "error_description": "The service is temporarily unavailable; try again shortly.",
    }
    assert "no-store" in response["Cache-Control"]


def test_password_grant_without_the_cache_is_503_not_a_guess_past_the_lockout(world, post_token, settings):
    _unreachable(settings)
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "alice-password",
        }
    )
    _assert_unavailable_json(response)


def test_login_page_without_the_cache_is_a_503_page(world, client, settings):
    _unreachable(settings)
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password"})
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert b"Temporarily unavailable" in response.content
    assert b"Redis" not in response.content and b"Error" not in response.content


def test_client_credentials_keep_working_without_the_cache(world, cc_token, settings):
    _unreachable(settings)
    assert cc_token()["access_token"]


def test_the_token_rate_limit_is_counted_per_process_while_the_cache_is_down(world, post_token, settings):
    _unreachable(settings)
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 3, "TOKEN_RATE_WINDOW": 3600}
    service = world.clients["service"]
    credentials = (service.client_id, service.client_secret)
    codes = [post_token({"grant_type": "client_credentials"}, credentials).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_local_tally_reaches_the_shared_counter_when_the_cache_is_back(db, settings):
    counter = throttle._BatchedCounter()
    reachable = settings.SHARED_STATE
    settings.SHARED_STATE = UNREACHABLE_STATE
    assert [counter.hit("k", 1, 60, 10) for _ in range(3)] == [1, 2, 3]
    settings.SHARED_STATE = reachable
    assert counter.hit("k", 1, 60, 10) == 4
    assert sharedstate.incr("k:1", 0, 60) == 4  # the shared counter holds every hit


def test_a_database_outage_at_the_token_endpoint_is_503(world, post_token, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: secret detail")

    monkeypatch.setattr(validators.OAuth2Validator, "authenticate_client", unreachable)
    service = world.clients["service"]
    response = post_token({"grant_type": "client_credentials"}, (service.client_id, service.client_secret))
    _assert_unavailable_json(response)
    assert b"secret detail" not in response.content


def test_an_outage_raised_outside_any_view_is_503_too(rf):
    request = rf.get("/oauth/token/")
    try:
        raise RedisConnectionError("refused")
    except RedisConnectionError:
        response = outages.server_error(request)
    _assert_unavailable_json(response)


@pytest.mark.django_db
def test_anything_else_stays_a_plain_500(monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(wellknown.JwksView, "get", broken)
    response = Client(raise_request_exception=False).get("/.well-known/jwks.json")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert b"a bug" not in response.content


def test_a_refresh_without_the_cache_is_503_and_changes_nothing(world, code_flow, post_token, settings):
    """Rotating a refresh token revokes the old access token, which needs the deny-list."""
    tokens = code_flow()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refresh["client_id"] = world.clients["web"].client_id
    caches, state = settings.CACHES, settings.SHARED_STATE
    settings.CACHES, settings.SHARED_STATE = UNREACHABLE_REDIS, UNREACHABLE_STATE
    _assert_unavailable_json(post_token(refresh))
    settings.CACHES, settings.SHARED_STATE = caches, state
    assert post_token(refresh).status_code == 200  # the refresh token was not spent
