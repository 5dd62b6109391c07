"""The 2026-07-28 era: stateless requests whose ``params._meta`` carries the protocol version and the
client's capabilities, mirrored in headers (``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``) that
must agree with the body. Notifications are accepted (202) and not acted on. ``subscriptions/listen``
is answered with a notification stream (``listening``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import jsonrpc
from ..exceptions import HeaderMismatch, InvalidParams, MethodNotFound, UnsupportedProtocolVersion
from ..headers import decode as decode_header
from ..methods import MODERN
from ..methods.context import Context
from ..methods.lifecycle import HANDSHAKE_VERSIONS, MODERN_VERSIONS
from . import listening
from .answers import answer
from .exchange import ACCEPTED, Exchange, Reply, Streamed, unsupported_header, versions_spoken

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
NAME_PARAMS = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # The tasks extension (SEP-2663, "Routing Headers"): Mcp-Name carries the task id.
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}


def _envelope(message: jsonrpc.Message, headers: Mapping[str, str]) -> tuple[str, dict[str, Any], Any]:
    """Check ``_meta`` and the mirrored headers; return version, client capabilities and client info."""
    meta = message.params.get("_meta")
    if not isinstance(meta, dict) or PROTOCOL_VERSION_KEY not in meta:
        # No 2026-07-28 envelope, and a header naming a revision we speak in neither era: say which we do.
        header = headers.get("mcp-protocol-version")
        if header is not None and header not in (*MODERN_VERSIONS, *HANDSHAKE_VERSIONS):
            raise unsupported_header(header)
    if not isinstance(meta, dict) or PROTOCOL_VERSION_KEY not in meta or CLIENT_CAPABILITIES_KEY not in meta:
        raise InvalidParams(f"params._meta must carry {PROTOCOL_VERSION_KEY} and {CLIENT_CAPABILITIES_KEY}")
    version = meta[PROTOCOL_VERSION_KEY]
    if headers.get("mcp-protocol-version") != version:
        raise HeaderMismatch("The MCP-Protocol-Version header does not match params._meta")
    if decode_header(headers.get("mcp-method")) != message.method:
        raise HeaderMismatch("The Mcp-Method header does not match the request's method")
    name_param = NAME_PARAMS.get(message.method)
    if name_param is not None and decode_header(headers.get("mcp-name")) != message.params.get(name_param):
        raise HeaderMismatch(f"The Mcp-Name header does not match params.{name_param}")
    if version not in MODERN_VERSIONS:
        raise UnsupportedProtocolVersion(
            f"Unsupported protocol version: {str(version)[:64]}; {versions_spoken()}",
            data={"supported": list(MODERN_VERSIONS), "requested": version},
        )
    capabilities = meta[CLIENT_CAPABILITIES_KEY]
    if not isinstance(capabilities, dict):
        raise InvalidParams(f"{CLIENT_CAPABILITIES_KEY} must be an object")
    return version, capabilities, meta.get(CLIENT_INFO_KEY)


def handle(obj: Any, exchange: Exchange) -> Reply | Streamed:
    """Answer one 2026-07-28 message; a JSON-RPC error is raised for ``transport.handle`` to reply with."""
    message = jsonrpc.message(obj)
    if not message.is_request:
        return ACCEPTED
    version, capabilities, client_info = _envelope(message, exchange.headers)
    method = MODERN.get(message.method)
    if method is None:
        raise MethodNotFound(f"Method not found: {message.method}")
    ctx = Context(
        token=exchange.token,
        registry=exchange.registry,
        era="modern",
        version=version,
        params=message.params,
        request_id=message.id,
        client_capabilities=capabilities,
        client_info=client_info,
        headers=exchange.headers,
        deadline=exchange.deadline,
        authorization=exchange.authorization,
    )
    if method.listens:
        return listening.listen(ctx, method.handler(ctx), exchange)
    return answer(ctx, method, exchange)
