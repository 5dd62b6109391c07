"""Housekeeping commands: audit retention (prune_audit) and DOT's cleartokens on our token model."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mcpserver.models import AuditRecord


def record(age_days: float) -> AuditRecord:
    return AuditRecord.objects.create(
        created=timezone.now() - timedelta(days=age_days),
        subject="s",
        kind="tool",
        name="echo",
        outcome="ok",
        duration_ms=1.0,
    )


@pytest.mark.django_db
def test_prune_audit_keeps_the_retention_period(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_RETENTION_DAYS": 30}
    old, recent = record(31), record(29)
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert list(AuditRecord.objects.all()) == [recent]
    assert "Deleted 1 audit record(s) older than 30 day(s)." in out.getvalue()
    assert not AuditRecord.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_prune_audit_days_option_and_batches():
    for _ in range(25):
        record(10)
    record(1)
    assert AuditRecord.objects.prune(timezone.now() - timedelta(days=5), batch=10) == 25
    call_command("prune_audit", "--days", "1", stdout=StringIO())
    assert AuditRecord.objects.count() == 0


@pytest.mark.django_db
def test_prune_audit_refuses_a_retention_below_one_day():
    with pytest.raises(CommandError):
        call_command("prune_audit", "--days", "0")


@pytest.mark.django_db
def test_cleartokens_removes_expired_tokens(demo):
    from oauth2_provider.models import get_access_token_model, get_application_model

    model = get_access_token_model()
    application = get_application_model().objects.get(client_id="demo-service")
    for index, expires in enumerate(
        [timezone.now() - timedelta(days=1), timezone.now() + timedelta(hours=1)]
    ):
        model.objects.create(
            application=application,
            token=f"t{index}",
            token_checksum=f"{index:064x}",
            expires=expires,
            scope="mcp:read",
        )
    call_command("cleartokens")
    assert not model.objects.filter(token="t0").exists()  # expired
    assert model.objects.filter(token="t1").exists()  # still live
