"""Identity providers (ID-JAG issuers) and federated identities through the management API: what is
stored, what is refused, who may write, and the admin's history of each change."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry

from authserver.clients import create_client
from authserver.models import FederatedIdentity, IdentityProvider

pytestmark = pytest.mark.django_db

PROVIDER = {
    "name": "Acme",
    "issuer": "https://idp.acme.example",
    "jwks_uri": "https://idp.acme.example/keys",
    "subject_mapping": "email",
    "create_users": True,
}


@pytest.fixture
def app(roles):
    return create_client("Enterprise app", "authorization-code", [], redirect_uris=["https://app.example/cb"])


def test_a_provider_is_created_with_its_clients_and_roles_and_audited(api, app):
    response = api.post(
        "identity-providers/", {**PROVIDER, "clients": [app.client_id], "new_user_roles": ["user"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["clients"] == [app.client_id] and body["new_user_roles"] == ["user"] and body["enabled"] is True
    )
    provider = IdentityProvider.objects.get(name="Acme")
    assert list(provider.clients.values_list("client_id", flat=True)) == [app.client_id]
    entry = LogEntry.objects.get(object_id=str(provider.pk), content_type__model="identityprovider")
    assert (entry.action_flag, entry.user.username) == (ADDITION, "root")
    assert api.get(f"identity-providers/?client_id={app.client_id}").json()["count"] == 1


def test_disabling_and_deleting_a_provider_are_audited(api):
    provider = IdentityProvider.objects.create(
        name="Acme", issuer=PROVIDER["issuer"], jwks_uri=PROVIDER["jwks_uri"]
    )
    assert api.patch(f"identity-providers/{provider.pk}/", {"enabled": False}).status_code == 200
    provider.refresh_from_db()
    assert provider.enabled is False
    assert api.delete(f"identity-providers/{provider.pk}/").status_code == 204
    flags = LogEntry.objects.filter(object_id=str(provider.pk), content_type__model="identityprovider")
    assert sorted(flags.values_list("action_flag", flat=True)) == [CHANGE, DELETION]


@pytest.mark.parametrize(
    "change",
    [
        {"issuer": "http://idp.acme.example"},  # not https
        {"jwks_uri": "http://idp.acme.example/keys"},
        {"jwks_uri": "not a url"},
        {"subject_mapping": "username"},
        {"clients": ["no-such-client"]},
        {"clients": ["bad\x00id"]},
        {"new_user_roles": ["no-such-role"]},
        {"name": ""},
    ],
)
def test_invalid_providers_are_refused_with_field_errors(api, change):
    response = api.post("identity-providers/", {**PROVIDER, **change})
    assert response.status_code == 400, response.content
    assert set(response.json()) == set(change)
    assert not IdentityProvider.objects.exists()


def test_a_second_provider_with_the_same_issuer_is_refused(api):
    assert api.post("identity-providers/", PROVIDER).status_code == 201
    assert api.post("identity-providers/", {**PROVIDER, "name": "Acme 2"}).status_code == 400


def test_subjects_are_linked_to_users(api, people):
    provider = IdentityProvider.objects.create(
        name="Acme", issuer=PROVIDER["issuer"], jwks_uri=PROVIDER["jwks_uri"]
    )
    body = {"provider": provider.pk, "subject": "U0001", "user": people["user"].pk}
    response = api.post("federated-identities/", body)
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "user"
    assert FederatedIdentity.objects.get(subject="U0001").user == people["user"]
    assert api.post("federated-identities/", body).status_code == 400  # one user per subject
    assert api.get("federated-identities/?username=user").json()["count"] == 1


def test_reading_needs_admin_read_and_writing_admin_write(api, tokens):
    reader = api.as_(tokens["reader"])
    assert reader.get("identity-providers/").status_code == 200
    assert reader.post("identity-providers/", PROVIDER).status_code == 403
    assert api.as_(tokens["user"]).get("identity-providers/").status_code == 403
    assert api.as_(None).get("federated-identities/").status_code == 401
