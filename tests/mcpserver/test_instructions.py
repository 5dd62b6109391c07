"""What the server tells a client about itself: the ``instructions`` of ``server/discover`` and
``initialize`` say what each scope unlocks, and every claim they make holds for a real token."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def discovered(mcp, **kwargs) -> str:
    return mcp.modern("server/discover", **kwargs).json()["result"]["instructions"]


def test_both_eras_and_the_description_resource_carry_the_same_instructions(mcp):
    text = discovered(mcp)
    assert mcp.initialize().json()["result"]["instructions"] == text
    described = mcp.modern("resources/read", {"uri": "mcp://server/description"}).json()["result"]
    assert text in described["contents"][0]["text"]


def test_the_default_instructions_name_what_each_scope_unlocks(mcp):
    text = discovered(mcp)
    for claim in (
        "mcp:read lists and reads resources",
        "mcp:read with mcp:tools lists tools",
        "mcp:tools calls them",
        "mcp:read with mcp:prompts lists prompts",
        "mcp:prompts gets them",
        "403 insufficient_scope",
    ):
        assert claim in text
    assert "help" not in text  # a prompt: it needs mcp:prompts, which the reader may not hold


def _names(response, field):
    return [item.get("name") or item.get("uri") for item in response.json()["result"][field]]


def test_every_claim_of_the_instructions_holds(mcp, issue):
    reader = issue(scopes=["mcp:read"])
    assert _names(mcp.modern("resources/list", token=reader), "resources")  # reads resources
    read = mcp.modern("resources/read", {"uri": "mcp://server/description"}, token=reader)
    assert read.status_code == 200
    assert _names(mcp.modern("tools/list", token=reader), "tools") == []  # no tools without mcp:tools
    assert _names(mcp.modern("prompts/list", token=reader), "prompts") == []

    lister = issue(scopes=["mcp:read", "mcp:tools"])
    assert "echo" in _names(mcp.modern("tools/list", token=lister), "tools")

    caller = issue(scopes=["mcp:tools"])
    echoed = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "hi"}}, token=caller)
    assert echoed.json()["result"]["content"][0]["text"] == "hi"
    refused = mcp.modern("tools/list", token=caller)  # listing needs mcp:read
    assert refused.status_code == 403 and 'scope="mcp:read"' in refused["WWW-Authenticate"]

    prompter = issue(scopes=["mcp:prompts"])
    assert mcp.modern("prompts/get", {"name": "greeting"}, token=prompter).status_code == 200
    both = issue(scopes=["mcp:read", "mcp:prompts"])
    assert "greeting" in _names(mcp.modern("prompts/list", token=both), "prompts")


def test_renamed_scopes_are_what_the_instructions_name(mcp, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "READ_SCOPE": "files:list", "TOOLS_SCOPE": "files:run"}
    text = discovered(mcp)
    assert "files:list with files:run lists tools" in text and "mcp:tools" not in text


def test_configured_instructions_replace_the_default(mcp, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "INSTRUCTIONS": "Ask the data team first."}
    assert discovered(mcp) == "Ask the data team first."
    assert mcp.initialize().json()["result"]["instructions"] == "Ask the data team first."
