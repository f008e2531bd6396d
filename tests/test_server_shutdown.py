"""Graceful shutdown on SIGTERM/SIGINT, its timeout, and the forcing second signal."""

from __future__ import annotations

import signal
import socket
import ssl
import threading
import time
from typing import Any

import pytest
import trustme

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
        # Logged once the listeners are closed and every connection was told to finish
        # (the idle one is still in its grace: a request on its way would be answered).
        server.wait_for_log(
            r"^INFO      Waiting for 2 connection\(s\) and 1 task\(s\) to finish\.$"
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


# -- nothing that arrived is lost (issue 15) -------------------------------------------


def _block_then_signal(server: Any, seconds: float) -> RawConnection:
    """Block the server's event loop, so whatever the test sends next waits unread."""
    blocker = RawConnection(server.port)
    blocker.send(b"GET /block?%g HTTP/1.1\r\nHost: t\r\n\r\n" % seconds)
    server.wait_for_log(f"^APP: blocking {seconds:g}$")
    return blocker


def _answered(conn: RawConnection, body: bytes = b"ok") -> None:
    response = conn.read_response()
    assert (response.status, response.body) == (200, body)
    # "close" if the server read the request after the signal; a request it read just
    # before gets a keep-alive answer, and the connection closes after its grace.
    assert response.header("connection") in ("close", None)
    assert conn.read_to_close() == b""  # a clean close, not a reset
    conn.close()


def test_connections_waiting_in_the_backlog_at_the_signal_are_answered() -> None:
    # A connection left behind would hold the exit for the whole keep-alive timeout.
    with serve(APP, "--timeout-keep-alive", "30") as server:
        blocker = _block_then_signal(server, 1.5)
        # The kernel completes these handshakes; the blocked server has not accepted them.
        queued = [RawConnection(server.port) for _ in range(30)]
        for conn in queued:
            conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        for conn in queued:
            _answered(conn)
        assert blocker.read_response().status == 200
        blocker.close()
        assert refused(server.port)
        assert server.wait() == 0
        assert time.monotonic() - signalled < 10
    assert "Traceback" not in server.log()


def test_a_request_on_an_idle_keep_alive_connection_at_the_signal_is_answered() -> None:
    with serve(APP, "--timeout-keep-alive", "30") as server:
        idle = [RawConnection(server.port) for _ in range(10)]
        for conn in idle:
            conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert conn.read_response().header("connection") is None
        blocker = _block_then_signal(server, 1.0)
        # Their next requests reach the sockets while the server cannot read them.
        for conn in idle:
            conn.send(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        for conn in idle:
            _answered(conn, str(server.process.pid).encode())
        assert blocker.read_response().status == 200
        blocker.close()
        assert server.wait() == 0
        assert time.monotonic() - signalled < 10


def test_sigterm_under_load_loses_no_connection() -> None:
    """New connections keep coming: each one is refused at connect, or fully answered."""
    outcomes: list[str] = []
    stop = threading.Event()

    def client(port: int) -> None:
        while not stop.is_set():
            try:
                connection = RawConnection(port)
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset during the handshake (a SYN the closing listener had half-open):
                # refused too, as far as the client knows: it never had a connection.
                outcomes.append("refused")
                return
            with connection as conn:
                try:
                    conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    response = conn.read_response()
                    outcomes.append("ok" if response.body == b"ok" else f"bad {response}")
                except OSError as exc:
                    outcomes.append(f"lost: {exc!r}")

    with serve(APP, "--no-access-log") as server:
        threads = [threading.Thread(target=client, args=(server.port,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.7)
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        stop.set()
        for thread in threads:
            thread.join(10)
    lost = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
    # Every connection in the backlog at the signal is answered (the exact tests above).
    # These clients keep reconnecting after it: one whose handshake completes in the
    # instant between the backlog's last accept and the listener's shutdown is reset by
    # the kernel with the queue: a single listening socket cannot close that window, a
    # connection or two on a loaded machine (a one-slot queue would only turn the resets
    # into refusals a SYN retransmit, 1 s, late).
    assert len(lost) <= 2, lost[:5]
    assert all("ConnectionResetError" in outcome for outcome in lost), lost[:5]
    assert outcomes.count("ok") > 50
    assert outcomes.count("refused") == 8


def test_tls_connections_in_the_backlog_at_the_signal_are_answered(tmp_path: Any) -> None:
    ca = trustme.CA()
    both = str(tmp_path / "both.pem")
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(both)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    answers: list[bytes] = []

    def client(sock: socket.socket) -> None:
        # The handshake itself waits in the backlog with the connection.
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            answers.append(data)

    with serve(
        APP, "--ssl-keyfile", both, "--ssl-certfile", both, "--timeout-keep-alive", "30"
    ) as server:
        blocker = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        blocking = context.wrap_socket(blocker, server_hostname="127.0.0.1")
        blocking.sendall(b"GET /block?1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        server.wait_for_log("^APP: blocking 1.5$")
        socks = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(10)
        ]
        threads = [threading.Thread(target=client, args=(sock,)) for sock in socks]
        for thread in threads:
            thread.start()
        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        for thread in threads:
            thread.join(15)
        blocking.close()
        assert server.wait() == 0
        assert time.monotonic() - signalled < 10
    assert "Traceback" not in server.log()
    assert len(answers) == 10
    for data in answers:
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nok")
