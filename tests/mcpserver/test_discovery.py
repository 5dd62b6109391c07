"""Discovery like the admin's: every installed app's ``mcp`` module is registered at start-up, unless
``AUTODISCOVER`` is off; ``CAPABILITIES`` still adds modules, and a duplicate still fails at start-up."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from mcpserver.registry import build_registry, discovered

pytestmark = pytest.mark.django_db

APP = "tests.mcpserver.discovery_app"
DUPLICATE = "tests.mcpserver.duplicate_app"


def with_apps(*names):
    return override_settings(INSTALLED_APPS=[*django_settings.INSTALLED_APPS, *names])


def test_of_the_project_s_own_apps_only_the_example_app_has_an_mcp_module():
    assert list(discovered()) == ["notes.mcp"]


def test_an_installed_app_s_mcp_module_is_served_without_any_setting(mcp):
    with with_apps(APP):
        assert list(discovered()) == ["notes.mcp", f"{APP}.mcp"]
        registry = apps.get_app_config("mcpserver").registry  # built by ready(), as at start-up
        assert registry.get("tool", "shout") is not None and registry.get("tool", "echo") is not None
        listed = {t["name"]: t for t in mcp.modern("tools/list").json()["result"]["tools"]}
        result = mcp.legacy("tools/call", {"name": "shout", "arguments": {"text": "hi", "times": 2}}).json()
    assert listed["shout"]["inputSchema"]["properties"]["times"] == {
        "type": "integer",
        "default": 1,
        "description": "How many times.",
    }
    assert result["result"]["content"] == [{"type": "text", "text": "HI HI"}]


def test_discovery_can_be_switched_off(settings):
    with with_apps(APP):
        settings.MCPSERVER = {**settings.MCPSERVER, "AUTODISCOVER": False}
        assert build_registry().get("tool", "shout") is None
        settings.MCPSERVER = {**settings.MCPSERVER, "CAPABILITIES": ["mcpserver.tools", f"{APP}.mcp"]}
        assert build_registry().get("tool", "shout") is not None  # listed instead


def test_a_module_both_listed_and_discovered_is_registered_once(settings):
    with with_apps(APP):
        settings.MCPSERVER = {**settings.MCPSERVER, "CAPABILITIES": ["mcpserver.tools", f"{APP}.mcp"]}
        assert build_registry().get("tool", "shout") is not None


def test_a_discovered_duplicate_fails_at_start_up():
    with pytest.raises(ImproperlyConfigured, match="Duplicate MCP tool 'echo'"), with_apps(DUPLICATE):
        pass  # never reached: the app registry's ready() refuses the second echo
    assert (
        apps.get_app_config("mcpserver").registry.get("tool", "echo").handler.__module__ == "mcpserver.tools"
    )
