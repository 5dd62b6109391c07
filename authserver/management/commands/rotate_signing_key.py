from django.core.management.base import BaseCommand

from authserver import keys


class Command(BaseCommand):
    help = "Make a new signing key current; older keys keep verifying until their tokens expire."

    def handle(self, *args, **options):
        key = keys.rotate()
        self.stdout.write(key.kid)
