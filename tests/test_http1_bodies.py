"""Request bodies: Content-Length and chunked framing, streaming in many messages, 100-continue."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.http1_support import curl, get_json
from tests.support import RawConnection, Running, serve

MIB = 1 << 20


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.proto_echo:app") as running:
        yield running


def post(target: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {target} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(target: str, chunks: list[bytes], trailers: bytes = b"") -> bytes:
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return head + body + b"0\r\n" + trailers + b"\r\n"


def test_content_length_body(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(post("/_/echo", b"hello, body"))
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b"hello, body"
    assert response.header("x-messages") == "1"


def test_empty_body_is_one_message(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(post("/_/echo", b""))
        response = conn.read_response()
    assert (response.status, response.body, response.header("x-messages")) == (200, b"", "1")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_streams_to_the_app_as_it_arrives(server: Running, framing: str) -> None:
    """Each piece must reach the app before the next is sent: the app echoes it right back."""
    pieces = [b"first", b"second piece", b"x" * 70000, b"last"]
    if framing == "chunked":
        head = "Transfer-Encoding: chunked"
        wire = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces]
    else:
        head = f"Content-Length: {sum(map(len, pieces))}"
        wire = pieces
    with RawConnection(server.port) as conn:
        conn.send(f"POST /_/duplex HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n".encode())
        for i, (piece, data) in enumerate(zip(pieces, wire, strict=True)):
            conn.send(data)
            if i == 0:  # ASGI: the head goes out with the first body chunk
                assert conn.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200 OK\r\n")
            echoed = b""
            while len(echoed) < len(piece):
                size = int(conn.read_until(b"\r\n")[:-2], 16)
                echoed += conn.read_exact(size)
                assert conn.read_exact(2) == b"\r\n"
            assert echoed == piece
        if framing == "chunked":
            conn.send(b"0\r\n\r\n")
        assert conn.read_until(b"0\r\n\r\n") == b"0\r\n\r\n"


def test_chunked_body(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(chunked("/_/echo", [b"hello", b", ", b"chunked world"]))
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b"hello, chunked world"


def test_chunked_body_with_extensions_and_trailers_keeps_connection(server: Running) -> None:
    data = (
        b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"0\r\nX-Trailer: ignored\r\n\r\n"
    )
    with RawConnection(server.port) as conn:
        conn.send(data)
        first = conn.read_response()
        conn.send(post("/_/echo", b"next"))
        second = conn.read_response()
    assert (first.status, first.body) == (200, b"hello")
    assert (second.status, second.body) == (200, b"next")


def test_large_content_length_body_arrives_exactly_in_several_messages(server: Running) -> None:
    body = os.urandom(8 * MIB)
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(post("/_/digest", body))
        response = conn.read_response()
    result = json.loads(response.body)
    assert result["length"] == len(body)
    assert result["sha256"] == hashlib.sha256(body).hexdigest()
    assert result["messages"] > 1


def test_large_chunked_body_arrives_exactly(server: Running) -> None:
    pieces = [os.urandom(65536 + i) for i in range(64)]
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(chunked("/_/digest", pieces))
        response = conn.read_response()
    whole = b"".join(pieces)
    result = json.loads(response.body)
    assert result["length"] == len(whole)
    assert result["sha256"] == hashlib.sha256(whole).hexdigest()
    assert result["messages"] > 1


def test_chunked_upload_with_curl(server: Running) -> None:
    body = os.urandom(3 * MIB)
    output = curl(
        "-T",
        "-",
        "-H",
        "Transfer-Encoding: chunked",
        f"{server.url}/_/digest",
        stdin=body,
    )
    result = json.loads(output)
    assert result["length"] == len(body)
    assert result["sha256"] == hashlib.sha256(body).hexdigest()


def test_streamed_upload_with_httpx(server: Running) -> None:
    pieces = [os.urandom(100_000) for _ in range(20)]

    def generate() -> Iterator[bytes]:
        yield from pieces

    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/_/digest", content=generate())
    assert response.status_code == 200
    whole = b"".join(pieces)
    assert response.json()["length"] == len(whole)
    assert response.json()["sha256"] == hashlib.sha256(whole).hexdigest()


def test_unread_body_is_discarded_and_connection_reused(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(post("/_/noread", b"x" * 5000))
        first = conn.read_response()
        conn.send(post("/_/echo", b"second"))
        second = conn.read_response()
    assert (first.status, first.body) == (200, b"not reading that")
    assert first.header("connection") is None
    assert (second.status, second.body) == (200, b"second")


# -- Expect: 100-continue ------------------------------------------------------------


def test_100_continue_sent_when_app_reads_body(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert conn.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.send(b"hello")
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"hello")
        # The exchange completed normally, so the connection is still usable.
        conn.send(post("/_/echo", b"again"))
        assert conn.read_response().body == b"again"


def test_no_100_continue_when_app_answers_without_reading(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        response = conn.read_response()
        assert response.raw_head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.body == b"not reading that"
        assert response.header("connection") == "close"
        assert conn.is_closed()
        assert b"100 Continue" not in response.raw_head


def test_no_100_continue_when_body_already_sent(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            b"hello"
        )
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b"hello"


def test_100_continue_with_curl(server: Running) -> None:
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "@-",
            f"{server.url}/_/digest",
        ],
        input=b"z" * 2000,
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert b"< HTTP/1.1 100 Continue" in result.stderr
    assert json.loads(result.stdout)["length"] == 2000


def test_app_called_once_per_request(server: Running) -> None:
    before = get_json(server.port, "/_/calls")["echo"]
    with RawConnection(server.port) as conn:
        for _ in range(3):
            conn.send(post("/_/echo", b"n"))
            assert conn.read_response().body == b"n"
    assert get_json(server.port, "/_/calls")["echo"] == before + 3


def test_http_1_0_chunked_request_is_read_then_closed(server: Running) -> None:
    """RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 is suspect framing; close after it."""
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
        )
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"hello")
        assert response.header("connection") == "close"
        assert conn.is_closed()


def test_100_continue_when_app_reads_after_starting_its_response(server: Running) -> None:
    """The head goes out with the first body chunk, so the start alone does not answer."""
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/start-then-echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert conn.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.send(b"later")
        response = conn.read_response()
    assert (response.status, response.body) == (200, b"later")
