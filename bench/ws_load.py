"""The WebSocket load generator: ``python -m bench.ws_load ws://host:port/ws --mode ...``.

wrk cannot speak WebSocket, so the ``websocket`` suite drives the servers with this:
Python, asyncio (uvloop when installed) and the ``websockets`` library's sans-I/O client
protocol (``websockets.client.ClientProtocol``: its handshake, framing and masking, with
the C speedups), over plain asyncio transports, which costs the client far less per
message than the library's full asyncio client and so leaves more of the load CPU for
load.  Two modes:

- ``echo``: ``--connections`` sockets are opened first; then, for ``--duration``
  seconds, each keeps ``--depth`` text messages of ``--size`` bytes in flight (a new one
  goes out as each echo comes back: pipelined request/response).  Every echo is compared
  with what was sent.  A "request" is one message echoed; its latency is from writing it
  to reading its echo.
- ``connect``: ``--connections`` workers each loop: TCP connect, opening handshake, one
  message echoed (proof the socket works), closing handshake, wait for the server to
  close the TCP connection.  A "request" is one such cycle; its latency is the cycle.

``--processes`` splits the connections over that many client processes (forked, started
together), for when one Python process cannot keep the server busy.  The result is one
JSON object on stdout: messages (or cycles), seconds, requests/s, latency percentiles in
ms, error counts, and the client processes' CPU use (seconds of CPU per second of wall
time, summed over processes: near 1.0 per process means the client, not the server, may
be the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import resource
import sys
import time
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

PERCENTILES = ("50", "75", "90", "99")


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.latencies: list[float] = []
        self.errors = collections.Counter[str]()
        self.recording = False

    def record(self, seconds: float) -> None:
        if self.recording:
            self.requests += 1
            self.latencies.append(seconds)


class Client(asyncio.Protocol):
    """One WebSocket connection, driven through ``ClientProtocol``."""

    def __init__(self, uri: str, stats: Stats) -> None:
        self.ws = ClientProtocol(parse_uri(uri), max_size=None)
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.on_message: Any = None

    def flush(self) -> None:
        assert self.transport is not None
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ws.send_request(self.ws.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self._fail(self.opened, self.ws.handshake_exc)
                elif not self.opened.done():
                    self.opened.set_result(None)
            elif event.opcode is Opcode.TEXT or event.opcode is Opcode.BINARY:
                self.on_message(event.data)
        self.flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc or ConnectionError("connection closed")
        self._fail(self.opened, error)
        if not self.closed.done():
            self.closed.set_result(None)

    @staticmethod
    def _fail(future: asyncio.Future[None], exc: BaseException) -> None:
        if not future.done():
            future.set_exception(exc)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.ws.send_close(1000)
            self.flush()


def payloads(size: int, count: int = 16) -> list[bytes]:
    """Distinct ASCII messages of ``size`` bytes, so an echo cannot pass for another."""
    return [(f"{i:04d}:" + "x" * size)[:size].encode() for i in range(count)]


async def open_client(host: str, port: int, uri: str, stats: Stats, timeout: float) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: Client(uri, stats), host, port), timeout
    )
    await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    return client


async def echo_connection(
    client: Client, stats: Stats, depth: int, size: int, start: asyncio.Event, stop: list[bool]
) -> None:
    messages = payloads(size)
    sent: collections.deque[tuple[float, bytes]] = collections.deque()
    clock = time.perf_counter
    counter = 0
    idle = asyncio.get_running_loop().create_future()

    def send_one() -> None:
        nonlocal counter
        data = messages[counter % len(messages)]
        counter += 1
        sent.append((clock(), data))
        client.ws.send_text(data)

    def on_message(data: bytes) -> None:
        when, expected = sent.popleft()
        stats.record(clock() - when)
        if data != expected:
            stats.errors["mismatch"] += 1
        if not stop[0]:
            send_one()
        elif not sent and not idle.done():
            idle.set_result(None)

    client.on_message = on_message
    await start.wait()
    for _ in range(depth):
        send_one()
    client.flush()
    done, _ = await asyncio.wait([idle, client.closed], return_when=asyncio.FIRST_COMPLETED)
    if client.closed in done and sent:
        stats.errors["read"] += 1  # the server went away with messages in flight
    client.close()
    await asyncio.wait([client.closed], timeout=2)


async def run_echo(args: argparse.Namespace, ready: Any, go: Any) -> tuple[Stats, float]:
    stats = Stats()
    uri = args.url
    wsuri = parse_uri(uri)
    clients: list[Client] = []
    for _ in range(args.connections):
        try:
            clients.append(await open_client(wsuri.host, wsuri.port, uri, stats, 10))
        except Exception:  # refused, reset, timed out: counted, not fatal
            stats.errors["connect"] += 1
    # Check every socket once before measuring: one random-ish message each, echoed exactly.
    probe = os.urandom(8).hex().encode()
    checked: list[asyncio.Future[bytes]] = []
    for client in clients:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.on_message = lambda data, f=future: f.done() or f.set_result(data)
        client.ws.send_text(probe)
        client.flush()
        checked.append(future)
    for got in await asyncio.gather(*checked, return_exceptions=True):
        if got != probe:
            stats.errors["mismatch"] += 1
    start, stop = asyncio.Event(), [False]
    tasks = [
        asyncio.create_task(echo_connection(c, stats, args.depth, args.size, start, stop))
        for c in clients
    ]
    began = _synchronise(ready, go)
    stats.recording = True
    start.set()
    await asyncio.sleep(max(0.0, began + args.duration - time.time()))
    stats.recording = False
    elapsed = args.duration
    stop[0] = True
    await asyncio.wait(tasks, timeout=10)
    return stats, elapsed


async def connect_worker(
    host: str, port: int, uri: str, stats: Stats, deadline: float, probe: bytes
) -> None:
    clock = time.perf_counter
    while time.time() < deadline:
        began = clock()
        try:
            client = await open_client(host, port, uri, stats, 10)
        except Exception:  # refused, reset, timed out: counted, not fatal
            stats.errors["connect"] += 1
            await asyncio.sleep(0.01)
            continue
        echoed: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.on_message = lambda data, f=echoed: f.done() or f.set_result(data)
        client.ws.send_text(probe)
        client.flush()
        try:
            got = await asyncio.wait_for(asyncio.shield(echoed), 10)
        except Exception:  # refused, reset, timed out: counted, not fatal
            stats.errors["read"] += 1
            got = b""
        if got != probe:
            stats.errors["mismatch"] += 1
        client.close()
        try:
            await asyncio.wait_for(asyncio.shield(client.closed), 10)
        except asyncio.TimeoutError:
            stats.errors["timeout"] += 1
            if client.transport is not None:
                client.transport.abort()
            continue
        if client.ws.close_code != 1000:
            stats.errors["close"] += 1
        stats.record(clock() - began)


async def run_connect(args: argparse.Namespace, ready: Any, go: Any) -> tuple[Stats, float]:
    stats = Stats()
    wsuri = parse_uri(args.url)
    began = _synchronise(ready, go)
    stats.recording = True
    deadline = began + args.duration
    probe = b"hello"
    workers = [
        connect_worker(wsuri.host, wsuri.port, args.url, stats, deadline, probe)
        for _ in range(args.connections)
    ]
    task = asyncio.gather(*workers)
    await asyncio.sleep(max(0.0, deadline - time.time()))
    stats.recording = False  # cycles that end after the deadline are not counted
    await asyncio.wait([task], timeout=15)
    return stats, args.duration


def _synchronise(ready: Any, go: Any) -> float:
    """Tell the parent this process is ready, wait for the common start; the start time."""
    if ready is None:
        return time.time()
    ready.put(os.getpid())
    return float(go.get())


def _child(args: argparse.Namespace, ready: Any, go: Any, results: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    before = resource.getrusage(resource.RUSAGE_SELF)
    run = run_echo if args.mode == "echo" else run_connect
    stats, elapsed = asyncio.run(run(args, ready, go))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put(
        {
            "requests": stats.requests,
            "seconds": elapsed,
            "latencies": stats.latencies,
            "errors": dict(stats.errors),
            "cpu_seconds": cpu,
        }
    )


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def run(args: argparse.Namespace) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    ready, go, results = context.Queue(), context.Queue(), context.Queue()
    shares = [
        args.connections // args.processes + (i < args.connections % args.processes)
        for i in range(args.processes)
    ]
    children = []
    for share in shares:
        child_args = argparse.Namespace(**{**vars(args), "connections": share})
        child = context.Process(target=_child, args=(child_args, ready, go, results))
        child.start()
        children.append(child)
    for _ in children:
        ready.get(timeout=60)
    start = time.time() + 0.05
    for _ in children:
        go.put(start)
    parts = [results.get(timeout=args.duration + 60) for _ in children]
    for child in children:
        child.join(10)
    latencies = sorted(x for part in parts for x in part["latencies"])
    requests = sum(part["requests"] for part in parts)
    errors: collections.Counter[str] = collections.Counter()
    for part in parts:
        errors.update(part["errors"])
    seconds = args.duration
    return {
        "mode": args.mode,
        "connections": args.connections,
        "processes": args.processes,
        "requests": requests,
        "seconds": seconds,
        "requests_per_sec": requests / seconds,
        "latency_ms": {p: percentile(latencies, float(p)) * 1e3 for p in PERCENTILES},
        "errors": dict(errors),
        "client_cpu": sum(part["cpu_seconds"] for part in parts) / seconds,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ws_load", description=__doc__.split("\n")[0])
    p.add_argument("url", help="ws://host:port/path")
    p.add_argument("--mode", choices=["echo", "connect"], default="echo")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--depth", type=int, default=1, help="echo: messages in flight per socket")
    p.add_argument("--size", type=int, default=32, help="echo: bytes per message")
    p.add_argument("--processes", type=int, default=1, help="client processes")
    args = p.parse_args(argv)
    if min(args.connections, args.depth, args.size, args.processes) < 1 or args.duration <= 0:
        p.error("--connections, --depth, --size, --processes and --duration must be positive")
    args.processes = min(args.processes, args.connections)
    return args


def main(argv: list[str] | None = None) -> int:
    result = run(parse_args(argv))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
