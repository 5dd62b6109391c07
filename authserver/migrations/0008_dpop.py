"""DPoP (RFC 9449): the per-client ``dpop_bound_access_tokens`` flag and refresh tokens bound to a key."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0007_admin_scopes"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="clientpolicy",
            name="dpop_bound_access_tokens",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "RFC 9449 §5.2: every token request carries a DPoP proof; tokens are bound to its key."
                ),
                verbose_name="DPoP-bound access tokens only",
            ),
        ),
        migrations.CreateModel(
            name="RefreshTokenBinding",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("jkt", models.CharField(max_length=64, verbose_name="key thumbprint (RFC 7638)")),
                (
                    "refresh_token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dpop_binding",
                        to="oauth2_provider.refreshtoken",
                    ),
                ),
            ],
        ),
    ]
