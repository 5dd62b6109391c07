"""A URLconf whose MCP endpoint's view is not ``csrf_exempt`` (``test_handler``): CSRF is then not
passed by on its path."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("mcp", lambda request: HttpResponse(), name="mcp")]
