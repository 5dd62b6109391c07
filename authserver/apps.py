"""App configuration: wires system checks, signal receivers and DOT model hooks at start-up, and names
the grant types to the token metrics."""

import warnings

from django.apps import AppConfig


class AuthserverConfig(AppConfig):
    name = "authserver"
    verbose_name = "Authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled
        from oauth2_provider.models import get_application_model

        from observability import metrics

        # Imported for what importing them registers: checks and signal receivers.
        from . import checks, clientmemo, cors, entitlements, keys, redirects, revoking  # noqa: F401
        from .grants import GRANTS

        revoking.connect()
        entitlements.connect()
        # The token counter's labels come from the grant table (observability knows no grant types).
        metrics.count_grants(grant.grant_type for grant in GRANTS)
        check_request_enabled.connect(cors.allow, dispatch_uid="authserver-cors")
        # RFC 8252 §7.1 private-use redirect schemes, per client: DOT reads this method wherever it
        # checks a redirect scheme (model validation, the final redirect); its setting is global.
        get_application_model().get_allowed_schemes = redirects.allowed_schemes
        # The password grant is kept on purpose (OAUTH_PASSWORD_GRANT); DOT warns on every use.
        warnings.filterwarnings("ignore", message="The OAuth 2.0 resource owner password credentials grant")
