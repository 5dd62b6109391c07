"""One smoke test over the demo data: every grant the README shows issues a token."""

import base64

import pytest


@pytest.mark.django_db
def test_client_credentials_with_demo_data(demo, client):
    basic = base64.b64encode(b"demo-service:demo-service-secret").decode()
    response = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools", "mcp:prompts"}
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
