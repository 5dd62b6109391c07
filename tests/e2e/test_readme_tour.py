"""The README's tour, run verbatim: every ``sh`` block under "Tour", the clients in docs/ its step 5
points to, then the block under "Add your own tool", in order and in one ``bash``, against a live
server of their own (a fresh database and the demo data, as after ``python3 dev.py serve`` on a fresh
clone) that also serves the README's tool module registered with the README's setting.

Only the tour's ``BASE=`` line is changed, to this server's address. Every JSON-RPC answer must be a
result; the assertions name what each step shows the reader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import jwt
import pytest

from tests import readme

from .liveserver import LiveServer

MARK = "=== README block "


@pytest.fixture(scope="module")
def tour_server(tmp_path_factory):
    """A server like the reader's, with the README's tool module on its path and in its settings."""
    where = tmp_path_factory.mktemp("readme-tool")
    name, source = readme.tool_module()
    (where / f"{name}.py").write_text(source)
    (where / "readme_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        f"MCPSERVER = {{**MCPSERVER, 'CAPABILITIES': {readme.capabilities_setting()!r}}}  # noqa: F405\n"
    )
    env = {"PYTHONPATH": str(where), "DJANGO_SETTINGS_MODULE": "readme_settings"}
    with LiveServer(workers=1, env=env) as server:
        yield server


def run_tour(base_url: str, env: dict[str, str]) -> list[str]:
    """Run the README's blocks in one bash, with the server's environment (so that ``manage.py`` reaches
    its database, as the reader's reaches the one ``dev.py serve`` uses); return each block's output."""
    parts = readme.blocks(readme.TOUR, "sh") + readme.tour_clients() + readme.blocks(readme.TOOL, "sh")
    script = ["set -euo pipefail"]
    for number, block in enumerate(parts):
        lines = [f"BASE={base_url}" if line == readme.BASE_LINE else line for line in block.splitlines()]
        script += [f"echo '{MARK}{number}'", *lines]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=120, cwd=readme.ROOT,
        env={**os.environ, **env},
    )
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    outputs = result.stdout.split(MARK)[1:]
    assert len(outputs) == len(parts)
    return [output.split("\n", 1)[1] if "\n" in output else "" for output in outputs]


def json_lines(outputs: list[str]) -> list[dict]:
    return [json.loads(line) for output in outputs for line in output.splitlines() if line.startswith("{")]


def json_answers(outputs: list[str]) -> list[dict]:
    """The JSON-RPC answers (the OAuth answers are JSON too)."""
    return [answer for answer in json_lines(outputs) if "jsonrpc" in answer]


@pytest.mark.skipif(
    shutil.which("curl") is None and os.environ.get("CI") != "true", reason="the tour needs curl"
)
def test_the_readme_tour_runs_verbatim(tour_server):
    outputs = run_tour(tour_server.url, tour_server.env)
    lines = [line for output in outputs for line in output.splitlines()]
    answers = json_answers(outputs)
    assert answers and all("result" in answer and "error" not in answer for answer in answers), answers
    results = [answer["result"] for answer in answers]

    token = outputs[0].strip()
    assert token.count(".") == 2  # 1. a JWT
    discovered = next(r for r in results if "supportedVersions" in r)  # 2. the 2026-07-28 era
    assert discovered["supportedVersions"] == ["2026-07-28"] and "mcp:tools" in discovered["instructions"]
    listed = [r for r in results if "tools" in r]
    assert len(listed) == 2  # one list per era, each with the built-in tools and the README's
    assert all({"echo", "whoami", "add"} <= {tool["name"] for tool in r["tools"]} for r in listed)
    texts = [item["text"] for r in results for item in r.get("content", [])]
    assert "Hello, MCP" in texts
    initialized = next(r for r in results if "protocolVersion" in r)  # 3. the 2025-11-25 era
    assert initialized["protocolVersion"] == "2025-11-25"
    assert "202" in lines  # notifications/initialized
    whoami = next(r["structuredContent"] for r in results if "structuredContent" in r)
    assert whoami["client_id"] == "demo-service"
    revoked_at = lines.index("200")  # 4. revoked by its own client, then refused
    assert lines[revoked_at + 1] == "401"
    assert "DPoP 200 401" in lines  # 5. docs' DPoP client: with its proof, and refused as a bearer
    assert "Bearer mcp:read" in lines  # docs' private_key_jwt client's token
    assert any(line.startswith(f"{tour_server.url}/oauth/device/?user_code=") for line in lines)
    oauth = [answer for answer in json_lines(outputs) if "jsonrpc" not in answer]
    assert oauth[0]["error"] == "authorization_pending"  # the device grant's poll
    exchanged = oauth[1]
    assert exchanged["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    claims = jwt.decode(exchanged["access_token"], options={"verify_signature": False})
    assert claims["act"] == {"sub": "demo-service"} and claims["aud"] == "https://files.example/"
    assert claims["scope"] == "mcp:read"
    assert results[-1]["structuredContent"] == {"result": 5.0}  # the README's own tool, typed
    assert tour_server.errors_since(0) == []
