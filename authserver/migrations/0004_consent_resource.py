"""A remembered consent names the resource it is for (RFC 8707), so one resource's approval never skips
the page for another."""

from django.db import migrations, models


def assign_or_forget(apps, schema_editor):
    """Consents from before this migration named no resource. When only one resource is allowed, every
    one of them was for it; otherwise which one is unknown, so they are forgotten (the user is asked
    once more, the safe side)."""
    from authserver import conf

    Consent = apps.get_model("authserver", "Consent")
    allowed = list(conf.get("ALLOWED_RESOURCES"))
    if len(allowed) == 1:
        Consent.objects.filter(resource="").update(resource=allowed[0])
    else:
        Consent.objects.filter(resource="").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0003_consent_registration"),
    ]

    operations = [
        migrations.AddField(
            model_name="consent",
            name="resource",
            field=models.CharField(
                default="", help_text="The resource (token audience) the approval is for.", max_length=500
            ),
            preserve_default=False,
        ),
        migrations.RunPython(assign_or_forget, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="consent", name="one_consent_per_user_client"),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.UniqueConstraint(
                fields=("user", "application", "resource"), name="one_consent_per_user_client_resource"
            ),
        ),
    ]
