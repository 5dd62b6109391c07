"""RFC 8693 token exchange: the targets each client may exchange access tokens for."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0010_merge_refresh_grace_and_device"),
    ]

    operations = [
        migrations.AddField(
            model_name="clientpolicy",
            name="token_exchange_audiences",
            field=models.TextField(
                blank=True,
                help_text="RFC 8693 token exchange: the absolute URIs (audience or resource) this client may exchange a user's access token for, one per line. Empty: the client may not exchange tokens. Only a confidential client (secret or private_key_jwt) can use it.",
                verbose_name="token exchange audiences",
            ),
        ),
    ]
