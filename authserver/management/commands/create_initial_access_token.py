from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from authserver import registration


class Command(BaseCommand):
    help = "Create an initial access token for DCR_POLICY=token and print its value once."

    def add_arguments(self, parser):
        parser.add_argument("--description", required=True, help="who or what it is for")
        parser.add_argument(
            "--max-uses", type=int, help="how many clients it may register (default: no limit)"
        )
        parser.add_argument("--expires-in", type=int, help="seconds until it expires (default: never)")

    def handle(self, *args, description, max_uses=None, expires_in=None, **options):
        if (max_uses is not None and max_uses < 1) or (expires_in is not None and expires_in < 1):
            raise CommandError("--max-uses and --expires-in must be positive.")
        expires_at = timezone.now() + timedelta(seconds=expires_in) if expires_in else None
        _, raw = registration.issue_initial_access_token(
            description, expires_at=expires_at, max_uses=max_uses
        )
        self.stdout.write(raw)
