"""The demo data set for local use: fixed names and passwords that the README's examples rely on."""

from __future__ import annotations

from django.db import transaction
from oauth2_provider.models import get_application_model

from . import keys
from .clients import create_client
from .models import ClientPolicy, Role, Scope, User

SCOPES = {
    "mcp:read": "List and read the MCP server's tools, prompts and resources",
    "mcp:tools": "Call tools on the MCP server",
    "mcp:prompts": "Use prompts from the MCP server",
}
ROLES = {
    "admin": ("Everything", list(SCOPES)),
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
    """Create or refresh the demo data; running it twice changes nothing."""
    for name, description in SCOPES.items():
        Scope.objects.update_or_create(name=name, defaults={"description": description})
    for name, (description, scope_names) in ROLES.items():
        role, _ = Role.objects.update_or_create(name=name, defaults={"description": description})
        role.scopes.set(Scope.objects.filter(name__in=scope_names))
    for username, role_name in USERS.items():
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(f"{username}-password")
        user.is_staff = user.is_superuser = role_name == "admin"
        user.save()
        user.roles.set(Role.objects.filter(name=role_name))
    Application = get_application_model()
    for spec in CLIENTS:
        app = Application.objects.filter(client_id=spec["client_id"]).first()
        if app is None:
            create_client(scopes=list(SCOPES), **spec)
            continue
        if "client_secret" in spec:
            app.client_secret = spec["client_secret"]
            app.save()
        policy, _ = ClientPolicy.objects.update_or_create(
            application=app, defaults={"may_introspect": spec.get("may_introspect", False)}
        )
        policy.scopes.set(Scope.objects.filter(name__in=SCOPES))
    keys.ensure_key()
