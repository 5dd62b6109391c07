"""App configuration: registers the OpenAPI description of bearer-token authentication at start-up."""

from django.apps import AppConfig


class ManagementApiConfig(AppConfig):
    name = "management_api"
    verbose_name = "Management API"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (drf-spectacular finds its extensions by their subclassing)
