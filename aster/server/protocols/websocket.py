"""WebSocket connections (RFC 6455) over an HTTP/1.1 Upgrade, on ``websockets``' sans-I/O protocol.

:class:`~.http1.HTTP1Protocol` parses the upgrade request as it parses any
other and then calls :func:`upgrade`, which checks the handshake, builds the
``websocket`` scope and hands the transport to a :class:`WebSocketProtocol`.
From there ``websockets.server.ServerProtocol`` does the framing (masking in
C, permessage-deflate, close codes, limits) and this module does the I/O, the
timers and the bookkeeping; what the app sees is the business of
:class:`~.ws_cycle.WebSocketCycle`.

The connection moves through these states (``_ws_state``), and one deadline
(``_deadline``, checked by the server's tick) serves every timer::

    HANDSHAKE --accept--> OPEN --close sent--> CLOSING --peer's close/timeout--> CLOSED
        +--denied (HTTP response)--------------------------------------------> CLOSED

    HANDSHAKE: no deadline (the app decides; bytes that arrive are held back);
    OPEN:      PING (time to ping), then PONG (the peer must answer by then);
    CLOSING:   CLOSE (the peer must complete the closing handshake by then).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMethod,
    InvalidProtocol,
    InvalidState,
    InvalidUpgrade,
    ProtocolError,
)
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from ..logs import escape
from .h1_framing import error_response, status_line
from .ws_cycle import ABNORMAL_CLOSURE, WebSocketCycle

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")
access_logger = logging.getLogger("aster.access")

HANDSHAKE, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
NONE, PING, PONG, CLOSE = 0, 1, 2, 3
INFINITY = float("inf")

#: How long the peer has to answer our close frame before the socket is closed anyway.
CLOSE_TIMEOUT = 10.0
#: Bytes a client may send before the handshake completes (it should send none).
EARLY_DATA_LIMIT = 65536

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.CONT,
    Opcode.PONG,
    Opcode.CLOSE,
)
_INVALID_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9a-zA-Z]")
_INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: Response headers the server writes itself: an app's copy would contradict them.
_HANDSHAKE_HEADERS = frozenset(
    (b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-extensions")
)


def is_websocket_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Does this request ask for ``Upgrade: websocket`` (rather than h2c, say)?"""
    for name, value in headers:
        if name == b"upgrade":
            return any(token.strip().lower() == b"websocket" for token in value.split(b","))
    return False


def upgrade(
    config: Config,
    state: ServerState,
    transport: asyncio.Transport,
    http_scope: dict[str, Any],
    rest: bytes,
    read_paused: bool,
) -> None:
    """Take over ``transport`` from HTTP/1.1 for the WebSocket handshake ``http_scope`` asked for.

    A request that is not a valid handshake (wrong method, version, key) is
    answered here without running the app, as ``websockets`` would.
    """
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
    conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, state=State.OPEN)
    headers = Headers(
        [(n.decode("latin-1"), v.decode("latin-1")) for n, v in http_scope["headers"]]
    )
    request = Request("/", headers, http_scope["method"], "HTTP/" + http_scope["http_version"])
    try:
        # Validates the key and version, and negotiates the extensions; the subprotocol
        # is left to the app (websockets selects none when it is offered none).
        accept_key, extensions_header, _ = conn.process_request(request)
    except InvalidHandshake as exc:
        _refuse_handshake(state, transport, exc)
        return
    scope = dict(http_scope)
    del scope["method"]
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if scope["scheme"] in ("https", "wss") else "ws"
    scope["subprotocols"] = [
        token.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]
    scope["extensions"] = {"websocket.http.response": {}}
    protocol = WebSocketProtocol(config, state, transport, conn, read_paused)
    protocol.start(scope, accept_key, extensions_header, rest)


def _refuse_handshake(state: ServerState, transport: asyncio.Transport, exc: Exception) -> None:
    if isinstance(exc, InvalidMethod):
        status, extra = 405, b"allow: GET\r\n"
    elif isinstance(exc, InvalidProtocol):
        status, extra = 505, b""
    elif isinstance(exc, InvalidUpgrade):
        status, extra = 426, b"upgrade: websocket\r\n"
    else:
        status, extra = 400, b""
    logger.debug("Refused a WebSocket handshake: %s", exc)
    detail = f"Failed to open a WebSocket connection: {exc}.\n"
    transport.write(error_response(status, detail, state.default_headers + extra))
    transport.close()


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection: ``websockets`` frames it, :class:`WebSocketCycle` runs the app."""

    def __init__(
        self,
        config: Config,
        state: ServerState,
        transport: asyncio.Transport,
        conn: ServerProtocol,
        read_paused: bool,
    ) -> None:
        self.config = config
        self.state = state
        self.transport = transport
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.done = state.done_future
        self.cycle: WebSocketCycle = None  # type: ignore[assignment]
        self._ws_state = HANDSHAKE
        self._accept_key = ""
        self._extensions_header: str | None = None
        self._early: list[bytes] = []  # bytes received before the handshake completed
        self._early_size = 0
        self._read_paused = read_paused
        self._app_paused = False  # the app's queue is full
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._stopping = False
        self._failed = False
        # The message being reassembled from fragments.
        self._fragments: list[bytes] = []
        self._fragment_text = False
        self._ping_interval = config.ws_ping_interval or 0.0
        self._ping_timeout = config.ws_ping_timeout or 0.0
        self._ping_payload = b""
        self._deadline = INFINITY
        self._deadline_reason = NONE

    def start(
        self, scope: dict[str, Any], accept_key: str, extensions_header: str | None, rest: bytes
    ) -> None:
        """Take the transport over and start the app with ``websocket.connect`` queued."""
        self._accept_key = accept_key
        self._extensions_header = extensions_header
        self.transport.set_protocol(self)
        self.state.connections.add(self)
        self._update_reading()  # HTTP/1.1 may have paused it; we want to see the peer leave
        if rest:
            self.data_received(rest)
        self.cycle = cycle = WebSocketCycle(scope, self, self.config.ws_max_queue)
        cycle.task = task = self.loop.create_task(
            cycle.run(self.config.loaded_app, self.state.tasks)
        )  # type: ignore[arg-type]
        self.state.tasks.add(task)
        if self.transport.is_closing():  # the early data was over the limit
            cycle.lose_connection(ABNORMAL_CLOSURE)

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # pragma: no cover
        """Never called: the transport arrives through :func:`upgrade`."""

    def connection_lost(self, exc: Exception | None) -> None:
        self._ws_state = CLOSED
        self._deadline = INFINITY
        self.state.connections.discard(self)
        if self.cycle is not None:
            self.cycle.lose_connection(ABNORMAL_CLOSURE)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def eof_received(self) -> bool | None:
        # The peer went away without a close frame (or after ours): close our side as well.
        return None

    def data_received(self, data: bytes) -> None:
        state = self._ws_state
        if state in (OPEN, CLOSING):
            self.conn.receive_data(data)
            self._process()
        elif state == HANDSHAKE:
            # A client must wait for the 101; hold what it sent early, within reason.
            self._early.append(data)
            self._early_size += len(data)
            if self._early_size > EARLY_DATA_LIMIT:
                self._ws_state = CLOSED
                self.transport.close()

    def pause_writing(self) -> None:
        # A peer that sends (pings, say) but never reads must not grow our write buffer.
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    # -- frames from the peer -------------------------------------------------------

    def _process(self) -> None:
        conn = self.conn
        for frame in conn.events_received():
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY:
                if frame.fin:
                    self._message(frame.data, opcode is _TEXT)
                else:
                    self._fragments = [frame.data]
                    self._fragment_text = opcode is _TEXT
            elif opcode is _CONT:
                self._fragments.append(frame.data)
                if frame.fin:
                    data = b"".join(self._fragments)
                    self._fragments = []
                    self._message(data, self._fragment_text)
            elif opcode is _PONG:
                if self._deadline_reason == PONG and frame.data == self._ping_payload:
                    self._schedule_ping()
            elif opcode is _CLOSE:
                received = conn.close_rcvd
                assert received is not None
                self._ws_state = CLOSING
                self.cycle.lose_connection(received.code, received.reason)
            # Pings need nothing from us: the protocol queued the pong already.
            if self._failed:
                break
        if conn.parser_exc is not None and not self._failed:
            self._fail_reported()
        self._flush()

    def _message(self, data: bytes, text: bool) -> None:
        if text:
            try:
                self.cycle.feed(data.decode())
            except UnicodeDecodeError as exc:
                self.conn.fail(1007, f"invalid UTF-8 at position {exc.start}")
                self._fail_reported()
        else:
            self.cycle.feed(data if type(data) is bytes else bytes(data))

    def _fail_reported(self) -> None:
        """The protocol failed the connection (1002, 1007, 1009...): tell the app which."""
        self._failed = True
        self._ws_state = CLOSING
        sent = self.conn.close_sent
        if sent is not None:
            logger.debug("WebSocket from %s failed: %d %s", self._client(), sent.code, sent.reason)
            self.cycle.lose_connection(sent.code, sent.reason)
        else:
            self.cycle.lose_connection(ABNORMAL_CLOSURE)

    def _flush(self) -> None:
        """Write what the protocol produced; its end-of-stream marker means: close the socket."""
        writes = self.conn.data_to_send()
        if not writes:
            return
        eof = not writes[-1]
        if eof:
            writes = [chunk for chunk in writes if chunk]
        if self._ws_state != CLOSED:
            if len(writes) == 1:
                self.transport.write(writes[0])
            elif writes:
                self.transport.writelines(writes)
            if eof:
                self._ws_state = CLOSED
                self._deadline = INFINITY
                self.transport.close()

    # -- the WSWire interface used by WebSocketCycle -----------------------------------

    def accept(self, subprotocol: str | None, headers: Iterable[Any]) -> None:
        parts = [
            b"HTTP/1.1 101 Switching Protocols\r\n",
            self.state.default_headers,
            b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
            self._accept_key.encode("ascii"),
            b"\r\n",
        ]
        if self._extensions_header is not None:
            parts += (b"sec-websocket-extensions: ", self._extensions_header.encode(), b"\r\n")
        if subprotocol is not None:
            parts += (b"sec-websocket-protocol: ", _header_value(subprotocol.encode()), b"\r\n")
        for name, value in headers:
            lowered = _header_name(name).lower()
            if lowered == b"sec-websocket-protocol":
                raise RuntimeError(
                    "ASGI: give the subprotocol in 'subprotocol', not as a header of "
                    "'websocket.accept'"
                )
            if lowered not in _HANDSHAKE_HEADERS:
                parts += (name, b": ", _header_value(value), b"\r\n")
        parts.append(b"\r\n")
        if self._ws_state != HANDSHAKE:
            return
        self.transport.write(b"".join(parts))
        self._ws_state = OPEN
        self._log(101)
        self._schedule_ping()
        early = self._early
        self._early = []
        for chunk in early:
            self.data_received(chunk)
        if self._stopping and self._ws_state == OPEN:
            self._shutdown_close()

    def send_data(self, data: str | bytes) -> asyncio.Future[None] | None:
        if self._ws_state != OPEN:
            return None  # a close is under way: the cycle will hear of it
        try:
            if type(data) is str:
                self.conn.send_text(data.encode())
            else:
                self.conn.send_binary(data)
        except InvalidState:
            return None
        self._flush()
        if self._write_paused:
            if self._drain is None:
                self._drain = self.loop.create_future()
            return self._drain
        return None

    def close(self, code: int, reason: str) -> None:
        if self._ws_state != OPEN:
            return
        try:
            self.conn.send_close(code, reason)
        except ProtocolError as exc:
            raise RuntimeError(
                f"ASGI: invalid WebSocket close {code!r} {reason!r}: {exc}"
            ) from None
        self._closing()

    def respond(self, status: int, headers: Iterable[Any], body: bytes) -> None:
        if self._ws_state != HANDSHAKE:
            return
        parts = [status_line(status), self.state.default_headers]
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
        self.transport.write(b"".join(parts))
        self._log(status)
        self._ws_state = CLOSED
        self.transport.close()

    def abort(self) -> None:
        self._ws_state = CLOSED
        self.transport.abort()

    def pause_reading(self) -> None:
        self._app_paused = True
        self._update_reading()

    def resume_reading(self) -> None:
        self._app_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        """Read unless the app's queue or our write buffer is full (always while closing)."""
        state = self._ws_state
        if state == CLOSED:
            return
        want = state == CLOSING or not (self._app_paused or self._write_paused)
        if want and self._read_paused:
            self._read_paused = False
            self.transport.resume_reading()
        elif not want and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()

    def _closing(self) -> None:
        """Our close frame is out: wait (reading) for the peer's, for up to CLOSE_TIMEOUT."""
        self._ws_state = CLOSING
        self._flush()
        if self._ws_state == CLOSING:
            self._deadline = self.loop.time() + CLOSE_TIMEOUT
            self._deadline_reason = CLOSE
            self._update_reading()  # the reply must get through, however full the queue is

    # -- keepalive, timeouts and shutdown -------------------------------------------------

    def _schedule_ping(self) -> None:
        if self._ping_interval > 0:
            self._deadline = self.loop.time() + self._ping_interval
            self._deadline_reason = PING
        else:
            self._deadline = INFINITY
            self._deadline_reason = NONE

    def check_deadline(self, now: float) -> None:
        """Called by the server tick: ping, give up on a silent peer, or end a stalled close."""
        if now < self._deadline:
            return
        reason = self._deadline_reason
        if reason == PING and self._ws_state == OPEN:
            self._ping_payload = os.urandom(4)
            self.conn.send_ping(self._ping_payload)
            self._flush()
            if self._ping_timeout > 0:
                self._deadline = now + self._ping_timeout
                self._deadline_reason = PONG
            else:
                self._schedule_ping()
        elif reason == PONG and self._ws_state == OPEN:
            logger.debug("WebSocket from %s: no pong in time, closing", self._client())
            self.conn.fail(1011, "keepalive ping timeout")
            self._failed = True
            self._ws_state = CLOSING
            self.cycle.lose_connection(ABNORMAL_CLOSURE, "keepalive ping timeout")
            self._flush()
        else:
            self._deadline = INFINITY
            if self._ws_state != CLOSED:
                self._ws_state = CLOSED
                self.transport.close()

    def shutdown(self) -> None:
        """The server is stopping: close open sessions with 1012 (Service Restart)."""
        self._stopping = True
        if self._ws_state == OPEN:
            self._shutdown_close()

    def _shutdown_close(self) -> None:
        self.conn.send_close(1012, "")
        self.cycle.lose_connection(1012, "")
        self._closing()

    # -- helpers ------------------------------------------------------------------------

    def _client(self) -> str:
        client = self.cycle.scope.get("client") if self.cycle else None
        return f"{client[0]}:{client[1]}" if client else "-"

    def _log(self, status: int) -> None:
        if self.state.access_log:
            scope = self.cycle.scope
            target = scope["raw_path"]
            if scope["query_string"]:
                target += b"?" + scope["query_string"]
            shown = "[accepted]" if status == 101 else str(status)
            access_logger.info('%s - "WebSocket %s" %s', self._client(), escape(target), shown)


def _header_name(name: Any) -> bytes:
    if type(name) is not bytes or not name or _INVALID_NAME.search(name):
        raise RuntimeError(f"invalid response header name {name!r}")
    return name


def _header_value(value: Any) -> bytes:
    if type(value) is not bytes or _INVALID_VALUE.search(value):
        raise RuntimeError(f"invalid response header value {value!r}")
    return value
