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


def test_unknown_registration_policy_is_an_error(settings):
    assert checks.check_registration_policy(None) == []
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_POLICY": "opne"}
    assert _ids(checks.check_registration_policy(None)) == {"authserver.E003"}


def test_an_unknown_policy_registers_nobody():
    """The settings map an unknown DCR_POLICY to the closed permission class (E003 says why)."""
    import subprocess
    import sys

    code = "from config import settings as s; print(s.OAUTH2_PROVIDER['DCR_REGISTRATION_PERMISSION_CLASSES'])"
    env = {"DCR_POLICY": "opne", "DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "ClosedRegistration" in out


def test_cimd_without_allowed_hosts_warns(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": True, "CIMD_ALLOWED_HOSTS": []}
    assert _ids(checks.check_cimd_allow_list(None)) == {"authserver.W002"}
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ALLOWED_HOSTS": ["vscode.dev"]}
    assert checks.check_cimd_allow_list(None) == []


def test_deploy_check_warns_while_demo_credentials_are_published(demo):
    """``check --deploy`` names every demo account and client still on its README credentials."""
    from io import StringIO

    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    from authserver.models import User

    found = checks.check_demo_credentials(None)
    assert _ids(found) == {"authserver.W010"}
    for name in ["'alice'", "'admin'", "'demo-service'"]:
        assert name in found[0].msg
    out = StringIO()
    call_command("check", deploy=True, stdout=out, stderr=out, fail_level="CRITICAL")
    assert "authserver.W010" in out.getvalue()

    for user in User.objects.all():
        user.set_password(f"{user.username}-changed-by-an-admin")
        user.save()
    service = get_application_model().objects.get(client_id="demo-service")
    service.client_secret = "a-rotated-service-secret"
    service.save()
    assert checks.check_demo_credentials(None) == []


def test_demo_credentials_check_skips_an_unmigrated_database(monkeypatch):
    """Without tables (``check`` before ``migrate``) there is nothing to warn about, and no crash."""
    from django.db import DatabaseError

    from authserver import demo

    def unreachable():
        raise DatabaseError("no such table")

    monkeypatch.setattr(demo, "published_credentials_in_use", unreachable)
    assert checks.check_demo_credentials(None) == []


def test_the_refresh_grace_window_needs_our_validator_and_stays_short(settings):
    def provider(**values):
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, **values}

    assert checks.check_refresh_grace(None) == []  # the default: 5 s through authserver.validators
    provider(OAUTH2_VALIDATOR_CLASS="oauth2_provider.oauth2_validators.OAuth2Validator")
    assert _ids(checks.check_refresh_grace(None)) == {"authserver.E021"}
    provider(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=0)
    assert checks.check_refresh_grace(None) == []
    provider(OAUTH2_VALIDATOR_CLASS="authserver.validators.OAuth2Validator")
    provider(REFRESH_TOKEN_GRACE_PERIOD_SECONDS=300)
    assert _ids(checks.check_refresh_grace(None)) == {"authserver.W021"}


def test_dots_check_against_a_grace_window_with_hashed_storage_is_silenced_for_ours(settings):
    from oauth2_provider.settings import oauth2_settings

    assert oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE
    assert oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS > 0
    assert "oauth2_provider.E001" in settings.SILENCED_SYSTEM_CHECKS
