"""Helpers for the tests of ``--workers``: which workers started, which ones answer."""

from __future__ import annotations

import os
import re
import threading
import time

from tests.support import Running, request

_STARTED = re.compile(r"^INFO      Started server process \[(\d+)\]$")


def get(port: int, path: str = "/") -> bytes:
    return request(port, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()).body


def wait_for_workers(server: Running, count: int) -> list[int]:
    deadline = time.monotonic() + 20
    while True:
        pids = [int(m.group(1)) for m in map(_STARTED.match, server.lines) if m]
        running = [line for line in server.lines if "running on http" in line]
        if len(pids) >= count and len(running) >= count:
            return pids
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)


def distinct_pids(port: int, wanted: int, timeout: float = 15.0) -> set[int]:
    """Concurrent requests that block their worker's loop, until ``wanted`` pids answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    results: list[bytes] = []

    def fetch() -> None:
        results.append(get(port, "/block?0.2"))

    while len(seen) < wanted and time.monotonic() < deadline:
        results.clear()
        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seen.update(int(body) for body in results)
    return seen


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
