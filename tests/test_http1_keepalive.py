"""Persistent connections, pipelining, ``Connection: close`` and HTTP/1.0."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.http1_support import assert_rejected, curl
from tests.support import RawConnection, Running, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.proto_echo:app") as running:
        yield running


def test_several_requests_on_one_connection(server: Running) -> None:
    with RawConnection(server.port) as conn:
        local_port = conn.sock.getsockname()[1]
        for i in range(5):
            conn.send(f"GET /seq/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            response = conn.read_response()
            assert response.status == 200
            assert response.header("connection") is None
            scope = json.loads(response.body)
            assert scope["path"] == f"/seq/{i}"
            assert scope["client"][1] == local_port


def test_pipelined_requests_answered_in_order(server: Running) -> None:
    requests = b"".join(f"GET /pipe/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(10))
    with RawConnection(server.port) as conn:
        conn.send(requests)
        paths = [json.loads(conn.read_response().body)["path"] for _ in range(10)]
        assert paths == [f"/pipe/{i}" for i in range(10)]
        assert not conn.is_closed(timeout=0.2)


def test_a_pipelined_batch_is_answered_in_one_write(server: Running) -> None:
    """Complete answers to a batch read at once go out together: the client's first read
    gets all 16 (the server held each while the next one ran)."""
    requests = b"".join(f"GET /_/log/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(16))
    with RawConnection(server.port) as conn:
        conn.send(requests)
        first_read = conn.sock.recv(1 << 20)
        assert first_read.count(b"HTTP/1.1 200 OK\r\n") == 16
        assert first_read.endswith(b"\r\n\r\nlogged")
        conn.buffer = first_read
        bodies = [conn.read_response().body for _ in range(16)]
        assert bodies == [b"logged"] * 16
        assert not conn.is_closed(timeout=0.2)


def test_a_slow_pipelined_request_does_not_hold_back_the_answers_before_it(
    server: Running,
) -> None:
    requests = (
        b"GET /_/log/a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/log/b HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/sleep?1.5 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/log/c HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    with RawConnection(server.port) as conn:
        conn.send(requests)
        started = time.monotonic()
        assert [conn.read_response().body for _ in range(2)] == [b"logged", b"logged"]
        assert time.monotonic() - started < 1.0  # not after the sleeping one
        assert [conn.read_response().body for _ in range(2)] == [b"slept", b"logged"]
        assert time.monotonic() - started >= 1.4


def test_pipelined_answers_of_every_framing_stay_in_order(server: Running) -> None:
    """Held answers are written before a streamed, chunked or 100-continue one."""
    requests = (
        b"GET /_/log/1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/stream HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/log/2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/length HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/log/3 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /_/log/4 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"BROKEN\r\n\r\n"
    )
    with RawConnection(server.port) as conn:
        conn.send(requests)
        responses = [conn.read_response() for _ in range(7)]
        assert [r.status for r in responses] == [200] * 7
        assert responses[1].header("transfer-encoding") == "chunked"
        assert json.loads(responses[5].body)["path"] == "/nope"
        assert [responses[i].body for i in (0, 2, 4, 6)] == [b"logged"] * 4
        rejected = conn.read_response()
        assert rejected.status == 400
        assert rejected.header("connection") == "close"
        assert conn.is_closed()


def test_pipelined_requests_with_bodies(server: Running) -> None:
    data = (
        b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
        b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n"
        b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n"
        b"PUT /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
        + b"4" * 70000
        + (b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfifth")
    )
    with RawConnection(server.port) as conn:
        conn.send(data)
        bodies = [conn.read_response().body for _ in range(5)]
    assert bodies == [b"first", b"second", b"hello, world", b"4" * 70000, b"fifth"]


def test_pipelined_requests_split_across_writes(server: Running) -> None:
    data = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n" * 3
    with RawConnection(server.port) as conn:
        for i in range(0, len(data), 7):
            conn.send(data[i : i + 7])
        paths = [json.loads(conn.read_response().body)["path"] for _ in range(6)]
    assert paths == ["/a", "/b"] * 3


def test_connection_close_request(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200
        assert response.header("connection") == "close"
        assert response.body == b"hello, world"
        assert conn.is_closed()


def test_pipelined_request_after_connection_close_is_ignored(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"GET /_/fixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            b"GET /_/stream HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        response = conn.read_response()
        assert response.header("connection") == "close"
        assert conn.read_to_close() == b""


def test_http_1_0_closes_by_default(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.0\r\n\r\n")
        response = conn.read_response()
        assert response.body == b"hello, world"
        assert response.header("connection") == "close"
        assert conn.is_closed()


def test_http_1_0_keep_alive(server: Running) -> None:
    with RawConnection(server.port) as conn:
        for _ in range(3):
            conn.send(b"GET /_/fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = conn.read_response()
            assert response.body == b"hello, world"
            assert response.header("connection") == "keep-alive"
            assert response.header("content-length") == "12"
        assert not conn.is_closed(timeout=0.2)


def test_http_1_0_keep_alive_streamed_response_closes(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = conn.read_response()
        assert response.header("connection") == "close"
        assert response.body == b"chunk0chunk1chunk2"


def test_httpx_reuses_the_connection(server: Running) -> None:
    with httpx.Client(base_url=server.url) as client:
        ports = {client.get(f"/reuse/{i}").json()["client"][1] for i in range(5)}
    assert len(ports) == 1


def test_unsupported_upgrade_is_served_as_http_1_1(server: Running) -> None:
    """A server may ignore Upgrade (RFC 9110 section 7.8); the next request still parses."""
    with RawConnection(server.port) as conn:
        conn.send(
            b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: IRC/6.9\r\n\r\n"
            b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        first = conn.read_response()
        second = conn.read_response()
    assert first.status == 200
    assert json.loads(first.body)["path"] == "/up"
    assert json.loads(second.body)["path"] == "/after"


#: An upgrade to a protocol aster does not speak (h2c it does: tests/test_http2_negotiation.py).
H2C = b"Connection: Upgrade\r\nUpgrade: IRC/6.9\r\n"


def test_declined_upgrade_still_delivers_a_content_length_body(server: Running) -> None:
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\n"
            + H2C
            + b"Content-Length: %d\r\n\r\n" % len(smuggled)
            + smuggled
            + b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        first = conn.read_response()
        second = conn.read_response()
    # The body is the body, not a second request.
    assert (first.status, first.body) == (200, smuggled)
    assert json.loads(second.body)["path"] == "/after"


def test_declined_upgrade_still_delivers_a_chunked_body_sent_later(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\n" + H2C + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        conn.send(b"5\r\nhello\r\n")
        conn.send(b"6\r\n world\r\n0\r\n\r\n")
        first = conn.read_response()
        conn.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        second = conn.read_response()
    assert (first.status, first.body) == (200, b"hello world")
    assert json.loads(second.body)["path"] == "/after"


def test_declined_upgrade_with_bad_transfer_encoding_is_400(server: Running) -> None:
    data = b"POST /_/echo HTTP/1.1\r\nHost: x\r\n" + H2C + b"Transfer-Encoding: gzip\r\n\r\nhello"
    assert_rejected(server.port, data, 400)


def test_h2c_upgrade_with_body_from_curl(server: Running) -> None:
    output = curl("--http2", "--data-binary", "@-", f"{server.url}/_/echo", stdin=b"curl body")
    assert output == b"curl body"
