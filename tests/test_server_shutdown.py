"""Graceful shutdown on SIGTERM/SIGINT, its timeout, and the forcing second signal."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.support import RawConnection, serve

APP = "tests.apps.life_app:app"


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown(sig: signal.Signals) -> None:
    with serve(APP) as server:
        idle = RawConnection(server.port)
        idle.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        first = idle.read_response()
        assert (first.status, first.body, first.header("connection")) == (200, b"ok", None)

        busy = RawConnection(server.port)
        busy.send(b"GET /sleep?1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        server.wait_for_log("^APP: sleeping 1.5$")
        signalled = time.monotonic()
        server.signal(sig)
        # Logged once the listeners are closed and every connection was told to finish.
        server.wait_for_log(
            r"^INFO      Waiting for 1 connection\(s\) and 1 task\(s\) to finish\.$"
        )

        # (a) The listening socket is closed: new connections are refused.
        assert refused(server.port)
        # (c) The idle keep-alive connection is closed at once, not after the keep-alive timeout.
        assert idle.is_closed(timeout=1.0)
        idle.close()
        # (b) The in-flight request completes, and the connection is closed after it.
        response = busy.read_response()
        assert response.status == 200
        assert response.body == b"slept 1.5"
        assert response.header("connection") == "close"
        assert busy.is_closed(timeout=2.0)
        busy.close()

        assert server.wait() == 0
        elapsed = time.monotonic() - signalled
        assert 1.0 < elapsed < 6.0
    lines = server.lines
    # (d) The lifespan shutdown runs after the in-flight request finished.
    order = [
        "APP: slept 1.5",
        "INFO      Waiting for application shutdown.",
        "APP: shutdown",
        "INFO      Application shutdown complete.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]
    assert [line for line in lines if line in order] == order
    assert "Traceback" not in server.log()


def test_idle_server_stops_at_once() -> None:
    with serve(APP) as server:
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert time.monotonic() - signalled < 2.0
    assert not [line for line in server.lines if "connection(s)" in line]
    assert "INFO      Application shutdown complete." in server.lines


def test_graceful_shutdown_timeout_cancels_the_request() -> None:
    with serve(APP, "--timeout-graceful-shutdown", "1") as server:
        busy = RawConnection(server.port)
        busy.send(b"GET /sleep?30 HTTP/1.1\r\nHost: t\r\n\r\n")
        server.wait_for_log("^APP: sleeping 30$")
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        # The request never completes: its connection is dropped without a response.
        assert busy.read_to_close() == b""
        busy.close()
        assert server.wait() == 0
        elapsed = time.monotonic() - signalled
        assert 0.9 < elapsed < 5.0
    lines = server.lines
    assert "ERROR     Cancelling 1 task(s): the graceful shutdown timeout was exceeded." in lines
    assert "APP: sleep cancelled" in lines
    assert "APP: slept 30" not in lines
    # The lifespan shutdown still runs after the cancellation.
    assert lines.index("APP: sleep cancelled") < lines.index("APP: shutdown")
    assert "INFO      Application shutdown complete." in lines
    assert "Traceback" not in server.log()


def test_second_signal_forces_the_exit() -> None:
    with serve(APP) as server:
        busy = RawConnection(server.port)
        busy.send(b"GET /sleep?30 HTTP/1.1\r\nHost: t\r\n\r\n")
        server.wait_for_log("^APP: sleeping 30$")
        server.signal(signal.SIGTERM)
        server.wait_for_log(
            r"^INFO      Waiting for 1 connection\(s\) and 1 task\(s\) to finish\.$"
        )
        forced = time.monotonic()
        server.signal(signal.SIGINT)
        assert server.wait() == 0
        assert time.monotonic() - forced < 3.0
        assert busy.read_to_close() == b""
        busy.close()
    lines = server.lines
    assert "WARNING   Forcing the exit." in lines
    assert "APP: sleep cancelled" in lines
    # Forcing skips the lifespan shutdown.
    assert "APP: shutdown" not in lines
    assert "INFO      Waiting for application shutdown." not in lines
    assert lines[-1] == f"INFO      Finished server process [{server.process.pid}]"
    assert "Traceback" not in server.log()


def test_limit_concurrency_answers_503_and_recovers() -> None:
    with serve(APP, "--limit-concurrency", "1") as server:
        busy = RawConnection(server.port)
        busy.send(b"GET /sleep?1 HTTP/1.1\r\nHost: t\r\n\r\n")
        server.wait_for_log("^APP: sleeping 1$")
        with RawConnection(server.port) as extra:
            extra.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = extra.read_response()
            assert response.status == 503
            assert response.header("connection") == "close"
        assert busy.read_response().body == b"slept 1"
        busy.close()
        # Once the server has seen the first connection go, requests are served again.
        deadline = time.monotonic() + 5
        while True:
            with RawConnection(server.port) as again:
                again.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                status = again.read_response().status
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 200
