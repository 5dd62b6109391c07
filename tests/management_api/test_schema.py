"""The OpenAPI document and its Swagger UI: public, complete, and served from this server alone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

SECRETS = {"password", "private_key", "token", "token_checksum"}


@pytest.fixture
def schema(wsgi_client) -> dict:
    response = wsgi_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_with_the_bearer_scheme(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        **schema["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer",
    }  # fmt: skip
    assert all(path.startswith("/api/v1/") for path in schema["paths"])


def test_every_operation_documents_its_refusals(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403", "404", "429"} <= set(operation["responses"]), (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], (method, path)


def test_no_response_shows_a_secret(schema):
    """Only a new client's answer and a rotation's carry a secret, only a new initial access token's
    answer its value; nothing carries a hash or a token."""
    for name, component in schema["components"]["schemas"].items():
        fields = set(component.get("properties", {}))
        readable = {field for field in fields if not component["properties"][field].get("writeOnly")}
        assert not SECRETS & readable, name
        if "client_secret" in fields:
            assert name in {"NewClient", "Secret"}, name
        if "initial_access_token" in fields:
            assert name == "NewInitialAccessToken", name


def test_the_swagger_ui_is_served_from_our_static_files(wsgi_client):
    page = wsgi_client.get("/api/docs/")
    assert page.status_code == 200
    assert b"/api/schema/" in page.content
    assert b"cdn.jsdelivr.net" not in page.content and b"swagger-ui" in page.content


def test_the_deploy_check_finds_nothing_to_say_about_the_schema():
    """drf-spectacular generates the document under ``check --deploy``: no warning, no error."""
    from drf_spectacular.checks import schema_check

    assert schema_check(None) == []
