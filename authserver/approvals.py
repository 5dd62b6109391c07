"""What a person decides on the consent page, whichever flow asks (authorization code, device): the
scopes shown with their descriptions, the ones left ticked, and remembering the decision."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

from . import consents, scopes


def page_context(application, names: Iterable[str]) -> dict[str, Any]:
    """What the consent page shows about the client and the scopes it asks for."""
    descriptions = scopes.DatabaseScopes().get_all_scopes()
    context: dict[str, Any] = {"scope_items": [(name, descriptions.get(name, name)) for name in names]}
    if application.registration_source == application.RegistrationSource.CIMD:
        context["document_host"] = urlsplit(application.client_id).netloc
    return context


def kept(request: HttpRequest, offered: Iterable[str]) -> list[str]:
    """The offered scopes the person left ticked (all of them when the form offered no choice); the
    person may untick scopes, never add one."""
    offered = list(offered)
    if "scope_choice" not in request.POST:
        return offered
    ticked = set(request.POST.getlist("scopes"))
    return [name for name in offered if name in ticked]


def remember_if_asked(
    request: HttpRequest, application, granted: Iterable[str], resources: Iterable[str]
) -> None:
    """Remember an approval when the person ticked "remember this decision" (listed on their account
    page, where they can withdraw it)."""
    if request.POST.get("remember"):
        consents.remember(request.user, application, list(granted), list(resources))
