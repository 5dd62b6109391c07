import json
import logging

ACCESS = "observability.access"


def access_lines(caplog):
    return [r for r in caplog.records if r.name == ACCESS]


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/health"), client.get("/health")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_incoming_request_id_is_echoed_and_logged(client, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    response = client.get("/health", HTTP_X_REQUEST_ID="lb-1234.abcd")
    assert response["X-Request-ID"] == "lb-1234.abcd"
    (line,) = access_lines(caplog)
    assert line.status == 200 and line.route == "health" and line.method == "GET"
    assert line.duration_ms >= 0


def test_an_odd_incoming_request_id_is_replaced(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert response["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(response["X-Request-ID"]) == 32


def test_the_access_line_never_holds_a_query_string_or_credentials(client, caplog, db):
    caplog.set_level(logging.INFO, logger=ACCESS)
    client.get("/ready?access_token=SECRET-QUERY", HTTP_AUTHORIZATION="Bearer SECRET-HEADER")
    (line,) = access_lines(caplog)
    from observability.logs import JsonFormatter

    text = JsonFormatter().format(line)
    assert "SECRET" not in text
    assert json.loads(text)["path"] == "/ready"


def test_requests_are_counted_by_route_method_and_status(client, metric):
    labels = {"route": "health", "method": "GET", "status": "200"}
    before = metric("http_requests_total", **labels)
    latency_before = metric("http_request_duration_seconds_count", route="health")
    client.get("/health")
    client.get("/health")
    assert metric("http_requests_total", **labels) == before + 2
    assert metric("http_request_duration_seconds_count", route="health") == latency_before + 2


def test_unresolved_paths_and_odd_methods_share_one_label(client, metric):
    before = metric("http_requests_total", route="<unmatched>", method="GET", status="404")
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    assert metric("http_requests_total", route="<unmatched>", method="GET", status="404") == before + 2
    odd = metric("http_requests_total", route="health", method="OTHER", status="403")
    assert client.generic("BREW", "/health").status_code == 403  # CSRF: not a safe method
    assert metric("http_requests_total", route="health", method="OTHER", status="403") == odd + 1


def test_access_log_can_be_switched_off(client, caplog, settings):
    settings.OBSERVABILITY = {**settings.OBSERVABILITY, "ACCESS_LOG": False}
    caplog.set_level(logging.INFO, logger=ACCESS)
    client.get("/health")
    assert access_lines(caplog) == []


def test_an_access_record_has_every_attribute_makerecord_would_give_it():
    """What formatters read (``%(threadName)s``, ``%(module)s``, ``%(process)d``...) is there, the
    same; only the time differs, by the moment between the two records."""
    import logging
    import threading

    from observability import middleware

    args = ("POST", "/mcp", 200)
    extra = {"method": "POST", "path": "/mcp", "route": "mcp", "status": 200, "duration_ms": 1.5}
    expected = middleware.access_log.makeRecord(
        middleware.access_log.name,
        logging.INFO,
        middleware.__file__,
        0,
        "%s %s %s",
        args,
        None,
        extra=dict(extra),
    )
    made = {}
    thread = threading.Thread(target=lambda: made.update(record=middleware.access_records.make(args, extra)))
    thread.start()
    thread.join()
    record = made["record"]
    timing = {"created", "msecs", "relativeCreated"}
    assert vars(record).keys() == vars(expected).keys()
    assert {k: v for k, v in vars(record).items() if k not in timing | {"thread", "threadName"}} == {
        k: v for k, v in vars(expected).items() if k not in timing | {"thread", "threadName"}
    }
    assert record.thread == thread.ident and record.threadName == thread.name != expected.threadName
    assert 0 <= record.created - expected.created < 5
    assert (
        abs((record.relativeCreated - expected.relativeCreated) - (record.created - expected.created) * 1000)
        < 1
    )
    assert record.getMessage() == "POST /mcp 200" and type(record) is logging.LogRecord


def test_a_custom_record_factory_makes_the_access_records():
    import logging

    from observability import middleware

    class Marked(logging.LogRecord):
        pass

    logging.setLogRecordFactory(Marked)
    try:
        record = middleware.access_records.make(("GET", "/", 200), {"status": 200})
    finally:
        logging.setLogRecordFactory(logging.LogRecord)
    assert type(record) is Marked and record.status == 200 and record.getMessage() == "GET / 200"
