"""The caller as Django objects: the loaders behind ``ctx.user`` and ``ctx.client`` (``callers``), and
the setting that names them."""

from __future__ import annotations

import pytest

from authserver.callers import CallerLoader
from mcpserver import checks
from mcpserver.auth import AccessToken
from mcpserver.callers import ClaimsLoader, loader

pytestmark = pytest.mark.django_db


def token(subject: str, client_id: str = "client-1", username: str | None = None) -> AccessToken:
    return AccessToken("digest", subject, client_id, username, frozenset(), frozenset(), 0)


def test_the_issuer_s_loader_finds_the_subject_and_the_client(make_user, application):
    user = make_user("dora")
    found = CallerLoader()
    assert found.user(token(str(user.pk), application.client_id, "dora")) == user
    assert found.client(token(str(user.pk), application.client_id)) == application
    assert found.user(token(application.client_id, application.client_id)) is None  # its own token
    assert found.user(token("not-a-number", application.client_id)) is None
    assert found.client(token("x", "no-such-client")) is None
    user.is_active = False
    user.save()
    assert found.user(token(str(user.pk), application.client_id, "dora")) is None


def test_the_claims_loader_finds_a_local_user_by_username(make_user):
    user = make_user("erin")
    found = ClaimsLoader()
    assert found.user(token("external-subject", username="erin")) == user
    assert found.user(token("external-subject", username="nobody")) is None
    assert found.user(token("client-1", "client-1", "erin")) is None
    assert found.client(token("external-subject")) is None


def test_the_loader_is_the_configured_one(settings):
    assert isinstance(loader(), CallerLoader)
    settings.MCPSERVER = {**settings.MCPSERVER, "CALLER_LOADER": "mcpserver.callers.ClaimsLoader"}
    assert isinstance(loader(), ClaimsLoader)


@pytest.mark.parametrize("path", ["no.such.Loader", "mcpserver.callers.acts_for_itself"])
def test_a_loader_that_cannot_load_fails_the_checks(settings, path):
    settings.MCPSERVER = {**settings.MCPSERVER, "CALLER_LOADER": path}
    assert [error.id for error in checks.check_caller_loader(None)] == ["mcpserver.E006"]
    settings.MCPSERVER = {**settings.MCPSERVER, "CALLER_LOADER": "authserver.callers.CallerLoader"}
    assert checks.check_caller_loader(None) == []
