"""URLs of the operational endpoints (no trailing slash, like the probes of most load balancers)."""

from django.urls import path

from . import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("metrics", views.metrics_view, name="metrics"),
]
