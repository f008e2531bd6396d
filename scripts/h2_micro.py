"""Per-request CPU cost of aster's HTTP/2 connection, per engine, without sockets.

    python scripts/h2_micro.py [lean|h2|zttp] [--profile]
    python scripts/h2_micro.py [lean|h2|zttp] --count    # instructions per request (valgrind)

The client side (``h2``) prepares batches of 16 GET requests, as h2load -m16
sends them; each batch goes through ``HTTP2Protocol.data_received`` on a fake
transport and the loop runs until the responses are written.  The figure is
microseconds per request, engine and connection code together; ``--profile``
prints where they go (cProfile).

On a shared machine wall-clock figures move with the load; ``--count`` runs the
same batches under ``valgrind --tool=callgrind`` twice (a short and a long run)
and prints the difference in instructions per request, which does not.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import h2.config  # noqa: E402
import h2.connection  # noqa: E402

from aster.server.config import Config  # noqa: E402
from aster.server.protocols.http2 import ENGINES, HTTP2Protocol  # noqa: E402
from aster.server.state import ServerState  # noqa: E402
from bench.apps.raw_asgi import app  # noqa: E402
from bench.micro_http1 import FakeTransport  # noqa: E402

BATCH = 16
BATCHES = 200
HEADERS = [
    (b":method", b"GET"),
    (b":path", b"/"),
    (b":scheme", b"http"),
    (b":authority", b"127.0.0.1:8000"),
    (b"user-agent", b"h2load nghttp2/1.52.0"),
    (b"accept", b"*/*"),
]


class Sink(FakeTransport):
    """Counts the responses the server writes (frames with END_STREAM), from the raw frames."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.buffer = b""

    def set_protocol(self, protocol: Any) -> None:
        pass

    def write(self, data: bytes) -> None:  # type: ignore[override]
        buffer = self.buffer + data
        at = 0
        while len(buffer) - at >= 9:
            length = int.from_bytes(buffer[at : at + 3], "big")
            if len(buffer) - at < 9 + length:
                break
            kind, flags = buffer[at + 3], buffer[at + 4]
            if kind in (0, 1) and flags & 1:  # DATA or HEADERS with END_STREAM
                self.responses += 1
            at += 9 + length
        self.buffer = buffer[at:]


def client_batches() -> tuple[h2.connection.H2Connection, bytes, list[bytes]]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    preface = client.data_to_send()
    batches = []
    stream_id = 1
    for _ in range(BATCHES):
        for _ in range(BATCH):
            client.send_headers(stream_id, HEADERS, end_stream=True)
            stream_id += 2
        batches.append(client.data_to_send())
        # The requests are encoded now; the server's answers reach this client as they come.
        for sid in list(client.streams):
            client.streams.pop(sid)
    return client, preface, batches


async def measure(engine: str, profile: bool, batches_fed: int = BATCHES) -> float:
    if engine == "zttp":
        from h2_spike import _zttp_engine

        ENGINES["zttp"] = _zttp_engine
    config = Config(app, access_log=False, http2_engine=engine, log_config=None)
    config.load()
    state = ServerState(config)
    _, preface, batches = client_batches()
    transport = Sink()
    conn = HTTP2Protocol(
        config, state, {}, transport, ("127.0.0.1", 1), ("127.0.0.1", 8000), "http", False
    )
    conn.start(preface)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for batch in batches[:batches_fed]:
        conn.data_received(batch)
        for _ in range(4):  # the tasks run, send, and the flush writes
            await asyncio.sleep(0)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    assert transport.responses == BATCH * batches_fed, transport.responses
    return elapsed / (BATCH * batches_fed) * 1e6


def instructions(engine: str, batches_fed: int) -> int:
    """Instructions of one process that feeds ``batches_fed`` batches (after a warm-up)."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, engine, "--once", str(batches_fed)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", run.stderr)
    assert found, run.stderr
    return int(found.group(1))


def count(engine: str) -> float:
    short, long = 25, 125
    return (instructions(engine, long) - instructions(engine, short)) / (BATCH * (long - short))


def main() -> None:
    engine = sys.argv[1] if len(sys.argv) > 1 else "lean"
    profile = "--profile" in sys.argv
    if "--count" in sys.argv:
        print(f"{engine}: {count(engine) / 1000:.1f}k instructions per request")
        return
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
    if "--once" in sys.argv:  # one warm-up, then the run --count measures
        loop.run_until_complete(measure(engine, False, 25))
        loop.run_until_complete(measure(engine, False, int(sys.argv[sys.argv.index("--once") + 1])))
        return
    figures = [
        loop.run_until_complete(measure(engine, profile)) for _ in range(1 if profile else 3)
    ]
    print(f"{engine}: {min(figures):.1f} us per request (best of {len(figures)})")


if __name__ == "__main__":
    main()
