"""The WebSocket load generator: ``python -m bench.ws_load ws://host:port/path --mode ...``.

wrk cannot speak WebSocket, so the ``websocket`` suite drives the servers with this:
Python on asyncio (uvloop when installed) with the client side of RFC 6455 written out
for the purpose (:class:`Client`): a prepared handshake whose 101 and
``Sec-WebSocket-Accept`` are checked, frames masked in advance with ``websockets``' C
masking, and server frames parsed straight from the bytes read.  That costs the client
a few microseconds per message, so one load CPU can keep a fast server busy (the
``websockets`` client protocol, tried first, needed about as much CPU per message as
the servers it measured).  Two modes:

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
import base64
import collections
import hashlib
import json
import multiprocessing
import os
import resource
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.speedups import apply_mask

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


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10
CLOSE_1000 = struct.pack("!H", 1000)


def frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 5.2), as the server must receive it."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + apply_mask(payload, mask)


class Client(asyncio.Protocol):
    """One WebSocket connection, with the client side of RFC 6455 written out by hand.

    A client's cost per message is mostly framing, so this one keeps it small: the
    opening handshake is a prepared request whose 101 is checked for the right
    ``Sec-WebSocket-Accept``; every message goes out as a frame masked in advance (with
    the ``websockets`` C masking, one random key per connection); server frames are
    parsed straight from the bytes read.  Anything a server may legitimately send is
    handled (pings answered, fragments reassembled, the closing handshake completed);
    anything it must not (a masked frame, reserved bits) ends the connection as an error.
    """

    def __init__(self, host: str, port: int, path: str, stats: Stats) -> None:
        key = base64.b64encode(os.urandom(16))
        self.request = (
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ) % (path.encode(), host.encode(), port, key)
        self.accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).lower()
        self.mask = os.urandom(4)
        self.stats = stats
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.on_message: Any = None
        self.close_code: int | None = None
        self._open = False
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._close_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if not self._open:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = data
                return
            head = data[:end].lower()
            if not head.startswith(b"http/1.1 101 ") or (
                b"\r\nsec-websocket-accept: " + self.accept not in head
            ):
                self._error(ConnectionError(f"handshake refused: {data[:end]!r}"))
                return
            self._open = True
            self.opened.set_result(None)
            data = data[end + 4 :]
        size = len(data)
        at = 0
        while size - at >= 2:
            first, second = data[at], data[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if size - start < 2:
                    break
                (length,) = struct.unpack_from("!H", data, start)
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", data, start)
                start += 8
            end = start + length
            if end > size:
                break
            if second & 0x80 or first & 0x70:
                self._error(ConnectionError("masked frame or reserved bits from the server"))
                return
            self._frame(first, data[start:end])
            at = end
        if at < size:
            self._buffer = data[at:]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if opcode in (OP_TEXT, OP_BINARY) or opcode == 0:
            if first & 0x80 and not self._fragments:
                self.on_message(payload)
            else:
                self._fragments.append(payload)
                if first & 0x80:
                    self.on_message(b"".join(self._fragments))
                    self._fragments = []
        elif opcode == OP_PING:
            self.transport.write(frame(OP_PONG, payload, self.mask))
        elif opcode == OP_CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if not self._close_sent:
                self._close_sent = True
                self.transport.write(frame(OP_CLOSE, payload[:2], self.mask))
            # The server closes the TCP connection; connection_lost follows.

    def _error(self, exc: Exception) -> None:
        self.stats.errors["protocol"] += 1
        self._fail(self.opened, exc)
        self.transport.abort()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(self.opened, exc or ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    @staticmethod
    def _fail(future: asyncio.Future[None], exc: BaseException) -> None:
        if not future.done():
            future.set_exception(exc)
            future.exception()  # retrieved: a failed connect is counted, not logged

    def send(self, data: bytes) -> None:
        """Send one masked text frame carrying ``data`` (ASCII in this bench)."""
        self.transport.write(frame(OP_TEXT, data, self.mask))

    def close(self) -> None:
        if not self.transport.is_closing() and not self._close_sent:
            self._close_sent = True
            self.transport.write(frame(OP_CLOSE, CLOSE_1000, self.mask))


def payloads(size: int, count: int = 16) -> list[bytes]:
    """Distinct ASCII messages of ``size`` bytes, so an echo cannot pass for another."""
    return [(f"{i:04d}:" + "x" * size)[:size].encode() for i in range(count)]


class Target:
    """Where the clients connect: ``ws://host:port/path``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname:
            raise SystemExit(f"not a ws:// URL: {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


async def open_client(target: Target, stats: Stats, timeout: float) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(
            lambda: Client(target.host, target.port, target.path, stats), target.host, target.port
        ),
        timeout,
    )
    await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    return client


async def echo_connection(
    client: Client, stats: Stats, depth: int, size: int, start: asyncio.Event, stop: list[bool]
) -> None:
    messages = payloads(size)
    frames = [frame(OP_TEXT, message, client.mask) for message in messages]
    sent: collections.deque[tuple[float, bytes]] = collections.deque()
    clock = time.perf_counter
    counter = 0
    idle = asyncio.get_running_loop().create_future()
    write = client.transport.write

    def on_message(data: bytes) -> None:
        nonlocal counter
        when, expected = sent.popleft()
        now = clock()
        stats.record(now - when)
        if data != expected:
            stats.errors["mismatch"] += 1
        if not stop[0]:
            index = counter % 16
            counter += 1
            sent.append((now, messages[index]))
            write(frames[index])
        elif not sent and not idle.done():
            idle.set_result(None)

    client.on_message = on_message
    await start.wait()
    now = clock()
    for index in range(depth):
        sent.append((now, messages[index]))
    write(b"".join(frames[:depth]))
    counter = depth
    done, _ = await asyncio.wait([idle, client.closed], return_when=asyncio.FIRST_COMPLETED)
    if client.closed in done and sent:
        stats.errors["read"] += 1  # the server went away with messages in flight
    client.close()
    await asyncio.wait([client.closed], timeout=2)


async def run_echo(args: argparse.Namespace, ready: Any, go: Any) -> tuple[Stats, float]:
    stats = Stats()
    target = Target(args.url)
    clients: list[Client] = []
    for _ in range(args.connections):
        try:
            clients.append(await open_client(target, stats, 10))
        except Exception:  # refused, reset, timed out: counted, not fatal
            stats.errors["connect"] += 1
    # Check every socket once before measuring: one random-ish message each, echoed exactly.
    probe = os.urandom(8).hex().encode()
    checked: list[asyncio.Future[bytes]] = []
    for client in clients:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.on_message = lambda data, f=future: f.done() or f.set_result(data)
        client.send(probe)
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
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    return stats, elapsed


async def connect_worker(target: Target, stats: Stats, deadline: float, probe: bytes) -> None:
    clock = time.perf_counter
    loop = asyncio.get_running_loop()
    while time.time() < deadline:
        began = clock()
        try:
            client = await open_client(target, stats, 10)
        except Exception:  # refused, reset, timed out: counted, not fatal
            stats.errors["connect"] += 1
            await asyncio.sleep(0.01)
            continue
        echoed: asyncio.Future[bytes] = loop.create_future()
        client.on_message = lambda data, f=echoed: f.done() or f.set_result(data)
        client.send(probe)
        try:
            got = await asyncio.wait_for(asyncio.shield(echoed), 10)
        except Exception:  # reset, timed out: counted, not fatal
            stats.errors["read"] += 1
            got = b""
        if got != probe:
            stats.errors["mismatch"] += 1
        client.close()
        try:
            await asyncio.wait_for(asyncio.shield(client.closed), 10)
        except asyncio.TimeoutError:
            stats.errors["timeout"] += 1
            client.transport.abort()
            continue
        if client.close_code != 1000:
            stats.errors["close"] += 1
        stats.record(clock() - began)


async def run_connect(args: argparse.Namespace, ready: Any, go: Any) -> tuple[Stats, float]:
    stats = Stats()
    target = Target(args.url)
    began = _synchronise(ready, go)
    stats.recording = True
    deadline = began + args.duration
    probe = b"hello"
    workers = [connect_worker(target, stats, deadline, probe) for _ in range(args.connections)]
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
    try:
        stats, elapsed = asyncio.run(run(args, ready, go))
    except Exception as exc:  # reported, so that the parent does not wait for nothing
        stats, elapsed = Stats(), args.duration
        stats.errors[f"crash: {exc!r}"] += 1
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
