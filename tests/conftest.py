"""Shared fixtures: a migrated test database with the cache table, and data-building factories."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.core.management import call_command

import sharedstate
from tests.helpers import wait_for_feed


def pytest_configure(config):
    """In-process settings: a fast user-password hasher (live-server tests keep PBKDF2), plain static files."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    # The manifest storage needs ``collectstatic``; in-process page rendering does not.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# Puts back the rows the migrations wrote (the admin scopes and role, ...), kept when the test database
# is set up: a ``tests.helpers.committed`` test empties the database when it ends.
_put_back_migrated_rows = pytest.StashKey[Callable[[], None]]()


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    """The database cache lives in a table that migrations do not create; the rows the migrations
    wrote are kept, to be put back after a ``committed`` test."""
    from django.db import connection

    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)
        migrated = connection.creation.serialize_db_to_string()

    def put_back() -> None:
        with django_db_blocker.unblock():
            connection.creation.deserialize_db_from_string(migrated)

    request.config.stash[_put_back_migrated_rows] = put_back


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a ``committed`` test has emptied the database, put back the rows the migrations wrote, so
    that the next test finds them whichever test it is (under pytest-xdist the order is not the file's).
    Such a test's flush skips the ``post_migrate`` signal (``serialized_rollback``), whose content types
    and permissions would collide with the rows put back."""
    result = yield
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("serialized_rollback"):
        put_back = item.config.stash.get(_put_back_migrated_rows, None)
        if put_back is not None:
            put_back()
    return result


@pytest.fixture(autouse=True)
def _fresh_shared_state():
    """Every test starts with the change feed up (Redis subscribes in a thread of its own; until it
    has, readers look everything up), and leaves nothing behind: its shared keys (lockouts, counters,
    sessions, the deny-list) and Django's cache are emptied, and this process's view of the shared state is forgotten,
    so every memo keyed on a change feed's version (clients, the current signing key, tool policies)
    loads afresh in the next test."""
    wait_for_feed()
    yield
    try:
        sharedstate.clear()
        cache.clear()  # what django-oauth-toolkit keeps in Django's cache (metadata documents, back-offs)
    except Exception:  # a test without database access cannot clear the database cache
        pass
    sharedstate.reset()


@pytest.fixture
def wsgi_client():
    """Django's test client served by the production WSGI application (``tests/wsgiclient.py``)."""
    from tests.wsgiclient import WsgiClient

    return WsgiClient()


@pytest.fixture
def demo(db):
    """The README's demo data set (users, roles, scopes, clients, a signing key)."""
    from authserver import demo as demo_data

    demo_data.seed()
    return demo_data


@pytest.fixture
def make_scope(db):
    from authserver.models import Scope

    def make(name: str, description: str = "", is_default: bool = True) -> Scope:
        return Scope.objects.create(name=name, description=description or name, is_default=is_default)

    return make


@pytest.fixture
def make_user(db):
    from authserver.models import Role, User

    def make(username: str, roles: list[str] = (), password: str | None = None, **fields) -> User:
        user = User.objects.create_user(username=username, password=password or f"{username}-password", **fields)
        user.roles.set(Role.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def make_client(db):
    from authserver.clients import create_client

    def make(name: str = "client", grant: str = "client-credentials", scopes: list[str] = (), **kwargs):
        return create_client(name, grant, list(scopes), **kwargs)

    return make
