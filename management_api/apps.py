"""App configuration: registers the OpenAPI description of bearer-token authentication and the system
checks at start-up."""

from django.apps import AppConfig


class ManagementApiConfig(AppConfig):
    name = "management_api"
    verbose_name = "Management API"

    def ready(self) -> None:
        # drf-spectacular finds its extensions by their subclassing; checks register on import.
        from . import checks, schema  # noqa: F401
