"""HTTP/1.1 requests from bytes: httptools (llhttp) callbacks that build scopes and cycles.

``RequestParsing`` is the parsing half of :class:`~.http1.HTTP1Protocol`; it
holds no state of its own.  llhttp already refuses the smuggling vectors
(Content-Length with Transfer-Encoding, duplicate lengths, obs-fold, bad
tokens); on top of it this module enforces Host (RFC 9112 section 3.2), the
HTTP version, and the head limits (414/431).  A rejection is raised as
:class:`RequestRejected` from inside a callback; the protocol answers it in
turn and closes the connection.

The common request (a GET whose head arrives in one read) goes through
``on_message_begin`` → ``on_url`` → ``on_header`` → ``on_headers_complete`` →
``on_message_complete`` with every rare case (bodies, 100-continue, proxy
headers, odd targets, big heads) pushed into a helper it only calls when needed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from ..proxy import apply_proxy_headers
from .cycle import BODY_HIGH_WATER, HTTPCycle

if TYPE_CHECKING:
    import collections

    from ..config import Config
    from ..state import ServerState

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
#: The (empty, never written) option dict of each ASGI extension a scope advertises: one
#: shared dict rather than two new ones per request.
_NO_OPTIONS: dict[str, Any] = {}
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

    def __init__(self, protocol: RequestParsing) -> None:
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


class RequestParsing:
    """The httptools callbacks and head checks of an HTTP/1.1 connection."""

    # State owned by HTTP1Protocol.__init__, declared here for the type checker.
    config: Config
    state: ServerState
    app_state: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    parser: httptools.HttpRequestParser
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    scheme: str
    root_path: str
    root_path_raw: bytes
    trusted_proxy: bool
    _url: bytes
    _headers: list[tuple[bytes, bytes]]
    _chunk_size: int
    _head_bytes: int
    _small_head: int
    _hosts: int
    _special: bool
    _expect_continue: bool
    _forwarded: bool
    _content_length: bytes | None
    _transfer_encoding: bytes | None
    _receiving: HTTPCycle | None
    _active: HTTPCycle | None
    _pending: collections.deque[HTTPCycle | RequestRejected]
    _body_received: int
    _discarded: int
    _deadline: float
    _deadline_reason: int
    _limit_line: int
    _limit_fields: int
    _limit_head: int
    _limit_body: int | None
    _limit_concurrency: int | None
    _timeout_head: float
    _timeout_body: float

    if TYPE_CHECKING:  # provided by HTTP1Protocol

        def data_received(self, data: bytes) -> None: ...
        def _pause_reading(self) -> None: ...
        def _close(self) -> None: ...
        def _idle(self) -> None: ...

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
        if isinstance(cycle, HTTPCycle) and self._declares_body():
            te, length = self._transfer_encoding, self._content_length
            cycle.body_complete = False
            self._receiving = cycle
            self._body_received = 0
            self._deadline = self.loop.time() + self._timeout_body
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

    def _declares_body(self) -> bool:
        """Does the request whose head was just parsed announce a body?

        llhttp stops at the head of an Upgrade request without reading the body its
        Transfer-Encoding or non-zero Content-Length announces.
        """
        if not self._special:
            return False
        length = self._content_length
        return self._transfer_encoding is not None or bool(length and int(length))

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
        if self._head_bytes + self._chunk_size > self._small_head:
            self._check_head_limits()
        url = self._url
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
            "extensions": {
                "http.response.pathsend": _NO_OPTIONS,
                "http.response.trailers": _NO_OPTIONS,
            },
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
        """The head may be over a limit (it came with more than ``_small_head`` bytes)."""
        if len(self._url) > self._limit_line:
            raise RequestRejected(414, "URI Too Long")
        headers = self._headers
        if len(headers) > self._limit_fields:
            raise RequestRejected(431, "Request Header Fields Too Large")
        if self._head_bytes + self._chunk_size > self._limit_head:
            size = sum(len(name) + len(value) + 4 for name, value in headers)
            if size > self._limit_head:
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
