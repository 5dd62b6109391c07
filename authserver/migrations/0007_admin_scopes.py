"""The management API's scopes, ``admin:read`` and ``admin:write``, and the ``api-admin`` role granting both.

Both scopes are ``role_only`` (no client acting for itself ever gets them) and not default (a client
asking for no scope in particular does not get them): a token carries them only when its user holds
a role that grants them. The role starts without users; an administrator assigns it.
"""

from django.db import migrations

SCOPES = {
    "admin:read": "Read this server's configuration through the management API",
    "admin:write": "Change this server's configuration through the management API",
}
ROLE = ("api-admin", "Management API: read and change users, clients, keys and policies")


def create(apps, schema_editor):
    Scope = apps.get_model("authserver", "Scope")
    Role = apps.get_model("authserver", "Role")
    made = []
    for name, description in SCOPES.items():
        scope, _ = Scope.objects.get_or_create(name=name, defaults={"description": description})
        scope.role_only, scope.is_default = True, False
        scope.save(update_fields=["role_only", "is_default"])
        made.append(scope)
    role, created = Role.objects.get_or_create(name=ROLE[0], defaults={"description": ROLE[1]})
    if created:
        role.scopes.set(made)


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0006_scope_role_only"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
