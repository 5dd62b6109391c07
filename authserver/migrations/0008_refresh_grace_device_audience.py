"""Per-client refresh grace; the RFC 8707 resources of device authorizations."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0007_admin_scopes"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),  # DeviceGrant exists
    ]

    operations = [
        migrations.CreateModel(
            name="DeviceAudience",
            fields=[
                (
                    "device_grant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="audience",
                        serialize=False,
                        to=settings.OAUTH2_PROVIDER_DEVICE_GRANT_MODEL,
                    ),
                ),
                ("resource", models.JSONField(default=list)),
            ],
        ),
        migrations.AddField(
            model_name="clientpolicy",
            name="refresh_grace_seconds",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="How long a rotated refresh token presented again gets the same new pair instead of revoking its family. Empty: the server's window (OAUTH_REFRESH_GRACE_SECONDS); 0: never; never longer than the server's window.",
                null=True,
                verbose_name="refresh grace (seconds)",
            ),
        ),
    ]
