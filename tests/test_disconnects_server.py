"""A client that reads a bit of an endless response and leaves, against a real ``aster run``.

The app (tests/apps/st_disconnects.py) streams without ever awaiting anything of its own,
so nothing but the server's ``send`` can stop it.  After the client has gone each stream
must stop (its generator closed, its counter frozen), the process must go back to idle
(its CPU time barely moves), the server must keep answering, and a disconnect is not an
application error in the log.  In-process tests: tests/framework/test_disconnects.py and
tests/framework/test_middleware_base.py.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import h2.errors
import httpx
import pytest

from tests.h2_support import H2Client
from tests.support import Running, serve

_TICKS = os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.st_disconnects:app", "--no-access-log") as running:
        yield running


def _state(server: Running) -> dict[str, int]:
    return httpx.get(f"{server.url}/state", timeout=5).json()  # type: ignore[no-any-return]


def _cpu_seconds(server: Running) -> float:
    with open(f"/proc/{server.process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _read_and_leave(server: Running, head: bytes, amount: int = 256 * 1024) -> None:
    """Send a request, read ``amount`` bytes of the response, then close the socket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        received = 0
        while received < amount:
            data = sock.recv(65536)
            assert data, "the server closed the connection first"
            received += len(data)


def _wait_for(server: Running, key: str, at_least: int, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        state = _state(server)
        if state.get(key, 0) >= at_least or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _assert_stopped_and_idle(server: Running, name: str, before: dict[str, int]) -> None:
    """The stream ``name`` was closed once, yields nothing more, and burns no CPU."""
    closed = f"{name}_closed"
    after = _wait_for(server, closed, before.get(closed, 0) + 1)
    assert after.get(closed, 0) == before.get(closed, 0) + 1, after
    cpu = _cpu_seconds(server)
    time.sleep(1.0)
    settled = _state(server)
    assert settled.get(f"{name}_yielded") == after.get(f"{name}_yielded")
    # A loop spinning on a dead connection costs a full second of CPU per second.
    assert _cpu_seconds(server) - cpu < 0.3


GET = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("busy", GET % b"/busy"),
        # The body is never read: no disconnect listener, only send() can tell.
        ("upload", b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"),
    ],
)
def test_a_stream_that_never_awaits_stops_when_the_client_leaves(
    server: Running, name: str, head: bytes
) -> None:
    before = _state(server)
    _read_and_leave(server, head)
    _assert_stopped_and_idle(server, name, before)
    server.wait_for_log(f"APP: {name} closed")


def test_a_file_stops_when_the_client_leaves(server: Running) -> None:
    # A Range request: FileResponse reads and sends the file itself (no pathsend).
    before = _state(server)
    started = time.monotonic()
    _read_and_leave(server, b"GET /file HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n")
    after = _wait_for(server, "file_closed", before.get("file_closed", 0) + 1)
    assert after.get("file_closed", 0) == before.get("file_closed", 0) + 1
    assert after["file_opened"] == before.get("file_opened", 0) + 1
    assert time.monotonic() - started < 10  # long before 32 MiB could have gone out
    cpu = _cpu_seconds(server)
    time.sleep(1.0)
    assert _cpu_seconds(server) - cpu < 0.3


def test_a_file_sent_through_pathsend_stops_when_the_client_leaves(server: Running) -> None:
    # The whole file: the server streams it (http.response.pathsend) and stops at the loss.
    cpu = _cpu_seconds(server)
    _read_and_leave(server, GET % b"/file")
    time.sleep(1.0)
    assert _cpu_seconds(server) - cpu < 0.5
    assert _state(server).get("file_opened", 0) == _state(server).get("file_closed", 0)


@pytest.mark.parametrize("name", ["busy", "wrapped"])
def test_a_stream_behind_base_http_middleware_stops_when_the_client_leaves(
    server: Running, name: str
) -> None:
    before = _state(server)
    _read_and_leave(server, GET % f"/mw/{name}".encode())
    _assert_stopped_and_idle(server, name, before)


def test_an_endless_response_the_middleware_discarded_is_stopped(server: Running) -> None:
    cpu = _cpu_seconds(server)
    response = httpx.get(f"{server.url}/mw/replaced", timeout=10)
    assert (response.status_code, len(response.content)) == (200, 1 << 20)
    # Once dispatch's own response is out, the app's receive says http.disconnect and
    # its sends raise: its stream ends before (or at) its first chunk.
    first = _state(server).get("replaced_yielded", 0)
    time.sleep(1.0)
    assert _state(server).get("replaced_yielded", 0) == first <= 1
    assert _cpu_seconds(server) - cpu < 0.5


def test_an_app_that_keeps_sending_after_the_disconnect_is_stopped(server: Running) -> None:
    before = _state(server)
    _read_and_leave(server, GET % b"/mw/stubborn/")
    _assert_stopped_and_idle(server, "stubborn", before)
    # It was told once, at its send; sending again after that ended it.
    after = _state(server)
    assert after["stubborn_send_errors"] == before.get("stubborn_send_errors", 0) + 1


@pytest.mark.parametrize("path", ["/busy", "/mw/busy", "/mw/stubborn/"])
def test_an_http2_stream_the_client_cancels_stops(server: Running, path: str) -> None:
    # HTTP/2 (h2c, prior knowledge): RST_STREAM CANCEL ends only that stream.
    name = "stubborn" if "stubborn" in path else "busy"
    before = _state(server)
    with H2Client(server.port) as client:
        stream_id = client.headers(path)
        reply = client.replies[stream_id]
        while len(reply.body) < 256 * 1024:
            assert client.read(), "the server closed the connection"
        client.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        _assert_stopped_and_idle(server, name, before)
        again = client.request("/state")  # the connection still serves
        assert again.status == 200


def test_disconnects_are_not_logged_as_application_errors(server: Running) -> None:
    _read_and_leave(server, GET % b"/busy")
    _wait_for(server, "busy_closed", 1)
    assert httpx.get(f"{server.url}/state", timeout=5).status_code == 200
    assert "Exception in ASGI application" not in server.log()
