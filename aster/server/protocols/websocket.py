"""WebSocket connections (RFC 6455) over an HTTP/1.1 Upgrade, on ``websockets``' sans-I/O protocol.

:class:`~.http1.HTTP1Protocol` parses the upgrade request as it parses any
other and then calls :func:`upgrade`, which checks the handshake (see
:mod:`.ws_handshake`) and hands the transport to a :class:`WebSocketProtocol`.
From there ``websockets.server.ServerProtocol`` does the framing (masking in
C, permessage-deflate, close codes, limits) and this module does the I/O, the
timers and the bookkeeping; what the app sees is the business of
:class:`~.ws_cycle.WebSocketCycle`.

One shortcut, for speed: on a connection without extensions, the common
frames (final, masked text and binary ones, whole in what was read) are
unmasked here and the messages the app sends are framed here, both a few
lines; everything else still goes through ``websockets``, a whole frame at a
time.  Messages sent in one turn of the event loop go out in one write.

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
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidHandshake, InvalidState, ProtocolError
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

from ..logs import escape
from .ws_cycle import ABNORMAL_CLOSURE, WebSocketCycle
from .ws_handshake import accept_response, denial_response, negotiate, refusal

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
#: Bytes of outgoing messages held for one write at the end of the loop turn, at most.
FLUSH_THRESHOLD = 65536

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.CONT,
    Opcode.PONG,
    Opcode.CLOSE,
)
_OPEN_STATE = State.OPEN
#: First byte of a final, uncompressed text or binary frame: FIN set, RSV clear.
_FIN_TEXT, _FIN_BINARY = 0x81, 0x82
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


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
    try:
        conn, scope, accept_key, extensions_header = negotiate(config, http_scope)
    except InvalidHandshake as exc:
        transport.write(refusal(exc, state.default_headers))
        transport.close()
        return
    protocol = WebSocketProtocol(config, state, transport, conn, read_paused)
    protocol.start(scope, accept_key, extensions_header, rest)


def frame_header(first: int, length: int) -> bytes:
    """The header of an unmasked (server) frame: ``first`` is FIN, RSV and opcode."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _pack_medium(first, 126, length)
    return _pack_long(first, 127, length)


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
        self.loop = state.loop
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
        # The fast path (see _receive_plain): only without extensions, whose frames it
        # does not know.
        self._plain = not conn.extensions
        limit = conn.max_message_size
        self._max_plain = limit if limit is not None else 1 << 62
        self._rx = b""  # the start of a frame header, held until the rest arrives
        self._slow_remaining = 0  # bytes still due of a frame handed to websockets
        self._out: list[bytes] = []  # frames of the fast path, not yet written
        self._unflushed = 0  # bytes of messages queued but not yet written
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
        if state == OPEN and self._plain:
            self._receive_plain(data)
        elif state in (OPEN, CLOSING):
            if self._rx:
                data = self._rx + data
                self._rx = b""
            self._receive_frames(data)
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

    def _receive_plain(self, data: bytes) -> None:
        """Take complete, final, masked text and binary frames straight off ``data``.

        Without extensions, nearly every frame a client sends is one of those, and
        unmasking it (in C) and checking its UTF-8 is all there is to it, about a
        tenth of what the general parser costs.  Every other frame (control frames,
        fragments, anything malformed or over the size limit, and a frame not
        complete yet) goes to ``websockets`` whole, and only whole frames go
        there, so its parser is between frames whenever this one reads a header.
        """
        if self._rx:
            data = self._rx + data
            self._rx = b""
        size = len(data)
        at = self._slow_remaining
        if at:
            if at >= size:
                self._slow_remaining = at - size
                self._receive_frames(data)
                return
            self._slow_remaining = 0
            self._receive_frames(data[:at])
        max_size = self._max_plain
        while at < size and self._ws_state == OPEN:
            if size - at < 2:
                break
            first = data[at]
            second = data[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if size - start < 2:
                    break
                length = (data[start] << 8) | data[start + 1]
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            masked = second & 0x80
            if masked:
                start += 4
            end = start + length
            if (
                first in (0x81, 0x82)  # _FIN_TEXT, _FIN_BINARY
                and masked
                and end <= size
                and length <= max_size
                and not self._fragments
            ):
                payload = apply_mask(data[start:end], data[start - 4 : start])
                self._message(payload, first == _FIN_TEXT)
                at = end
                continue
            if end > size:
                self._slow_remaining = end - size
                end = size
            self._receive_frames(data[at:end])
            at = end
        if at < size:
            if self._ws_state == OPEN:
                self._rx = data[at:]
            elif self._ws_state == CLOSING:
                self._receive_frames(data[at:])

    def _receive_frames(self, data: bytes) -> None:
        """Bytes for ``websockets`` to parse; handle the frames it completes."""
        self.conn.receive_data(data)
        self._process()

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
                self._flush()
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
        self._unflushed = 0
        writes = self.conn.data_to_send()
        out = self._out
        if out:
            # Ours first: whatever websockets queued meanwhile (a pong, a close) may follow.
            self._out = []
            writes = out + writes if writes else out
        elif not writes:
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
        response = accept_response(
            self.state.default_headers,
            self._accept_key,
            self._extensions_header,
            subprotocol,
            headers,
        )
        if self._ws_state != HANDSHAKE:
            return
        self.transport.write(response)
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
        if self._plain:
            if type(data) is str:
                data = data.encode()
                first = _FIN_TEXT
            else:
                first = _FIN_BINARY
                if type(data) is not bytes:
                    data = bytes(data)
            length = len(data)
            if length < 126:
                self._out.append(bytes((first, length)) + data)
            elif length < 16384:
                self._out.append(frame_header(first, length) + data)
            else:
                self._out += (frame_header(first, length), data)
        else:
            try:
                if type(data) is str:
                    self.conn.send_text(data.encode())
                else:
                    self.conn.send_binary(data)
            except InvalidState:
                return None
        # Messages sent in one turn of the loop (an app answering a burst, a broadcast)
        # go out in one write: a system call per message costs more than framing it.
        unflushed = self._unflushed
        self._unflushed = unflushed + len(data) + 14
        if unflushed == 0:
            self.loop.call_soon(self._flush_sends)
        elif self._unflushed > FLUSH_THRESHOLD:
            self._flush()
        if self._write_paused:
            if self._drain is None:
                self._drain = self.loop.create_future()
            return self._drain
        return None

    def _flush_sends(self) -> None:
        if self._unflushed:
            self._flush()

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
        self.transport.write(denial_response(status, self.state.default_headers, headers, body))
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
