"""The admin's session for the browsable API: staff whose roles grant the scope, with CSRF on writes."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(wsgi_client, people):
    def sign_in(who: str):
        wsgi_client.force_login(people[who])
        return wsgi_client

    return sign_in


def csrf_token(client) -> str:
    client.get("/api/v1/scopes/", HTTP_ACCEPT="text/html")  # the browsable API's forms set the cookie
    return client.cookies["csrftoken"].value


def test_a_staff_user_with_the_admin_role_browses_the_api(signed_in):
    client = signed_in("root")
    assert client.get("/api/v1/users/").status_code == 200
    page = client.get("/api/v1/users/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"<html" in page.content and b"root" in page.content


def test_session_writes_need_the_csrf_token(signed_in):
    client = signed_in("root")
    body = json.dumps({"name": "notes:read", "description": "Read notes"})
    refused = client.post("/api/v1/scopes/", body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = csrf_token(client)
    made = client.post("/api/v1/scopes/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert made.status_code == 201, made.content


def test_a_session_reads_and_writes_only_as_far_as_the_users_roles_go(signed_in):
    client = signed_in("reader")  # staff; roles grant admin:read only
    assert client.get("/api/v1/users/").status_code == 200
    body = json.dumps({"name": "x:y", "description": "x"})
    response = client.post(
        "/api/v1/scopes/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf_token(client)
    )
    assert response.status_code == 403
    assert "admin:write" in response.json()["detail"]


def test_a_session_user_who_is_not_staff_is_refused(signed_in, people, roles):
    people["user"].roles.add(roles["writer"])
    assert signed_in("user").get("/api/v1/users/").status_code == 403
