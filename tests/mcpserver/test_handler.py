"""/mcp through config.wsgi: one Django handler and one middleware list, whose browser-page middleware
pass /mcp straight through (config.middleware)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import granian_environ, keep_test_transaction

pytestmark = pytest.mark.django_db

CALL = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "hi"}},
}


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction():
    with keep_test_transaction():
        yield


def call(
    path: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict | None = None,
    content_type="",
    application=None,
    **where,
):
    """Call config.wsgi.application (or ``application``) as the server would; return (status, headers,
    body)."""
    if application is None:
        from config.wsgi import application

    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = status, response_headers

    content_type = content_type or ("application/json" if body else "")
    chunks = application(granian_environ(method, path, body, content_type, headers, **where), start_response)
    headers = {}
    for name, value in started["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return int(started["status"].split()[0]), headers, b"".join(chunks)


def test_a_tool_call_is_answered_with_the_api_middleware_only(token):
    status, headers, body = call(
        "/mcp",
        "POST",
        json.dumps(CALL).encode(),
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    assert status == 200, body
    assert json.loads(body)["result"]["content"][0]["text"] == "hi"
    # Kept: the request id and access line, the security headers, the clickjacking header.
    assert headers["x-request-id"] and headers["x-content-type-options"] == ["nosniff"]
    assert headers["x-frame-options"] == ["DENY"]
    # Left out: nothing of a session or a CSRF cookie, nor the Vary: Cookie they add.
    assert "set-cookie" not in headers
    assert "Cookie" not in ", ".join(headers.get("vary", []))


def test_an_unauthenticated_call_still_gets_its_challenge(token):
    status, headers, _ = call("/mcp", "POST", json.dumps(CALL).encode(), {"Accept": "application/json"})
    assert status == 401
    challenge = headers["www-authenticate"][0]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge


def test_bad_input_on_the_api_handler_gets_its_own_error_not_a_500(token):
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    # A Host outside ALLOWED_HOSTS: still refused (CommonMiddleware stays in the API's list).
    status, _, _ = call("/mcp", "POST", json.dumps(CALL).encode(), auth, host="evil.example")
    assert status == 400
    # A body that is not JSON: a JSON-RPC parse error.
    status, _, body = call("/mcp", "POST", b"{not json", {**auth, "MCP-Protocol-Version": "2025-11-25"})
    assert status == 400 and json.loads(body)["error"]["code"] == -32700


def test_pages_keep_the_whole_middleware_list():
    status, headers, body = call("/accounts/login/")
    assert status == 200
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers["set-cookie"])
    # And CSRF is enforced there: a login form posted without its token is refused.
    status, _, _ = call(
        "/accounts/login/",
        "POST",
        b"username=a&password=b",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403


# --- one handler, one list: the browser-page middleware pass /mcp straight through ---

PASSED_THROUGH = {
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
}
HOOKS = ("process_view", "process_template_response", "process_exception")


def passed_through() -> dict[str, type]:
    """The middleware classes of ``MIDDLEWARE`` that skip /mcp, by the dotted path of what they extend."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from config.middleware import NotForMcp

    found = {}
    for path in settings.MIDDLEWARE:
        cls = import_string(path)
        if issubclass(cls, NotForMcp):
            (base,) = [b for b in cls.__bases__ if b is not NotForMcp]
            found[f"{base.__module__}.{base.__qualname__}"] = cls
    return found


def test_mcp_skips_the_browser_page_middleware_and_nothing_else():
    """/mcp goes without exactly these five and Django's CSRF middleware, listed inside their run; every
    other entry (request ids and access lines, security headers, host checks, clickjacking, the 503
    outage mapping) runs for it as for any path."""
    from django.conf import settings

    assert set(passed_through()) == PASSED_THROUGH
    csrf = settings.MIDDLEWARE.index("django.middleware.csrf.CsrfViewMiddleware")  # Django's own class
    assert {settings.MIDDLEWARE[csrf - 1], settings.MIDDLEWARE[csrf + 1]} <= {
        cls.__module__ + "." + cls.__qualname__ for cls in passed_through().values()
    }


def test_mcp_keeps_no_csrf_cookie_and_every_other_path_does():
    """A malformed CSRF cookie: Django's CSRF middleware answers it with a new one on any path (here
    the health probe), but /mcp, whose view is csrf_exempt, passes CSRF by and sets no cookie."""
    cookie = {"Cookie": "csrftoken=not-a-token"}
    status, headers, _ = call("/health", headers=cookie)
    assert status == 200
    assert any(value.strip().startswith("csrftoken=") for value in headers["set-cookie"])
    status, headers, _ = call(
        "/mcp", "POST", json.dumps(CALL).encode(), {**cookie, "Accept": "application/json"}
    )
    assert status == 401 and "set-cookie" not in headers


def build_chain(*steps):
    """The chain Django's handler builds from ``steps`` (middleware classes, outermost first) and a view
    answering ``answer``: each next step in the handler's exception wrapper. Returns (outermost step,
    the view's wrapper, answer)."""
    from django.core.handlers.exception import convert_exception_to_response
    from django.http import HttpResponse

    answer = HttpResponse("view")
    view = convert_exception_to_response(lambda request: answer)
    chain = view
    for step in reversed(steps):
        chain = convert_exception_to_response(step(chain))
    return chain.__wrapped__, view, answer


def test_csrf_in_a_run_is_passed_by_on_mcp_and_runs_elsewhere(rf):
    from django.middleware.csrf import CsrfViewMiddleware

    classes = passed_through()
    session = classes["django.contrib.sessions.middleware.SessionMiddleware"]
    auth = classes["django.contrib.auth.middleware.AuthenticationMiddleware"]
    first, view, answer = build_chain(session, CsrfViewMiddleware, auth)
    assert first.bypass is view
    request = rf.post("/mcp", b"{}", content_type="application/json", HTTP_COOKIE="csrftoken=" + "a" * 32)
    assert first(request) is answer and "CSRF_COOKIE" not in request.META
    request = rf.get("/health", HTTP_COOKIE="csrftoken=" + "a" * 32)
    assert first(request) is answer and request.META["CSRF_COOKIE"] == "a" * 32  # CSRF read its cookie


@pytest.mark.urls("tests.mcpserver.urls_not_exempt")
def test_csrf_is_not_passed_by_when_the_endpoints_view_is_not_exempt(rf):
    from django.middleware.csrf import CsrfViewMiddleware

    classes = passed_through()
    session = classes["django.contrib.sessions.middleware.SessionMiddleware"]
    auth = classes["django.contrib.auth.middleware.AuthenticationMiddleware"]
    first, _, answer = build_chain(session, CsrfViewMiddleware, auth)
    assert type(first.bypass.__wrapped__) is CsrfViewMiddleware
    request = rf.post("/mcp", b"{}", content_type="application/json", HTTP_COOKIE="csrftoken=" + "a" * 32)
    assert first(request) is answer and request.META["CSRF_COOKIE"] == "a" * 32


@pytest.mark.parametrize("base", sorted(PASSED_THROUGH))
def test_on_the_mcp_path_the_middleware_hands_the_request_on_untouched(base, rf):
    from django.http import HttpResponse

    cls = passed_through()[base]
    answer = HttpResponse("view")

    def view(request):
        return answer

    request = rf.post("/mcp", b"{}", content_type="application/json")
    before = dict(vars(request))
    middleware = cls(view)
    assert middleware(request) is answer and answer.content == b"view"
    assert vars(request).keys() == before.keys() and "Vary" not in answer and not answer.cookies
    for hook in HOOKS:  # the handler calls these on every request: the class must skip them too
        if hasattr(cls, hook):
            assert hook in vars(cls), f"{cls.__name__}.{hook} would run on /mcp"


def test_a_run_of_them_is_passed_in_one_step_and_every_other_middleware_is_not(rf):
    """Built as Django's handler builds a chain (each next step in its exception wrapper): on /mcp the
    first of a run hands the request to what follows the last; elsewhere each one runs."""
    from django.core.handlers.exception import convert_exception_to_response
    from django.http import HttpResponse
    from django.middleware.common import CommonMiddleware

    classes = passed_through()
    session, auth, messages = (
        classes[f"django.contrib.{name}"]
        for name in ("sessions.middleware.SessionMiddleware", "auth.middleware.AuthenticationMiddleware",
                     "messages.middleware.MessageMiddleware")
    )  # fmt: skip
    cors = classes["corsheaders.middleware.CorsMiddleware"]
    answer = HttpResponse("view")
    view = convert_exception_to_response(lambda request: answer)
    run = convert_exception_to_response(
        session(convert_exception_to_response(auth(convert_exception_to_response(messages(view)))))
    )
    common = convert_exception_to_response(CommonMiddleware(run))
    first = cors(common)
    assert run.__wrapped__.bypass is view and first.bypass is common
    request = rf.get("/mcp")
    assert first(request) is answer and not hasattr(request, "session") and not hasattr(request, "user")
    request = rf.get("/accounts/login/")
    first(request)
    assert hasattr(request, "session") and hasattr(request, "user") and hasattr(request, "_messages")


def test_any_other_path_gets_the_middleware_themselves(rf):
    """``/mcp/`` (another path, a 404) included: the session, the user and CSRF are there as usual."""
    from django.http import HttpResponse

    classes = passed_through()
    for path in ("/mcp/", "/accounts/login/"):
        request = rf.post(path, b"username=a", content_type="application/x-www-form-urlencoded")
        for base in ("SessionMiddleware", "AuthenticationMiddleware"):
            (cls,) = [cls for name, cls in classes.items() if name.endswith(base)]
            cls(lambda request: HttpResponse())(request)
        assert hasattr(request, "session") and hasattr(request, "user")

        def view(request):
            return HttpResponse()

        from django.middleware.csrf import CsrfViewMiddleware

        csrf = CsrfViewMiddleware(view)
        assert csrf.process_view(request, view, (), {}).status_code == 403


class SeesTheSetting:
    """A middleware recording the middleware setting each time it is built or called."""

    seen: list = []

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.seen.append(settings.MIDDLEWARE)

    def __call__(self, request):
        from django.conf import settings

        self.seen.append(settings.MIDDLEWARE)
        return self.get_response(request)


def test_serving_never_changes_the_middleware_setting(settings, token):
    """Loading the handler and serving /mcp and a page read ``settings.MIDDLEWARE`` as it is, the same
    list object throughout, and leave it so."""
    from django.core.handlers.wsgi import WSGIHandler

    from config.wsgi import build

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.SeesTheSetting"]
    listed, copy = settings.MIDDLEWARE, list(settings.MIDDLEWARE)
    SeesTheSetting.seen = []
    application = build(WSGIHandler())
    auth = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    assert call("/mcp", "POST", json.dumps(CALL).encode(), auth, application=application)[0] == 200
    assert call("/accounts/login/", application=application)[0] == 200
    assert len(SeesTheSetting.seen) == 3  # one handler, built once; both requests through it
    assert all(seen is listed for seen in SeesTheSetting.seen)
    assert settings.MIDDLEWARE is listed and settings.MIDDLEWARE == copy


def test_the_in_process_tests_are_served_by_the_production_application(client, mcp, wsgi_client):
    """The ``client``, ``mcp`` and ``wsgi_client`` fixtures call ``config.wsgi.application`` itself, so
    CSRF is enforced as in production: Django's own test client would let this form through."""
    from django.test import Client

    import config.wsgi

    assert client.application is config.wsgi.application
    assert mcp.client.application is config.wsgi.application
    assert wsgi_client.application is config.wsgi.application
    form = {"username": "a", "password": "b"}
    assert client.post("/accounts/login/", form).status_code == 403
    assert Client().post("/accounts/login/", form).status_code == 200  # the form, with its errors
    assert mcp.initialize().status_code == 200


def test_a_tool_call_leaves_no_reference_cycle_for_the_garbage_collector(token):
    """Every object of a request (the view, the request, its environ) is freed as soon as the response
    goes out. Django's ``View.setup`` stores ``self.head = self.get`` on a view without ``head``: a
    cycle (view -> bound method -> view) that kept each request alive until a collection found it,
    one per ~40 calls under load. Other threads may leave unrelated cycles meanwhile (a new Redis
    connection reads the client library's version through importlib.metadata): only the request's
    own objects are looked for."""
    import gc

    from django.http import HttpRequest, HttpResponseBase
    from django.views import View

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    body = json.dumps(CALL).encode()
    assert call("/mcp", "POST", body, headers)[0] == 200  # warm-up: first verification, lazy imports
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage for inspection
    try:
        for _ in range(5):
            assert call("/mcp", "POST", body, headers)[0] == 200
        assert call("/mcp", "GET", headers=headers)[0] == 400  # the GET stream's view: no session named
        gc.collect()
        left = [type(obj) for obj in gc.garbage if isinstance(obj, HttpRequest | HttpResponseBase | View)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
