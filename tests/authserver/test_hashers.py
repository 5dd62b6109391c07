"""The fast salted hasher for generated client secrets, and that user passwords do not use it."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password

from authserver.hashers import ClientSecretHasher


def test_encode_and_verify():
    hasher = ClientSecretHasher()
    encoded = hasher.encode("s3cret-value", "somesalt")
    assert encoded.startswith("client_secret_sha256$somesalt$")
    assert hasher.verify("s3cret-value", encoded)
    assert not hasher.verify("s3cret-valuf", encoded)


def test_registered_under_its_algorithm_name():
    encoded = make_password("long-random-secret", hasher="client_secret_sha256")
    assert identify_hasher(encoded).algorithm == "client_secret_sha256"
    assert check_password("long-random-secret", encoded)
    assert not check_password("other", encoded)


def test_salts_differ():
    assert make_password("x", hasher="client_secret_sha256") != make_password(
        "x", hasher="client_secret_sha256"
    )


def test_safe_summary_masks_the_hash():
    encoded = ClientSecretHasher().encode("s3cret", "abcdefgh12345")
    summary = ClientSecretHasher().safe_summary(encoded)
    assert summary["algorithm"] == "client_secret_sha256"
    assert encoded.split("$")[2] not in summary["hash"]


def test_user_passwords_keep_a_slow_hasher(settings):
    # tests/conftest.py puts MD5 first for speed; the product's own first hasher is PBKDF2
    assert "PBKDF2" in [h for h in settings.PASSWORD_HASHERS if "MD5" not in h][0]
    assert get_hasher("client_secret_sha256").algorithm == "client_secret_sha256"


def test_client_secrets_are_stored_with_it(world):
    application = world.clients["service"].application
    application.refresh_from_db()
    assert identify_hasher(application.client_secret).algorithm == "client_secret_sha256"
