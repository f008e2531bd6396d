"""Flow control in both directions, and ``http.disconnect`` when the client goes away."""

from __future__ import annotations

import hashlib
import itertools
import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.http1_support import get, get_json
from tests.support import RawConnection, Running, serve

MIB = 1 << 20
_ids = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.proto_flow:app", "--lifespan", "off") as running:
        yield running


def new_id() -> str:
    return f"t{next(_ids)}-{time.monotonic_ns()}"


def status(port: int, key: str, wait: str = "") -> dict[str, Any]:
    return get_json(port, f"/status?id={key}&wait={wait}")  # type: ignore[no-any-return]


def send_until_stuck(sock: socket.socket, data: memoryview, stall: float = 0.5) -> int:
    """Write without blocking until no byte has gone out for ``stall`` seconds."""
    sock.setblocking(False)
    sent = 0
    last_progress = time.monotonic()
    while sent < len(data):
        try:
            sent += sock.send(data[sent : sent + MIB])
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > stall:
                break
            select.select([], [sock], [], 0.05)
    sock.setblocking(True)
    return sent


def test_server_stops_reading_a_body_the_app_does_not_consume(server: Running) -> None:
    key = new_id()
    body = bytes(range(256)) * (64 * MIB // 256)
    head = f"POST /flow/in?id={key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(head.encode())
        sent = send_until_stuck(conn.sock, memoryview(body))
        # Only what kernel buffers hold got through: the server is not reading for the app.
        assert sent < 24 * MIB, f"the server read {sent} bytes of a body nobody consumes"
        assert status(server.port, key)["phase"] == "waiting for release"
        assert get(server.port, f"/flow/release?id={key}").body == b"released"
        conn.sock.sendall(memoryview(body)[sent:])
        response = conn.read_response()
    assert response.status == 200
    assert json.loads(response.body) == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def test_app_send_blocks_while_client_does_not_read(server: Running) -> None:
    key = new_id()
    chunks = 32
    with RawConnection(server.port, timeout=30) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        conn.send(f"GET /flow/out?id={key}&chunks={chunks} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        first_second = status(server.port, key, wait="first_second")["first_second"]
        # Kernel buffers hold a few MiB at most; the rest must wait for the client.
        assert first_second <= 10, f"{first_second} of {chunks} MiB 'sent' to a stalled client"
        response = conn.read_response()
    assert response.status == 200
    assert len(response.body) == chunks * MIB
    assert response.body[:3] == b"aaa" and response.body[-3:] == b"fff"
    assert status(server.port, key, wait="sent")["sent"] == chunks


def test_disconnect_reported_while_streaming(server: Running) -> None:
    key = new_id()
    with RawConnection(server.port) as conn:
        conn.send(
            f"POST /disconnect/stream?id={key} HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 3\r\n\r\nabc".encode()
        )
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert conn.read_until(b"started\n\r\n") == b"8\r\nstarted\n\r\n"
    record = status(server.port, key, wait="done")
    assert record["messages"] == ["http.request", "http.disconnect"]
    assert record["send_after_disconnect"] == "ClientDisconnected"


def test_disconnect_reported_to_a_long_poll(server: Running) -> None:
    key = new_id()
    with RawConnection(server.port) as conn:
        conn.send(
            f"POST /disconnect/wait?id={key} HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 2\r\n\r\nhi".encode()
        )
        deadline = time.monotonic() + 10
        while status(server.port, key).get("phase") != "waiting":
            assert time.monotonic() < deadline, "the app never got the body"
            time.sleep(0.02)
        # The app is parked in receive(); nothing is reported before the client leaves.
        assert status(server.port, key)["messages"] == ["http.request"]
    record = status(server.port, key, wait="done")
    assert record["messages"] == ["http.request", "http.disconnect"]
