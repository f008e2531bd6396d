"""HTTP/1.1 on the wire: httptools (llhttp) parses requests; ``h1_framing`` frames responses.

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
from urllib.parse import unquote

import httptools

from ..logs import log_access
from ..proxy import apply_proxy_headers
from .cycle import BODY_HIGH_WATER, HTTPCycle
from .h1_framing import CHUNKED, LENGTH, NO_BODY, error_response, frame_head

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")

# Why the connection's deadline is set: what to do when the tick finds it passed.
IDLE, HEAD, BODY, NONE = 0, 1, 2, 3
INFINITY = float("inf")

#: Unread request body we are willing to read and discard to keep a connection alive.
MAX_DISCARD = 1 << 20

#: Request headers that need more than being passed on; rare enough to handle off the hot path.
_SPECIAL_HEADERS = frozenset(
    (
        b"expect",
        b"content-length",
        b"transfer-encoding",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    )
)
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}


class RequestRejected(Exception):
    """Raised inside parser callbacks: answer with ``status`` and close the connection."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _DeclinedUpgradeBody:
    """Parser callbacks that hide a synthetic head, then forward everything to the protocol.

    See ``HTTP1Protocol._after_upgrade``: the body after the synthetic head
    belongs to the declined upgrade request, the messages after it are ordinary.
    """

    def __init__(self, protocol: HTTP1Protocol) -> None:
        self.protocol = protocol
        self.primed = True

    def on_message_begin(self) -> None:
        if not self.primed:
            self.protocol.on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self.primed:
            self.protocol.on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.primed:
            self.protocol.on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self.primed:
            self.protocol.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.protocol.on_body(body)

    def on_message_complete(self) -> None:
        self.primed = False
        self.protocol.on_message_complete()


class HTTP1Protocol(asyncio.Protocol):
    def __init__(self, config: Config, state: ServerState, app_state: dict[str, Any]) -> None:
        self.config = config
        self.state = state
        self.app_state = app_state
        self.loop = asyncio.get_running_loop()
        self.app = config.loaded_app
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
        self._closing = False
        self._stopping = False
        self._parse_stopped = False
        self._limit_line = config.limit_request_line
        self._limit_fields = config.limit_request_fields
        self._limit_head = config.limit_request_header_size
        self._limit_body = config.limit_request_body
        self._limit_concurrency = config.limit_concurrency
        self._timeout_head = config.timeout_request_head
        self._timeout_body = config.timeout_request_body
        self._timeout_keep_alive = config.timeout_keep_alive
        self._access_log = state.access_log
        self._tasks = state.tasks
        self._create_task = self.loop.create_task
        self.done = state.done_future

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.connections.add(self)
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
        self._deadline = self.loop.time() + self.config.timeout_keep_alive
        self._deadline_reason = IDLE

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.state.connections.discard(self)
        for cycle in (self._active, self._receiving, *self._pending):
            if isinstance(cycle, HTTPCycle):
                cycle.lose_connection()
        self._pending.clear()
        self._active = self._receiving = None
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

    def _unsupported_version(self, data: bytes) -> bool:
        """Did the request line name an HTTP version other than 1.x?  (Error path only.)

        llhttp reads the version before failing on anything after it, and reads
        a request line without any version ("GET /") as HTTP/0.9: only a line
        that spelled out "HTTP/0.9" gets a 505, a missing version is a 400.
        """
        version = self.parser.get_http_version()
        if version == "0.9":
            return b" HTTP/0.9" in data
        return version not in ("0.0", "1.0", "1.1")

    def _after_upgrade(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        """llhttp stops after the head of an Upgrade request; we decline and serve plain HTTP.

        llhttp has reported that request complete without reading its body, so
        a body (Java and Ktor clients offer ``Upgrade: h2c`` on POSTs) would be
        parsed as the next request.  It goes through a parser primed with a
        head that frames it the same way, which then carries on with the
        requests that follow.
        """
        rest = data[exc.args[0] :] if exc.args and isinstance(exc.args[0], int) else b""
        cycle = self._pending[-1] if self._pending else None  # the upgrade request's
        te = length = None
        if self._special:
            te, length = self._transfer_encoding, self._content_length
        if isinstance(cycle, HTTPCycle) and (te is not None or (length and int(length))):
            cycle.body_complete = False
            self._receiving = cycle
            self._body_received = 0
            self._deadline = self.loop.time() + self.config.timeout_request_body
            self._deadline_reason = BODY
            if te is not None:
                framing = b"transfer-encoding: " + te
            else:
                framing = b"content-length: " + length  # type: ignore[operator]
            rest = b"PUT / HTTP/1.1\r\n" + framing + b"\r\n\r\n" + rest
            self.parser = httptools.HttpRequestParser(_DeclinedUpgradeBody(self))
        else:
            self.parser = httptools.HttpRequestParser(self)
        if rest:
            self.data_received(rest)

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
                self._deadline = self.loop.time() + self.config.timeout_request_head
            elif self._deadline_reason == BODY:
                self._deadline = self.loop.time() + self.config.timeout_request_body

    # -- httptools callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._hosts = 0
        self._special = False
        self._deadline = self.loop.time() + self._timeout_head
        self._deadline_reason = HEAD

    def on_url(self, url: bytes) -> None:
        self._url += url  # its length is checked with the other head limits

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        # llhttp drops leading whitespace only; trailing OWS is not part of the value either.
        value = value.rstrip(b" \t")
        self._headers.append((name, value))
        if name == b"host":
            self._hosts += 1
        elif name in _SPECIAL_HEADERS:
            self._note_special(name, value)

    def _note_special(self, name: bytes, value: bytes) -> None:
        if not self._special:
            self._special = True
            self._expect_continue = self._forwarded = False
            self._content_length = self._transfer_encoding = None
        if name == b"expect":
            self._expect_continue = value.lower() == b"100-continue"
        elif name == b"content-length":
            self._content_length = value
        elif name == b"transfer-encoding":
            te = self._transfer_encoding
            self._transfer_encoding = value if te is None else te + b", " + value
        else:
            self._forwarded = True

    def on_headers_complete(self) -> None:
        url = self._url
        if (
            len(url) > self._limit_line
            or len(self._headers) > self._limit_fields
            or self._head_bytes + self._chunk_size > self._limit_head
        ):
            self._check_head_limits()
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1" or self._hosts != 1:
            self._check_version_and_host(version)
        method = _METHODS.get(parser.get_method()) or self._unusual_method()
        if url[0] == 47 and url.find(b"#") < 0:  # origin-form: "/path?query"
            raw_path, _, query = url.partition(b"?")
        else:
            raw_path, query = self._unusual_target(url)
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        if self._limit_concurrency is not None:
            self._check_concurrency()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": self.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
            "state": self.app_state.copy(),
            "extensions": {"http.response.pathsend": {}},
        }
        if self.root_path:
            scope["path"] = self.root_path + path
            scope["raw_path"] = self.root_path_raw + raw_path
        cycle = HTTPCycle(scope, self, parser.should_keep_alive())
        if self._special:
            self._prepare_body(cycle, version)
        self._receiving = cycle
        self._pending.append(cycle)

    def _check_version_and_host(self, version: str) -> None:
        if version not in ("1.1", "1.0"):
            raise RequestRejected(505, "HTTP Version Not Supported")  # or 400: data_received
        if self._hosts > 1 or (self._hosts == 0 and version == "1.1"):
            raise RequestRejected(400, "Bad Request: exactly one Host header is required")

    def _check_head_limits(self) -> None:
        """The head may be over a limit: measure it exactly (rare: big heads only)."""
        if len(self._url) > self._limit_line:
            raise RequestRejected(414, "URI Too Long")
        headers = self._headers
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if len(headers) > self._limit_fields or size > self._limit_head:
            raise RequestRejected(431, "Request Header Fields Too Large")

    def _unusual_method(self) -> str:
        method = self.parser.get_method()
        if method == b"CONNECT":
            raise RequestRejected(501, "CONNECT is not supported")
        return method.decode("ascii")

    def _unusual_target(self, url: bytes) -> tuple[bytes, bytes]:
        """``*``, absolute-form, or a path with a fragment: the slow, careful way."""
        if url == b"*":
            return url, b""
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise RequestRejected(400, "Bad Request: invalid request target") from None
        if url[:1] != b"/" and not parsed.schema:
            raise RequestRejected(400, "Bad Request: invalid request target")
        return parsed.path or b"/", parsed.query or b""

    def _prepare_body(self, cycle: HTTPCycle, version: str) -> None:
        """Requests with a body, 100-continue or proxy headers: the less travelled path."""
        if self._transfer_encoding is not None and version == "1.0":
            cycle.keep_alive = False  # RFC 9112 section 6.1: its framing is suspect
        length = self._content_length
        if length is not None and self._limit_body is not None and int(length) > self._limit_body:
            raise RequestRejected(413, "Content Too Large")
        if self._forwarded and self.trusted_proxy:
            apply_proxy_headers(cycle.scope, self.config.trusted_proxies)
        if self._expect_continue and version == "1.1":
            cycle.expect_continue = True
        # Without content-length or transfer-encoding there is no body to wait for.
        self._body_received = 0
        self._deadline = self.loop.time() + self._timeout_body
        self._deadline_reason = BODY

    def _check_concurrency(self) -> None:
        limit = self._limit_concurrency
        if len(self.state.connections) > limit or len(self.state.tasks) >= limit:  # type: ignore[operator]
            raise RequestRejected(503, "Service Unavailable")

    def on_body(self, body: bytes) -> None:
        cycle = self._receiving
        if cycle is None:
            return
        if self._limit_body is not None:
            self._body_received += len(body)
            if self._body_received > self._limit_body:
                raise RequestRejected(413, "Content Too Large")
        if cycle.response_complete or cycle.disconnected:
            # The app answered without reading everything; drop the rest.
            self._discarded += len(body)
            if self._discarded > MAX_DISCARD:
                self._close()
            return
        chunks = cycle.body
        if chunks is None:
            cycle.body = [body]
        else:
            chunks.append(body)
        cycle.body_size += len(body)
        if cycle.waiter is not None:
            cycle._wake()
        if cycle.body_size > BODY_HIGH_WATER and cycle is self._active:
            cycle.read_paused = True
            self._pause_reading()

    def on_message_complete(self) -> None:
        cycle = self._receiving
        self._receiving = None
        self._deadline = INFINITY
        self._deadline_reason = NONE
        if cycle is not None:
            cycle.body_complete = True
            if cycle.waiter is not None:
                cycle._wake()
            self._discarded = 0
            if cycle.response_complete and cycle is not self._active and not self._pending:
                # The response went out before the body finished arriving.
                self._idle()

    # -- running requests ----------------------------------------------------------

    def _start_next(self) -> None:
        pending = self._pending
        while self._active is None and pending and not self._closing:
            item = pending.popleft()
            if type(item) is not HTTPCycle:
                self._write_rejection(item)
                return
            self._active = item
            self.state.total_requests += 1
            if self._access_log:
                item.start_time = self.loop.time()
            # The cycle removes its task from the set itself when the app returns.
            item.task = task = self._create_task(item.run(self.app, self._tasks))
            self._tasks.add(task)
        if pending or self._stopping:
            self._pause_reading()
        elif self._read_paused and not (self._active and self._active.read_paused):
            self._resume_reading()

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

    def start_response(
        self, cycle: HTTPCycle, status: int, headers: Any, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        if self._closing:
            return None
        keep_alive = cycle.keep_alive
        if keep_alive and (self._stopping or cycle.expect_continue):
            keep_alive = self._still_keep_alive(cycle)
        scope = cycle.scope
        head, mode, length, keep_alive = frame_head(
            status,
            headers,
            self.state.default_headers,
            body,
            more_body,
            scope["method"] == "HEAD",
            scope["http_version"] == "1.0",
            keep_alive,
        )
        self._body_mode = mode
        self._response_keep_alive = keep_alive
        if mode == LENGTH:
            self._length_left = length - len(body)  # type: ignore[operator]
            if len(body) < 32768:
                self.transport.write(head + body)
            else:
                self.transport.writelines((head, body))
        else:
            self._length_left = None
            if mode == CHUNKED:
                data = b"%s%x\r\n%s\r\n" % (head, len(body), body) if body else head
                # Chunked but complete at once: the app sent its own transfer-encoding header.
                self.transport.write(data if more_body else data + b"0\r\n\r\n")
            elif mode == NO_BODY or not body:
                self.transport.write(head)
            else:
                self.transport.writelines((head, body))  # CLOSE: HTTP/1.0, ends with the connection
        if not more_body:
            self._response_done(cycle)
        return self._wait_writable() if self._write_paused else None

    def _still_keep_alive(self, cycle: HTTPCycle) -> bool:
        """May the connection stay open after this response?  (Shutdown or 100-continue.)"""
        if self._stopping and not self._pending:
            return False
        # A client told to wait for 100 Continue may never send the body we did not ask for.
        return cycle.body_complete or not cycle.expect_continue

    def send_body(
        self, cycle: HTTPCycle, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        if self._closing:
            return None
        mode = self._body_mode
        if mode == CHUNKED:
            if body:
                end = b"" if more_body else b"0\r\n\r\n"
                self.transport.write(b"%x\r\n%s\r\n%s" % (len(body), body, end))
            elif not more_body:
                self.transport.write(b"0\r\n\r\n")
        elif body and mode != NO_BODY:
            self._count_body(len(body))
            self.transport.write(body)
        if not more_body:
            self._response_done(cycle)
        return self._wait_writable() if self._write_paused else None

    def _count_body(self, size: int) -> None:
        if self._length_left is not None:
            self._length_left -= size
            if self._length_left < 0:
                raise RuntimeError("response content longer than Content-Length")

    def send_continue(self, cycle: HTTPCycle) -> None:
        if not self._closing:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def body_consumed(self, cycle: HTTPCycle) -> None:
        if cycle is self._active and not self._pending:
            self._deadline = self.loop.time() + self.config.timeout_request_body
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
        elif not cycle.body_complete:
            # Let the parser run through the unread body (discarding it) before idling.
            self._resume_reading()
        elif self._stopping:
            self._close()
        else:
            if self._deadline_reason != HEAD:  # else the next head is arriving, on its own deadline
                self._deadline = self.loop.time() + self._timeout_keep_alive
                self._deadline_reason = IDLE
            if self._read_paused:
                self._resume_reading()

    def _idle(self) -> None:
        if self._stopping:
            self._close()
            return
        if self._deadline_reason != HEAD:  # else the next head is arriving, on its own deadline
            self._deadline = self.loop.time() + self._timeout_keep_alive
            self._deadline_reason = IDLE
        self._resume_reading()

    def _close(self) -> None:
        if not self._closing:
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
        """The server is stopping: finish what was received, then close."""
        self._stopping = True
        if self._active is None and not self._pending:
            self._close()
        else:
            self._pause_reading()
