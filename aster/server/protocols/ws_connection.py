"""What every WebSocket connection does, whichever library frames it.

A connection starts when HTTP/1.1 hands over a transport whose request asked
for an upgrade, or when an HTTP/2 stream carries an extended CONNECT (RFC
8441; :mod:`.h2_websocket`), whose stream then stands in for the transport
and whose handshake answers are HTTP/2 HEADERS (the ``carrier``).  From then
on this class does the I/O, the timers and the bookkeeping, whatever carries
the frames, and a subclass does the framing: :class:`~.websocket.WebSocketProtocol`
with ``websockets`` (the default) or :class:`~.ws_wsproto.WSProtoProtocol`
with ``wsproto``.  What the app sees is the business of
:class:`~.ws_cycle.WebSocketCycle`.

The connection moves through these states (``_ws_state``), and one deadline
(``_deadline``, checked by the server's tick) serves every timer::

    HANDSHAKE --accept--> OPEN --close sent--> CLOSING --peer's close/timeout--> CLOSED
        +--denied (HTTP response)--------------------------------------------> CLOSED

    HANDSHAKE: no deadline (the app decides; bytes that arrive are held back);
    OPEN:      PING (time to ping), then PONG (the peer must answer by then);
    CLOSING:   CLOSE (the peer must complete the closing handshake by then), or
               FAIL (a failure the peer caused waits, briefly, for the app; below).

Messages the app sends in one turn of the event loop go out in one write: a
system call per message costs more than framing it.

When the peer breaks the protocol (1002, 1007, 1009) after messages the app has
not answered yet, say in the same read, the failure waits until the app asks for
its next message (or ends the session, or ``FAIL_DELAY`` passes): the answers to
the valid messages go out first, then the close frame, in the order a strict
client (Autobahn's) expects.  Nothing more is read meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ..logs import escape
from .ws_cycle import ABNORMAL_CLOSURE, WebSocketCycle
from .ws_handshake import accept_response, denial_response

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")


class WSCarrier(Protocol):
    """The handshake answers of a WebSocket that is not on an HTTP/1.1 connection."""

    def accept(
        self, extensions_header: str | None, subprotocol: str | None, headers: Iterable[Any]
    ) -> None:
        """Accept (HTTP/2: a 200 on the stream); raise before sending if the headers are bad."""

    def deny(self, status: int, headers: Iterable[Any], body: bytes) -> None:
        """Answer with a complete HTTP response instead."""


access_logger = logging.getLogger("aster.access")

HANDSHAKE, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
NONE, PING, PONG, CLOSE, FAIL = 0, 1, 2, 3, 4
INFINITY = float("inf")

#: How long the peer has to answer our close frame before the socket is closed anyway.
CLOSE_TIMEOUT = 10.0
#: Bytes a client may send before the handshake completes (it should send none).
EARLY_DATA_LIMIT = 65536
#: Bytes of outgoing messages held for one write at the end of the loop turn, at most.
FLUSH_THRESHOLD = 65536
#: How long a failure the peer caused waits for the app to answer the messages before it.
FAIL_DELAY = 1.0


class WebSocketConnection(asyncio.Protocol):
    """One WebSocket connection; subclasses supply the framing (``_receive`` and the
    ``_encode_*`` methods)."""

    def __init__(
        self,
        config: Config,
        state: ServerState,
        transport: asyncio.Transport,
        read_paused: bool,
        carrier: WSCarrier | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.transport = transport
        #: How the handshake is answered when that is not HTTP/1.1 bytes (an HTTP/2 stream).
        self.carrier = carrier
        self.loop = state.loop
        self.done = state.done_future
        self.cycle: WebSocketCycle = None  # type: ignore[assignment]
        self._ws_state = HANDSHAKE
        self._accept_key = ""  # for the 101: Sec-WebSocket-Accept
        self._extensions_header: str | None = None  # and Sec-WebSocket-Extensions
        self._early: list[bytes] = []  # bytes received before the handshake completed
        self._early_size = 0
        self._read_paused = read_paused
        self._app_paused = False  # the app's queue is full
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._out: list[bytes] = []  # frames not yet written
        self._unflushed = 0  # bytes of messages queued but not yet written
        self._eof = False  # close the socket once _out is written
        self._stopping = False
        self._failed = False
        #: The close code and reason of a failure waiting for the app (see the module doc).
        self._failing: tuple[int, str] | None = None
        self._ping_interval = config.ws_ping_interval or 0.0
        self._ping_timeout = config.ws_ping_timeout or 0.0
        self._ping_payload = b""
        self._deadline = INFINITY
        self._deadline_reason = NONE

    def start(
        self, scope: dict[str, Any], accept_key: str, extensions_header: str | None, rest: bytes
    ) -> None:
        """Take the transport over and start the app with ``websocket.connect`` queued.

        ``accept_key`` and ``extensions_header`` are what the handshake agreed on,
        for the 101 if the app accepts; ``rest`` is what followed the request.
        """
        self._accept_key = accept_key
        self._extensions_header = extensions_header
        self.transport.set_protocol(self)
        self.state.connections.add(self)
        self._stopping = self.state.stopping  # upgraded during shutdown: 1012 once accepted
        self._update_reading()  # HTTP/1.1 may have paused it; we want to see the peer leave
        if rest:
            self.data_received(rest)
        self.cycle = cycle = WebSocketCycle(scope, self, self.config.ws_max_queue)
        cycle.task = task = self.loop.create_task(cycle.run(self.state.app, self.state.tasks))  # type: ignore[arg-type]
        self.state.tasks.add(task)
        if self.transport.is_closing():  # the early data was over the limit
            cycle.lose_connection(ABNORMAL_CLOSURE)

    # -- what a subclass provides ----------------------------------------------------

    def _receive(self, data: bytes) -> None:
        """Bytes from the peer while OPEN or CLOSING: frames to messages, pongs, closes."""
        raise NotImplementedError

    def _encode_message(self, data: str | bytes) -> bool:
        """Queue one message (text if ``str``); False if the protocol can no longer send."""
        raise NotImplementedError

    def _encode_close(self, code: int, reason: str) -> None:
        """Queue our close frame; raises ``RuntimeError`` for a code or reason not allowed."""
        raise NotImplementedError

    def _encode_ping(self, payload: bytes) -> None:
        raise NotImplementedError

    def _encode_failure(self, code: int, reason: str) -> None:
        """Fail the connection: queue a close frame with ``code``, then close the socket."""
        raise NotImplementedError

    def _take_writes(self) -> list[bytes]:
        """Bytes the framing library queued itself (and sets ``_eof`` if it wants the socket
        closed); by default everything is already in ``_out``.  While a failure waits
        (``_failing``), whatever the library queued must be held back."""
        return []

    def _release_failure(self, code: int, reason: str) -> None:
        """A failure of the peer's making takes effect: queue its close frame if the
        library has not already."""
        raise NotImplementedError

    # -- what a subclass calls ------------------------------------------------------

    def _peer_closed(self, code: int, reason: str) -> None:
        """The peer's close frame arrived (the reply is the framing's business)."""
        self._ws_state = CLOSING
        self.cycle.lose_connection(code, reason)

    def _peer_failed(self, code: int, reason: str) -> None:
        """The peer broke the protocol (1002, 1007, 1009): fail the connection, once the app
        has answered what came before (see the module doc).  The caller flushes."""
        if self._failed or self._failing is not None:
            return
        cycle = self.cycle
        if cycle.waiting_for_failure():
            self._failing = (code, reason)
            self._ws_state = CLOSING
            self._deadline = self.loop.time() + FAIL_DELAY
            self._deadline_reason = FAIL
        else:
            self._release_failure(code, reason)
            self._failed_with(code, reason)

    def fail_now(self) -> None:
        """The failure that waited for the app takes effect: its close frame goes out after
        everything the app sent meanwhile, and the app hears of it."""
        failing = self._failing
        if failing is None:
            return
        self._failing = None
        self._deadline = INFINITY
        self._deadline_reason = NONE
        self._release_failure(*failing)
        self._failed_with(*failing)
        self._flush()

    def _failed_with(self, code: int, reason: str) -> None:
        """The connection failed with this close code (1002, 1007, 1009...): tell the app."""
        self._failed = True
        self._ws_state = CLOSING
        logger.debug("WebSocket from %s failed: %d %s", self._client(), code, reason)
        self.cycle.lose_connection(code, reason)

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # pragma: no cover
        """Never called: the transport arrives from HTTP/1.1, already connected."""

    def connection_lost(self, exc: Exception | None) -> None:
        self._ws_state = CLOSED
        self._failing = None
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
        if state == OPEN:
            self._receive(data)
        elif state == CLOSING:
            if self._failing is None:  # after a failure of the peer's, nothing more is read
                self._receive(data)
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

    # -- writing ---------------------------------------------------------------------

    def _flush(self) -> None:
        """Write what is queued; then close the socket if the framing asked for that."""
        self._unflushed = 0
        writes = self._take_writes()
        out = self._out
        if out:
            # Ours first: whatever the library queued meanwhile (a pong, a close) may follow.
            self._out = []
            writes = out + writes if writes else out
        if self._ws_state == CLOSED:
            return
        if writes:
            if len(writes) == 1:
                self.transport.write(writes[0])
            else:
                self.transport.writelines(writes)
        if self._eof:
            self._ws_state = CLOSED
            self._deadline = INFINITY
            self.transport.close()

    def _flush_sends(self) -> None:
        if self._unflushed:
            self._flush()

    # -- the WSWire interface used by WebSocketCycle -----------------------------------

    def accept(self, subprotocol: str | None, headers: Iterable[Any]) -> None:
        if self.carrier is not None:
            if self._ws_state != HANDSHAKE:
                return
            self.carrier.accept(self._extensions_header, subprotocol, headers)
        else:
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
        if (self._ws_state != OPEN and self._failing is None) or not self._encode_message(data):
            return None  # a close is under way: the cycle will hear of it
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

    def close(self, code: int, reason: str) -> None:
        if self._failing is not None:  # the app is done: the failure's close frame goes out
            self.fail_now()
            return
        if self._ws_state != OPEN:
            return
        self._encode_close(code, reason)
        self._closing()

    def respond(self, status: int, headers: Iterable[Any], body: bytes) -> None:
        if self._ws_state != HANDSHAKE:
            return
        if self.carrier is not None:
            self.carrier.deny(status, headers, body)
        else:
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

    def _pong_received(self, payload: bytes) -> None:
        if self._deadline_reason == PONG and payload == self._ping_payload:
            self._schedule_ping()

    def check_deadline(self, now: float) -> None:
        """Called by the server tick: ping, give up on a silent peer, or end a stalled close."""
        if now < self._deadline:
            return
        reason = self._deadline_reason
        if reason == PING and self._ws_state == OPEN:
            self._ping_payload = os.urandom(4)
            self._encode_ping(self._ping_payload)
            self._flush()
            if self._ping_timeout > 0:
                self._deadline = now + self._ping_timeout
                self._deadline_reason = PONG
            else:
                self._schedule_ping()
        elif reason == FAIL:
            self.fail_now()
        elif reason == PONG and self._ws_state == OPEN:
            logger.debug("WebSocket from %s: no pong in time, closing", self._client())
            self._encode_failure(1011, "keepalive ping timeout")
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
        if self._failing is not None:
            self.fail_now()
        elif self._ws_state == OPEN:
            self._shutdown_close()

    def _shutdown_close(self) -> None:
        self._encode_close(1012, "")
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
            # Over HTTP/2 (RFC 8441) the log says so: the session began as an extended CONNECT.
            version = " HTTP/2.0" if scope["http_version"] == "2" else ""
            access_logger.info(
                '%s - "WebSocket %s%s" %s', self._client(), escape(target), version, shown
            )
