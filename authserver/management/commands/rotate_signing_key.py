from django.core.management.base import BaseCommand

from authserver import keys


class Command(BaseCommand):
    help = (
        "Make a new signing key current; older keys keep verifying until their tokens expire. "
        "--compromised: older keys are withdrawn at once (out of the JWKS, their tokens refused everywhere)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--compromised",
            action="store_true",
            help="a key leaked: withdraw every older key now; tokens signed with them stop working",
        )

    def handle(self, *args, compromised: bool = False, **options):
        key = keys.rotate(compromised=compromised)
        self.stdout.write(key.kid)
