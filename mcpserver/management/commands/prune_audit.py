"""``manage.py prune_audit``: delete audit records older than the retention period."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mcpserver import conf
from mcpserver.models import AuditRecord


class Command(BaseCommand):
    help = "Delete audit records older than MCP_AUDIT_RETENTION_DAYS (or --days). Schedule it daily."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="keep this many days instead of the setting")

    def handle(self, *args, days=None, **options):
        days = conf.get("AUDIT_RETENTION_DAYS") if days is None else days
        if days < 1:
            raise CommandError("The retention period must be at least one day.")
        deleted = AuditRecord.objects.prune(timezone.now() - timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} audit record(s) older than {days} day(s).")
