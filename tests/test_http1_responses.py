"""Response framing (chunked, content-length, HEAD, 204/304), default headers and pathsend."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from tests.http1_support import curl, get
from tests.support import RawConnection, Running, serve

APP = "tests.apps.proto_echo:app"
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$"
)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve(APP) as running:
        yield running


@pytest.fixture(scope="module")
def bare() -> Iterator[Running]:
    with serve(APP, "--no-server-header", "--no-date-header") as running:
        yield running


def head_lines(raw_head: bytes) -> list[bytes]:
    return raw_head[:-4].split(b"\r\n")


def test_streamed_response_is_chunked_byte_exact(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        head = conn.read_until(b"\r\n\r\n")
        lines = head_lines(head)
        assert lines[0] == b"HTTP/1.1 200 OK"
        assert b"transfer-encoding: chunked" in lines
        assert not any(line.lower().startswith(b"content-length") for line in lines)
        expected = b"6\r\nchunk0\r\n6\r\nchunk1\r\n6\r\nchunk2\r\n0\r\n\r\n"
        assert conn.read_exact(len(expected)) == expected
        # Nothing else follows and the connection stays open for the next request.
        assert not conn.is_closed(timeout=0.3)
        assert conn.buffer == b""
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"hello, world"


def test_single_body_gets_content_length(server: Running) -> None:
    response = get(server.port, "/_/fixed")
    assert response.status == 200
    assert response.header("content-length") == "12"
    assert response.header("transfer-encoding") is None
    assert response.body == b"hello, world"
    assert response.header_names().count("content-length") == 1


def test_app_content_length_is_respected(server: Running) -> None:
    response = get(server.port, "/_/length")
    assert response.header("content-length") == "11"
    assert response.header("transfer-encoding") is None
    assert response.header_names().count("content-length") == 1
    assert response.body == b"hello world"


def test_head_has_length_but_no_body_and_next_request_parses(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"HEAD /_/head HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /_/length HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /_/length HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        head = conn.read_response("HEAD")
        fixed = conn.read_response()
        head_length = conn.read_response("HEAD")
        length = conn.read_response()
    assert head.status == 200
    assert head.header("content-length") == "100"
    assert head.header("content-type") == "text/plain"
    assert (fixed.status, fixed.body) == (200, b"hello, world")
    assert head_length.header("content-length") == "11"
    assert (length.status, length.body) == (200, b"hello world")


def test_head_with_curl(server: Running) -> None:
    output = curl("--head", f"{server.url}/_/head")
    assert output.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 100\r\n" in output
    assert output.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(server: Running, status: int) -> None:
    with RawConnection(server.port) as conn:
        conn.send(f"GET /_/status/{status} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        response = conn.read_response()
        assert response.status == status
        assert response.header("content-length") is None
        assert response.header("transfer-encoding") is None
        # No body bytes follow: the next response on the connection starts right away.
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        following = conn.read_response()
    assert following.raw_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert following.body == b"hello, world"


def test_http_1_0_stream_is_close_delimited(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/stream HTTP/1.0\r\n\r\n")
        response = conn.read_response()
    assert response.header("transfer-encoding") is None
    assert response.header("content-length") is None
    assert response.header("connection") == "close"
    assert response.body == b"chunk0chunk1chunk2"


def test_http_1_0_stream_with_curl(server: Running) -> None:
    output = curl("--http1.0", "--include", f"{server.url}/_/stream")
    head, _, body = output.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"chunk0chunk1chunk2"


def test_streamed_response_with_httpx(server: Running) -> None:
    with httpx.Client(base_url=server.url) as client, client.stream("GET", "/_/stream") as stream:
        assert stream.headers["transfer-encoding"] == "chunked"
        assert b"".join(stream.iter_bytes()) == b"chunk0chunk1chunk2"


def test_date_and_server_headers(server: Running) -> None:
    response = get(server.port, "/_/fixed")
    assert response.header("server") == "aster"
    date = response.header("date")
    assert date is not None and IMF_FIXDATE.match(date), date
    assert abs(parsedate_to_datetime(date).timestamp() - time.time()) < 5
    assert response.header_names().count("date") == 1


def test_date_header_advances(server: Running) -> None:
    first = parsedate_to_datetime(get(server.port, "/_/fixed").header("date") or "")
    time.sleep(2.1)
    second = parsedate_to_datetime(get(server.port, "/_/fixed").header("date") or "")
    assert 1 <= (second - first).total_seconds() <= 5


def test_no_server_and_no_date_headers(bare: Running) -> None:
    response = get(bare.port, "/_/fixed")
    assert response.status == 200
    assert response.header("server") is None
    assert response.header("date") is None
    assert response.header_names() == ["content-type", "content-length"]


def test_pathsend_serves_exact_file_bytes(server: Running, tmp_path: Path) -> None:
    data = os.urandom(1_000_003)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(f"GET /_/pathsend?{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        response = conn.read_response()
        assert response.status == 200
        assert response.body == data
        assert response.header("transfer-encoding") == "chunked"


def test_pathsend_empty_file(server: Running, tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    response = get(server.port, f"/_/pathsend?{path}")
    assert response.status == 200
    assert response.body == b""


# -- the framing headers are the server's -------------------------------------------------


def test_app_transfer_encoding_header_gets_chunked_framing(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/headers?transfer-encoding=chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        lines = head_lines(conn.read_until(b"\r\n\r\n"))
        assert [line for line in lines if line.lower().startswith(b"transfer-encoding")] == [
            b"transfer-encoding: chunked"
        ]
        assert not any(line.lower().startswith(b"content-length") for line in lines)
        assert conn.read_exact(13) == b"3\r\nabc\r\n0\r\n\r\n"


def test_app_transfer_encoding_header_on_http_1_0_is_close_delimited(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/headers?transfer-encoding=chunked HTTP/1.0\r\n\r\n")
        data = conn.read_to_close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"\r\nconnection: close" in head
    assert body == b"abc"


def test_app_connection_close_header(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/headers?connection=close HTTP/1.1\r\nHost: x\r\n\r\n")
        response = conn.read_response()
        assert response.body == b"abc"
        assert [v for k, v in response.headers if k.lower() == "connection"] == ["close"]
        assert conn.is_closed()


def test_app_keep_alive_header_cannot_contradict_a_close(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/headers?connection=keep-alive&pieces=2 HTTP/1.0\r\n\r\n")
        response = conn.read_response()
        assert response.body == b"abc"
        assert [v for k, v in response.headers if k.lower() == "connection"] == ["close"]
        assert conn.is_closed()


@pytest.mark.parametrize(("status", "length"), [(204, None), (304, "3")])
def test_app_content_length_on_no_body_statuses(
    server: Running, status: int, length: str | None
) -> None:
    """Content-Length is forbidden on 204 and allowed (as the GET's length) on 304."""
    with RawConnection(server.port) as conn:
        conn.send(
            f"GET /_/headers?status={status}&content-length=3 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        response = conn.read_response()
        assert response.status == status
        assert response.header("content-length") == length
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().raw_head.startswith(b"HTTP/1.1 200 OK\r\n")
