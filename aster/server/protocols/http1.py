"""HTTP/1.1 on the wire: httptools (llhttp) parses requests, this module frames responses.

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
import http
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from ..logs import log_access
from ..proxy import apply_proxy_headers
from .cycle import BODY_HIGH_WATER, HTTPCycle

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")

# Why the connection's deadline is set: what to do when the tick finds it passed.
IDLE, HEAD, BODY, NONE = 0, 1, 2, 3
INFINITY = float("inf")

#: Unread request body we are willing to read and discard to keep a connection alive.
MAX_DISCARD = 1 << 20

_INVALID_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9a-zA-Z]")
_INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_SPECIAL_HEADERS = frozenset((b"host", b"expect", b"content-length"))
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_NO_BODY_STATUSES = frozenset((204, 304))

_STATUS_LINES: dict[int, bytes] = {}
_valid_names: set[bytes] = set()


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = http.HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b""
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, phrase)
    return line


def _check_header(name: bytes, value: bytes) -> None:
    if name not in _valid_names:
        if not name or _INVALID_NAME.search(name):
            raise RuntimeError(f"invalid response header name {name!r}")
        if len(_valid_names) < 4096:
            _valid_names.add(name)
    if _INVALID_VALUE.search(value):
        raise RuntimeError(f"invalid response header value {value!r} for {name!r}")


class RequestRejected(Exception):
    """Raised inside parser callbacks: answer with ``status`` and close the connection."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


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
        self._head_size = 0
        self._head_bytes = 0
        self._hosts = 0
        self._expect_continue = False
        self._content_length: bytes | None = None
        # Requests: the one whose body is being parsed, the one responding, those queued.
        self._receiving: HTTPCycle | None = None
        self._active: HTTPCycle | None = None
        self._pending: collections.deque[HTTPCycle | RequestRejected] = collections.deque()
        self._body_received = 0
        self._discarded = 0
        # Response framing of the active cycle.
        self._chunked = False
        self._no_body = False
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
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._after_upgrade(data, exc)
        except httptools.HttpParserCallbackError as exc:
            rejected = exc.__context__
            if isinstance(rejected, RequestRejected):
                self._reject(rejected)
            else:  # pragma: no cover - a bug in our callbacks
                logger.exception("Error while parsing a request", exc_info=rejected)
                self._reject(RequestRejected(500, "Internal Server Error"))
        except httptools.HttpParserError as exc:
            self._reject(RequestRejected(400, f"Invalid HTTP request: {exc}"))
        else:
            if self._deadline_reason == HEAD:
                # A header line still incomplete never reaches on_header: bound the raw bytes too.
                self._head_bytes += len(data)
                if self._head_bytes > self._limit_head + self._limit_line + 4096:
                    self._reject(RequestRejected(431, "Request Header Fields Too Large"))
        if self._active is None and self._pending:
            self._start_next()

    def _after_upgrade(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        """llhttp stops at CONNECT and Upgrade requests; we serve them as plain HTTP."""
        if self.parser.get_method() == b"CONNECT":
            self._reject(RequestRejected(501, "CONNECT is not supported"))
            return
        # The upgrade request itself was complete; keep parsing what followed it.
        self.parser = httptools.HttpRequestParser(self)
        rest = data[exc.args[0] :] if exc.args and isinstance(exc.args[0], int) else b""
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
        self._head_size = 0
        self._head_bytes = 0
        self._hosts = 0
        self._expect_continue = False
        self._content_length = None
        self._deadline = self.loop.time() + self.config.timeout_request_head
        self._deadline_reason = HEAD

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limit_line:
            raise RequestRejected(414, "URI Too Long")

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        headers = self._headers
        headers.append((lname, value))
        self._head_size += len(name) + len(value) + 4
        if lname in _SPECIAL_HEADERS:
            if lname == b"host":
                self._hosts += 1
            elif lname == b"expect":
                self._expect_continue = value.lower() == b"100-continue"
            else:
                self._content_length = value
        if self._head_size > self._limit_head or len(headers) > self._limit_fields:
            raise RequestRejected(431, "Request Header Fields Too Large")

    def on_headers_complete(self) -> None:
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise RequestRejected(505, "HTTP Version Not Supported")
        if self._hosts > 1 or (self._hosts == 0 and version == "1.1"):
            raise RequestRejected(400, "Bad Request: exactly one Host header is required")
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii")
        url = self._url
        if url[:1] == b"/" and b"#" not in url:
            raw_path, _, query = url.partition(b"?")
        elif url == b"*":
            raw_path, query = url, b""
        else:
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise RequestRejected(400, "Bad Request: invalid request target") from None
            if url[:1] != b"/" and not parsed.schema:
                raise RequestRejected(400, "Bad Request: invalid request target")
            raw_path, query = parsed.path or b"/", parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        headers = self._headers
        keep_alive = parser.should_keep_alive() and not self._stopping
        length = self._content_length
        if length is not None and self._limit_body is not None and int(length) > self._limit_body:
            raise RequestRejected(413, "Content Too Large")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": self.root_path,
            "path": self.root_path + path,
            "raw_path": self.root_path_raw + raw_path,
            "query_string": query,
            "headers": headers,
            "state": self.app_state.copy(),
            "extensions": {"http.response.pathsend": {}},
        }
        if self.trusted_proxy:
            apply_proxy_headers(scope, self.config.trusted_proxies)
        cycle = HTTPCycle(scope, self, keep_alive)
        if self._expect_continue and version == "1.1":
            cycle.expect_continue = True
        self._receiving = cycle
        self._body_received = 0
        self._deadline = self.loop.time() + self.config.timeout_request_body
        self._deadline_reason = BODY
        limit = self.config.limit_concurrency
        if limit is not None and (
            len(self.state.connections) > limit or len(self.state.tasks) >= limit
        ):
            raise RequestRejected(503, "Service Unavailable")
        self._pending.append(cycle)

    def on_body(self, body: bytes) -> None:
        cycle = self._receiving
        if cycle is None:
            return
        self._body_received += len(body)
        if self._limit_body is not None and self._body_received > self._limit_body:
            raise RequestRejected(413, "Content Too Large")
        if cycle.response_complete or cycle.disconnected:
            # The app answered without reading everything; drop the rest.
            self._discarded += len(body)
            if self._discarded > MAX_DISCARD:
                self._close()
            return
        cycle.feed_body(body)
        if cycle.body_size > BODY_HIGH_WATER and cycle is self._active:
            cycle.read_paused = True
            self._pause_reading()
        else:
            self._deadline = self.loop.time() + self.config.timeout_request_body

    def on_message_complete(self) -> None:
        cycle = self._receiving
        self._receiving = None
        self._deadline = INFINITY
        self._deadline_reason = NONE
        if cycle is not None:
            cycle.end_body()
            self._discarded = 0
            if cycle.response_complete and cycle is not self._active and not self._pending:
                # The response went out before the body finished arriving.
                self._idle()

    # -- running requests ----------------------------------------------------------

    def _start_next(self) -> None:
        while self._active is None and self._pending and not self._closing:
            item = self._pending.popleft()
            if isinstance(item, RequestRejected):
                self._write_rejection(item)
                return
            self._active = item
            self.state.total_requests += 1
            item.start_time = self.loop.time()
            task = self.loop.create_task(item.run(self.app))
            self.state.tasks.add(task)
            task.add_done_callback(self.state.tasks.discard)
        if self._pending or self._stopping:
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
            elif cycle is self._active:
                # The app is already running and waiting for this body.
                cycle.lose_connection()
                if not cycle.response_started:
                    cycle.response_started = cycle.response_complete = True
                    self._active = None
                else:
                    self._close()
                    return
        self._pending.append(rejection)
        if self._active is None:
            self._start_next()

    def _write_rejection(self, rejection: RequestRejected) -> None:
        body = rejection.detail.encode("utf-8", "replace")
        self.transport.write(
            b"".join(
                (
                    status_line(rejection.status),
                    self.state.default_headers,
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
                    body,
                )
            )
        )
        if rejection.status >= 500 and rejection.status != 503:
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
        keep_alive = cycle.keep_alive and not (self._stopping and not self._pending)
        if not cycle.body_complete and cycle.expect_continue:
            keep_alive = False  # the client may never send the body we did not ask for
        scope = cycle.scope
        head_request = scope["method"] == "HEAD"
        parts = [status_line(status), self.state.default_headers]
        extend = parts.extend
        content_length = None
        chunked = False
        connection_header = False
        for name, value in headers:
            _check_header(name, value)
            lname = name.lower()
            if lname == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    raise RuntimeError(f"invalid content-length {value!r}") from None
            elif lname == b"transfer-encoding":
                chunked = True
            elif lname == b"connection":
                connection_header = True
                if value.lower() == b"close":
                    keep_alive = False
            extend((name, b": ", value, b"\r\n"))
        no_body = head_request or status in _NO_BODY_STATUSES or status < 200
        if no_body:
            chunked = False
            if content_length is None and not head_request and status >= 200 and not more_body:
                pass  # 204/304: no length header at all
        elif content_length is not None:
            chunked = False
        elif chunked:
            pass  # the app asked for chunked framing by header; we do the encoding
        elif not more_body:
            content_length = len(body)
            extend((b"content-length: ", str(content_length).encode(), b"\r\n"))
        elif scope["http_version"] == "1.1":
            chunked = True
            extend((b"transfer-encoding: chunked\r\n",))
        else:
            keep_alive = False  # HTTP/1.0 without a length: the close ends the body
        if not connection_header:
            if not keep_alive:
                extend((b"connection: close\r\n",))
            elif scope["http_version"] == "1.0":
                extend((b"connection: keep-alive\r\n",))
        extend((b"\r\n",))
        self._chunked = chunked
        self._no_body = no_body
        self._response_keep_alive = keep_alive
        self._length_left = None if (no_body or content_length is None) else content_length
        head = b"".join(parts)
        if no_body or not body:
            self.transport.write(head)
        elif chunked:
            self.transport.write(b"%s%x\r\n%s\r\n" % (head, len(body), body))
        else:
            self._count_body(len(body))
            if len(body) < 32768:
                self.transport.write(head + body)
            else:
                self.transport.writelines((head, body))
        if not more_body:
            self._response_done(cycle)
        return self._wait_writable() if self._write_paused else None

    def send_body(
        self, cycle: HTTPCycle, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        if self._closing:
            return None
        if self._no_body:
            pass
        elif self._chunked:
            if body:
                self.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
            if not more_body:
                self.transport.write(b"0\r\n\r\n")
        elif body:
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
        if self._length_left:
            logger.error("Response content shorter than Content-Length; closing the connection.")
            self._response_keep_alive = False
        if self.state.access_log:
            log_access(cycle, self.loop.time())
        self._active = None
        if not self._response_keep_alive:
            self._close()
            return
        if self._pending:
            self._start_next()
        elif cycle.body_complete:
            self._idle()
        else:
            # Let the parser run through the unread body (discarding it) before idling.
            self._resume_reading()

    def _idle(self) -> None:
        if self._stopping:
            self._close()
            return
        self._deadline = self.loop.time() + self.config.timeout_keep_alive
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
