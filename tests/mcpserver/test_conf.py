"""Settings are read once per process and forgotten when Django says they changed."""

from __future__ import annotations

from django.test import override_settings

from mcpserver import conf
from observability import conf as observability_conf


def test_a_changed_namespace_is_read_again(settings):
    assert conf.get("PAGE_SIZE") == settings.MCPSERVER.get("PAGE_SIZE", conf.DEFAULTS["PAGE_SIZE"])
    with override_settings(MCPSERVER={**settings.MCPSERVER, "PAGE_SIZE": 3}):
        assert conf.get("PAGE_SIZE") == 3
    assert conf.get("PAGE_SIZE") != 3


def test_the_revocation_prefix_follows_its_setting(settings):
    base = {key: value for key, value in settings.MCPSERVER.items() if key != "REVOCATION_PREFIX"}
    with override_settings(MCPSERVER=base, TOKEN_REVOCATION_PREFIX="elsewhere:"):
        assert conf.revocation_prefix() == "elsewhere:"
    assert conf.revocation_prefix() == settings.MCPSERVER.get("REVOCATION_PREFIX", settings.TOKEN_REVOCATION_PREFIX)


def test_observability_settings_are_read_again(settings):
    with override_settings(OBSERVABILITY={"ACCESS_LOG": False}):
        assert observability_conf.get("ACCESS_LOG") is False
        assert observability_conf.get("REQUEST_ID_HEADER") == "X-Request-ID"
    assert observability_conf.get("ACCESS_LOG") == settings.OBSERVABILITY.get("ACCESS_LOG", True)
