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
_valid_names: set[bytes] = set()


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = _PHRASES.get(status) or http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode())
    return line


def check_header(name: bytes, value: bytes) -> None:
    """Refuse anything that could end the header line or the head early."""
    if name not in _valid_names:
        if not name or _INVALID_NAME.search(name):
            raise RuntimeError(f"invalid response header name {name!r}")
        if len(_valid_names) < 4096:
            _valid_names.add(name)
    if _INVALID_VALUE.search(value):
        raise RuntimeError(f"invalid response header value {value!r} for {name!r}")


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
    parts = [status_line(status), default_headers]
    extend = parts.extend
    content_length = None
    stream = more_body
    for name, value in headers:
        check_header(name, value)
        lname = name.lower()
        if lname == b"content-length":
            if not value.isdigit():
                raise RuntimeError(f"invalid content-length {value!r}")
            if status < 200 or status == 204:
                continue  # RFC 9110 section 8.6: never on 1xx or 204
            content_length = int(value)
        elif lname == b"transfer-encoding":
            stream = True
            continue
        elif lname == b"connection":
            if b"close" in value.lower():
                keep_alive = False
            continue
        extend((name, b": ", value, b"\r\n"))
    if status < 200 or status in NO_BODY_STATUSES:
        mode = NO_BODY  # and no framing headers: there is no content to describe
    elif content_length is not None:
        if len(body) > content_length and not head_request:
            raise RuntimeError("response content longer than Content-Length")
        mode = NO_BODY if head_request else LENGTH
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
    if not keep_alive:
        extend((b"connection: close\r\n\r\n",))
    elif http_10:
        extend((b"connection: keep-alive\r\n\r\n",))
    else:
        extend((b"\r\n",))
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
