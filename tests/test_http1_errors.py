"""Apps that fail or misbehave, response header validation, and access-log escaping."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.http1_support import assert_serving
from tests.support import RawConnection, Running, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.proto_fail:app", "--lifespan", "off") as running:
        yield running


def serving(server: Running) -> None:
    assert_serving(server.port, "/ok", b"ok")


def raw_exchange(server: Running, target: str) -> bytes:
    """Everything the server writes for one request, up to its closing the connection."""
    with RawConnection(server.port) as conn:
        conn.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return conn.read_to_close()


def log_after(server: Running, mark: int, pattern: str, timeout: float = 10.0) -> list[str]:
    """Log lines since line ``mark``, once one of them matches ``pattern``."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = server.lines[mark:]
        if any(regex.search(line) for line in lines):
            time.sleep(0.1)  # let the rest of a multi-line record arrive
            return server.lines[mark:]
        time.sleep(0.02)
    raise AssertionError(f"no log line matched {pattern!r}:\n" + "\n".join(server.lines[mark:]))


def assert_500(server: Running, target: str) -> bytes:
    with RawConnection(server.port) as conn:
        conn.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        response = conn.read_response()
        assert response.status == 500
        assert response.reason == "Internal Server Error"
        assert response.body == b"Internal Server Error"
        assert response.header("content-type") == "text/plain; charset=utf-8"
        assert response.header("content-length") == "21"
        assert response.header("connection") == "close"
        assert conn.is_closed()
    serving(server)
    return response.raw_head


def test_exception_before_start_is_500_with_traceback_logged(server: Running) -> None:
    mark = len(server.lines)
    assert_500(server, "/raise-before-start")
    lines = log_after(server, mark, r"ValueError: boom before start")
    text = "\n".join(lines)
    assert "Exception in ASGI application" in text
    assert "Traceback (most recent call last)" in text
    assert '"GET /raise-before-start HTTP/1.1" 500 21' in text


def test_exception_after_start_before_body_is_still_500(server: Running) -> None:
    """The head goes out with the first body chunk, so nothing has reached the client yet."""
    mark = len(server.lines)
    assert_500(server, "/raise-after-start")
    log_after(server, mark, r"ValueError: boom after start")


def test_exception_mid_stream_closes_without_last_chunk(server: Running) -> None:
    mark = len(server.lines)
    data = raw_exchange(server, "/raise-mid-stream")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ntransfer-encoding: chunked" in head
    assert body == b"7\r\npartial\r\n"  # and no terminating 0-chunk: the client sees a cut
    log_after(server, mark, r"ValueError: boom mid-stream")
    serving(server)


def test_return_without_response_is_500(server: Running) -> None:
    mark = len(server.lines)
    assert_500(server, "/return-without-response")
    log_after(server, mark, r"returned without sending a response")


def test_return_mid_stream_closes_without_last_chunk(server: Running) -> None:
    data = raw_exchange(server, "/return-mid-stream")
    assert data.partition(b"\r\n\r\n")[2] == b"7\r\npartial\r\n"
    serving(server)


def test_body_longer_than_content_length_in_one_message_is_500(server: Running) -> None:
    mark = len(server.lines)
    raw_head = assert_500(server, "/too-long")
    assert b"content-length: 5" not in raw_head
    log_after(server, mark, r"longer than Content-Length")


def test_body_longer_than_content_length_streamed_is_cut(server: Running) -> None:
    data = raw_exchange(server, "/too-long-streamed")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 10" in head
    assert body == b"123456"
    serving(server)


def test_body_shorter_than_content_length_closes(server: Running) -> None:
    data = raw_exchange(server, "/too-short")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\ncontent-length: 10" in head
    assert body == b"hello"
    serving(server)


@pytest.mark.parametrize(
    "target",
    [
        "/split-header",
        "/split-header-streamed",
        "/bad-header-name",
        "/nul-header-value",
        "/bad-content-length",
    ],
)
def test_invalid_response_headers_become_500(server: Running, target: str) -> None:
    mark = len(server.lines)
    data = raw_exchange(server, target)
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert data.endswith(b"\r\n\r\nInternal Server Error")
    assert b"injected" not in data
    assert b"x-split" not in data and b"x bad" not in data and b"x-nul" not in data
    log_after(server, mark, r"Exception in ASGI application")
    serving(server)


# -- the access log ----------------------------------------------------------------------

ACCESS_LINE = re.compile(
    r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(?P<request>.*)" '
    r"(?P<status>\d{3}) (?P<size>\d+)$"
)


def test_access_log_line_format(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /log/plain?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"ok"
    line = server.wait_for_log(r"/log/plain")
    match = ACCESS_LINE.match(line)
    assert match, line
    assert match["request"] == "GET /log/plain?a=1 HTTP/1.1"
    assert (match["status"], match["size"]) == ("200", "2")


def test_access_log_escapes_the_target(server: Running) -> None:
    target = b'/log/escape%0A"quoted"\\back?q="x"%0D%0A&r=<tag>'
    with RawConnection(server.port) as conn:
        conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"ok"
    server.wait_for_log(r"/log/escape")
    lines = [line for line in server.lines if "/log/escape" in line]
    assert len(lines) == 1, lines
    match = ACCESS_LINE.match(lines[0])
    assert match, lines[0]
    assert match["request"] == (
        r"GET /log/escape%0A\x22quoted\x22\x5cback?q=\x22x\x22%0D%0A&r=<tag> HTTP/1.1"
    )


def test_raw_high_bytes_and_controls_in_target_are_rejected_not_logged(server: Running) -> None:
    for raw in (b"/log/high\xff\xfe", b"/log/ctl\x1b[31m", b"/log/nul\x00"):
        with RawConnection(server.port) as conn:
            conn.send(b"GET " + raw + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            response = conn.read_response()
            assert response.status == 400
            assert conn.is_closed()
    serving(server)
    time.sleep(0.2)
    assert not [line for line in server.lines if "/log/high" in line or "/log/ctl" in line]
    assert not [line for line in server.lines if "\x1b" in line or "\x00" in line]


@pytest.mark.parametrize("status", ["101", "103", "42", "1000", "OK"])
def test_invalid_final_status_becomes_500(server: Running, status: str) -> None:
    mark = len(server.lines)
    assert_500(server, f"/status/{status}")
    log_after(server, mark, r"invalid response status")
