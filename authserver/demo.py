"""The demo data set for local use: fixed names and passwords that the README's examples rely on."""

from __future__ import annotations

from django.db import transaction
from oauth2_provider.models import get_application_model

from . import keys
from .clients import create_client
from .models import Role, Scope, User

SCOPES = {
    "mcp:read": "List and read the MCP server's tools, prompts and resources",
    "mcp:tools": "Call tools on the MCP server",
    "mcp:prompts": "Use prompts from the MCP server",
}
# The management API's scopes (migration 0007 makes them too): only through a role, never by default.
ADMIN_SCOPES = {
    "admin:read": "Read this server's configuration through the management API",
    "admin:write": "Change this server's configuration through the management API",
}
ROLES = {
    "admin": ("Everything", [*SCOPES, *ADMIN_SCOPES]),
    "user": ("Read, call tools and use prompts", ["mcp:read", "mcp:tools", "mcp:prompts"]),
    "guest": ("Read only", ["mcp:read"]),
}
USERS = {"alice": "user", "bob": "user", "admin": "admin", "guest": "guest"}
CLIENTS = [
    # Also the demo's resource server: it may introspect tokens.
    dict(
        client_id="demo-service",
        name="Demo service",
        grant="client-credentials",
        client_secret="demo-service-secret",
        may_introspect=True,
    ),
    dict(client_id="demo-cli", name="Demo CLI", grant="password", public=True),
    dict(
        client_id="demo-web",
        name="Demo web app",
        grant="authorization-code",
        public=True,
        redirect_uris=["http://127.0.0.1:8765/callback"],
    ),
]


@transaction.atomic
def seed() -> None:
    """Create whatever part of the demo data is missing; never change what exists.

    ``dev.py serve`` runs this on every start, so a password, secret, flag, role or ceiling an
    administrator changed must survive it (``check --deploy`` warns while published ones remain).
    """
    for name, description in SCOPES.items():
        Scope.objects.get_or_create(name=name, defaults={"description": description})
    for name, description in ADMIN_SCOPES.items():
        defaults = {"description": description, "is_default": False, "role_only": True}
        Scope.objects.get_or_create(name=name, defaults=defaults)
    for name, (description, scope_names) in ROLES.items():
        role, created = Role.objects.get_or_create(name=name, defaults={"description": description})
        if created:
            role.scopes.set(Scope.objects.filter(name__in=scope_names))
    for username, role_name in USERS.items():
        if not User.objects.filter(username=username).exists():
            _create_user(username, role_name)
    Application = get_application_model()
    for spec in CLIENTS:
        if not Application.objects.filter(client_id=spec["client_id"]).exists():
            create_client(scopes=list(SCOPES), **spec)
    keys.ensure_key()


def _create_user(username: str, role_name: str) -> None:
    is_admin = role_name == "admin"
    user = User.objects.create_user(
        username, password=password_of(username), is_staff=is_admin, is_superuser=is_admin
    )
    user.roles.set(Role.objects.filter(name=role_name))


def password_of(username: str) -> str:
    """The published (README) password of a demo user."""
    return f"{username}-password"


def published_credentials_in_use() -> list[str]:
    """The demo accounts and clients that still accept their published credentials."""
    from django.contrib.auth.hashers import check_password

    found = [
        f"user {user.username!r}"
        for user in User.objects.filter(username__in=USERS, is_active=True)
        if check_password(password_of(user.username), user.password)  # no rehash-and-save, unlike User's
    ]
    secrets = {spec["client_id"]: spec["client_secret"] for spec in CLIENTS if "client_secret" in spec}
    for app in get_application_model().objects.filter(client_id__in=secrets):
        secret = secrets[app.client_id]
        if check_password(secret, app.client_secret) or app.client_secret == secret:
            found.append(f"client {app.client_id!r}")
    return found
