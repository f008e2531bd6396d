"""Request-head, request-body and keep-alive timeouts (run with 1-second values)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest

from tests.http1_support import assert_serving
from tests.support import RawConnection, Running, serve

# The server checks deadlines on a tick of half the smallest timeout, so a 1 s
# timeout fires between 1 s and about 1.5 s; allow for a loaded machine on top.
EARLIEST, LATEST = 0.9, 3.5


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve(
        "tests.apps.proto_echo:app",
        "--timeout-request-head",
        "1",
        "--timeout-request-body",
        "1",
        "--timeout-keep-alive",
        "1",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def slow_app() -> Iterator[Running]:
    with serve(
        "tests.apps.proto_flow:app",
        "--lifespan",
        "off",
        "--timeout-request-head",
        "1",
        "--timeout-request-body",
        "1",
        "--timeout-keep-alive",
        "1",
    ) as running:
        yield running


def wait_closed(conn: RawConnection) -> tuple[bytes, float]:
    """Read until the server closes; return what it sent and how long that took."""
    start = time.monotonic()
    conn.sock.settimeout(10)
    data = conn.read_to_close()
    return data, time.monotonic() - start


def test_partial_head_gets_408_then_close(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n")
        data, elapsed = wait_closed(conn)
    assert EARLIEST <= elapsed <= LATEST, elapsed
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"\r\nconnection: close\r\n" in data
    assert_serving(server.port)


def test_slowloris_head_times_out_even_while_bytes_trickle_in(server: Running) -> None:
    with RawConnection(server.port) as conn:
        start = time.monotonic()
        conn.send(b"GET /_/fixed HTTP/1.1\r\n")
        response = b""
        for i in range(40):
            try:
                conn.send(b"X-Drip-%d: 1\r\n" % i)
            except ConnectionError:
                break
            if conn.is_closed(timeout=0.1):
                break
            if conn.buffer:
                break
        response = conn.read_to_close()
        elapsed = time.monotonic() - start
    assert response.startswith(b"HTTP/1.1 408 ")
    assert EARLIEST <= elapsed <= LATEST, elapsed
    assert_serving(server.port)


def test_silent_connection_closed_after_keep_alive_timeout(server: Running) -> None:
    start = time.monotonic()
    with RawConnection(server.port) as conn:
        data = conn.read_to_close()
        elapsed = time.monotonic() - start
    assert data == b""
    assert EARLIEST <= elapsed <= LATEST, elapsed


def test_idle_keep_alive_connection_closed(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"hello, world"
        data, elapsed = wait_closed(conn)
    assert data == b""
    assert EARLIEST <= elapsed <= LATEST, elapsed


def test_activity_resets_the_keep_alive_timer(server: Running) -> None:
    with RawConnection(server.port) as conn:
        for _ in range(4):
            conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.read_response().body == b"hello, world"
            time.sleep(0.5)
        # Two seconds on one connection, never idle for a whole second.
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"hello, world"


def test_stalled_body_gets_408(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        data, elapsed = wait_closed(conn)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert EARLIEST <= elapsed <= LATEST, elapsed
    assert_serving(server.port)


def test_stalled_chunked_body_gets_408(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
        )
        data, elapsed = wait_closed(conn)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert EARLIEST <= elapsed <= LATEST, elapsed
    assert_serving(server.port)


def test_slow_app_is_not_cut_off_by_timeouts(slow_app: Running) -> None:
    with RawConnection(slow_app.port) as conn:
        conn.send(b"GET /sleep?s=2.2 HTTP/1.1\r\nHost: x\r\n\r\n")
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"slept")
        # ... and the connection is still usable afterwards.
        conn.send(b"GET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().body == b"slept"


def test_body_read_slowly_by_app_is_not_a_client_timeout(slow_app: Running) -> None:
    """While the app is not reading, a full body buffer is our doing, not the client's."""
    key = f"timeouts-{time.monotonic_ns()}"
    body = b"z" * (24 << 20)
    with RawConnection(slow_app.port, timeout=30) as conn:
        head = f"POST /flow/in?id={key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.send(head.encode())
        conn.sock.setblocking(False)
        sent = 0
        try:
            while sent < len(body):
                sent += conn.sock.send(body[sent:])
        except BlockingIOError:
            pass
        conn.sock.settimeout(30)
        assert sent < len(body), "the server read a body nobody consumed"
        time.sleep(2.0)  # twice the body timeout, with the app not reading
        with RawConnection(slow_app.port) as release:
            release.send(f"GET /flow/release?id={key} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert release.read_response().body == b"released"
        conn.send(body[sent:])
        response = conn.read_response()
    assert response.status == 200, response
    assert response.body == b'{"length": %d, "sha256": "%s"}' % (
        len(body),
        hashlib.sha256(body).hexdigest().encode(),
    )


def test_next_head_stalling_after_a_response_gets_408(server: Running) -> None:
    """A partial head pipelined behind a request keeps its own deadline after that response."""
    with RawConnection(server.port) as conn:
        start = time.monotonic()
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: x\r\n\r\nGET /_/fixed HTTP/1.1\r\nHost: x\r\n")
        assert conn.read_response().body == b"hello, world"
        data = conn.read_to_close()
        elapsed = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert EARLIEST <= elapsed <= LATEST, elapsed
    assert_serving(server.port)


def test_stalled_body_after_the_app_answered_just_closes(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"POST /_/noread HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        assert conn.read_response().body == b"not reading that"
        data, elapsed = wait_closed(conn)
    assert data == b""
    assert elapsed <= LATEST, elapsed
