"""App configuration: connects the signal receivers that feed the metrics."""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
