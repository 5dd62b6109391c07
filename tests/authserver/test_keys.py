"""Signing keys: RFC 7638 thumbprints, the JWKS, rotation without breaking live tokens, retirement."""

from __future__ import annotations

import types
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.utils import timezone

import sharedstate
from authserver import keys
from authserver.models import SigningKey
from sharedstate import stamps
from tests.helpers import UNREACHABLE_STATE, announce_elsewhere, wait_until_moved


def jwks(client) -> dict[str, dict]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {k["kid"]: k for k in response.json()["keys"]}


def test_thumbprint_matches_the_rfc_7638_example():
    # RFC 7638 §3.1
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCi"
            "FV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb"
            "9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls"
            "1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert keys.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ensure_key_creates_one_key_once(db):
    first = keys.ensure_key()
    assert keys.ensure_key() == first
    assert SigningKey.objects.count() == 1
    assert first.kid == keys.thumbprint(first.public_jwk)


def test_first_token_creates_a_key_when_none_exists(world, cc_token):
    assert not SigningKey.objects.exists()
    kid = jwt.get_unverified_header(cc_token()["access_token"])["kid"]
    assert SigningKey.objects.get().kid == kid


def test_jwks_before_any_token_already_publishes_the_key_that_will_sign(world, client, cc_token):
    """Verifiers cache the JWKS (max-age): an empty set fetched at start-up would refuse the first tokens."""
    published = jwks(client)
    assert len(published) == 1
    assert jwt.get_unverified_header(cc_token()["access_token"])["kid"] in published


def test_jwks_publishes_public_parts_only(db, client):
    key = keys.ensure_key()
    published = jwks(client)
    assert set(published) == {key.kid}
    jwk = published[key.kid]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_jwks_is_cacheable_and_cors_open(db, client):
    keys.ensure_key()
    response = client.get("/.well-known/jwks.json")
    assert "max-age" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_rotate_makes_a_new_kid_sign_and_old_tokens_keep_verifying(world, cc_token, decode, client):
    old_token = cc_token()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_key = keys.rotate()
    assert new_key.kid != old_kid
    new_token = cc_token()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid

    assert set(jwks(client)) == {old_kid, new_key.kid}
    assert decode(old_token)["jti"] != decode(new_token)["jti"]
    assert SigningKey.objects.get(kid=old_kid).retired_at is not None
    assert SigningKey.objects.get(kid=new_key.kid).retired_at is None


def test_rotate_signing_key_command(world, cc_token, decode, capsys):
    old_token = cc_token()["access_token"]
    call_command("rotate_signing_key")
    printed = capsys.readouterr().out.strip()
    assert printed == SigningKey.objects.current().kid
    new_token = cc_token()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == printed
    assert jwt.get_unverified_header(old_token)["kid"] != printed
    decode(old_token)
    decode(new_token)


def _rotate_as_another_process(announce: bool = True) -> SigningKey:
    """What a rotation elsewhere looks like from here: the rows change without a signal in this
    process (``update`` and ``bulk_create``), and the change is announced on the feed (unless
    ``announce`` is false: there is no feed to announce it on)."""
    old = SigningKey.objects.current()
    until = timezone.now() + timedelta(seconds=keys.retirement_window())
    SigningKey.objects.filter(pk=old.pk).update(retired_at=timezone.now(), verify_until=until)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = keys._public_jwk(private_key)
    (newer,) = SigningKey.objects.bulk_create([SigningKey(kid=jwk["kid"], private_key=pem, public_jwk=jwk)])
    if announce:
        announce_elsewhere(keys.TOPIC)
    return newer


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_a_rotation_in_another_process_signs_from_the_next_token_on(world, cc_token, settings):
    """No recheck interval to wait for (an hour of it here): the announcement is enough."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "SIGNING_KEY_RECHECK_SECONDS": 3600}
    old_kid = _kid(cc_token()["access_token"])
    assert _kid(cc_token()["access_token"]) == old_kid
    newer = _rotate_as_another_process()
    assert _kid(cc_token()["access_token"]) == newer.kid


def test_without_a_feed_the_current_key_is_read_again_after_the_recheck(world, settings, monkeypatch):
    """No change feed (Redis unreachable): a rotation elsewhere is seen once the recheck is due."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "SIGNING_KEY_RECHECK_SECONDS": 5}
    settings.SHARED_STATE = UNREACHABLE_STATE
    now = [1000.0]
    monkeypatch.setattr(stamps, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    old_kid = keys.current_signing_key()[0]
    newer = _rotate_as_another_process(announce=False)
    now[0] += 4.9
    assert keys.current_signing_key()[0] == old_kid
    now[0] += 0.2
    assert keys.current_signing_key()[0] == newer.kid


def test_without_a_feed_tokens_signed_before_the_recheck_still_verify(world, cc_token, client, settings):
    """Within the recheck interval the retired key still signs, and it is still published."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "SIGNING_KEY_RECHECK_SECONDS": 3600}
    settings.SHARED_STATE = UNREACHABLE_STATE
    old_kid = _kid(cc_token()["access_token"])
    newer = _rotate_as_another_process(announce=False)
    token = cc_token()["access_token"]
    assert _kid(token) == old_kid
    assert set(jwks(client)) == {old_kid, newer.kid}


def test_a_rotation_is_announced_at_once_and_again_when_it_commits(db, django_capture_on_commit_callbacks):
    """Another process that read the current key between the two saw the rows before the commit."""
    keys.ensure_key()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        before = sharedstate.version(keys.TOPIC)
        keys.rotate()
        assert wait_until_moved(keys.TOPIC, before)
        at_rotation = sharedstate.version(keys.TOPIC)
    for callback in callbacks:
        callback()
    assert wait_until_moved(keys.TOPIC, at_rotation)


def test_a_rotation_that_cannot_be_announced_is_not_made(db, settings):
    """A process with a working feed that never heard of it would sign with the retired key past its
    retirement window: without the announcement the rotation fails as a whole (an outage, 503)."""
    from observability.outages import OUTAGES

    current = keys.ensure_key()
    settings.SHARED_STATE = UNREACHABLE_STATE
    with pytest.raises(OUTAGES):
        keys.rotate()
    assert list(SigningKey.objects.all()) == [current]
    assert SigningKey.objects.current() == current


def test_a_retired_key_verifies_for_the_default_lifetime_not_a_fixed_day(world, cc_token, client, settings):
    """No live token outlives the default lifetime: the old key leaves the JWKS soon after it."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "MAX_TOKEN_LIFETIME": 24 * 3600}
    old_kid = jwt.get_unverified_header(cc_token()["access_token"])["kid"]
    before = timezone.now()
    new_key = keys.rotate()
    old = SigningKey.objects.get(kid=old_kid)
    window = (old.verify_until - before).total_seconds()
    assert settings.ACCESS_TOKEN_LIFETIME <= window <= settings.ACCESS_TOKEN_LIFETIME + 120
    assert set(jwks(client)) == {old_kid, new_key.kid}

    SigningKey.objects.filter(kid=old_kid).update(verify_until=timezone.now() - timedelta(seconds=1))
    assert set(jwks(client)) == {new_key.kid}


def test_a_longer_lived_token_keeps_its_key_verifying_until_it_expires(world, client):
    from authserver.tokens import issue_for_user

    token = issue_for_user(world.users["alice"], world.clients["backend"].application, ["mcp:read"], 7200)
    old_kid = jwt.get_unverified_header(token)["kid"]
    before = timezone.now()
    keys.rotate()
    window = (SigningKey.objects.get(kid=old_kid).verify_until - before).total_seconds()
    assert 7200 <= window <= 7200 + 120


def test_a_registration_access_token_does_not_stretch_the_window(world, client, settings):
    body = {"redirect_uris": ["http://127.0.0.1:33418/callback"], "token_endpoint_auth_method": "none"}
    assert client.post("/oauth/register/", body, content_type="application/json").status_code == 201
    old = keys.ensure_key()
    before = timezone.now()
    keys.rotate()
    window = (SigningKey.objects.get(pk=old.pk).verify_until - before).total_seconds()
    assert window <= settings.ACCESS_TOKEN_LIFETIME + 120


def test_max_token_lifetime_covers_the_longest_token(db, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "MAX_TOKEN_LIFETIME": 60}
    assert keys.max_token_lifetime() == settings.ACCESS_TOKEN_LIFETIME  # never below the default lifetime
    settings.AUTHSERVER = {**settings.AUTHSERVER, "MAX_TOKEN_LIFETIME": 7200}
    assert keys.max_token_lifetime() == 7200


def test_compromised_rotation_withdraws_every_older_key_at_once(world, cc_token, client):
    first = keys.ensure_key()
    second = keys.rotate()  # first: retired normally, still verifying
    assert set(jwks(client)) == {first.kid, second.kid}
    third = keys.rotate(compromised=True)
    assert set(jwks(client)) == {third.kid}
    assert SigningKey.objects.get(pk=first.pk).compromised_at is not None
    assert SigningKey.objects.get(pk=second.pk).compromised_at is not None
    assert SigningKey.objects.current() == third
    assert jwt.get_unverified_header(cc_token()["access_token"])["kid"] == third.kid


def test_rotate_signing_key_compromised_command(world, client, capsys):
    old = keys.ensure_key()
    call_command("rotate_signing_key", "--compromised")
    printed = capsys.readouterr().out.strip()
    assert printed == SigningKey.objects.current().kid != old.kid
    assert set(jwks(client)) == {printed}


def test_retire_compromised_refuses_the_current_key(db, client):
    current = keys.ensure_key()
    with pytest.raises(keys.RetirementRefused):
        keys.retire_compromised([current])
    assert SigningKey.objects.get(pk=current.pk).compromised_at is None
    assert set(jwks(client)) == {current.kid}


def test_retire_compromised_withdraws_a_retired_key(db, client):
    old = keys.ensure_key()
    current = keys.rotate()
    assert keys.retire_compromised(SigningKey.objects.filter(pk=old.pk)) == 1
    assert set(jwks(client)) == {current.kid}


def test_private_keys_are_parsed_once_per_process(db, monkeypatch):
    key = keys.ensure_key()
    keys._private_keys.clear()
    calls = []
    real = keys.serialization.load_pem_private_key
    monkeypatch.setattr(
        keys.serialization, "load_pem_private_key", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    for _ in range(3):
        kid, _private = keys.current_signing_key()
    assert kid == key.kid
    assert len(calls) == 1


def test_jwks_lists_newest_first(db, client):
    keys.ensure_key()
    keys.rotate()
    current = keys.rotate()
    published = client.get("/.well-known/jwks.json").json()["keys"]
    assert published[0]["kid"] == current.kid
    assert len(published) == 3
