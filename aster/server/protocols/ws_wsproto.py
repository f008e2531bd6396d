"""WebSocket framing with ``wsproto``: ``--ws wsproto``, for those who want it.

``websockets`` is the default because it is faster (C masking, and the fast
path in :mod:`.websocket`); ``bench --suite websocket`` measures both.  This
implementation exists for parity with uvicorn's ``--ws wsproto`` and as a
second, independent opinion on the protocol: the same socket-level tests run
against both.

The upgrade request, already parsed by httptools, is replayed through
wsproto's own handshake parser (h11), which validates it; the 101 and the
``websocket`` scope are then built as for ``websockets``, so the app cannot
tell the two apart, and wsproto's ``Connection`` frames the rest.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.handshake import H11Handshake, server_extensions_handshake
from wsproto.utilities import RemoteProtocolError, generate_accept_token

from .ws_connection import WebSocketConnection, WSCarrier
from .ws_cycle import ABNORMAL_CLOSURE
from .ws_handshake import refusal_response, websocket_scope

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

_OPEN, _REMOTE_CLOSING, _CLOSED = (
    ConnectionState.OPEN,
    ConnectionState.REMOTE_CLOSING,
    ConnectionState.CLOSED,
)
#: Close codes an endpoint may send (RFC 6455 7.4; 1004-1006 and 1015 are reserved).
_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))


def upgrade(
    config: Config,
    state: ServerState,
    transport: asyncio.Transport,
    http_scope: dict[str, Any],
    rest: bytes,
    read_paused: bool,
) -> None:
    """Take over ``transport`` for the WebSocket handshake ``http_scope`` asked for."""
    try:
        request = _checked_request(http_scope)
        key = _checked_key(http_scope["headers"])
    except RemoteProtocolError as exc:
        transport.write(_refusal(exc, http_scope["method"], state.default_headers))
        transport.close()
        return
    offered: list[Extension] = [PerMessageDeflate()] if config.ws_per_message_deflate else []
    extensions_header = None
    if offered and request.extensions:
        accepted = server_extensions_handshake(request.extensions, offered)  # type: ignore[arg-type]
        extensions_header = accepted.decode("ascii") if accepted else None
    extensions = [extension for extension in offered if extension.enabled()]
    scope = websocket_scope(http_scope, list(request.subprotocols))
    conn = Connection(ConnectionType.SERVER, extensions=extensions)
    protocol = WSProtoProtocol(config, state, transport, conn, read_paused)
    protocol.start(scope, generate_accept_token(key).decode("ascii"), extensions_header, rest)


def _checked_request(http_scope: dict[str, Any]) -> Request:
    """Replay the request through wsproto's handshake, which raises if it is not a valid one."""
    target = http_scope["raw_path"]
    if http_scope["query_string"]:
        target += b"?" + http_scope["query_string"]
    head = [b"%s %s HTTP/1.1\r\n" % (http_scope["method"].encode(), target)]
    head += [name + b": " + value + b"\r\n" for name, value in http_scope["headers"]]
    handshake = H11Handshake(ConnectionType.SERVER)
    handshake.receive_data(b"".join(head) + b"\r\n")
    for event in handshake.events():
        if isinstance(event, Request):
            return event
    raise RemoteProtocolError("Incomplete handshake request", event_hint=RejectConnection())


def _checked_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The ``Sec-WebSocket-Key``, which must be 16 bytes in base64 (wsproto does not check)."""
    keys = [value for name, value in headers if name == b"sec-websocket-key"]
    try:
        if len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16:
            return keys[0]
    except binascii.Error:
        pass
    raise RemoteProtocolError(
        f"invalid Sec-WebSocket-Key header: {b', '.join(keys).decode('latin-1')!r}",
        event_hint=RejectConnection(),
    )


def _refusal(exc: RemoteProtocolError, method: str, default_headers: bytes) -> bytes:
    """Answer a request that is not a valid handshake, as the websockets side would."""
    hint = exc.event_hint
    if method != "GET":
        status, extra = 405, b"allow: GET\r\n"
    elif isinstance(hint, RejectConnection) and hint.status_code == 426:
        status, extra = 426, b"sec-websocket-version: 13\r\n"
    else:
        status, extra = 400, b""
    return refusal_response(status, extra, exc, default_headers)


class WSProtoProtocol(WebSocketConnection):
    """One WebSocket connection framed by ``wsproto``'s ``Connection``."""

    def __init__(
        self,
        config: Config,
        state: ServerState,
        transport: asyncio.Transport,
        conn: Connection,
        read_paused: bool,
        carrier: WSCarrier | None = None,
    ) -> None:
        super().__init__(config, state, transport, read_paused, carrier)
        self.conn = conn
        self._max_size = config.ws_max_size
        self._parts: list[Any] = []  # the message being received, as wsproto yields it
        self._size = 0

    # -- frames from the peer -------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        conn = self.conn
        if conn.state is _CLOSED:
            return
        conn.receive_data(data)
        for event in conn.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                if not self._message_part(event):  # type: ignore[arg-type]
                    break
            elif kind is Ping:
                self._out.append(conn.send(event.response()))  # type: ignore[attr-defined]
            elif kind is Pong:
                self._pong_received(event.payload)  # type: ignore[attr-defined]
            elif kind is CloseConnection:
                self._close_received(event)  # type: ignore[arg-type]
                break
        self._flush()

    def _message_part(self, event: TextMessage | BytesMessage) -> bool:
        """Collect a message's parts within ``--ws-max-size``; False if that failed it."""
        data = event.data
        if type(data) is str:
            self._size += len(data) if data.isascii() else len(data.encode())
        else:
            self._size += len(data)
        if self._size > self._max_size:
            self._peer_failed(1009, f"message over {self._max_size} bytes")
            return False
        if event.message_finished and not self._parts:
            message = data if type(data) is not bytearray else bytes(data)
        else:
            self._parts.append(data)
            if not event.message_finished:
                return True
            text = type(data) is str
            message = "".join(self._parts) if text else b"".join(self._parts)
            self._parts = []
        self._size = 0
        self.cycle.feed(message)
        return True

    def _close_received(self, event: CloseConnection) -> None:
        conn = self.conn
        reason = event.reason or ""
        if conn.state is _REMOTE_CLOSING:  # the peer closes: answer, then close the socket
            self._out.append(conn.send(event.response()))
            self._eof = True
            self._peer_closed(event.code, reason)
        elif conn.state is _CLOSED:  # the peer's answer to our close
            self._eof = True
        else:  # wsproto found a protocol error and reports it as a close it wants sent
            self._peer_failed(event.code, reason)

    # -- frames to the peer -------------------------------------------------------------

    def _encode_message(self, data: str | bytes) -> bool:
        conn = self.conn
        if conn.state is not _OPEN:
            return False
        event = TextMessage(data=data) if type(data) is str else BytesMessage(data=data)
        self._out.append(conn.send(event))  # type: ignore[arg-type]
        return True

    def _encode_close(self, code: int, reason: str) -> None:
        if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
            raise RuntimeError(f"ASGI: invalid WebSocket close code {code!r}")
        if len(reason.encode()) > 123:
            raise RuntimeError(f"ASGI: WebSocket close reason over 123 bytes: {reason!r}")
        if self.conn.state is _OPEN:
            self._out.append(self.conn.send(CloseConnection(code=code, reason=reason or None)))

    def _encode_ping(self, payload: bytes) -> None:
        self._out.append(self.conn.send(Ping(payload=payload)))

    def _release_failure(self, code: int, reason: str) -> None:
        self._encode_failure(code, reason)

    def _encode_failure(self, code: int, reason: str) -> None:
        conn = self.conn
        if conn.state is _OPEN or conn.state is _REMOTE_CLOSING:
            if code == ABNORMAL_CLOSURE:
                code = 1011
            self._out.append(conn.send(CloseConnection(code=code, reason=reason or None)))
        self._eof = True
