"""System checks: configuration mistakes fail at start-up."""

from __future__ import annotations

from mcpserver import checks


def ids(messages):
    return [message.id for message in messages]


def test_default_configuration_passes():
    assert checks.check_identity(None) == []
    assert checks.check_key_source(None) == []
    assert checks.check_shared_cache(None) == []


def test_issuer_with_trailing_slash_and_relative_resource(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "ISSUER": "http://x/", "RESOURCE_URL": "/mcp"}
    assert ids(checks.check_identity(None)) == ["mcpserver.E001", "mcpserver.E002"]


def test_unimportable_key_source(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_SOURCE": "nowhere.jwks"}
    assert ids(checks.check_key_source(None)) == ["mcpserver.E003"]
    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_SOURCE": "https://issuer.example/jwks.json"}
    assert checks.check_key_source(None) == []


def test_unshared_cache(settings):
    """The embedded shared state keeps its keys in a Django cache, which must be shared; Redis's do not."""
    settings.SHARED_STATE = {"BACKEND": "sharedstate.embedded.EmbeddedState", "CACHE": "default"}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(checks.check_shared_cache(None)) == ["mcpserver.W001"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert ids(checks.check_shared_cache(None)) == ["mcpserver.E004"]
    settings.SHARED_STATE = {"BACKEND": "sharedstate.redis.RedisState", "LOCATION": "redis://127.0.0.1:6379/0"}
    assert checks.check_shared_cache(None) == []


def test_resource_url_elsewhere_than_mcp_warns(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "RESOURCE_URL": "https://mcp.example/api/tools"}
    assert ids(checks.check_identity(None)) == ["mcpserver.W002"]


def test_token_exchange_credentials_go_together(settings):
    assert checks.check_token_exchange(None) == []
    settings.MCPSERVER = {**settings.MCPSERVER, "TOKEN_EXCHANGE_CLIENT_ID": "mcp-gateway"}
    assert ids(checks.check_token_exchange(None)) == ["mcpserver.E010"]
    settings.MCPSERVER = {**settings.MCPSERVER, "TOKEN_EXCHANGE_CLIENT_SECRET": "s"}
    assert checks.check_token_exchange(None) == []
    settings.MCPSERVER = {**settings.MCPSERVER, "TOKEN_EXCHANGE_ENDPOINT": "/oauth/token/"}
    assert ids(checks.check_token_exchange(None)) == ["mcpserver.E010"]
