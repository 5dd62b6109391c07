"""The management API's rate limit: per user, counted in the shared state, a 429 with Retry-After in
DRF's error shape (``tests/e2e/test_multi_instance.py`` counts it across two instances)."""

from __future__ import annotations

import pytest

from management_api.checks import check_rate_limit

from .conftest import Api

pytestmark = pytest.mark.django_db
LIMIT = 3
WINDOW = 3600


def set_rate(settings, rate: str | None) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"management": rate}}


@pytest.fixture
def limited(settings):
    set_rate(settings, f"{LIMIT}/hour")


def spend(api: Api) -> None:
    for _ in range(LIMIT):
        assert api.get("scopes/").status_code == 200


def test_a_caller_over_the_limit_gets_429_with_retry_after_and_another_caller_does_not(api, tokens, limited):
    spend(api)
    for response in (api.get("scopes/"), api.post("scopes/", {"name": "x:y"})):
        assert response.status_code == 429, response.content
        assert 1 <= int(response["Retry-After"]) <= WINDOW + 1
        assert list(response.json()) == ["detail"] and "throttled" in response.json()["detail"]
    assert api.as_(tokens["reader"]).get("scopes/").status_code == 200


def test_another_token_of_the_same_user_shares_the_allowance(api, issue, limited):
    spend(api)
    assert api.as_(issue("root", ["admin:read"])).get("scopes/").status_code == 429


def test_the_session_of_the_same_user_shares_the_allowance(api, wsgi_client, people, limited):
    spend(api)
    wsgi_client.force_login(people["root"])
    assert Api(wsgi_client).get("scopes/").status_code == 429


def test_refused_callers_are_not_counted_against_anyone(api, tokens, limited):
    """Permissions come first: an anonymous caller gets its 401 however often it asks."""
    for _ in range(LIMIT + 2):
        assert api.as_(None).get("scopes/").status_code == 401
        assert api.as_(tokens["user"]).get("scopes/").status_code == 403
    spend(api)


def test_no_rate_is_no_limit(api, settings):
    set_rate(settings, None)
    for _ in range(LIMIT * 3):
        assert api.get("scopes/").status_code == 200


@pytest.mark.parametrize("rate", ["lots", "10", "10/fortnight", "0/minute", "ten/minute", "10/"])
def test_an_unusable_rate_fails_the_system_check(settings, rate):
    set_rate(settings, rate)
    assert [error.id for error in check_rate_limit(None)] == ["management_api.E001"]


@pytest.mark.parametrize("rate", ["600/minute", "5/s", "1000/hour", "10000/day", None])
def test_a_usable_rate_passes_the_system_check(settings, rate):
    set_rate(settings, rate)
    assert check_rate_limit(None) == []


def test_a_missing_rate_fails_the_system_check(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    assert [error.id for error in check_rate_limit(None)] == ["management_api.E001"]


def test_an_unreachable_shared_state_lets_callers_through_uncounted(api, settings, limited):
    """The deny-list falls back to the database (``REVOCATION_FALLBACK``); the rate limit gives way too,
    rather than shut the admins out while they may be needed most."""
    from tests.helpers import UNREACHABLE_STATE

    settings.SHARED_STATE = UNREACHABLE_STATE
    for _ in range(LIMIT + 1):
        assert api.get("scopes/").status_code == 200
