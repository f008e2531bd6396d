"""Dependencies behind a real ``aster run``: ``max_concurrency`` and cancelled requests.

The app is ``tests/apps/fw_deps.py``.  Six clients share two slots of a dependency; a
client that goes away mid-stream, and a request a timeout cancels, still get their
``yield`` dependency's whole cleanup (its log line), and no task is left behind.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .support import RawConnection, Running, serve

APP = "tests.apps.fw_deps:app"


def wait_until(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def tasks(running: Running) -> list[str]:
    return httpx.get(running.url + "/tasks", timeout=10).json()  # type: ignore[no-any-return]


def test_max_concurrency_is_shared_by_concurrent_clients() -> None:
    with serve(APP) as running:
        results: list[httpx.Response] = []

        def client() -> None:
            results.append(httpx.get(running.url + "/work", timeout=20))

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        stats = wait_until(
            lambda: (
                (s := httpx.get(running.url + "/stats", timeout=10).json())["waiting"] == 4 and s
            )
        )
        assert stats == {"free": 0, "waiting": 4, "active": 2}
        assert httpx.post(running.url + "/release", timeout=10).json() == {"released": True}
        for thread in threads:
            thread.join(20)
        assert [(r.status_code, r.json()) for r in results] == [(200, {"peak": 2})] * 6
        assert httpx.get(running.url + "/stats", timeout=10).json() == {
            "free": 2,
            "waiting": 0,
            "active": 0,
        }


def test_a_client_gone_mid_stream_gets_its_cleanup_and_leaves_no_task() -> None:
    with serve(APP) as running:
        baseline = tasks(running)
        with RawConnection(running.port) as connection:
            connection.send(b"GET /events HTTP/1.1\r\nHost: test\r\n\r\n")
            head = connection.read_until(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"content-type: text/event-stream" in head.lower()
            assert connection.read_until(b"\n\n") == b'10\r\ndata: {"n": 0}\n\n'  # chunked
        running.wait_for_log(r"resource closed /events")
        assert "resource open /events" in running.log()
        wait_until(lambda: tasks(running) == baseline)


@pytest.mark.parametrize("timeout", ["asyncio", "anyio"])
def test_a_request_cancelled_by_a_timeout_gets_its_cleanup_and_leaves_no_task(
    timeout: str,
) -> None:
    with serve(APP) as running:
        baseline = tasks(running)
        params = {"anyio": "1"} if timeout == "anyio" else {}
        response = httpx.get(running.url + "/slow", params=params, timeout=10)
        assert (response.status_code, response.text) == (504, "Gateway Timeout")
        running.wait_for_log(r"resource closed /slow")
        wait_until(lambda: tasks(running) == baseline)
