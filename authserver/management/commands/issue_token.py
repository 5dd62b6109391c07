from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from authserver import conf, tokens
from authserver.clients import internal_client
from authserver.models import Scope, User

INTERNAL_CLIENT_ID = "manage-issue-token"


class Command(BaseCommand):
    help = "Mint an access token for a user through the token endpoint's code path and print only the JWT."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--scopes", required=True, help="comma-separated scope names")
        parser.add_argument("--client", help="client_id to issue for (default: an internal client)")
        parser.add_argument("--lifetime", type=int, help="seconds (default: ACCESS_TOKEN_LIFETIME)")

    def handle(self, *args, username, scopes, client=None, lifetime=None, **options):
        requested = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = sorted(set(requested) - Scope.objects.names())
        if not requested or unknown:
            raise CommandError(f"Unknown scope(s): {', '.join(unknown) or '(none given)'}")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        if lifetime is None:
            lifetime = conf.access_token_lifetime()
        if not 0 < lifetime <= conf.get("MAX_TOKEN_LIFETIME"):
            raise CommandError(f"--lifetime must be between 1 and {conf.get('MAX_TOKEN_LIFETIME')} seconds.")
        application = self._application(client)
        try:
            token = tokens.issue_for_user(user, application, requested, lifetime)
        except OAuth2Error as exc:
            raise CommandError(exc.description) from exc
        self.stdout.write(token)

    def _application(self, client_id):
        if not client_id:
            return internal_client(INTERNAL_CLIENT_ID, "manage.py issue_token")
        application = get_application_model().objects.filter(client_id=client_id).first()
        if application is None:
            raise CommandError(f"No client with id {client_id!r}.")
        return application
