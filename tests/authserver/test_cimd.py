"""Client ID Metadata Documents: fetched over https from allowed hosts only, refused on every bad answer.

A tiny HTTPS server on 127.0.0.1 (``cimd_server``: its certificate is signed by a throw-away CA
that the test trusts through ``SSL_CERT_FILE``) serves the documents. Loopback is a private address,
so these tests run in the configuration that allows it explicitly (``CIMD_PRIVATE_HOSTS``); one
test shows the default refusing it.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import pytest
from oauth2_provider.models import get_application_model

from authserver.models import ClientPolicy

from .cimd_server import HOST, Document, DocumentServer
from .conftest import AUTHORIZE_URL, REDIRECT_URI, pkce_pair, redirect_params


@pytest.fixture(scope="module")
def document_server(tmp_path_factory):
    server = DocumentServer(tmp_path_factory.mktemp("cimd"))
    yield server
    server.close()


@pytest.fixture
def cimd_on(document_server, settings, monkeypatch):
    """CIMD on, the test host allowed and allowed to be on loopback, the test CA trusted."""
    monkeypatch.setenv("SSL_CERT_FILE", str(document_server.ca_file))
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CIMD_ENABLED": True,
        "CIMD_ALLOWED_HOSTS": [HOST, "127.0.0.1"],
        "CIMD_FETCH_TIMEOUT_SECONDS": 1,
    }
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_PRIVATE_HOSTS": [HOST]}
    document_server.documents.clear()
    document_server.requests.clear()
    return document_server


def consent_page(client, world, client_id: str):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "mcp:read mcp:tools",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return client.get(AUTHORIZE_URL + "?" + urlencode(query))


def known(client_id: str) -> bool:
    return get_application_model().objects.filter(client_id=client_id).exists()


def assert_refused(response, client_id: str, caplog=None, reason: str = "") -> None:
    assert response.status_code == 400, (response.status_code, response.get("Location"))
    assert not known(client_id)
    if caplog is not None:
        assert reason in caplog.text, caplog.text


@pytest.fixture
def reasons(caplog):
    """DOT logs why it refused a document (at INFO, which the project's logging config hides)."""
    caplog.set_level(logging.INFO, logger="oauth2_provider.cimd")
    return caplog


# --- a document that is fine ---


def test_metadata_advertises_cimd_only_when_on(world, client, cimd_on, settings):
    assert client.get("/.well-known/oauth-authorization-server").json()[
        "client_id_metadata_document_supported"
    ]
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": False}
    assert not client.get("/.well-known/oauth-authorization-server").json()[
        "client_id_metadata_document_supported"
    ]


def test_a_metadata_document_client_signs_in_with_the_default_ceiling(
    world, client, cimd_on, authorize, post_token, decode
):
    client_id = cimd_on.serve("/client.json")
    page = consent_page(client, world, client_id)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Metadata client" in html and "metadata document" in html and client_id in html
    application = get_application_model().objects.get(client_id=client_id)
    assert application.registration_source == "cimd" and application.client_type == "public"
    policy = ClientPolicy.objects.get(application=application)
    assert set(policy.scopes.values_list("name", flat=True)) == {"mcp:read", "mcp:tools"}  # as for DCR

    verifier, challenge = pkce_pair()
    response = authorize(world.users["alice"], client_id, "mcp:read mcp:tools mcp:admin", challenge)
    code = redirect_params(response)["code"]
    token = post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
        }
    ).json()
    assert token["scope"] == "mcp:read mcp:tools"
    assert decode(token["access_token"])["client_id"] == client_id


def test_a_document_is_fetched_once_and_cached(world, client, cimd_on):
    client_id = cimd_on.serve("/cached.json")
    for _ in range(3):
        assert consent_page(client, world, client_id).status_code == 200
    assert cimd_on.requests == ["/cached.json"]


# --- refusals ---


def test_hosts_off_the_allow_list_are_never_fetched(world, client, cimd_on, settings, reasons):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ALLOWED_HOSTS": ["clients.example.test"]}
    client_id = cimd_on.serve("/off-list.json")
    assert_refused(
        consent_page(client, world, client_id), client_id, reasons, "refused by permission classes"
    )
    assert cimd_on.requests == []


def test_loopback_is_refused_unless_explicitly_allowed(world, client, cimd_on, settings, reasons):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_PRIVATE_HOSTS": []}
    client_id = cimd_on.serve("/private.json")
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "non-public address")
    assert cimd_on.requests == []  # refused on the resolved address, before connecting
    client_id = cimd_on.serve("/by-ip.json", host="127.0.0.1")  # allowed host, but not a private one
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "non-public address")
    assert cimd_on.requests == []


@pytest.mark.parametrize(
    "client_id",
    [
        "https://169.254.169.254/latest/meta-data.json",  # cloud metadata address
        "https://10.0.0.1/client.json",
        "https://[::1]/client.json",
    ],
)
def test_private_addresses_are_refused_without_a_connection(
    world, client, cimd_on, settings, client_id, reasons
):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ALLOWED_HOSTS": ["*"]}
    started = time.monotonic()
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "non-public address")
    assert time.monotonic() - started < 0.5  # no connection attempt, no timeout


@pytest.mark.parametrize(
    "path, document, reason",
    [
        ("/wrong-id.json", {"client_id": "https://elsewhere.example.test/client.json"}, "does not match"),
        ("/secret.json", {"client_secret": "s3cret"}, "must not include client_secret"),
        ("/confidential.json", {"token_endpoint_auth_method": "client_secret_basic"}, "must be public"),
        ("/no-redirects.json", {"redirect_uris": []}, "redirect_uris must be a non-empty array"),
        ("/two-grants.json", {"grant_types": ["authorization_code", "client_credentials"]}, "exactly one"),
        ("/javascript.json", {"redirect_uris": ["javascript:alert(1)"]}, "invalid client metadata"),
        ("/dpop-yes.json", {"dpop_bound_access_tokens": "yes"}, "dpop_bound_access_tokens must be a boolean"),
    ],
)
def test_bad_documents_are_refused(world, client, cimd_on, path, document, reason, reasons):
    client_id = cimd_on.serve(path, **document)
    assert_refused(consent_page(client, world, client_id), client_id, reasons, reason)


@pytest.mark.parametrize(
    "document, reason",
    [
        (Document(b"{}", status=404), "returned HTTP 404"),
        (
            Document(b"", status=302, headers={"Location": "https://localhost/elsewhere.json"}),
            "returned HTTP 302",
        ),
        (Document(b'{"client_id": "x"}', headers={"Content-Type": "text/html"}), "is not JSON"),
        (Document(b"not json", headers={"Content-Type": "application/json"}), "not valid JSON"),
        (Document(b"[1, 2, 3]"), "must be a JSON object"),
        (Document(b'{"pad": "' + b"x" * 20000 + b'"}'), "exceeds the maximum allowed size"),
        (Document(b"{}", delay=1.5), "could not fetch"),
    ],
    ids=["404", "redirect", "not-json-type", "not-json", "not-object", "too-large", "too-slow"],
)
def test_bad_answers_are_refused(world, client, cimd_on, document, reason, reasons):
    path = f"/answer-{id(document)}.json"
    cimd_on.documents[path] = document
    client_id = cimd_on.url(path)
    assert_refused(consent_page(client, world, client_id), client_id, reasons, reason)


def test_a_failure_backs_off(world, client, cimd_on):
    client_id = cimd_on.url("/later.json")
    assert_refused(consent_page(client, world, client_id), client_id)
    cimd_on.serve("/later.json")
    assert_refused(consent_page(client, world, client_id), client_id)  # not fetched again yet
    assert cimd_on.requests == ["/later.json"]


def test_an_untrusted_certificate_is_refused(world, client, cimd_on, monkeypatch, tmp_path, reasons):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
    (tmp_path / "empty.pem").write_text("")
    client_id = cimd_on.serve("/untrusted.json")
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "CERTIFICATE_VERIFY_FAILED")


def test_cimd_off_means_unknown_client(world, client, cimd_on, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": False}
    client_id = cimd_on.serve("/off.json")
    assert_refused(consent_page(client, world, client_id), client_id)
    assert cimd_on.requests == []


def test_a_plain_http_client_id_is_not_a_metadata_url(world, client, cimd_on):
    client_id = f"http://{HOST}:{cimd_on.port}/plain.json"
    assert_refused(consent_page(client, world, client_id), client_id)


# --- a metadata server cannot hold the fetching thread, and unknown URLs cannot flood ---


@pytest.mark.parametrize("drip_from", [0, 120], ids=["headers", "body"])
def test_a_dripped_answer_is_cut_off_at_the_deadline(world, client, cimd_on, drip_from, reasons):
    """CIMD_FETCH_TIMEOUT_SECONDS bounds the whole fetch, not each read: a valid document sent a byte
    at a time (each byte well within the timeout) is given up at the deadline, not read to its end."""
    client_id = cimd_on.serve("/dripped.json")
    document = cimd_on.documents["/dripped.json"]
    document.drip, document.drip_from = 0.05, drip_from  # ~15 s for the whole answer
    started = time.monotonic()
    response = consent_page(client, world, client_id)
    assert time.monotonic() - started < 1 + 1  # the 1 s deadline and a margin
    assert_refused(response, client_id, reasons, "could not fetch")


def test_fetches_beyond_the_per_process_cap_fail_fast(world, client, cimd_on, settings, reasons):
    """With every fetch slot taken, another unknown URL is refused at once and never fetched."""
    from oauth2_provider import cimd

    assert 0 < settings.OAUTH2_PROVIDER["CIMD_MAX_CONCURRENT_FETCHES"] < 3  # below a worker's 3 threads
    client_id = cimd_on.serve("/over-cap.json")
    semaphore = cimd._get_fetch_semaphore()
    slots = settings.OAUTH2_PROVIDER["CIMD_MAX_CONCURRENT_FETCHES"]
    taken = [semaphore.acquire(blocking=False) for _ in range(slots)]
    try:
        assert all(taken)
        started = time.monotonic()
        assert_refused(consent_page(client, world, client_id), client_id, reasons, "in-flight cap reached")
        assert time.monotonic() - started < 0.5
    finally:
        for _ in taken:
            semaphore.release()
    assert cimd_on.requests == []
    # Not backed off: fine once there is room.
    assert consent_page(client, world, client_id).status_code == 200


def test_metadata_document_clients_are_limited_per_address(world, client, cimd_on, settings, reasons):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_RATE_LIMIT": 2}
    first, second, third = (cimd_on.serve(f"/flood-{n}.json") for n in range(3))
    assert consent_page(client, world, first).status_code == 200
    assert consent_page(client, world, first).status_code == 200  # known now: not counted again
    assert consent_page(client, world, second).status_code == 200
    assert_refused(consent_page(client, world, third), third, reasons, "refused by permission classes")
    assert cimd_on.requests == ["/flood-0.json", "/flood-1.json"]
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": third,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    elsewhere = client.get(AUTHORIZE_URL + "?" + urlencode(query), REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 200 and known(third)


def test_a_document_with_too_many_redirect_uris_is_refused(world, client, cimd_on, settings, reasons):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_MAX_REDIRECT_URIS": 3}
    uris = [f"http://127.0.0.1:{8000 + n}/callback" for n in range(4)]
    client_id = cimd_on.serve("/many-redirects.json", redirect_uris=uris)
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "at most 3 redirect URIs")
    client_id = cimd_on.serve("/three-redirects.json", redirect_uris=[REDIRECT_URI, *uris[:2]])
    assert consent_page(client, world, client_id).status_code == 200


# --- on by default, for documents on public addresses ---


def test_on_by_default_for_any_public_host(world, client):
    from django.conf import settings as project

    assert project.OAUTH2_PROVIDER["CIMD_ENABLED"] is True
    assert project.OAUTH2_PROVIDER["CIMD_ALLOWED_HOSTS"] == ["*"]
    assert project.AUTHSERVER["CIMD_PRIVATE_HOSTS"] == []
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["client_id_metadata_document_supported"] is True


def test_by_default_a_document_on_a_private_address_is_refused(world, client, document_server, reasons):
    """The project's defaults (no test overrides): loopback is not a public address, so not fetched."""
    document_server.requests.clear()
    client_id = document_server.serve("/default-private.json")
    assert_refused(consent_page(client, world, client_id), client_id, reasons, "non-public address")
    assert document_server.requests == []


def test_the_consent_page_names_the_documents_host(world, client, cimd_on):
    client_id = cimd_on.serve("/named.json")
    html = consent_page(client, world, client_id).content.decode()
    assert f'<strong id="document-host">{HOST}:{cimd_on.port}</strong>' in html


def test_a_slow_name_lookup_is_cut_off_at_the_deadline(world, client, cimd_on, monkeypatch, reasons):
    import socket

    real = socket.getaddrinfo

    def slow(*args, **kwargs):
        time.sleep(4)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    client_id = cimd_on.serve("/slow-lookup.json")
    started = time.monotonic()
    response = consent_page(client, world, client_id)
    assert time.monotonic() - started < 1 + 1  # the 1 s deadline and a margin
    assert_refused(response, client_id, reasons, "could not resolve client_id host in time")


# --- private_key_jwt (RFC 7523 §2.2) in a metadata document ---


def test_a_document_client_signing_assertions_gets_a_token_with_one(
    world, client, cimd_on, authorize, post_token, decode
):
    from tests.assertion_signer import Signer, credentials

    signer = Signer("ES256")
    client_id = cimd_on.serve("/signing.json", token_endpoint_auth_method="private_key_jwt", jwks=signer.jwks)
    verifier, challenge = pkce_pair()
    code = redirect_params(authorize(world.users["alice"], client_id, "mcp:read", challenge))["code"]
    policy = ClientPolicy.objects.get(application__client_id=client_id)
    assert policy.signs_assertions and policy.jwks == signer.jwks
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier}  # fmt: skip
    unauthenticated = post_token({**exchange, "client_id": client_id})
    assert unauthenticated.status_code == 401, unauthenticated.content
    token = post_token({**exchange, **credentials(signer.sign(client_id))})
    assert token.status_code == 200, token.content
    assert decode(token.json()["access_token"])["client_id"] == client_id


@pytest.mark.parametrize(
    "document, reason",
    [
        ({"token_endpoint_auth_method": "private_key_jwt"}, "exactly one of jwks and jwks_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "eA"}]}},
         "symmetric"),  # fmt: skip
        ({"jwks_uri": "https://localhost/jwks.json"}, "Only a private_key_jwt client registers keys"),
    ],
)
def test_bad_signing_documents_are_refused(world, client, cimd_on, document, reason, reasons):
    client_id = cimd_on.serve("/bad-signing.json", **document)
    assert_refused(consent_page(client, world, client_id), client_id, reasons, reason)


# --- dpop_bound_access_tokens (RFC 9449 §5.2) in a metadata document ---


def test_a_document_asking_for_dpop_bound_tokens_gets_only_those(world, client, cimd_on, authorize, post_token):
    from django.conf import settings

    from tests.dpopclient import DpopKey

    client_id = cimd_on.serve("/dpop.json", dpop_bound_access_tokens=True)
    verifier, challenge = pkce_pair()
    code = redirect_params(authorize(world.users["alice"], client_id, "mcp:read", challenge))["code"]
    assert ClientPolicy.objects.get(application__client_id=client_id).dpop_bound_access_tokens
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier, "client_id": client_id}  # fmt: skip
    unproven = post_token(exchange)
    assert unproven.status_code == 400 and unproven.json()["error"] == "invalid_dpop_proof"
    proof = DpopKey().proof("POST", settings.OAUTH_ISSUER + "/oauth/token/")
    token = post_token(exchange, HTTP_DPOP=proof)
    assert token.status_code == 200, token.content
    assert token.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("document", [{}, {"dpop_bound_access_tokens": False}], ids=["absent", "false"])
def test_a_document_without_the_flag_gets_bearer_tokens_too(world, client, cimd_on, document):
    client_id = cimd_on.serve("/no-dpop.json", **document)
    assert consent_page(client, world, client_id).status_code == 200
    assert not ClientPolicy.objects.get(application__client_id=client_id).dpop_bound_access_tokens


def test_a_document_fetched_again_sets_the_flag_to_what_it_says_now(world, client, cimd_on):
    from authserver import registration

    client_id = cimd_on.serve("/changing.json", dpop_bound_access_tokens=True)
    assert consent_page(client, world, client_id).status_code == 200
    application = get_application_model().objects.get(client_id=client_id)
    policy = ClientPolicy.objects.filter(application=application)
    assert policy.get().dpop_bound_access_tokens
    registration.document_for_dot(client_id, {"client_id": client_id})  # as DOT hands on a refetched one
    registration.settle_document(application)
    assert not policy.get().dpop_bound_access_tokens
