"""Server-Sent Events and JSON Lines on a real ``aster run``, read from raw sockets and httpx.

What only the wire shows: events arrive one by one as they are produced (not
buffered until the end), idle streams get keep-alive comments, and a client that
goes away stops the generator, whose ``finally`` runs, while the server keeps serving.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import RawConnection, Running, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_streams:app") as running:
        yield running


def _state(server: Running) -> dict[str, int]:
    return httpx.get(f"{server.url}/state", timeout=5).json()  # type: ignore[no-any-return]


def _wait_for(server: Running, key: str, value: int, timeout: float = 5.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        state = _state(server)
        if state[key] >= value or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _read_events(
    conn: RawConnection, count: int, *, skip_pings: bool = False
) -> list[tuple[float, bytes]]:
    """(arrival time, event) for the next ``count`` events of a chunked event-stream body."""
    events: list[tuple[float, bytes]] = []
    pending = b""
    while len(events) < count:
        size = int(conn.read_until(b"\r\n")[:-2], 16)
        assert size, "the stream ended early"
        pending += conn.read_exact(size)
        assert conn.read_exact(2) == b"\r\n"
        while b"\n\n" in pending:
            event, _, pending = pending.partition(b"\n\n")
            if not (skip_pings and event == b": ping"):
                events.append((time.monotonic(), event))
    return events


def test_sse_events_arrive_as_they_are_produced(server: Running) -> None:
    with RawConnection(server.port) as conn:
        start = time.monotonic()
        conn.send(b"GET /sse/ticks?n=3&interval=0.4 HTTP/1.1\r\nHost: t\r\n\r\n")
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"content-type: text/event-stream; charset=utf-8\r\n" in head
        assert b"cache-control: no-cache\r\n" in head
        assert b"x-accel-buffering: no\r\n" in head
        assert b"transfer-encoding: chunked\r\n" in head
        events = _read_events(conn, 3, skip_pings=True)
    assert [event for _, event in events] == [
        b'data: {"i":0}',
        b'data: {"i":1}',
        b'data: {"i":2}',
    ]
    arrivals = [at - start for at, _ in events]
    # The first event is not held back until the stream ends (0.8 s later)...
    assert arrivals[0] < 0.3
    # ...and each later one comes about one interval after the previous.
    assert 0.25 < arrivals[1] - arrivals[0] < 1.0
    assert 0.25 < arrivals[2] - arrivals[1] < 1.0


def test_jsonl_lines_arrive_as_they_are_produced(server: Running) -> None:
    arrivals: list[tuple[float, bytes]] = []
    start = time.monotonic()
    with httpx.stream("GET", f"{server.url}/jsonl?n=3&interval=0.4", timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/jsonl"
        for line in response.iter_lines():
            arrivals.append((time.monotonic() - start, line.encode()))
    assert [json.loads(line) for _, line in arrivals] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert arrivals[0][0] < 0.3
    assert arrivals[2][0] - arrivals[0][0] > 0.6


def test_idle_sse_stream_gets_keepalive_comments(server: Running) -> None:
    with httpx.stream("GET", f"{server.url}/sse/quiet", timeout=5) as response:
        body = b"".join(response.iter_bytes())
    # routing._PING_INTERVAL is 0.3 s in the app: about three pings in the 1 s of silence.
    assert body.endswith(b"event: end\ndata: done\n\n")
    pings = body[: -len(b"event: end\ndata: done\n\n")]
    assert pings == b": ping\n\n" * (len(pings) // len(b": ping\n\n"))
    assert 2 <= pings.count(b": ping\n\n") <= 4


@pytest.mark.parametrize("path", ["/sse/forever", "/sse/busy"])
def test_client_disconnect_stops_the_generator(server: Running, path: str) -> None:
    before = _state(server)
    with RawConnection(server.port) as conn:
        conn.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        conn.read_until(b"\r\n\r\n")
        _read_events(conn, 2)
    # The socket is closed: the generator's finally block runs promptly...
    after = _wait_for(server, "closed", before["closed"] + 1, timeout=3)
    assert after["closed"] == before["closed"] + 1
    assert after["started"] == before["started"] + 1
    # ...and it yields nothing more.
    time.sleep(0.3)
    assert _state(server)["yielded"] == after["yielded"]


def test_client_disconnect_stops_a_sync_generator(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /sse/sync-forever HTTP/1.1\r\nHost: t\r\n\r\n")
        conn.read_until(b"\r\n\r\n")
        assert [event for _, event in _read_events(conn, 2)] == [b"data: 0", b"data: 1"]
    time.sleep(0.3)  # at most one next() was in flight in the worker thread
    settled = _state(server)["sync_yielded"]
    time.sleep(0.4)
    assert _state(server)["sync_yielded"] == settled


def test_server_keeps_serving_after_disconnects(server: Running) -> None:
    response = httpx.get(f"{server.url}/sse/ticks?n=2&interval=0", timeout=5)
    assert response.status_code == 200
    assert response.text == 'data: {"i":0}\n\ndata: {"i":1}\n\n'
