"""App configuration: connects the signal receivers that feed the metrics; registers the checks."""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks registers itself)

        receivers.connect()
