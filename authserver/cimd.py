"""Fetching Client ID Metadata Documents: DOT's SSRF-hardened fetcher, plus explicitly allowed private hosts.

DOT's ``SafeMetadataFetcher`` (the ``CIMD_METADATA_FETCHER`` hook) fetches only https URLs whose
host resolves to public addresses, connects to the address it checked, follows no redirects and
bounds time and size. This subclass keeps all of that and adds one exception, off by default: a
host listed in ``CIMD_PRIVATE_HOSTS`` (``ALLOWED_HOSTS`` syntax) may resolve to a private or
loopback address, for a metadata server on the same machine or network (and for tests).
"""

from __future__ import annotations

import socket
import ssl
import time

import urllib3
from django.http.request import validate_host
from oauth2_provider import cimd
from oauth2_provider.settings import oauth2_settings

from . import conf


def private_host_allowed(hostname: str) -> bool:
    return bool(hostname) and validate_host(hostname, conf.get("CIMD_PRIVATE_HOSTS"))


class MetadataFetcher(cimd.SafeMetadataFetcher):
    def fetch(self, client_id):
        # DOT's URL rules (https, host, path, no userinfo, fragment or dot segments) apply first.
        parsed = cimd._validate_client_id_url(client_id)
        if not private_host_allowed(parsed.hostname):
            return super().fetch(client_id)
        return self._fetch_pinned(parsed, self._addresses(parsed.hostname, parsed.port or 443))

    @staticmethod
    def _addresses(hostname: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise cimd.CIMDError(f"could not resolve client_id host: {exc}") from exc
        return list(dict.fromkeys(info[4][0] for info in infos))

    def _fetch_pinned(self, parsed, addresses: list[str]):
        """One GET to each resolved address in turn, under one deadline, as DOT's fetcher does."""
        port = parsed.port or 443
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        headers = {"Host": parsed.netloc, "Accept": "application/json, application/*+json"}
        deadline = time.monotonic() + oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        failure = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pool = urllib3.HTTPSConnectionPool(
                host=address,
                port=port,
                timeout=urllib3.Timeout(connect=remaining, read=remaining, total=remaining),
                retries=False,
                maxsize=1,
                ssl_context=ssl.create_default_context(),
                server_hostname=parsed.hostname,
            )
            try:
                response = pool.urlopen("GET", path, headers=headers, redirect=False, preload_content=False)
                try:
                    return self._read_document(response)
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                failure = exc
            finally:
                pool.close()
        raise cimd.CIMDError(f"could not fetch client_id document: {failure}")
