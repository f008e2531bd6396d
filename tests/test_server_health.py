"""``--health-path``: answered by the server itself, 503 while starting and stopping."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

from tests.h2_support import H2Client
from tests.support import RawConnection, Response, serve
from tests.workers_support import wait_for_workers

APP = "bench.apps.ops_app:app"
HEALTH = ("--health-path", "/healthz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(port: int, timeout: float = 15.0) -> RawConnection:
    """A connection as soon as the server listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RawConnection(port)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.02)


def ask(conn: RawConnection, method: str = "GET", path: str = "/healthz") -> Response:
    conn.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return conn.read_response(method)


def check_health(response: Response, status: int, state: str) -> None:
    body = json.dumps({"status": state}).encode()
    assert (response.status, response.body) == (status, body)
    assert response.header("content-type") == "application/json"
    assert response.header("cache-control") == "no-store"
    assert response.header("content-length") == str(len(body))


def test_starting_then_ready_and_requests_made_meanwhile_wait_for_the_app() -> None:
    port = free_port()
    env = {"OPS_STARTUP_DELAY": "2"}
    with serve(APP, *HEALTH, "--port", str(port), env=env, wait=False) as srv:
        probe = connect(port)
        check_health(ask(probe), 503, "starting")
        # An ordinary request made now waits for the startup, then sees its state.
        early = connect(port)
        early.send(b"GET /state HTTP/1.1\r\nHost: t\r\n\r\n")
        response = early.read_response()
        arrived = time.monotonic()
        assert (response.status, json.loads(response.body)) == (200, {"greeting": "hello"})
        assert srv.log_time(r"^INFO      Application startup complete\.$") <= arrived
        early.close()
        check_health(ask(probe), 200, "ready")
        head = ask(probe, "HEAD")
        assert (head.status, head.body, head.header("content-length")) == (200, b"", "19")
        post = ask(probe, "POST")
        check_health(post, 405, "ready")
        assert post.header("allow") == "GET, HEAD"
        query = ask(probe, path="/healthz?verbose=1")
        check_health(query, 200, "ready")
        probe.close()
    # The app never saw a probe.
    assert "APP: request /state" in srv.lines
    assert not [line for line in srv.lines if line.startswith("APP: request /healthz")]


def test_stopping_during_the_graceful_shutdown() -> None:
    with serve(APP, *HEALTH) as srv:
        conn = RawConnection(srv.port)
        check_health(ask(conn), 200, "ready")
        # A probe queued behind a slow request is answered once the shutdown began.
        conn.send(
            b"GET /sleep?1 HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        srv.wait_for_log("^APP: sleeping 1$")
        srv.signal(signal.SIGTERM)
        assert conn.read_response().status == 200
        stopping = conn.read_response()
        check_health(stopping, 503, "stopping")
        assert stopping.header("connection") == "close"
        conn.close()
        assert srv.wait() == 0


def test_requests_that_waited_for_a_failed_startup_get_503(tmp_path: Path) -> None:
    marker = tmp_path / "fail"
    marker.write_text("")
    port = free_port()
    env = {"OPS_STARTUP_DELAY": "1.5", "OPS_FAIL_IF_EXISTS": str(marker)}
    with serve(APP, *HEALTH, "--port", str(port), env=env, wait=False) as srv:
        probe = connect(port)
        check_health(ask(probe), 503, "starting")
        probe.close()
        waiting = connect(port)
        response = ask(waiting, path="/")
        assert (response.status, response.body) == (503, b"Service Unavailable")
        waiting.close()
        assert srv.wait() == 3
    assert "ERROR     not today" in srv.lines
    assert "APP: request /" not in srv.lines


def test_health_over_http2() -> None:
    with serve(APP, *HEALTH) as srv, H2Client(srv.port) as client:
        reply = client.request("/healthz")
        assert (reply.status, reply.body) == (200, b'{"status": "ready"}')
        assert reply.header(b"content-type") == b"application/json"
        assert reply.header(b"cache-control") == b"no-store"
        assert client.request("/pid").status == 200
    assert not [line for line in srv.lines if line.startswith("APP: request /healthz")]


def test_health_with_workers_and_without_the_flag() -> None:
    with serve(APP, *HEALTH, "--workers", "2") as srv:
        wait_for_workers(srv, 2)
        with RawConnection(srv.port) as conn:
            check_health(ask(conn), 200, "ready")
    with serve(APP) as srv, RawConnection(srv.port) as conn:
        response = ask(conn)  # no flag: the path is the app's
        assert (response.status, response.body) == (200, str(srv.process.pid).encode())
