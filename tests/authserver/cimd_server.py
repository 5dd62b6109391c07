"""A loopback HTTPS server for Client ID Metadata Documents, with a throw-away CA to trust.

Used in-process (``tests/authserver/test_cimd.py``) and against the live server
(``tests/e2e/test_browser.py``): whoever fetches from it trusts ``ca_file`` through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "localhost"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


def _certificate(subject: str, issuer_cert, issuer_key, key, ca: bool, names=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(
            issuer_cert.subject
            if issuer_cert
            else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


@dataclass
class Document:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0
    drip: float = 0  # seconds between single bytes of the answer, from byte ``drip_from`` on
    drip_from: int = 0


class DocumentServer:
    """Serves ``documents[path]`` over HTTPS on 127.0.0.1 and records every path requested."""

    def __init__(self, tmp_path):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("test CA", None, None, ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        leaf = _certificate(HOST, ca, ca_key, key, ca=False, names=names)
        self.ca_file = tmp_path / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        chain, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
        chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.documents: dict[str, Document] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                document = server.documents.get(
                    self.path, Document(b"not found", 404, {"Content-Type": "text/plain"})
                )
                time.sleep(document.delay)
                self.send_response(document.status)
                for name, value in document.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(document.body)))
                if not document.drip:
                    self.end_headers()
                    self.wfile.write(document.body)
                    return
                self.send_header("Connection", "close")
                self._headers_buffer.append(b"\r\n")  # end_headers() would send them at once
                answer = b"".join(self._headers_buffer) + document.body
                self._headers_buffer = []
                self._drip(answer, document.drip_from, document.drip)

            def _drip(self, answer: bytes, start: int, interval: float) -> None:
                """Send ``answer[start:]`` one byte at a time (a slow-loris metadata server)."""
                try:
                    self.wfile.write(answer[:start])
                    for index in range(start, len(answer)):
                        time.sleep(interval)
                        self.wfile.write(answer[index : index + 1])
                        self.wfile.flush()
                except OSError:  # the fetcher gave up and closed the connection
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = HOST) -> str:
        return f"https://{host}:{self.port}{path}"

    def serve(self, path: str, host: str = HOST, redirect_uris=(REDIRECT_URI,), **metadata) -> str:
        """Publish a valid public-client document at ``path``; keyword arguments override its fields."""
        client_id = self.url(path, host)
        document = {
            "client_id": client_id,
            "client_name": "Metadata client",
            "redirect_uris": list(redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            **metadata,
        }
        self.documents[path] = Document(
            json.dumps({k: v for k, v in document.items() if v is not None}).encode()
        )
        return client_id

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
