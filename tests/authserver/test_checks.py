"""System checks for the issuer and resource configuration."""

from __future__ import annotations

from authserver import checks


def _ids(results) -> set[str]:
    return {result.id for result in results}


def test_default_configuration_passes(settings):
    assert checks.check_issuer_and_resources(None) == []


def test_issuer_with_trailing_slash_is_an_error(settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ISSUER": "https://auth.example.test/"}
    assert _ids(checks.check_issuer_and_resources(None)) == {"authserver.E001"}


def test_issuer_must_be_absolute_http(settings):
    for issuer in ["auth.example.test", "ftp://auth.example.test", "https://auth.example.test?x=1"]:
        settings.AUTHSERVER = {**settings.AUTHSERVER, "ISSUER": issuer}
        assert "authserver.E001" in _ids(checks.check_issuer_and_resources(None)), issuer


def test_default_resource_must_be_allowed(settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ALLOWED_RESOURCES": ["https://other.example.test/mcp"]}
    assert _ids(checks.check_issuer_and_resources(None)) == {"authserver.E002"}


def test_deploy_check_wants_https(settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ISSUER": "http://auth.example.test"}
    assert _ids(checks.check_public_url_is_https(None)) == {"authserver.W001"}
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ISSUER": "https://auth.example.test"}
    assert checks.check_public_url_is_https(None) == []
