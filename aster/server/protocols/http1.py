"""HTTP/1.1 connections: ``h1_parsing`` turns bytes into requests, ``h1_framing`` frames
responses, and this module runs the requests in between.

A connection moves through these states, recorded in ``_deadline_reason`` so
that the server's one-second tick can enforce every timeout without a timer
per request:

    IDLE  --first byte-->  HEAD  --headers complete-->  BODY  --message complete-->  (app)
      ^                                                                                |
      +------------------------- response complete, keep-alive -----------------------+

Requests are handled one at a time, in order.  Pipelined requests are parsed
into ``_pending`` and reading pauses until their turn; the response to request
N is always written before the response to request N+1.  Anything the parser,
the limits or the timeouts reject becomes an error response queued in that same
order, after which the connection closes.

Request bodies are buffered per cycle up to ``BODY_HIGH_WATER``; past that the
transport stops reading until the app drains the buffer.  Writes honour the
transport's ``pause_writing``/``resume_writing`` by handing the cycle a future
to await.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Any

import httptools

from ..logs import log_access
from .cycle import HTTPCycle
from .h1_framing import NO_BODY, ResponseFraming, error_response
from .h1_parsing import BODY, HEAD, IDLE, INFINITY, RequestParsing, RequestRejected

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")

#: At shutdown, how long a connection with nothing in flight may still deliver a request:
#: one that served requests already (a client sends its next one right after a response,
#: but on a loaded machine that client may not get the CPU for a while)...
IDLE_GRACE = 0.5
#: Bytes of complete pipelined responses held for one write at most (see _release_cork).
CORK_LIMIT = 65536
#: ...and one that has sent nothing yet (just accepted, perhaps from the backlog).
FRESH_GRACE = 1.0


class HTTP1Protocol(RequestParsing, ResponseFraming, asyncio.Protocol):
    """One HTTP/1.1 connection: parsing (``RequestParsing``), cycles, framing, timeouts."""

    def __init__(self, config: Config, state: ServerState, app_state: dict[str, Any]) -> None:
        self.config = config
        self.state = state
        self.app_state = app_state
        self.loop = state.loop
        self.app = state.app
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int | None] | None = None
        self.scheme = "https" if config.is_ssl else "http"
        self.root_path = config.root_path
        self.root_path_raw = config.root_path.encode("utf-8")
        self.trusted_proxy = False
        # Parsing state for the request whose head is arriving.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunk_size = 0  # size of the data being parsed: bounds the head it may contain
        self._head_bytes = 0
        self._hosts = 0
        self._special = False  # saw a header from _SPECIAL_HEADERS; the fields below are valid
        self._expect_continue = False
        self._forwarded = False
        self._content_length: bytes | None = None
        self._transfer_encoding: bytes | None = None
        # Requests: the one whose body is being parsed, the one responding, those queued.
        self._receiving: HTTPCycle | None = None
        self._active: HTTPCycle | None = None
        self._pending: collections.deque[HTTPCycle | RequestRejected] = collections.deque()
        self._body_received = 0
        self._discarded = 0
        # Response framing of the active cycle.
        self._body_mode = NO_BODY
        self._length_left: int | None = None
        self._response_keep_alive = True
        # Connection state.
        self._deadline = INFINITY
        self._deadline_reason = IDLE
        self._read_paused = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        # Complete responses held back while pipelined requests are answered (see _start_next).
        self._cork: list[bytes] | None = None
        self._corked_bytes = 0
        self._closing = False
        self._stopping = False
        self._parse_stopped = False
        self._limit_line = config.limit_request_line
        self._limit_fields = config.limit_request_fields
        self._limit_head = config.limit_request_header_size
        self._limit_body = config.limit_request_body
        # A head that arrived in fewer bytes than this is within every head limit: each
        # header line takes at least 4 bytes ("a:\r\n"), so it cannot have too many either.
        self._small_head = min(self._limit_line, self._limit_head, 4 * self._limit_fields)
        self._limit_concurrency = config.limit_concurrency
        self._timeout_head = config.timeout_request_head
        self._timeout_body = config.timeout_request_body
        self._timeout_keep_alive = config.timeout_keep_alive
        self._access_log = state.access_log
        self._tasks = state.tasks
        self._create_task = self.loop.create_task
        self.done = state.done_future
        self._ws_enabled = config.ws_impl is not None
        self._fresh = True  # no request has started on this connection yet
        self._h2c = config.http2_cleartext
        self._alpn = config.is_ssl and config.http != "h11"

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        if isinstance(peer, (tuple, list)) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        if isinstance(sock, (tuple, list)) and len(sock) >= 2:
            self.server = (str(sock[0]), int(sock[1]))
        elif isinstance(sock, str) and sock:
            self.server = (sock, None)
        if self.config.proxy_headers:
            self.trusted_proxy = (
                self.client[0] if self.client else None
            ) in self.config.trusted_proxies
        if self._alpn:
            from .h2_negotiation import alpn_chose_h2, http2_from

            if alpn_chose_h2(transport):
                self._hand_over()
                http2_from(self).start(b"")
                return
        self.state.connections.add(self)
        self._deadline = self.loop.time() + self._timeout_keep_alive
        self._deadline_reason = IDLE
        if self.state.stopping:
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.state.connections.discard(self)
        for cycle in (self._active, self._receiving, *self._pending):
            if isinstance(cycle, HTTPCycle):
                cycle.lose_connection()
        self._pending.clear()
        self._active = self._receiving = None
        self._cork = None
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._parse_stopped:
            return
        self._chunk_size = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if self._ws_enabled and self._websocket_upgrade():
                if self._declares_body():
                    self._refuse_upgrade_with_body()
                else:
                    self._switch_to_websocket(data, exc)
                return
            if self._h2c and self._h2c_upgrade(data, exc):
                return
            self._after_upgrade(data, exc)
        except httptools.HttpParserCallbackError as exc:
            rejected = exc.__context__
            if isinstance(rejected, RequestRejected):
                if rejected.status == 505 and not self._unsupported_version(data):
                    rejected = RequestRejected(400, "Bad Request: no HTTP version")
                self._reject(rejected)
            else:  # pragma: no cover - a bug in our callbacks
                logger.exception("Error while parsing a request", exc_info=rejected)
                self._reject(RequestRejected(500, "Internal Server Error"))
        except httptools.HttpParserError as exc:
            if self._h2c and self._prior_knowledge(data):
                return
            if self._unsupported_version(data):
                self._reject(RequestRejected(505, "HTTP Version Not Supported"))
            else:
                self._reject(RequestRejected(400, f"Invalid HTTP request: {exc}"))
        else:
            if self._deadline_reason == BODY:
                if not self._read_paused:  # the client is still sending: give it more time
                    self._deadline = self.loop.time() + self._timeout_body
            elif self._deadline_reason == HEAD:
                # A head still incomplete never reaches on_headers_complete: bound it here.
                self._head_bytes += len(data)
                if len(self._url) > self._limit_line:
                    self._reject(RequestRejected(414, "URI Too Long"))
                elif (
                    self._head_bytes > self._limit_head + self._limit_line + 4096
                    or len(self._headers) > self._limit_fields
                ):
                    self._reject(RequestRejected(431, "Request Header Fields Too Large"))
        if self._active is None and self._pending:
            self._start_next()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    def _wait_writable(self) -> asyncio.Future[None]:
        if self._drain is None:
            self._drain = self.loop.create_future()
        return self._drain

    def _pause_reading(self) -> None:
        if not self._read_paused and not self._closing:
            self._read_paused = True
            self.transport.pause_reading()
            if self._deadline_reason != IDLE:
                # We stopped reading, so a stalled head or body is our doing, not the client's.
                self._deadline = INFINITY

    def _resume_reading(self) -> None:
        if self._read_paused and not self._closing:
            self._read_paused = False
            self.transport.resume_reading()
            if self._deadline_reason == HEAD:
                self._deadline = self.loop.time() + self._timeout_head
            elif self._deadline_reason == BODY:
                self._deadline = self.loop.time() + self._timeout_body

    # -- the WebSocket hand-off ------------------------------------------------------

    def _websocket_upgrade(self) -> bool:
        """Is the request llhttp stopped at a WebSocket handshake we can take over now?

        Only when nothing is ahead of it: a handshake pipelined behind other
        requests is served as plain HTTP (browsers never do that).
        """
        if self._active is not None or len(self._pending) != 1:
            return False
        cycle = self._pending[0]
        if type(cycle) is not HTTPCycle:
            return False
        from .ws_handshake import is_websocket_upgrade

        return is_websocket_upgrade(cycle.scope["headers"])

    def _refuse_upgrade_with_body(self) -> None:
        """RFC 9110 section 7.8: protocols switch after the whole message, and a handshake has
        none. Its body must never be parsed as frames: a proxy that forwarded it as HTTP data
        would let the client smuggle frames past it. So the request is refused with 400."""
        self._pending.pop()  # the handshake is not run as a plain request either
        self._receiving = None
        self._reject(RequestRejected(400, "Bad Request: an upgrade request must not carry a body"))

    def _switch_to_websocket(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        """Hand the transport, the request and the bytes after its head to the WebSocket side."""
        if self.config.ws_impl == "wsproto":
            from .ws_wsproto import upgrade
        else:
            from .websocket import upgrade

        rest = data[exc.args[0] :] if exc.args and isinstance(exc.args[0], int) else b""
        cycle = self._pending.pop()
        self._receiving = None
        # This protocol is done: nothing it still gets called for may touch the transport.
        self._parse_stopped = self._closing = True
        self._deadline = INFINITY
        self.state.connections.discard(self)
        self.state.total_requests += 1
        upgrade(self.config, self.state, self.transport, cycle.scope, rest, self._read_paused)

    # -- the HTTP/2 hand-off (h2_negotiation.py) ---------------------------------------

    def _prior_knowledge(self, data: bytes) -> bool:
        """Did the connection start with the HTTP/2 client preface?  (llhttp refused it.)"""
        if not self._fresh or self._active is not None or self._pending:
            return False
        from .h2_negotiation import http2_from, preface_start

        stream = preface_start(self._head_bytes, data)
        if stream is None:
            return False
        self._hand_over()
        http2_from(self).start(stream)
        return True

    def _h2c_upgrade(self, data: bytes, exc: httptools.HttpParserUpgrade) -> bool:
        """``Upgrade: h2c`` on the only request in flight: switch, if it is a valid one."""
        if self._active is not None or len(self._pending) != 1:
            return False
        cycle = self._pending[0]
        if type(cycle) is not HTTPCycle:
            return False
        from .h2_negotiation import h2c_settings, switch_h2c

        settings = h2c_settings(cycle)
        if settings is None:
            return False
        rest = data[exc.args[0] :] if exc.args and isinstance(exc.args[0], int) else b""
        self._pending.pop()
        self._hand_over()
        if self._read_paused:
            self.transport.resume_reading()
        switch_h2c(self, cycle, settings, rest)
        return True

    def _hand_over(self) -> None:
        """This protocol is done: nothing it still gets called for may touch the transport."""
        self._receiving = None
        self._parse_stopped = self._closing = True
        self._deadline = INFINITY
        self.state.connections.discard(self)

    # -- running requests ----------------------------------------------------------

    def _start_next(self) -> None:
        pending = self._pending
        while self._active is None and pending and not self._closing:
            item = pending.popleft()
            if type(item) is not HTTPCycle:
                self._write_rejection(item)
                return
            self._active = item
            self._fresh = False
            self.state.total_requests += 1
            if self._access_log:
                item.start_time = self.loop.time()
            # The cycle removes its task from the set itself when the app returns.
            item.task = task = self._create_task(item.run(self.app, self._tasks))
            self._tasks.add(task)
            if self._cork is not None:  # runs right after the task's first step
                self.loop.call_soon(self._release_cork, item)
        if pending or self._stopping:
            self._pause_reading()
        elif self._read_paused and not (self._active and self._active.read_paused):
            self._resume_reading()

    # Pipelined requests (a batch in one read, as TechEmpower's plaintext test and some
    # proxies send them) are answered in order, one at a time.  Writing each response on
    # its own costs a send per response, for us and for the client reading them, so a
    # complete response with more requests queued behind it is held in ``_cork`` while the
    # next one runs.  The held bytes go out when the queue is empty, before any other
    # write, past CORK_LIMIT, or as soon as a request does not finish in its first step
    # (it awaits something): a slow handler never delays the answers before it.

    def _hold(self, data: bytes, send: bool) -> None:
        """Add a response to those held; ``send``: the last one, write them all now."""
        if self._cork is None:
            self._cork = [data]
            self._corked_bytes = len(data)
        else:
            self._cork.append(data)
            self._corked_bytes += len(data)
        if send or self._corked_bytes >= CORK_LIMIT:
            self._flush_cork()

    def _release_cork(self, cycle: HTTPCycle) -> None:
        """Called after ``cycle``'s first step: still running means it waits; send what is held."""
        if cycle is self._active and self._cork is not None:
            self._flush_cork()

    def _flush_cork(self) -> None:
        cork = self._cork
        self._cork = None
        self._corked_bytes = 0
        if cork and not self.transport.is_closing():
            self.transport.write(cork[0] if len(cork) == 1 else b"".join(cork))

    def _reject(self, rejection: RequestRejected) -> None:
        """Answer a bad request in turn, then close: the byte stream can't be trusted."""
        self._parse_stopped = True
        self._pause_reading()
        cycle = self._receiving
        self._receiving = None
        if cycle is not None:
            if cycle in self._pending:
                self._pending.remove(cycle)
            elif cycle is self._active and not cycle.head_sent:
                # The app is running and waiting for this body: we answer in its place.
                cycle.lose_connection()
                cycle.response_started = cycle.head_sent = cycle.response_complete = True
                self._active = None
            else:
                # Its response is already under way or sent: a second one would be unsolicited.
                cycle.lose_connection()
                self._close()
                return
        self._pending.append(rejection)
        if self._active is None:
            self._start_next()

    def _write_rejection(self, rejection: RequestRejected) -> None:
        if self._cork is not None:
            self._flush_cork()
        self.transport.write(
            error_response(rejection.status, rejection.detail, self.state.default_headers)
        )
        if rejection.status == 500:  # our fault; 501/503/505 are about the request or the load
            logger.error("Answered %d: %s", rejection.status, rejection.detail)
        else:
            logger.debug(
                "Rejected a request from %s: %d %s", self.client, rejection.status, rejection.detail
            )
        self._close()

    # -- the Wire interface used by HTTPCycle ------------------------------------------

    def send_continue(self, cycle: HTTPCycle) -> None:
        if not self._closing:
            if self._cork is not None:
                self._flush_cork()
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def body_consumed(self, cycle: HTTPCycle) -> None:
        if cycle is self._active and not self._pending:
            self._deadline = self.loop.time() + self._timeout_body
            self._resume_reading()

    def abort(self, cycle: HTTPCycle) -> None:
        if cycle is self._active:
            self._active = None
        self._close()

    def _response_done(self, cycle: HTTPCycle) -> None:
        self._active = None
        if self._length_left:
            logger.error("Response content shorter than Content-Length; closing the connection.")
            self._response_keep_alive = False
        if self._access_log:
            log_access(cycle, self.loop.time())
        if not self._response_keep_alive:
            self._close()
        elif self._pending:
            self._start_next()
        else:
            if self._cork is not None:  # the last of a pipelined batch
                self._flush_cork()
            if not cycle.body_complete:
                # Let the parser run through the unread body (discarding it) before idling.
                self._resume_reading()
            else:
                self._idle()

    def _idle(self) -> None:
        """Nothing in flight: wait for the next request, for up to the keep-alive timeout."""
        if self._stopping:
            self._close()
            return
        if self._deadline_reason != HEAD:  # else the next head is arriving, on its own deadline
            self._deadline = self.loop.time() + self._timeout_keep_alive
            self._deadline_reason = IDLE
        if self._read_paused:
            self._resume_reading()

    def _close(self) -> None:
        if not self._closing:
            if self._cork is not None:
                self._flush_cork()
            self._closing = True
            self.transport.close()

    # -- server control ------------------------------------------------------------------

    def check_deadline(self, now: float) -> None:
        """Called by the server tick about once a second."""
        if now < self._deadline or self._closing:
            return
        reason = self._deadline_reason
        self._deadline = INFINITY
        if reason == IDLE:
            self._close()
        elif reason in (HEAD, BODY):
            logger.debug("Request from %s timed out", self.client)
            self._reject(RequestRejected(408, "Request Timeout"))

    def shutdown(self) -> None:
        """The server is stopping: answer what was received, then close.

        A connection with nothing in flight is closed after a short grace rather
        than at once: a request already on its way (sent, but not yet read from the
        socket) is still answered, with ``Connection: close``. Closing a socket with
        unread data in it would make the kernel reset the connection instead.
        """
        self._stopping = True
        if self._active is not None or self._pending:
            self._pause_reading()
        elif self._deadline_reason != HEAD:  # a head under way finishes on its own deadline
            grace = FRESH_GRACE if self._fresh else IDLE_GRACE
            self.loop.call_later(grace, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self._active is None and not self._pending and self._deadline_reason == IDLE:
            self._close()
