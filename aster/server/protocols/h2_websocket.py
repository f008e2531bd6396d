"""WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream carries one WebSocket.

The server advertises ``SETTINGS_ENABLE_CONNECT_PROTOCOL``; a client that
holds an HTTP/2 connection (a browser, usually) then opens a WebSocket as a
stream: ``:method CONNECT``, ``:protocol websocket``, no key and no Upgrade.
The handshake is answered with HEADERS (200 accepts, any other status
denies), and from there the stream's DATA frames carry the same WebSocket
frames as an HTTP/1.1 socket would.

So the session runs on the very same connection core as on HTTP/1.1
(:class:`~.ws_connection.WebSocketConnection`, framed by ``websockets`` or
``wsproto``, with the same limits, pings, close codes, permessage-deflate and
denial extension), and :class:`StreamTransport` stands in for the socket:
writes become DATA within the stream's window, ``pause_reading`` stops
crediting the window, closing ends the stream, and an abort resets it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .h2_engine import CANCEL
from .h2_requests import response_fields
from .ws_handshake import websocket_scope

if TYPE_CHECKING:
    from .h2_streams import H2Stream
    from .http2 import HTTP2Protocol

logger = logging.getLogger("aster.error")

#: Fields the server writes itself in the answer to the handshake.
_HANDSHAKE_FIELDS = frozenset((b"sec-websocket-extensions", b"sec-websocket-protocol"))


def open_websocket(conn: HTTP2Protocol, stream: H2Stream, http_scope: dict[str, Any]) -> None:
    """Negotiate the WebSocket ``http_scope`` (an extended CONNECT) asks for and start it."""
    transport = StreamTransport(conn, stream)
    config = conn.config
    if config.ws_impl == "wsproto":
        protocol = _wsproto(conn, transport, http_scope)
    else:
        protocol = _websockets(conn, transport, http_scope)
    if protocol is None:
        return
    session, scope, extensions_header = protocol
    stream.ws = session
    session.start(scope, "", extensions_header, b"")


def _websockets(conn: HTTP2Protocol, transport: StreamTransport, http_scope: dict[str, Any]) -> Any:
    from websockets.exceptions import InvalidHandshake

    from .websocket import WebSocketProtocol
    from .ws_handshake import negotiate_extended_connect

    try:
        framing, scope, extensions_header = negotiate_extended_connect(conn.config, http_scope)
    except InvalidHandshake as exc:
        transport.refuse(f"Failed to open a WebSocket connection: {exc}.\n")
        return None
    session = WebSocketProtocol(conn.config, conn.state, transport, framing, False, transport)  # type: ignore[arg-type]
    return session, scope, extensions_header


def _wsproto(conn: HTTP2Protocol, transport: StreamTransport, http_scope: dict[str, Any]) -> Any:
    from wsproto import ConnectionType
    from wsproto.connection import Connection
    from wsproto.extensions import Extension, PerMessageDeflate
    from wsproto.handshake import server_extensions_handshake

    from .ws_wsproto import WSProtoProtocol

    headers = http_scope["headers"]
    versions = [value for name, value in headers if name == b"sec-websocket-version"]
    if versions != [b"13"]:
        transport.refuse("Failed to open a WebSocket connection: Sec-WebSocket-Version 13.\n")
        return None
    requested = [
        token.strip().decode("latin-1")
        for name, value in headers
        if name == b"sec-websocket-extensions"
        for token in value.split(b",")
        if token.strip()
    ]
    offered: list[Extension] = [PerMessageDeflate()] if conn.config.ws_per_message_deflate else []
    extensions_header = None
    if offered and requested:
        accepted = server_extensions_handshake(requested, offered)  # type: ignore[arg-type]
        extensions_header = accepted.decode("ascii") if accepted else None
    subprotocols = [
        token.strip().decode("latin-1")
        for name, value in headers
        if name == b"sec-websocket-protocol"
        for token in value.split(b",")
        if token.strip()
    ]
    framing = Connection(ConnectionType.SERVER, extensions=[e for e in offered if e.enabled()])
    scope = websocket_scope(http_scope, subprotocols)
    session = WSProtoProtocol(conn.config, conn.state, transport, framing, False, transport)  # type: ignore[arg-type]
    return session, scope, extensions_header


class StreamTransport:
    """One HTTP/2 stream as the transport, and the handshake carrier, of a WebSocket."""

    def __init__(self, conn: HTTP2Protocol, stream: H2Stream) -> None:
        self.conn = conn
        self.stream = stream
        self.protocol: Any = None
        self.reading_paused = False

    # -- what WebSocketConnection calls on a transport ----------------------------

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.conn.transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.stream.finished or self.conn.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.stream.finished and data:
            self.stream.send_ws(data, False)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        """The WebSocket is closed: END_STREAM after what is queued."""
        stream = self.stream
        if not stream.finished:
            stream.send_ws(b"", True)
        protocol = self.protocol
        if protocol is not None:
            self.conn.loop.call_soon(protocol.connection_lost, None)

    def abort(self) -> None:
        if not self.stream.finished:
            self.conn.reset_stream(self.stream, CANCEL, "WebSocket aborted")

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False
        stream = self.stream
        if stream.unread and not stream.finished:
            self.conn.engine.consumed(stream.stream_id, stream.unread)
            stream.unread = 0
            self.conn.schedule_flush()

    # -- the WSCarrier: the handshake's answers ----------------------------------------

    def accept(
        self, extensions_header: str | None, subprotocol: str | None, headers: Iterable[Any]
    ) -> None:
        fields = [(b":status", b"200"), *self.conn.state_default_fields()]
        if extensions_header is not None:
            fields.append((b"sec-websocket-extensions", extensions_header.encode()))
        if subprotocol is not None:
            fields.append((b"sec-websocket-protocol", subprotocol.encode()))
        extra, _ = response_fields(200, headers, [])
        for name, value in extra[1:]:
            if name == b"sec-websocket-protocol":
                raise RuntimeError(
                    "ASGI: give the subprotocol in 'subprotocol', "
                    "not as a header of 'websocket.accept'"
                )
            if name not in _HANDSHAKE_FIELDS:
                fields.append((name, value))
        self.conn.engine.send_headers(self.stream.stream_id, fields, False)
        self.conn.schedule_flush()

    def deny(self, status: int, headers: Iterable[Any], body: bytes) -> None:
        fields, _ = response_fields(status, headers, self.conn.state_default_fields())
        if not any(name == b"content-length" for name, _ in fields):
            fields.append((b"content-length", str(len(body)).encode()))
        self.conn.engine.send_headers(self.stream.stream_id, fields, not body)
        if body:
            self.stream.send_ws(body, True)
        else:
            self.stream.finish_ws()
        self.conn.schedule_flush()

    def refuse(self, detail: str) -> None:
        """Not a valid WebSocket handshake: 400, the app never sees it."""
        logger.debug("Refused a WebSocket over HTTP/2: %s", detail)
        self.deny(400, [(b"content-type", b"text/plain; charset=utf-8")], detail.encode())
