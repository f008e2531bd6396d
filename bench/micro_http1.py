"""Per-request CPU cost of the HTTP/1.1 protocol, without sockets or the kernel.

wrk numbers on a 2-core VM mix our Python with syscall and scheduler noise;
this drives ``HTTP1Protocol`` through a fake transport instead, so a change to
the hot path shows up as a stable microseconds-per-request figure.

    python -m bench.micro_http1            # plaintext GET and a 10 KB POST echo
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from aster.server.config import Config
from aster.server.protocols.http1 import HTTP1Protocol
from aster.server.state import ServerState
from bench.apps.raw_asgi import app

GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
BODY = b"x" * 10240
POST = (
    b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


class FakeTransport(asyncio.Transport):
    """Counts written bytes; pretends to be a TCP socket to 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += len(data)

    def writelines(self, chunks: Any) -> None:  # type: ignore[override]
        for chunk in chunks:
            self.written += len(chunk)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def measure(request: bytes, connections: int, rounds: int) -> float:
    """Microseconds per request over ``connections`` keep-alive connections, one request each."""
    config = Config(app, access_log=False, log_config=None)
    config.loaded_app = app
    state = ServerState(config)
    protocols = []
    for _ in range(connections):
        protocol = HTTP1Protocol(config, state, {})
        protocol.connection_made(FakeTransport())
        protocols.append(protocol)
    start = time.perf_counter()
    for _ in range(rounds):
        for protocol in protocols:
            protocol.data_received(request)
        # Let every app task run to completion, like one event-loop iteration would.
        while state.tasks:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    assert all(not p.transport.closed for p in protocols)
    return elapsed / (connections * rounds) * 1e6


def main() -> None:
    import uvloop

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    for name, request in (("plaintext", GET), ("echo10k", POST)):
        results = []
        for _ in range(repeats):
            loop = uvloop.new_event_loop()
            results.append(loop.run_until_complete(measure(request, 64, 400)))
            loop.close()
        print(f"{name:10} {statistics.median(results):6.2f} us/request (min {min(results):.2f})")


if __name__ == "__main__":
    main()


def count_once() -> None:
    """One short run per scenario, for ``valgrind --tool=callgrind`` instruction counts."""
    import uvloop

    loop = uvloop.new_event_loop()
    loop.run_until_complete(measure(GET, 16, 20))  # warm caches and specialisations
    loop.run_until_complete(measure(POST if "echo" in sys.argv else GET, 64, 50))
