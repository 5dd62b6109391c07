"""The token endpoint's per-process memo of clients: no query to find a client, never a stale one.

Every change made through the models (admin, DCR, CLI) reaches the memo on the next request, through
the ``clients`` change feed; a change that bypasses the models within ``CLIENT_RECHECK_SECONDS``;
without a change feed the memo is not used.
"""

from __future__ import annotations

import types

import pytest
from django.db import connection
from django.dispatch import receiver
from django.test.utils import CaptureQueriesContext
from oauth2_provider.signals import app_authorized

import sharedstate
from authserver import clientmemo, clients
from authserver.models import ClientPolicy
from sharedstate import stamps
from sharedstate.redis import RedisState
from tests.helpers import UNREACHABLE_STATE, announce_elsewhere, committed, wait_until_moved


@pytest.fixture
def service(world):
    return world.clients["service"]


@pytest.fixture
def issue(post_token, service):
    """POST a client_credentials request for ``service``; the response."""

    def run(secret: str | None = None, **data):
        body = {"grant_type": "client_credentials", **data}
        return post_token(body, (service.client_id, secret or service.client_secret))

    return run


def _statements(run) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = run()
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries.captured_queries]


def _reads(statements: list[str], table: str) -> list[str]:
    return [sql for sql in statements if sql.startswith("SELECT") and f'"{table}"' in sql.split("WHERE")[0]]


def test_a_memoised_client_costs_no_query(issue):
    first = _statements(issue)
    assert _reads(first, "oauth2_provider_application") and _reads(first, "authserver_scope")
    again = _statements(issue)
    assert not _reads(again, "oauth2_provider_application"), again
    assert not _reads(again, "authserver_scope"), again
    assert issue().json()["scope"] == "mcp:read mcp:tools"


def test_recheck_zero_turns_the_memo_off(issue, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_RECHECK_SECONDS": 0}
    issue()
    assert _reads(_statements(issue), "oauth2_provider_application")


def test_a_changed_secret_stops_working_on_the_next_request(issue, service):
    assert issue().status_code == 200
    application = service.application
    application.client_secret = "a-new-secret-for-the-service-client"
    application.save()  # DOT hashes it
    assert issue().status_code == 401
    assert issue(secret="a-new-secret-for-the-service-client").status_code == 200


def test_a_deleted_client_stops_at_once(issue, service):
    assert issue().status_code == 200
    service.application.delete()
    response = issue()
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_disabled_client_stops_at_once(issue, service):
    assert issue().status_code == 200
    clients.set_enabled([service.application], False)
    response = issue()
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    clients.set_enabled([service.application], True)
    assert issue().status_code == 200


def test_a_narrowed_ceiling_and_a_changed_scope_apply_at_once(issue, service, world):
    assert issue().json()["scope"] == "mcp:read mcp:tools"
    ClientPolicy.objects.get(application=service.application).scopes.remove(world.scopes["mcp:tools"])
    assert issue().json()["scope"] == "mcp:read"
    admin = world.scopes["mcp:admin"]
    admin.is_default = True
    admin.save()
    assert set(issue().json()["scope"].split()) == {"mcp:read", "mcp:admin"}


def _disable_behind_the_models_back(service) -> None:
    """What a change on another instance looks like from here: the row changes, no signal fires here."""
    ClientPolicy.objects.filter(application=service.application).update(enabled=False)


def test_a_change_announced_by_another_process_applies_on_the_next_request(issue, service, settings):
    """Not the recheck interval: an hour of it, and the change still applies at once."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_RECHECK_SECONDS": 3600}
    assert issue().status_code == 200
    assert not _reads(_statements(issue), "oauth2_provider_application")  # memoised
    _disable_behind_the_models_back(service)
    announce_elsewhere(clientmemo.TOPIC)
    assert issue().status_code == 400


def test_an_unpublished_change_applies_within_the_recheck_interval(issue, service, monkeypatch, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_RECHECK_SECONDS": 5}
    now = [1000.0]
    monkeypatch.setattr(stamps, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    assert issue().status_code == 200
    _disable_behind_the_models_back(service)
    now[0] += 4.9
    assert issue().status_code == 200  # the memo's documented bound: SQL updates wait for the recheck
    now[0] += 0.2
    assert issue().status_code == 400


def test_a_lost_change_feed_sends_every_worker_back_to_the_database(issue, service, settings):
    """A Redis restart (or a network fault) breaks each worker's subscription: changes announced
    meanwhile are lost, so nothing memoised before the break is used after it."""
    state = sharedstate.backend()
    if not isinstance(state, RedisState):
        pytest.skip("the embedded change feed is a file on this host: it cannot be lost")
    import redis

    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_RECHECK_SECONDS": 3600}
    assert issue().status_code == 200
    _disable_behind_the_models_back(service)
    admin = redis.Redis.from_url(state.location)
    db = state.client.connection_pool.connection_kwargs.get("db", 0)
    ours = [c["id"] for c in admin.client_list() if int(c.get("sub", 0)) and int(c["db"]) == db]
    for client_id in ours:  # this database is this test run's: only its subscriptions are cut
        admin.client_kill_filter(_id=client_id)
    admin.close()
    assert ours
    assert issue().status_code == 400


def test_without_a_change_feed_every_request_loads_its_client(issue, service, settings):
    settings.SHARED_STATE = UNREACHABLE_STATE
    assert sharedstate.version(clientmemo.TOPIC) is None
    assert issue().status_code == 200
    assert _reads(_statements(issue), "oauth2_provider_application")
    _disable_behind_the_models_back(service)
    assert issue().status_code == 400


def test_a_change_is_published_again_when_it_commits(service, django_capture_on_commit_callbacks):
    """A worker may reload the client between the save and the commit, and so read the old row:
    the version changes once more after the commit, sending it back to the database."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        before = sharedstate.version(clientmemo.TOPIC)
        service.application.save()
        assert wait_until_moved(clientmemo.TOPIC, before)
        at_save = sharedstate.version(clientmemo.TOPIC)
    assert at_save is not None and callbacks
    for callback in callbacks:
        callback()
    assert wait_until_moved(clientmemo.TOPIC, at_save)


# --- the rest of the client_credentials path ---


def test_a_client_credentials_token_is_one_insert_without_a_transaction(issue):
    issue()
    statements = _statements(issue)
    writes = [sql for sql in statements if not sql.startswith("SELECT")]
    assert len(writes) == 1, statements
    assert writes[0].startswith('INSERT INTO "oauth2_provider_accesstoken"'), statements


def test_a_grant_with_a_refresh_token_keeps_its_transaction(password_token, world):
    with CaptureQueriesContext(connection) as queries:
        password_token()
    assert any("SAVEPOINT" in query["sql"] for query in queries.captured_queries)


def test_the_new_token_is_not_read_back_yet_reaches_app_authorized_receivers(issue, service):
    issue()
    quiet = _statements(issue)  # the observability receiver only reads the request
    assert not _reads(quiet, "oauth2_provider_accesstoken"), quiet
    seen = []

    @receiver(app_authorized, weak=False)
    def look(sender, request, token, **kwargs):
        seen.append((token.application.client_id, token.scope))

    try:
        body = issue().json()
    finally:
        app_authorized.disconnect(look)
    assert seen == [(service.client_id, body["scope"])]


def test_oauthlib_sees_the_request_not_the_process_environment(service, monkeypatch):
    """Through the real WSGI entry, as granian calls it: the process environment it copies into the
    environ never reaches DOT's bridge to oauthlib (nor any view: ``config.wsgi`` strips it)."""
    import base64

    from oauth2_provider import oauth2_backends

    import config.wsgi
    from tests.helpers import call_wsgi, granian_environ, keep_test_transaction

    seen = []
    original = oauth2_backends.OAuthLibCore.extract_headers

    def record(self, request):
        headers = original(self, request)
        seen.append(headers)
        return headers

    monkeypatch.setattr(oauth2_backends.OAuthLibCore, "extract_headers", record)
    monkeypatch.setenv("PROBE_SECRET_KEY", "not-for-oauthlib")
    application = config.wsgi.RequestOnlyEnviron(config.wsgi.application)  # sees the variable at start
    credentials = base64.b64encode(f"{service.client_id}:{service.client_secret}".encode()).decode()
    environ = granian_environ(
        "POST",
        "/oauth/token/",
        b"grant_type=client_credentials",
        "application/x-www-form-urlencoded",
        {"Authorization": f"Basic {credentials}"},
    )
    with keep_test_transaction():
        status = [call_wsgi(application, environ)[0]]
    assert status and status[0].startswith("200"), status
    (headers,) = seen
    assert "PROBE_SECRET_KEY" not in headers and "PATH" not in headers
    assert headers["Authorization"] == f"Basic {credentials}"
    assert headers["REQUEST_METHOD"] == "POST"


@committed  # the SQL deletion is committed, as another process's would be
def test_a_client_deleted_behind_the_models_back_gets_no_token(issue, service, settings):
    """Within the recheck interval the memo may still hold a client deleted with SQL: its token row
    cannot be written (the foreign key), and that is ``invalid_client``, not a 500."""
    assert issue().status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authserver_clientpolicy_scopes")
        cursor.execute("DELETE FROM authserver_clientpolicy")
        cursor.execute("DELETE FROM oauth2_provider_accesstoken")
        cursor.execute("DELETE FROM oauth2_provider_application WHERE id = %s", [service.application.pk])
    response = issue()
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert issue().status_code == 401  # and the memo forgot it
