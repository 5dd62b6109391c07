"""OAuth flows driven over real HTTP as a client and a person at a browser would drive them.

Each function takes an ``httpx.Client`` pointed at the live server. ``authorize()`` walks the real
login and consent pages (CSRF token and hidden fields parsed from the HTML) and stops at the
redirect back to the client, returning its query parameters.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

TOKEN = "/oauth/token/"
AUTHORIZE = "/oauth/authorize/"
SERVICE = ("demo-service", "demo-service-secret")
WEB_CLIENT = "demo-web"
WEB_REDIRECT = "http://127.0.0.1:8765/callback"
CLI_CLIENT = "demo-cli"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def client_credentials(
    http: httpx.Client, scope: str | None = None, form_post: bool = False, **extra
) -> httpx.Response:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {}), **extra}
    if form_post:
        return http.post(TOKEN, data={**data, "client_id": SERVICE[0], "client_secret": SERVICE[1]})
    return http.post(TOKEN, data=data, headers=basic(*SERVICE))


def password_grant(
    http: httpx.Client, username: str, password: str | None = None, scope: str = "mcp:read", **extra
) -> httpx.Response:
    data = {
        "grant_type": "password",
        "client_id": CLI_CLIENT,
        "username": username,
        "password": password if password is not None else f"{username}-password",
        "scope": scope,
        **extra,
    }
    return http.post(TOKEN, data=data)


def refresh(http: httpx.Client, refresh_token: str, client_id: str = WEB_CLIENT, **extra) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, **extra}
    return http.post(TOKEN, data=data)


def refresh_race(base_url: str | list[str], refresh_token: str, client_id: str, copies: int = 12) -> list:
    """Send ``copies`` refreshes of one token at once (each from its own connection, released together
    by a barrier); ``base_url`` may list several instances, used in turn."""
    urls = [base_url] if isinstance(base_url, str) else base_url
    start = threading.Barrier(copies)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=60) as client:
            client.get("/.well-known/oauth-authorization-server")  # connected before the start
            start.wait()
            return refresh(client, refresh_token, client_id=client_id)

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(one, range(copies)))


class FormParser(HTMLParser):
    """The forms of a page: their action, method and every input, select-free and good enough here."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action") or "",
                    "method": attrs.get("method", "get"),
                    "id": attrs.get("id"),
                    "inputs": [],
                }
            )
        elif tag in {"input", "button"} and self.forms:
            self.forms[-1]["inputs"].append(attrs)


def forms(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def hidden_fields(form: dict) -> dict[str, str]:
    return {
        i["name"]: i.get("value") or "" for i in form["inputs"] if i.get("type") == "hidden" and i.get("name")
    }


def login(http: httpx.Client, username: str, password: str, next_url: str) -> httpx.Response:
    """Sign in through the real login page; return the POST's response (a redirect on success)."""
    page = http.get("/accounts/login/", params={"next": next_url})
    assert page.status_code == 200, page.text
    (form,) = [f for f in forms(page.text) if any(i.get("name") == "password" for i in f["inputs"])]
    data = {**hidden_fields(form), "username": username, "password": password}
    return http.post(form["action"] or "/accounts/login/", data=data)


@dataclass
class Authorization:
    """What the client's redirect URI receives, plus what the client kept for the token request."""

    location: str
    params: dict[str, str]
    verifier: str
    consent_page: str = ""
    scopes_shown: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.params["code"]


def authorize_url(challenge: str, scope: str, state: str, method: str = "S256", **extra) -> str:
    query = {
        "response_type": "code",
        "client_id": WEB_CLIENT,
        "redirect_uri": WEB_REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": method,
        **extra,
    }
    return AUTHORIZE + "?" + urlencode({k: v for k, v in query.items() if v is not None})


def consent(http: httpx.Client, url: str, allow: bool = True, keep: list[str] | None = None) -> Authorization:
    """Open the consent page at ``url`` (signed in already), decide, and read the redirect."""
    page = http.get(url)
    assert page.status_code == 200, (page.status_code, page.headers.get("location"), page.text[:2000])
    (form,) = [f for f in forms(page.text) if f["id"] == "authorizationForm"]
    shown = [i["value"] for i in form["inputs"] if i.get("name") == "scopes"]
    data = [*hidden_fields(form).items(), ("scope_choice", "1")]
    data += [("scopes", s) for s in (shown if keep is None else keep)]
    data.append(("allow", "Authorize") if allow else ("deny", "Deny"))
    response = http.post(
        form["action"] or url,
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 302, (response.status_code, response.text[:2000])
    location = response.headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Authorization(location, params, verifier="", consent_page=page.text, scopes_shown=shown)


def authorize(
    http: httpx.Client,
    username: str = "alice",
    scope: str = "mcp:read mcp:tools",
    allow: bool = True,
    keep: list[str] | None = None,
    **extra,
) -> Authorization:
    """The whole authorization request: /authorize → login → consent → redirect to the client."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    url = authorize_url(challenge, scope, state, **extra)
    first = http.get(url)
    assert first.status_code == 302, (first.status_code, first.text[:2000])
    if "/accounts/login/" in first.headers["location"]:
        signed_in = login(http, username, f"{username}-password", url)
        assert signed_in.status_code == 302, signed_in.text[:2000]
        assert signed_in.headers["location"] == url
    result = consent(http, url, allow=allow, keep=keep)
    result.verifier = verifier
    assert result.params.get("state") == state
    return result


def enter_user_code(person: httpx.Client, started: dict, username: str = "alice") -> httpx.Response:
    """The person opens verification_uri_complete (on the instance ``person`` talks to), signs in and
    submits the prefilled code; the answer."""
    complete = urlsplit(started["verification_uri_complete"])
    opened = person.get(f"{complete.path}?{complete.query}")
    assert opened.status_code == 302 and "/accounts/login/" in opened.headers["location"]
    next_url = httpx.URL(opened.headers["location"]).params["next"]
    assert next_url == "/oauth/device/?user_code=" + started["user_code"]
    signed_in = login(person, username, f"{username}-password", next_url)
    assert signed_in.status_code == 302, signed_in.text[:2000]
    page = person.get(signed_in.headers["location"])
    assert page.status_code == 200, page.text[:2000]
    (form,) = [f for f in forms(page.text) if f["id"] == "userCodeForm"]
    fields = {i["name"]: i.get("value") or "" for i in form["inputs"] if i.get("name")}
    assert fields["user_code"] == started["user_code"]  # prefilled from verification_uri_complete
    return person.post(signed_in.headers["location"], data=fields)


def decide_device(
    person: httpx.Client, confirm_url: str, action: str = "accept", remember: bool = False
) -> list[str]:
    """Answer the consent page; the scopes it showed."""
    page = person.get(confirm_url)
    assert page.status_code == 200, page.text[:2000]
    (form,) = [f for f in forms(page.text) if f["id"] == "authorizationForm"]
    shown = [i["value"] for i in form["inputs"] if i.get("name") == "scopes"]
    data = [*hidden_fields(form).items(), ("scope_choice", "1"), ("action", action)]
    data += [("scopes", name) for name in shown] + ([("remember", "1")] if remember else [])
    form_body = {"Content-Type": "application/x-www-form-urlencoded"}
    done = person.post(confirm_url, content=urlencode(data), headers=form_body)
    assert done.status_code == 302 and done.headers["location"].endswith("/done/"), done.text[:2000]
    return shown


def exchange(
    http: httpx.Client, code: str, verifier: str, headers: dict[str, str] | None = None, **extra
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": WEB_REDIRECT,
        "client_id": WEB_CLIENT,
        "code_verifier": verifier,
        **extra,
    }
    return http.post(TOKEN, data=data, headers=headers)
