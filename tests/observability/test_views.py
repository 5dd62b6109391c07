import pytest

from observability import probes
from tests.helpers import UNREACHABLE_STATE


def test_health_answers_without_the_database(client):
    # No db fixture: pytest-django refuses any database access, so this proves the view does none.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert client.head("/health").status_code == 200
    assert client.post("/health").status_code == 403  # CSRF refuses an unsafe method before the view


def test_ready_checks_the_database_and_the_cache(client, db):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_ready_is_503_naming_the_cache_when_it_is_unreachable(client, db, settings, caplog):
    """The shared state's probe keeps the name ``cache``."""
    settings.SHARED_STATE = UNREACHABLE_STATE
    response = client.get("/ready")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "failed"},
        "failed": ["cache"],
    }
    assert "Connection" not in response.content.decode()  # the reason goes to the log only
    assert any("Readiness probe cache failed" in r.getMessage() for r in caplog.records)


def test_a_failing_probe_is_reported_by_name():
    def broken():
        raise OSError("connection refused")

    assert probes.run({"database": broken, "cache": lambda: None}) == {"database": False, "cache": True}


def test_ready_reports_a_database_outage(client, monkeypatch):
    def unreachable():
        raise OSError("could not connect to server")

    monkeypatch.setitem(probes.PROBES, "database", unreachable)
    monkeypatch.setitem(probes.PROBES, "cache", lambda: None)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


def test_probes_are_exempt_from_the_https_redirect(settings):
    from tests.wsgiclient import WsgiClient

    settings.SECURE_SSL_REDIRECT = True
    client = WsgiClient.loaded_now()  # SecurityMiddleware reads the setting when it is loaded
    assert client.get("/health").status_code == 200
    assert client.get("/.well-known/jwks.json").status_code == 301


@pytest.mark.parametrize(
    ("remote", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("::ffff:127.0.0.1", {}, 200),
        ("10.1.2.3", {}, 403),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 403),  # came through the proxy
        ("127.0.0.1", {"HTTP_FORWARDED": "for=203.0.113.9"}, 403),
        ("", {}, 403),
    ],
)
def test_metrics_allow_list(client, remote, headers, status):
    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"].startswith("text/plain")
        assert b"http_requests_total" in response.content


def test_metrics_allow_list_from_settings(client, settings):
    settings.OBSERVABILITY = {**settings.OBSERVABILITY, "METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"]}
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
