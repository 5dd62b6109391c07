"""The README's "Add your own tool": its module, registered with the setting it shows, answers a call."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tests import readme

pytestmark = pytest.mark.django_db


@pytest.fixture
def readme_tool_registered(settings, monkeypatch):
    """The README's module importable under its name, and the registry built from the README's setting."""
    from django.apps import apps

    from mcpserver.registry import build_registry

    name, source = readme.tool_module()
    module = types.ModuleType(name)
    exec(compile(source, f"README.md ({name}.py)", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, name, module)
    settings.MCPSERVER = {**settings.MCPSERVER, "CAPABILITIES": readme.capabilities_setting()}
    app = apps.get_app_config("mcpserver")
    monkeypatch.setattr(app, "registry", build_registry())
    return app.registry


def test_the_readme_tool_is_listed_and_answers(mcp, readme_tool_registered):
    listed = {t["name"]: t for t in mcp.modern("tools/list").json()["result"]["tools"]}
    assert {"add", "echo"} <= set(listed)  # added next to the built-in ones
    assert listed["add"]["description"].startswith("Add two numbers.")
    schema = listed["add"]["inputSchema"]  # from the signature and the docstring
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["a"]["type"] == "number"
    assert schema["properties"]["a"]["description"] == "The first number."
    assert listed["add"]["outputSchema"]["properties"]["result"]["type"] == "number"
    result = mcp.modern("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}).json()["result"]
    assert result["structuredContent"] == {"result": 5}


def test_the_readme_tool_refuses_arguments_its_schema_refuses(mcp, readme_tool_registered):
    result = mcp.modern("tools/call", {"name": "add", "arguments": {"a": "two"}}).json()["result"]
    assert result["isError"] is True and "Invalid arguments" in json.dumps(result)
