"""The ASGI lifespan protocol: auto/on/off, startup failure, state, and shutdown."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from tests.support import RawConnection, request, serve

GET = b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n"


def get(port: int, path: str = "") -> tuple[int, bytes]:
    response = request(port, GET % path.encode())
    return response.status, response.body


def test_auto_with_an_app_without_lifespan_keeps_serving() -> None:
    with serve("tests.apps.life_nolifespan:app") as server:
        assert get(server.port) == (200, b"no lifespan here")
        assert "INFO      ASGI 'lifespan' protocol appears unsupported." in server.lines
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    log = server.log()
    assert "Traceback" not in log
    assert "Application startup complete." not in log
    # Nothing is sent to an app that does not speak lifespan, not even at shutdown.
    assert "Waiting for application shutdown." not in log


def test_on_with_an_app_without_lifespan_fails_startup() -> None:
    with serve("tests.apps.life_nolifespan:app", "--lifespan", "on", wait=False) as server:
        assert server.wait() == 3
    assert "ERROR     Exception in 'lifespan' protocol" in server.lines
    assert "RuntimeError: unsupported scope type lifespan" in server.lines
    assert server.lines[-2:] == [
        "ERROR     Application startup failed. Exiting.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]
    assert "running on" not in server.log()


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_startup_failed_exits_with_3(mode: str) -> None:
    with serve("tests.apps.life_lifespan:failing", "--lifespan", mode, wait=False) as server:
        assert server.wait() == 3
    assert server.lines == [
        f"INFO      Started server process [{server.process.pid}]",
        "INFO      Waiting for application startup.",
        "ERROR     database unreachable",
        "ERROR     Application startup failed. Exiting.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]


def test_startup_exception_exits_with_3_and_logs_it() -> None:
    with serve("tests.apps.life_lifespan:raising", wait=False) as server:
        assert server.wait() == 3
    lines = server.lines
    assert "ERROR     Exception in 'lifespan' protocol" in lines
    assert "ValueError: config file missing" in lines
    assert lines[-2] == "ERROR     Application startup failed. Exiting."
    assert "running on" not in server.log()


def test_signal_during_a_slow_startup_stops_the_server() -> None:
    with serve("tests.apps.life_lifespan:slow_startup", wait=False) as server:
        server.wait_for_log("^APP: startup begins$")
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(10) == 0
        assert time.monotonic() - started < 3
    assert "APP: startup cancelled" in server.lines
    assert "WARNING   Application startup interrupted by a signal." in server.lines
    assert "running on" not in server.log()
    assert "Traceback" not in server.log()


def test_connections_during_startup_wait_in_the_backlog() -> None:
    """The port is bound before the startup runs; early clients are served once it is done."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serve(
        "tests.apps.life_lifespan:slow_startup",
        "--port",
        str(port),
        env={"LIFE_STARTUP_SECONDS": "1"},
        wait=False,
    ) as server:
        server.wait_for_log("^APP: startup begins$")
        began = time.monotonic()
        with RawConnection(port) as early:  # accepted by the kernel: not refused
            early.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = early.read_response()
            served_after = time.monotonic() - began
        assert (response.status, response.body) == (200, b"hello")
        assert served_after > 0.5  # answered only once the 1 s startup was over
        assert "INFO      Application startup complete." in server.lines
        server.signal(signal.SIGTERM)
        assert server.wait() == 0


def test_shutdown_failed_is_logged() -> None:
    with serve("tests.apps.life_lifespan:failing_shutdown") as server:
        assert get(server.port) == (200, b"hello")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert server.lines[-3:] == [
        "ERROR     could not flush the cache",
        "ERROR     Application shutdown failed. Exiting.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]


def test_second_signal_ends_a_hanging_shutdown() -> None:
    with serve("tests.apps.life_lifespan:hanging_shutdown") as server:
        assert get(server.port) == (200, b"hello")
        server.signal(signal.SIGTERM)
        server.wait_for_log("^APP: shutdown hangs$")
        forced = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert time.monotonic() - forced < 3
    assert server.lines[-2:] == [
        "WARNING   Forcing the exit.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]
    assert "Traceback" not in server.log()


@pytest.fixture(scope="module")
def lifespan_server():  # type: ignore[no-untyped-def]
    with serve("tests.apps.life_app:app") as server:
        yield server


def test_state_from_startup_reaches_requests_as_a_shallow_copy(lifespan_server) -> None:  # type: ignore[no-untyped-def]
    port = lifespan_server.port
    status, body = get(port, "state")
    assert status == 200
    first = json.loads(body)
    # Each request gets a copy: the key added by an earlier request is not there,
    # but the list object is the same one, so appends are shared.
    status, body = get(port, "state")
    second = json.loads(body)
    assert first["greeting"] == second["greeting"] == "hello"
    assert "added_by_request" not in first
    assert "added_by_request" not in second
    assert len(second["hits"]) == len(first["hits"]) + 1


def test_lifespan_runs_once(lifespan_server) -> None:  # type: ignore[no-untyped-def]
    assert get(lifespan_server.port, "lifespan") == (200, b"1")
    assert lifespan_server.lines.count("APP: startup") == 1
    assert "INFO      Application startup complete." in lifespan_server.lines


def test_lifespan_off_never_calls_the_app_with_lifespan() -> None:
    with serve("tests.apps.life_app:app", "--lifespan", "off") as server:
        assert get(server.port, "lifespan") == (200, b"0")
        status, body = get(server.port, "state")
        assert (status, json.loads(body)) == (200, {})
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    log = server.log()
    assert "lifespan" not in log.replace("GET /lifespan", "")
    assert "APP: startup" not in log
    assert "APP: shutdown" not in log


def test_shutdown_event_runs_on_sigterm() -> None:
    with serve("tests.apps.life_app:app") as server:
        assert get(server.port) == (200, b"ok")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    pid = server.process.pid
    tail = server.lines[server.lines.index("INFO      Shutting down") :]
    assert tail == [
        "INFO      Shutting down",
        "INFO      Waiting for application shutdown.",
        "APP: shutdown",
        "INFO      Application shutdown complete.",
        f"INFO      Finished server process [{pid}]",
    ]
