from django.core.management.base import BaseCommand

from authserver import demo


class Command(BaseCommand):
    help = "Create or refresh the demo users, roles, scopes and clients (idempotent; for local use only)."

    def handle(self, *args, **options):
        demo.seed()
        self.stdout.write("Demo data ready: users alice, bob, admin, guest; clients demo-service, demo-cli, demo-web.")
