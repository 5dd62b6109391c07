from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    dependencies = [
        ("authserver", "0001_initial"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ClientPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('application', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='policy', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL)),
                ('scopes', models.ManyToManyField(blank=True, help_text='The scope ceiling: nothing outside it is ever granted.', related_name='clients', to='authserver.scope')),
            ],
            options={
                'verbose_name': 'client policy',
                'verbose_name_plural': 'client policies',
            },
        ),
    ]
