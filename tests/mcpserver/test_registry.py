"""The registry and its decorators: definitions, duplicates, bare use, templates, start-up registration."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ImproperlyConfigured

from mcpserver.registry import Registry, build_registry, prompt, resource, tool


def test_decorator_refuses_bare_use():
    with pytest.raises(TypeError):

        @tool
        def bare(ctx):
            return ""


def test_decorator_only_defines():
    @tool("defined", scopes=["x"], roles=["r"])
    def defined(ctx):
        """Do a thing."""

    definition = defined.__mcp__
    assert definition.name == "defined" and definition.description == "Do a thing."
    assert definition.scopes == ("x",) and definition.roles == ("r",)
    assert definition.describe()["inputSchema"] == {"type": "object", "additionalProperties": False}


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "slash/name"])
def test_invalid_tool_names(name):
    def valid_function_name(ctx):  # a name the tool could fall back to: it must not
        return ""

    with pytest.raises(ValueError):
        tool(name)(valid_function_name)


def test_a_tool_without_a_name_is_named_after_its_function():
    @tool()
    def named_here(ctx):
        return ""

    assert named_here.__mcp__.name == "named_here"


def test_duplicate_names_fail():
    @tool("same")
    def first(ctx):
        return ""

    @tool("same")
    def second(ctx):
        return ""

    with pytest.raises(ImproperlyConfigured):
        Registry([first.__mcp__, second.__mcp__])


def test_duplicate_across_modules_fails_at_start_up(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "CAPABILITIES": ["mcpserver.tools", "mcpserver.tools"]}
    with pytest.raises(ImproperlyConfigured):
        build_registry()


def test_a_tool_with_a_broken_input_schema_fails_at_registration():
    @tool("broken", input_schema={"type": "object", "properties": {"n": {"type": "int"}}})
    def broken(ctx, n=0):
        return ""

    with pytest.raises(ImproperlyConfigured) as raised:
        Registry([broken.__mcp__])
    assert "'broken'" in str(raised.value) and "properties/n/type" in str(raised.value)


def test_a_tool_is_compiled_once_and_a_policy_copy_shares_it():
    @tool("compiled", input_schema={"type": "object", "properties": {"n": {"type": "integer"}}})
    def compiled(ctx, n=0):
        return ""

    definition = compiled.__mcp__
    copy = dataclasses.replace(definition, scopes=("other",))  # what mcpserver.policies.effective does
    assert copy.validator is definition.validator


def test_default_registry_has_the_built_ins_and_the_example_app():
    registry = build_registry()
    assert [t.name for t in registry.all("tool")] == [
        "create_note", "echo", "edit_note", "get_time", "long_task", "search_notes", "whoami",
    ]  # fmt: skip
    assert [p.name for p in registry.all("prompt")] == ["greeting", "help", "summarise_notes"]
    assert [r.uri for r in registry.all("resource")] == ["mcp://server/description"]
    assert [r.uri for r in registry.all("template")] == ["mcp://tools/{name}", "notes://{key}"]


def test_templates_match_level_one_variables():
    @resource("files://{folder}/{name}.txt")
    def files(ctx, folder, name):
        return ""

    definition = files.__mcp__
    assert definition.is_template
    assert definition.match("files://docs/readme.txt") == {"folder": "docs", "name": "readme"}
    assert definition.match("files://docs/deep/readme.txt") is None
    assert definition.match("other://x") is None


def test_prompt_decorator():
    @prompt()
    def hello(ctx):
        """Say hello."""
        return "hello"

    assert hello.__mcp__.describe() == {"name": "hello", "description": "Say hello.", "arguments": []}
