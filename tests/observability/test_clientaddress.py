"""The client's address behind trusted proxies, and the /64 an IPv6 caller is counted by."""

from __future__ import annotations

import logging

import pytest

from observability import clientaddress

PROXY = "10.0.0.2"


@pytest.fixture
def trust(settings):
    def set_trusted(*entries: str) -> None:
        settings.OBSERVABILITY = {**settings.OBSERVABILITY, "TRUSTED_PROXIES": list(entries)}

    return set_trusted


def resolve(remote: str, forwarded: str | None = None) -> str:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return clientaddress.resolve(meta)


def test_without_trusted_proxies_the_header_is_ignored(trust):
    trust()
    assert resolve(PROXY, "203.0.113.9") == PROXY


def test_the_header_of_an_untrusted_peer_is_ignored(trust):
    trust("10.0.0.0/8")
    assert resolve("198.51.100.1", "203.0.113.9") == "198.51.100.1"


def test_behind_a_trusted_proxy_the_forwarded_client_counts(trust):
    trust(PROXY)
    assert resolve(PROXY, "203.0.113.9") == "203.0.113.9"


def test_a_spoofed_entry_left_of_the_real_client_is_ignored(trust):
    """nginx appends the address it saw; whatever the client sent itself stands to its left."""
    trust(PROXY)
    assert resolve(PROXY, "1.2.3.4, 203.0.113.9") == "203.0.113.9"


def test_every_trusted_hop_is_skipped(trust):
    trust("10.0.0.0/8", "192.168.0.0/16")
    assert resolve(PROXY, "1.2.3.4, 203.0.113.9, 192.168.1.1, 10.9.9.9") == "203.0.113.9"


def test_when_every_hop_is_trusted_the_leftmost_counts(trust):
    trust("10.0.0.0/8")
    assert resolve(PROXY, "10.1.1.1, 10.2.2.2") == "10.1.1.1"


@pytest.mark.parametrize("forwarded", ["", "   ", "not-an-address", "203.0.113.9, junk"])
def test_a_malformed_or_empty_header_never_yields_junk(trust, forwarded):
    trust(PROXY)
    got = resolve(PROXY, forwarded)
    assert got in (PROXY, "203.0.113.9")
    assert resolve(PROXY, "junk, 203.0.113.9") == "203.0.113.9"


def test_ipv6_and_mapped_addresses(trust):
    trust("::1", "10.0.0.0/8")
    assert resolve("::1", "2001:db8::1") == "2001:db8::1"
    assert resolve("::ffff:10.0.0.2", "203.0.113.9") == "203.0.113.9"


def test_buckets_ipv4_per_address_ipv6_per_64():
    assert clientaddress.bucket("203.0.113.9") == "203.0.113.9"
    assert clientaddress.bucket("2001:db8:1:2:aaaa::1") == clientaddress.bucket("2001:db8:1:2:ffff::9")
    assert clientaddress.bucket("2001:db8:1:2::1") != clientaddress.bucket("2001:db8:1:3::1")
    assert clientaddress.bucket("::ffff:203.0.113.9") == "203.0.113.9"
    assert clientaddress.bucket("") == ""


def test_the_access_line_names_the_forwarded_client(client, caplog, trust):
    trust("127.0.0.1")
    caplog.set_level(logging.INFO, logger="observability.access")
    client.get("/health", HTTP_X_FORWARDED_FOR="203.0.113.9")
    (line,) = [r for r in caplog.records if r.name == "observability.access"]
    assert line.client == "203.0.113.9"


def test_the_access_line_ignores_the_header_from_an_untrusted_peer(client, caplog, trust):
    trust()
    caplog.set_level(logging.INFO, logger="observability.access")
    client.get("/health", HTTP_X_FORWARDED_FOR="203.0.113.9")
    (line,) = [r for r in caplog.records if r.name == "observability.access"]
    assert line.client == "127.0.0.1"


def test_metrics_still_refuse_proxied_requests_from_a_trusted_proxy(client, trust):
    trust("127.0.0.1")
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403
    assert client.get("/metrics").status_code == 200


def test_a_malformed_setting_fails_the_system_check(trust):
    from observability import checks

    trust("10.0.0.0/8", "not-a-network")
    (error,) = checks.check_trusted_proxies(None)
    assert error.id == "observability.E001" and "not-a-network" in error.msg
    trust("10.0.0.0/8", "::1")
    assert checks.check_trusted_proxies(None) == []


def test_the_address_is_settled_before_any_other_middleware_reads_it():
    """Every path, /mcp included, goes through this one list (config.middleware passes only browser-page
    middleware by on /mcp)."""
    from django.conf import settings

    assert settings.MIDDLEWARE[0] == "observability.middleware.ObservabilityMiddleware"
