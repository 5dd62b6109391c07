"""OAuth error responses: one builder for the RFC 6749 §5.2 JSON body, used by every endpoint."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import authserver
from authserver.exceptions import describe, oauth_error, oauthlib_response


def test_oauth_error_is_the_rfc_6749_shape_and_never_cached():
    response = oauth_error("invalid_request", "Something was missing.", 400)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body == {"error": "invalid_request", "error_description": "Something was missing."}


def test_oauthlib_errors_get_a_description_and_a_basic_challenge():
    response = oauthlib_response('{"error": "invalid_client"}', 401, {}, realm="token")
    body = json.loads(response.content)
    assert body == {"error": "invalid_client", "error_description": describe("invalid_client")}
    assert response["WWW-Authenticate"] == 'Basic realm="token"'


def _error_bodies_built_in(module: Path) -> list[int]:
    """Lines of ``module`` with a dict literal that has an ``error_description`` key."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Dict)
        and any(isinstance(key, ast.Constant) and key.value == "error_description" for key in node.keys)
    ]


def test_no_module_but_exceptions_builds_an_oauth_error_body():
    package = Path(authserver.__file__).parent
    built = {
        str(module.relative_to(package)): lines
        for module in package.rglob("*.py")
        if (lines := _error_bodies_built_in(module))
    }
    assert list(built) == ["exceptions.py"], built
