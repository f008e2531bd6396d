"""HTTP/1.1 response framing: status lines, header validation, and how a body is delimited.

Everything here runs before a byte of the response is written, so an app that
sends a bad header (CR/LF/NUL in a value, a bad name, a bad content-length)
gets an exception while a 500 can still take the response's place.

The framing headers are the server's business: ``content-length`` from the
app is kept and enforced, while the app's ``transfer-encoding`` and
``connection`` headers are only hints ("stream this", "close after this") and
the server writes its own, so they always agree with what goes on the wire.
"""

from __future__ import annotations

import http
import re
from typing import Any

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


def frame_head(
    status: int,
    headers: Any,
    default_headers: bytes,
    body: bytes,
    more_body: bool,
    head_request: bool,
    http_10: bool,
    keep_alive: bool,
) -> tuple[bytes, int, int | None, bool]:
    """Render the response head; return it with the body mode, content-length and keep-alive.

    ``body`` is the first body chunk and ``more_body`` whether others follow:
    a response sent in one piece gets a content-length, a streamed one is
    chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
    """
    parts = [_STATUS_LINES.get(status) or status_line(status), default_headers]
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
    return b"".join(parts), mode, content_length, keep_alive


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
