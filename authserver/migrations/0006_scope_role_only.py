from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0005_signing_key_window_compromise_introspect"),
    ]

    operations = [
        migrations.AddField(
            model_name="scope",
            name="role_only",
            field=models.BooleanField(
                default=False,
                help_text="Granted only to a user whose roles grant it: never to a client acting for itself "
                "(client credentials), whatever its ceiling.",
                verbose_name="only through a role",
            ),
        ),
    ]
