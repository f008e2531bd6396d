"""HTTP/1.1 responses to bytes: status lines, header validation, and how a body is delimited.

Everything here runs before a byte of the response is written, so an app that
sends a bad header (CR/LF/NUL in a value, a bad name, a bad content-length)
gets an exception while a 500 can still take the response's place.

The framing headers are the server's business: ``content-length`` from the
app is kept and enforced, while the app's ``transfer-encoding`` and
``connection`` headers are only hints ("stream this", "close after this") and
the server writes its own, so they always agree with what goes on the wire.
"""

from __future__ import annotations

import asyncio
import http
import re
from typing import TYPE_CHECKING, Any

from .cycle import ClientDisconnected

if TYPE_CHECKING:
    import collections

    from ..state import ServerState
    from .cycle import HTTPCycle

#: How a response body is delimited: none at all, chunked, by content-length, by the close.
NO_BODY, CHUNKED, LENGTH, CLOSE = 0, 1, 2, 3

NO_BODY_STATUSES = frozenset((204, 304))

_INVALID_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9a-zA-Z]")
_INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: RFC 9110 renamed these; Python < 3.13 still has the RFC 7231 phrases.
_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
_STATUS_LINES: dict[int, bytes] = {}

# What a response header name means to the framing, cached per name (names repeat a lot):
# 0 an ordinary header, or one of the framing headers the server owns.
_ORDINARY, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION = 0, 1, 2, 3
_FRAMING_NAMES = {b"content-length": 1, b"transfer-encoding": 2, b"connection": 3}
_name_kinds: dict[bytes, int] = {}
_invalid_value = _INVALID_VALUE.search


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\r\n``; refuses what is not a final status (1xx are interim)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if type(status) is not int or not 200 <= status <= 999:
            raise RuntimeError(f"ASGI: invalid response status {status!r}")
        try:
            phrase = _PHRASES.get(status) or http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode())
    return line


def _name_kind(name: bytes) -> int:
    """Validate a header name we have not seen before, and classify it."""
    if type(name) is not bytes or not name or _INVALID_NAME.search(name):
        raise RuntimeError(f"invalid response header name {name!r}")
    kind = _FRAMING_NAMES.get(name.lower(), _ORDINARY)
    if len(_name_kinds) < 4096:
        _name_kinds[name] = kind
    return kind


class ResponseFraming:
    """The response half of :class:`~.http1.HTTP1Protocol`: the ``Wire`` methods that write.

    ``start_response`` renders the head and decides the framing in one pass over
    the app's headers: one cached dict lookup per header name validates it and
    says whether it is a framing header.
    """

    # State owned by HTTP1Protocol.__init__, declared here for the type checker.
    state: ServerState
    transport: asyncio.Transport
    _pending: collections.deque[Any]
    _closing: bool
    _stopping: bool
    _write_paused: bool
    _body_mode: int
    _length_left: int | None
    _response_keep_alive: bool
    _cork: list[bytes] | None

    if TYPE_CHECKING:  # provided by HTTP1Protocol

        def _response_done(self, cycle: HTTPCycle) -> None: ...
        def _wait_writable(self) -> asyncio.Future[None]: ...
        def _flush_cork(self) -> None: ...
        def _hold(self, data: bytes, send: bool) -> None: ...

    def start_response(
        self, cycle: HTTPCycle, status: int, headers: Any, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        """Emit the head with the first body chunk (one write); refuse a bad head first.

        A response sent in one piece gets a content-length, a streamed one is
        chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
        """
        if self._closing:
            return None
        keep_alive = cycle.keep_alive
        if keep_alive and (self._stopping or cycle.expect_continue):
            keep_alive = self._still_keep_alive(cycle)
        scope = cycle.scope
        head_request = scope["method"] == "HEAD"
        http_10 = scope["http_version"] == "1.0"
        parts = [_STATUS_LINES.get(status) or status_line(status), self.state.default_headers]
        extend = parts.extend
        content_length = None
        stream = more_body
        kinds = _name_kinds
        invalid_value = _invalid_value
        for name, value in headers:
            kind = kinds.get(name)
            if kind is None:
                kind = _name_kind(name)
            if invalid_value(value):
                raise RuntimeError(f"invalid response header value {value!r} for {name!r}")
            if not kind:
                extend((name, b": ", value, b"\r\n"))
            elif kind == _CONTENT_LENGTH:
                if not value.isdigit():
                    raise RuntimeError(f"invalid content-length {value!r}")
                if status >= 200 and status != 204:  # RFC 9110 section 8.6: never on 1xx or 204
                    content_length = int(value)
                    extend((name, b": ", value, b"\r\n"))
            elif kind == _TRANSFER_ENCODING:
                stream = True
            elif value.lower().find(b"close") >= 0:
                keep_alive = False
        if content_length is not None and status != 304:
            # The common case: the app said how long its body is (1xx/204 never get here).
            if head_request:
                mode = NO_BODY
            elif len(body) > content_length:
                raise RuntimeError("response content longer than Content-Length")
            else:
                mode = LENGTH
        elif status < 200 or status in NO_BODY_STATUSES:
            mode = NO_BODY  # and no framing headers: there is no content to describe
        elif not stream:
            # Also for HEAD: the length a GET would have had (RFC 9110 section 9.3.2).
            content_length = len(body)
            extend((b"content-length: %d\r\n" % content_length,))
            mode = NO_BODY if head_request else LENGTH
        elif head_request:
            mode = NO_BODY  # a streamed response to HEAD: length unknown, and no body follows
        elif http_10:
            mode = CLOSE
            keep_alive = False
        else:
            mode = CHUNKED
            extend((b"transfer-encoding: chunked\r\n",))
        if keep_alive and not http_10:
            extend((b"\r\n",))
        elif not keep_alive:
            extend((b"connection: close\r\n\r\n",))
        else:
            extend((b"connection: keep-alive\r\n\r\n",))
        head = b"".join(parts)
        # Everything is validated: from here on the response is on its way.
        self._body_mode = mode
        self._response_keep_alive = keep_alive
        if mode == LENGTH:
            self._length_left = content_length - len(body)  # type: ignore[operator]
            if len(body) < 4096:  # else writelines: uvloop sends both with one writev
                held = not more_body and keep_alive and self._pending
                if held or self._cork is not None:  # pipelined requests wait: see http1.py
                    self._hold(head + body, send=not held)
                else:
                    self.transport.write(head + body)
            else:
                if self._cork is not None:
                    self._flush_cork()
                self.transport.writelines((head, body))
        else:
            if self._cork is not None:
                self._flush_cork()
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
        if self.transport.is_closing():
            # A write failed (the peer reset the connection): the transport is closed,
            # but connection_lost() only runs on a later turn of the loop, and an app
            # whose sends never have to wait would never let that turn come.
            cycle.lose_connection()
            raise ClientDisconnected("the client disconnected")
        if self._cork is not None:
            self._flush_cork()
        mode = self._body_mode
        if mode == CHUNKED:
            if body:
                end = b"" if more_body else b"0\r\n\r\n"
                self.transport.write(b"%x\r\n%s\r\n%s" % (len(body), body, end))
            elif not more_body:
                self.transport.write(b"0\r\n\r\n")
        elif body and mode != NO_BODY:
            if self._length_left is not None:
                self._length_left -= len(body)
                if self._length_left < 0:
                    raise RuntimeError("response content longer than Content-Length")
            self.transport.write(body)
        if not more_body:
            self._response_done(cycle)
        return self._wait_writable() if self._write_paused else None

    def send_trailers(self, cycle: HTTPCycle, headers: Any) -> asyncio.Future[None] | None:
        """End a chunked body with trailer fields; other framings have nowhere to put them."""
        if self._closing:
            return None
        if self._body_mode == CHUNKED:
            parts = [b"0\r\n"]
            for name, value in headers:
                if type(name) is not bytes or not name or _INVALID_NAME.search(name):
                    raise RuntimeError(f"invalid trailer name {name!r}")
                if type(value) is not bytes or _invalid_value(value):
                    raise RuntimeError(f"invalid trailer value {value!r} for {name!r}")
                parts += (name, b": ", value, b"\r\n")
            parts.append(b"\r\n")
            self.transport.write(b"".join(parts))
        self._response_done(cycle)
        return self._wait_writable() if self._write_paused else None


def error_response(status: int, detail: str, default_headers: bytes) -> bytes:
    """A complete plain-text response that closes the connection."""
    body = detail.encode("utf-8", "replace")
    return b"".join(
        (
            status_line(status),
            default_headers,
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        )
    )
