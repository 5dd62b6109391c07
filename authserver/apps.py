"""App configuration: wires system checks and signal receivers at start-up."""

import warnings

from django.apps import AppConfig


class AuthserverConfig(AppConfig):
    name = "authserver"
    verbose_name = "Authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, revocation  # noqa: F401  (registers checks and receivers)

        revocation.connect()
        # The password grant is kept on purpose (OAUTH_PASSWORD_GRANT); DOT warns on every use.
        warnings.filterwarnings("ignore", message="The OAuth 2.0 resource owner password credentials grant")
