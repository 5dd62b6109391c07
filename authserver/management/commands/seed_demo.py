from django.core.management.base import BaseCommand

from authserver import demo


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo data in fixtures/ (scopes, roles, users, clients, example "
        "notes); never change what exists. For local use only."
    )

    def handle(self, *args, **options):
        created = demo.seed()
        self.stdout.write(
            f"Demo data ready ({len(created)} objects created): users alice, bob, admin, guest; "
            "clients demo-service, demo-cli, demo-web, demo-device; example notes."
        )
