"""The WebSocket opening handshake (RFC 6455 section 4) on an HTTP/1.1 connection.

Everything that happens before the first frame: recognising an upgrade request,
checking it and negotiating extensions (``websockets``' ``ServerProtocol`` does
both), building the ``websocket`` scope, and the bytes of the three answers a
handshake can get: the 101 that accepts it, the plain HTTP response an app
denies it with (``websocket.http.response``, or a 403 for a close before
accept), and the 4xx/5xx for a request that is not a valid handshake at all.
:mod:`.websocket` does the rest of the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.exceptions import (
    InvalidHeaderValue,
    InvalidMethod,
    InvalidProtocol,
    InvalidUpgrade,
)
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from .h1_framing import _INVALID_NAME, _INVALID_VALUE, error_response, status_line

if TYPE_CHECKING:
    from ..config import Config

logger = logging.getLogger("aster.error")

#: Response headers the server writes itself: an app's copy would contradict them.
_HANDSHAKE_HEADERS = frozenset(
    (b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-extensions")
)


class _ServerProtocol(ServerProtocol):
    """``websockets``' server protocol, but a close frame between the fragments of a
    message is a clean close.

    RFC 6455 lets control frames come in the middle of a fragmented message (5.4) and
    either side close at any time (5.5.1); the unfinished message is simply never
    delivered.  ``websockets`` fails such a close with 1002 instead (Autobahn 7.1.5).
    """

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None  # the message in progress is abandoned
        super().recv_frame(frame)


def is_websocket_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Does this request ask for ``Upgrade: websocket`` (rather than h2c, say)?"""
    for name, value in headers:
        if name == b"upgrade":
            return any(token.strip().lower() == b"websocket" for token in value.split(b","))
    return False


def negotiate(
    config: Config, http_scope: dict[str, Any]
) -> tuple[ServerProtocol, dict[str, Any], str, str | None]:
    """Check the handshake ``http_scope`` asks for and agree on its extensions.

    Returns the frame protocol for the connection, the ``websocket`` scope, the
    ``Sec-WebSocket-Accept`` value and the ``Sec-WebSocket-Extensions`` answer
    (or ``None``); raises ``websockets.exceptions.InvalidHandshake`` for a
    request that is not a valid handshake (wrong method, version or key).
    """
    conn, headers = _protocol(config, http_scope)
    request = Request("/", headers, http_scope["method"], "HTTP/" + http_scope["http_version"])
    # Validates the key and version, and negotiates the extensions; the subprotocol is
    # left to the app (websockets selects none when it is offered none).
    accept_key, extensions_header, _ = conn.process_request(request)
    scope = websocket_scope(http_scope, _subprotocols(headers))
    return conn, scope, accept_key, extensions_header


def negotiate_extended_connect(
    config: Config, http_scope: dict[str, Any]
) -> tuple[ServerProtocol, dict[str, Any], str | None]:
    """The same for an HTTP/2 extended CONNECT (RFC 8441): no key, no Upgrade, just the
    version and the extensions.  Raises ``InvalidHandshake`` for a version other than 13."""
    conn, headers = _protocol(config, http_scope)
    if headers.get_all("Sec-WebSocket-Version") != ["13"]:
        raise InvalidHeaderValue("Sec-WebSocket-Version", headers.get("Sec-WebSocket-Version"))
    extensions_header, conn.extensions = conn.process_extensions(headers)
    return conn, websocket_scope(http_scope, _subprotocols(headers)), extensions_header


def _protocol(config: Config, http_scope: dict[str, Any]) -> tuple[ServerProtocol, Headers]:
    extensions = []
    if config.ws_per_message_deflate:
        # Small windows: at most a few tens of KiB of zlib state per connection.
        extensions.append(
            ServerPerMessageDeflateFactory(
                server_max_window_bits=12,
                client_max_window_bits=12,
                compress_settings={"memLevel": 5},
            )
        )
    conn = _ServerProtocol(extensions=extensions, max_size=config.ws_max_size, state=State.OPEN)
    headers = Headers(
        [(n.decode("latin-1"), v.decode("latin-1")) for n, v in http_scope["headers"]]
    )
    return conn, headers


def _subprotocols(headers: Headers) -> list[str]:
    return [
        token.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]


def websocket_scope(http_scope: dict[str, Any], subprotocols: list[str]) -> dict[str, Any]:
    """The ASGI ``websocket`` scope of the upgrade request ``http_scope`` describes."""
    scope = dict(http_scope)
    del scope["method"]
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if scope["scheme"] in ("https", "wss") else "ws"
    scope["subprotocols"] = subprotocols
    scope["extensions"] = {"websocket.http.response": {}}
    return scope


def refusal(exc: Exception, default_headers: bytes) -> bytes:
    """The response to a request ``websockets`` found not to be a valid handshake."""
    if isinstance(exc, InvalidMethod):
        status, extra = 405, b"allow: GET\r\n"
    elif isinstance(exc, InvalidProtocol):
        status, extra = 505, b""
    elif isinstance(exc, InvalidUpgrade):
        status, extra = 426, b"upgrade: websocket\r\n"
    else:
        status, extra = 400, b""
    return refusal_response(status, extra, exc, default_headers)


def refusal_response(status: int, extra: bytes, exc: Exception, default_headers: bytes) -> bytes:
    """A plain-text error in place of the handshake; the app never sees the request."""
    logger.debug("Refused a WebSocket handshake: %s", exc)
    detail = f"Failed to open a WebSocket connection: {exc}.\n"
    return error_response(status, detail, default_headers + extra)


def accept_response(
    default_headers: bytes,
    accept_key: str,
    extensions_header: str | None,
    subprotocol: str | None,
    headers: Iterable[Any],
) -> bytes:
    """The 101 for ``websocket.accept``; raises ``RuntimeError`` for bad app headers."""
    parts = [
        b"HTTP/1.1 101 Switching Protocols\r\n",
        default_headers,
        b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
        accept_key.encode("ascii"),
        b"\r\n",
    ]
    if extensions_header is not None:
        parts += (b"sec-websocket-extensions: ", extensions_header.encode(), b"\r\n")
    if subprotocol is not None:
        parts += (b"sec-websocket-protocol: ", _header_value(subprotocol.encode()), b"\r\n")
    for name, value in headers:
        lowered = _header_name(name).lower()
        if lowered == b"sec-websocket-protocol":
            raise RuntimeError(
                "ASGI: give the subprotocol in 'subprotocol', not as a header of 'websocket.accept'"
            )
        if lowered not in _HANDSHAKE_HEADERS:
            parts += (name, b": ", _header_value(value), b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def denial_response(
    status: int, default_headers: bytes, headers: Iterable[Any], body: bytes
) -> bytes:
    """A complete HTTP response in place of the handshake; the connection closes after it."""
    parts = [status_line(status), default_headers]
    has_length = False
    for name, value in headers:
        lowered = _header_name(name).lower()
        if lowered == b"content-length":
            has_length = True
        if lowered != b"connection":
            parts += (name, b": ", _header_value(value), b"\r\n")
    if not has_length:
        parts.append(b"content-length: %d\r\n" % len(body))
    parts += (b"connection: close\r\n\r\n", body)
    return b"".join(parts)


def _header_name(name: Any) -> bytes:
    if type(name) is not bytes or not name or _INVALID_NAME.search(name):
        raise RuntimeError(f"invalid response header name {name!r}")
    return name


def _header_value(value: Any) -> bytes:
    if type(value) is not bytes or _INVALID_VALUE.search(value):
        raise RuntimeError(f"invalid response header value {value!r}")
    return value
