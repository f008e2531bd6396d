"""Malformed and smuggling-prone requests: an exact 4xx/5xx, a closed connection, a live server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.http1_support import assert_rejected, assert_serving, get_json
from tests.support import RawConnection, Running, serve

H = b"Host: x\r\n"

BAD_REQUESTS = {
    # smuggling
    "content-length-and-chunked": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunked-and-content-length": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "conflicting-content-length": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "content-length-list": b"POST /_/echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!",
    "negative-content-length": b"POST /_/echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "chunked-not-last": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "unknown-transfer-coding": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: gzip\r\n\r\nhello",
    "obs-fold": b"GET / HTTP/1.1\r\n" + H + b"X-Folded: first\r\n second\r\n\r\n",
    "obs-fold-tab": b"GET / HTTP/1.1\r\n" + H + b"X-Folded: first\r\n\tsecond\r\n\r\n",
    # invalid bytes in header names and values
    "ctl-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\x01b\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\x00b\r\n\r\n",
    "del-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\x7fb\r\n\r\n",
    "bare-cr-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\rb\r\n\r\n",
    "bare-lf-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\nX-Injected: 1\r\n\r\n",
    "ctl-in-name": b"GET / HTTP/1.1\r\n" + H + b"X\x01Bad: a\r\n\r\n",
    "nul-in-name": b"GET / HTTP/1.1\r\n" + H + b"X\x00Bad: a\r\n\r\n",
    "space-in-name": b"GET / HTTP/1.1\r\n" + H + b"X Bad: a\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "empty-name": b"GET / HTTP/1.1\r\n" + H + b": a\r\n\r\n",
    "no-colon": b"GET / HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n",
    # malformed request lines
    "lowercase-method": b"get / HTTP/1.1\r\n" + H + b"\r\n",
    "unknown-method": b"FROB / HTTP/1.1\r\n" + H + b"\r\n",
    "missing-version": b"GET /\r\n" + H + b"\r\n",
    "space-in-target": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "ctl-in-target": b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n",
    "tab-in-target": b"GET /a\tb HTTP/1.1\r\n" + H + b"\r\n",
    "high-byte-in-target": b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + H + b"\r\n",
    "relative-target": b"GET relative/path HTTP/1.1\r\n" + H + b"\r\n",
    "garbage-version": b"GET / HTXP/1.1\r\n" + H + b"\r\n",
    "bare-lf-request-line": b"GET / HTTP/1.1\n" + H + b"\r\n",
    "binary-garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    # Host
    "missing-host": b"GET / HTTP/1.1\r\nX-Other: 1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    # chunked framing
    "bad-chunk-size": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "huge-chunk-size": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk-missing-crlf": b"POST /_/echo HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n",
}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.proto_echo:app") as running:
        yield running


@pytest.mark.parametrize("data", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_request_is_400_and_closes(server: Running, data: bytes) -> None:
    assert_rejected(server.port, data, 400, "Bad Request")


def test_bad_request_after_a_good_one_on_the_same_connection(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n"
        )
        first = conn.read_response()
        second = conn.read_response()
        assert (first.status, first.body) == (200, b"hello, world")
        assert second.status == 400
        assert conn.is_closed()
    assert_serving(server.port)


def test_bad_chunk_while_app_reads_body(server: Running) -> None:
    before = get_json(server.port, "/_/calls")
    mark = len(server.lines)
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        # Wait until the app runs and reads the first chunk, then break the framing.
        deadline = time.monotonic() + 5
        while get_json(server.port, "/_/calls")["echo"] == before["echo"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        conn.send(b"nothex\r\n")
        response = conn.read_response()
        assert response.status == 400
        assert conn.is_closed()
    # The app saw http.disconnect instead of more body, and nothing was logged as an app error.
    after = get_json(server.port, "/_/calls")
    assert after["echo"] == before["echo"] + 1
    assert after["disconnected"] == before["disconnected"] + 1
    assert not any("Exception in ASGI application" in line for line in server.lines[mark:])
    assert_serving(server.port)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.9", b"HTTP/3.0"])
def test_unsupported_version_is_505(server: Running, version: bytes) -> None:
    data = b"GET / " + version + b"\r\nHost: x\r\n\r\n"
    assert_rejected(server.port, data, 505, "HTTP Version Not Supported")


def test_connect_is_501(server: Running) -> None:
    data = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    assert_rejected(server.port, data, 501, "Not Implemented")


def test_http_1_0_without_host_is_fine(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.0\r\n\r\n")
        assert conn.read_response().body == b"hello, world"


def test_leading_empty_lines_are_ignored(server: Running) -> None:
    """RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before a request."""
    with RawConnection(server.port) as conn:
        conn.send(b"\r\nGET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"hello, world"


def test_bad_chunk_after_the_app_answered_just_closes(server: Running) -> None:
    """The request already has its response: a 400 after it would answer nothing."""
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/noread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n"
        )
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"not reading that")
        conn.send(b"nothex\r\n")
        assert conn.read_to_close() == b""
    assert_serving(server.port)
