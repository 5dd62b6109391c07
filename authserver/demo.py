"""The demo data set for local use: the fixtures ``demo`` (scopes, roles, users, clients) and ``notes``
(the example app's notes) in ``fixtures/``, plus the published passwords and secret the README's
examples rely on, which the fixtures leave out."""

from __future__ import annotations

import json

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from oauth2_provider.models import get_application_model

from . import fixtures, keys
from .models import User

# Fixture names in loading order, each with the app it needs (the example app may be uninstalled).
FIXTURES = {"demo": "authserver", "notes": "notes"}
CLIENT_SECRETS = {"demo-service": "demo-service-secret"}


@transaction.atomic
def seed() -> list[models.Model]:
    """Create whatever part of the demo data is missing; never change what exists. Returns what it created.

    ``dev.py serve`` runs this on every start, so a password, secret, flag, role, ceiling or note an
    administrator changed must survive it (``check --deploy`` warns while published ones remain).
    An object is matched by its natural key (a scope's or role's name, a username, a client id, a
    note's key): one that was deleted is created again, as the fixture has it.
    """
    created = []
    for name, app in FIXTURES.items():
        if apps.is_installed(app):
            created += fixtures.load_missing(fixtures.find(name), prepare=_publish_credentials)
    keys.ensure_key()
    return created


def _publish_credentials(instance: models.Model) -> None:
    if isinstance(instance, User):
        instance.set_password(password_of(instance.username))
    elif isinstance(instance, get_application_model()) and instance.client_id in CLIENT_SECRETS:
        instance.client_secret = CLIENT_SECRETS[instance.client_id]


def password_of(username: str) -> str:
    """The published (README) password of a demo user."""
    return f"{username}-password"


def usernames() -> list[str]:
    """The demo users' usernames, as the ``demo`` fixture names them."""
    with open(fixtures.find("demo"), "rb") as stream:
        objects = json.load(stream)
    label = settings.AUTH_USER_MODEL.lower()
    return [item["fields"]["username"] for item in objects if item["model"] == label]


def published_credentials_in_use() -> list[str]:
    """The demo accounts and clients that still accept their published credentials."""
    from django.contrib.auth.hashers import check_password

    found = [
        f"user {user.username!r}"
        for user in User.objects.filter(username__in=usernames(), is_active=True)
        if check_password(password_of(user.username), user.password)  # no rehash-and-save, unlike User's
    ]
    for app in get_application_model().objects.filter(client_id__in=CLIENT_SECRETS):
        secret = CLIENT_SECRETS[app.client_id]
        if check_password(secret, app.client_secret) or app.client_secret == secret:
            found.append(f"client {app.client_id!r}")
    return found
