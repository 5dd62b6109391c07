"""A stand-in for a Keycloak 26 realm: its signing keys, its JWKS served over real HTTP (the realm's
``/protocol/openid-connect/certs``), and access tokens shaped as Keycloak issues them by default."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def new_key() -> tuple[str, Any]:
    """A kid in Keycloak's style (43 base64url characters) and a 2048-bit RSA key."""
    return uuid.uuid4().hex + uuid.uuid4().hex[:11], rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )


class Realm:
    """One realm: ``serve()`` starts its HTTP server; ``rotate()`` makes a new current key."""

    def __init__(self, name: str = "demo") -> None:
        self.name = name
        self.keys: list[tuple[str, Any]] = [new_key()]  # the current key last
        self.fetches = 0  # requests for the JWKS
        self._server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/realms/{self.name}"

    @property
    def certs_path(self) -> str:
        return f"/realms/{self.name}/protocol/openid-connect/certs"

    def jwks(self) -> dict[str, Any]:
        """As Keycloak publishes it: each RS256 signing key, and an RSA-OAEP encryption key beside them."""
        keys = []
        for kid, private in self.keys:
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
            keys.append(
                {"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": jwk["n"], "e": jwk["e"]}
            )
        enc = jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[0][1].public_key(), as_dict=True)
        keys.append({"kid": "enc-" + self.keys[0][0], "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", **enc})
        return {"keys": keys}

    def serve(self) -> Realm:
        realm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != realm.certs_path:
                    self.send_error(404)
                    return
                realm.fetches += 1
                body = json.dumps(realm.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def rotate(self, keep_old: bool = True) -> None:
        self.keys = [*self.keys, new_key()] if keep_old else [new_key()]

    def token(
        self,
        audience: str | list[str],
        overrides: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        headers: dict[str, Any] | None = None,
        key: tuple[str, Any] | None = None,
    ) -> str:
        """A user's access token (authorization code flow, client ``mcp-inspector``) as Keycloak 26
        signs it: header ``typ: JWT``; ``aud`` as an audience mapper makes it (the resource, and
        ``account`` from the default roles)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "exp": now + 300,
            "iat": now,
            "auth_time": now - 5,
            "jti": f"onrtac:{uuid.uuid4()}",
            "iss": self.issuer,
            "aud": audience,
            "sub": str(uuid.uuid4()),
            "typ": "Bearer",
            "azp": "mcp-inspector",
            "sid": str(uuid.uuid4()),
            "acr": "1",
            "allowed-origins": ["http://localhost:6274"],
            "realm_access": {
                "roles": [f"default-roles-{self.name}", "offline_access", "uma_authorization", "mcp-user"]
            },
            "resource_access": {
                "mcp-inspector": {"roles": ["operator"]},
                "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]},
            },
            "scope": "openid mcp:read mcp:tools profile email",
            "email_verified": True,
            "name": "Kim Keycloak",
            "preferred_username": "kim",
            "given_name": "Kim",
            "family_name": "Keycloak",
            "email": "kim@example.com",
        }
        claims.update(overrides or {})
        for name in remove:
            claims.pop(name, None)
        kid, private = key or self.keys[-1]
        header = {"alg": "RS256", "typ": "JWT", "kid": kid, **(headers or {})}
        return jwt.encode(claims, private, algorithm="RS256", headers=header)
