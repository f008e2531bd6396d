"""HTTP/2 timeouts, limits and graceful shutdown, against ``aster run`` with short timers."""

from __future__ import annotations

import signal
import time

import pytest
from hyperframe.frame import HeadersFrame

from tests.h2_support import H2Client, RawH2, serve_h2, still_serves

NO_ERROR, CANCEL, REFUSED_STREAM = 0x0, 0x8, 0x7
BASE = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/_/fixed"), (b":authority", b"t")]


pytestmark = pytest.mark.usefixtures("h2_engine")  # every test on each engine


@pytest.fixture(scope="module")
def server(h2_engine: str):
    with serve_h2(
        "tests.apps.h2_app:app",
        "--timeout-keep-alive",
        "1",
        "--timeout-request-head",
        "1",
        "--timeout-request-body",
        "1",
        "--http2-timeout-window",
        "1",
        "--limit-request-body",
        "1000",
    ) as running:
        yield running


def test_idle_connection_gets_goaway_after_keep_alive(server) -> None:
    with RawH2(server.port) as client:
        assert client.request().body == b"hello, world"
        started = time.monotonic()
        assert client.wait_goaway(timeout=10) == NO_ERROR
        assert client.goaway_last == 1
        assert 0.5 < time.monotonic() - started < 6


def test_half_a_header_block_is_closed_after_the_head_timeout(server) -> None:
    with RawH2(server.port) as client:
        client.send_raw(HeadersFrame(1, data=client.encode(BASE)))  # no END_HEADERS, ever
        started = time.monotonic()
        client.wait_goaway(timeout=10)
        assert client.closed
        assert time.monotonic() - started < 6
    still_serves(server.port)


def test_slow_read_stream_is_reset(server) -> None:
    """The client never opens its window: the response is cut with CANCEL."""
    with H2Client(server.port, window=65535) as client:
        stream = client.headers("/h/big?200000")
        # Read without acknowledging anything: the window stays shut.
        deadline = time.monotonic() + 8
        reply = client.replies[stream]
        while reply.reset is None and time.monotonic() < deadline:
            client.sock.settimeout(1)
            try:
                data = client.sock.recv(1 << 20)
            except TimeoutError:
                continue
            for event in client.conn.receive_data(data):
                if type(event).__name__ == "StreamReset":
                    reply.reset = event.error_code
        assert reply.reset == CANCEL
    still_serves(server.port)


def test_stalled_request_body_gets_408(server) -> None:
    with H2Client(server.port) as client:
        stream = client.headers("/_/echo", method="POST", end=False)
        client.data(stream, b"some", end=False)
        reply = client.wait(stream, timeout=10)
        assert (reply.status, reply.body) == (408, b"Request Timeout")


def test_body_over_the_limit_is_413(server) -> None:
    with H2Client(server.port) as client:
        declared = client.request(
            "/_/echo", method="POST", body=b"x" * 2000, extra=[("content-length", "2000")]
        )
        assert (declared.status, declared.body) == (413, b"Content Too Large")
        stream = client.headers("/_/echo", method="POST", end=False)
        client.data(stream, b"y" * 1500)
        assert client.wait(stream).status == 413
        assert client.request("/_/fixed").status == 200


def _get(path: bytes) -> list[tuple[bytes, bytes]]:
    return [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path), (b":authority", b"t")]


def test_graceful_shutdown_lets_streams_finish_and_refuses_new_ones() -> None:
    with serve_h2("tests.apps.h2_app:app", "--timeout-graceful-shutdown", "10") as srv:
        with RawH2(srv.port) as client:
            client.raw_headers(1, _get(b"/h/stall"))
            time.sleep(0.3)
            srv.signal(signal.SIGINT)
            while client.goaway_last is None:
                assert client.read()
            assert (client.goaway, client.goaway_last) == (NO_ERROR, 1)
            client.raw_headers(3, _get(b"/_/fixed"))
            assert client.wait(3).reset == REFUSED_STREAM
            reply = client.wait(1, timeout=10)
            assert (reply.status, reply.body) == (200, b"stalled")
        assert srv.wait(15) == 0


def test_streams_still_open_after_the_graceful_timeout_are_reset() -> None:
    with serve_h2("tests.apps.h2_app:app", "--timeout-graceful-shutdown", "1") as srv:
        with RawH2(srv.port) as client:
            client.raw_headers(1, _get(b"/h/hold"))
            time.sleep(0.3)
            srv.signal(signal.SIGTERM)
            assert client.wait(1, timeout=10).reset == CANCEL
        assert srv.wait(15) == 0


def test_connections_from_the_backlog_at_shutdown_get_goaway_at_once() -> None:
    """HTTP/2 connections the server only accepts once it is stopping (issue 15's backlog)
    are served what they sent and told GOAWAY at once, not reset at the deadline."""
    with serve_h2(
        "tests.apps.h2_app:app", "--timeout-graceful-shutdown", "20", "--timeout-keep-alive", "30"
    ) as srv:
        with RawH2(srv.port) as blocker:
            blocker.raw_headers(1, _get(b"/h/block?1.5"))
            srv.wait_for_log(r"^H2APP: blocking 1.5$")
            # The kernel completes the handshakes and buffers the requests; the blocked
            # server reads none of them until after the signal.
            queued = [RawH2(srv.port) for _ in range(20)]
            for client in queued:
                client.raw_headers(1, _get(b"/_/fixed"))
            srv.signal(signal.SIGTERM)
            signalled = time.monotonic()
            for client in queued:
                with client:
                    # Read until the server closes: the answer, the GOAWAY, then the close.
                    assert client.wait_goaway(timeout=15) == NO_ERROR
                    assert client.goaway_last == 1
                    reply = client.replies[1]
                    assert (reply.status, reply.body, reply.ended) == (200, b"hello, world", True)
            assert time.monotonic() - signalled < 10
            blocker.wait_goaway(timeout=15)  # (its GOAWAY may be lost to the reset that
            # follows the client's own late WINDOW_UPDATE: it is not what this test is about)
            reply = blocker.replies[1]
            assert (reply.status, reply.body, reply.ended) == (200, b"unblocked", True)
        assert srv.wait(15) == 0
