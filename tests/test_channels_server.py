"""aster.channels across real processes: ``aster run`` subprocesses on one real redis-server.

``tests/apps/channels_app.py`` forwards a subscription to a WebSocket or an SSE stream
and publishes over HTTP.  Here: two single processes and one ``--workers 2`` server on
the same Redis deliver every message to every client in order (WebSocket and SSE, Redis
pub/sub and Streams); a late Streams subscriber gets its history and then the live
messages, each once; a client that stops reading meets each backpressure policy while
the server's memory stays bounded; and Redis killed and restarted mid-run costs a 503 to
publishers, nothing to HTTP, and subscribers a ``reconnected`` notice.

The ``redis_server`` fixture is shared by the session: every test uses its own channel
names, and the test that kills Redis starts it again in a ``finally``.  Timeouts are
generous and every wait is bounded; nothing asserts a latency.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import RawConnection, Running, serve
from tests.workers_support import wait_for_workers
from tests.ws_support import CLOSE, TEXT, RawWebSocket

APP = "tests.apps.channels_app:app"
_RUNNING = re.compile(r"running on http://127\.0\.0\.1:(\d+)")
TIMEOUT = 20.0  # any single wait: generous for a loaded CI machine, but bounded
RECONNECTED = {"missed": "reconnected", "count": None, "channel": None}


# -- servers ----------------------------------------------------------------------------


def channels_env(backend: str, redis_url: str = "", **settings: str) -> dict[str, str]:
    env = {"CHANNELS_BACKEND": backend, "REDIS_URL": redis_url}
    env.update({f"CHANNELS_{name.upper()}": value for name, value in settings.items()})
    return env


@contextlib.contextmanager
def servers(*specs: tuple[dict[str, str], int]) -> Iterator[list[Running]]:
    """Start one server per ``(env, workers)`` at once, wait until all of them serve."""
    with contextlib.ExitStack() as stack:
        running = []
        for env, workers in specs:
            args = ["--no-access-log"] + (["--workers", str(workers)] if workers > 1 else [])
            running.append(stack.enter_context(serve(APP, *args, env=env, wait=False)))
        for server, (_, workers) in zip(running, specs, strict=True):
            if workers > 1:
                wait_for_workers(server, workers)
            match = _RUNNING.search(server.wait_for_log(_RUNNING.pattern, timeout=30))
            assert match is not None
            server.port = int(match.group(1))
        yield running


def base_url(server: Running) -> str:
    return f"http://127.0.0.1:{server.port}"


def http_client(server: Running) -> Any:
    return httpx.AsyncClient(base_url=base_url(server), timeout=TIMEOUT)


async def stats(server: Running) -> dict[str, Any]:
    async with http_client(server) as client:
        response = await client.get("/stats")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def wait_until(check: Any, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def publish_all(server: Running, channel: str, texts: list[str]) -> list[str | None]:
    """Publish one after the other (each answered before the next): the publisher's order."""
    ids = []
    async with http_client(server) as client:
        for text in texts:
            response = await client.post(f"/publish/{channel}", content=text)
            assert response.status_code == 200, response.text
            ids.append(response.json()["id"])
    return ids


# -- clients ----------------------------------------------------------------------------


@dataclass
class WS:
    ws: ClientConnection
    pid: int

    async def take(self, count: int) -> list[Any]:
        """The next ``count`` frames: a message's text, or a notice as a dict."""
        got = []
        for _ in range(count):
            frame = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
            assert isinstance(frame, str)
            got.append(json.loads(frame) if frame.startswith("{") else frame)
        return got


@contextlib.asynccontextmanager
async def ws_subscriber(server: Running, names: str, **query: object) -> AsyncIterator[WS]:
    url = f"ws://127.0.0.1:{server.port}/ws/{names}"
    if query:
        url += "?" + urlencode(query)
    async with connect(url, max_size=None, compression=None, open_timeout=TIMEOUT) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        yield WS(ws, ready["ready"])


@dataclass
class SSE:
    response: Any
    pid: int = 0
    _chunks: Any = None
    _buffer: str = ""
    blocks: list[str] = field(default_factory=list)

    async def block(self) -> str:
        """The next event as sent, its lines without the blank line that ends it
        (keep-alive comments are skipped)."""
        while True:
            while "\n\n" not in self._buffer:
                chunk = await asyncio.wait_for(self._chunks.__anext__(), TIMEOUT)
                self._buffer += chunk
            block, self._buffer = self._buffer.split("\n\n", 1)
            if not all(line.startswith(":") for line in block.split("\n")):
                return block

    async def take(self, count: int) -> list[str]:
        return [await self.block() for _ in range(count)]


@contextlib.asynccontextmanager
async def sse_subscriber(client: Any, names: str, **query: object) -> AsyncIterator[SSE]:
    url = f"/sse/{names}" + ("?" + urlencode(query) if query else "")
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        sse = SSE(response, _chunks=response.aiter_text())
        ready = await sse.block()
        match = re.fullmatch(r"event: ready\ndata: (\d+)", ready)
        assert match is not None, ready
        sse.pid = int(match.group(1))
        yield sse


def data_block(text: str, entry_id: str | None) -> str:
    """A message's event exactly as the app sends it."""
    return f"data: {text}" if entry_id is None else f"data: {text}\nid: {entry_id}"


async def subscribers_on_every_process(
    stack: contextlib.AsyncExitStack, open_one: Any, cluster: Cluster, per_server: int = 2
) -> list[Any]:
    """``per_server`` subscribers on each single process, and on the ``--workers 2``
    server as many as it takes for both workers to hold some."""
    subscribers = []
    for server in cluster.singles:
        for _ in range(per_server):
            subscribers.append(await stack.enter_async_context(open_one(server)))
    on_workers: set[int] = set()
    for _ in range(40):
        subscriber = await stack.enter_async_context(open_one(cluster.workers))
        subscribers.append(subscriber)
        on_workers.add(subscriber.pid)
        if len(on_workers) == 2 and len(subscribers) >= 3 * per_server:
            break
    assert len(on_workers) == 2, f"every subscriber went to one worker: {on_workers}"
    return subscribers


# -- the cluster: two single processes and one --workers 2 server on one Redis ----------


@dataclass
class Cluster:
    backend: str
    singles: list[Running]
    workers: Running

    @property
    def all(self) -> list[Running]:
        return [*self.singles, self.workers]


@pytest.fixture(scope="module", params=["pubsub", "streams"])
def cluster(request: pytest.FixtureRequest, redis_server: Any) -> Iterator[Cluster]:
    env = channels_env(request.param, redis_server.url)
    with servers((env, 1), (env, 1), (env, 2)) as (one, two, workers):
        yield Cluster(request.param, [one, two], workers)


async def assert_no_subscribers_left(cluster: Cluster) -> None:
    """Clients gone, subscriptions gone (the single processes; the workers' /stats
    answers from either worker)."""
    for server in cluster.singles:

        async def none_left(server: Running = server) -> bool:
            return (await stats(server))["subscribers"] == 0

        await wait_until(none_left, f"the subscriptions on :{server.port} to end")


async def publish_concurrently(
    cluster: Cluster, channel: str, per_publisher: int
) -> tuple[dict[str, list[str]], dict[str, str | None]]:
    """One publisher per server, all at once; what each published, and every id."""
    texts = {f"p{n}": [f"p{n}:{i}" for i in range(per_publisher)] for n in range(len(cluster.all))}
    results = await asyncio.gather(
        *(
            publish_all(server, channel, texts[name])
            for server, name in zip(cluster.all, texts, strict=True)
        )
    )
    ids = {
        text: entry_id
        for name, got in zip(texts, results, strict=True)
        for text, entry_id in zip(texts[name], got, strict=True)
    }
    return texts, ids


def per_publisher(sequence: list[str]) -> dict[str, list[str]]:
    split: dict[str, list[str]] = {}
    for text in sequence:
        split.setdefault(text.split(":")[0], []).append(text)
    return split


async def test_websocket_clients_on_every_process_get_every_message_in_order(
    cluster: Cluster,
) -> None:
    channel = f"fanout-ws-{cluster.backend}"
    async with contextlib.AsyncExitStack() as stack:
        clients = await subscribers_on_every_process(
            stack, lambda server: ws_subscriber(server, channel), cluster
        )
        texts, _ = await publish_concurrently(cluster, channel, 25)
        total = sum(len(t) for t in texts.values())
        sequences = [await client.take(total) for client in clients]
        for sequence in sequences:
            assert per_publisher(sequence) == texts
        # Redis orders the publishes once, for every process: one order for everyone.
        assert all(sequence == sequences[0] for sequence in sequences)
        # And nothing more than that: the next frame anyone gets is the next message.
        await publish_all(cluster.singles[0], channel, ["end"])
        for client in clients:
            assert await client.take(1) == ["end"]
    for server in cluster.singles:
        figures = await stats(server)
        assert figures["dropped"] == {"drop_oldest": 0, "drop_newest": 0, "disconnect": 0}
        assert (figures["missed_notices"], figures["connected"]) == (0, True)
    await assert_no_subscribers_left(cluster)


async def test_sse_subscribers_on_every_process_get_every_message_in_order(
    cluster: Cluster,
) -> None:
    channel = f"fanout-sse-{cluster.backend}"
    async with contextlib.AsyncExitStack() as stack:
        http = {
            server.port: await stack.enter_async_context(http_client(server))
            for server in cluster.all
        }
        streams = await subscribers_on_every_process(
            stack, lambda server: sse_subscriber(http[server.port], channel), cluster
        )
        texts, ids = await publish_concurrently(cluster, channel, 20)
        if cluster.backend == "pubsub":
            assert set(ids.values()) == {None}
        else:
            assert None not in ids.values() and len(set(ids.values())) == len(ids)
        total = sum(len(t) for t in texts.values())
        sequences = [await stream.take(total) for stream in streams]
        first = sequences[0]
        for sequence in sequences:
            assert sequence == first
        sent = [re.fullmatch(r"data: ([^\n]+)(?:\nid: [^\n]+)?", block) for block in first]
        assert None not in sent, first
        order = [match.group(1) for match in sent]  # type: ignore[union-attr]
        assert per_publisher(order) == texts
        assert first == [data_block(text, ids[text]) for text in order]
    await assert_no_subscribers_left(cluster)


@pytest.mark.parametrize("cluster", ["streams"], indirect=True)
async def test_streams_history_the_last_n_then_live_ones_each_once(cluster: Cluster) -> None:
    channel = "history-late"
    one, two = cluster.singles
    ids = await publish_all(one, channel, [f"h:{i}" for i in range(10)])
    async with (
        ws_subscriber(two, channel, history=4) as late,
        ws_subscriber(cluster.workers, channel, history=100) as everything,
        http_client(two) as client,
        sse_subscriber(client, channel, history=3) as sse,
    ):
        assert await late.take(4) == [f"h:{i}" for i in range(6, 10)]
        assert await everything.take(10) == [f"h:{i}" for i in range(10)]
        assert await sse.take(3) == [data_block(f"h:{i}", ids[i]) for i in range(7, 10)]
        live_ids = await publish_all(cluster.workers, channel, [f"h:{i}" for i in range(10, 15)])
        for subscriber in (late, everything):
            assert await subscriber.take(5) == [f"h:{i}" for i in range(10, 15)]
        assert await sse.take(5) == [data_block(f"h:{i}", live_ids[i - 10]) for i in range(10, 15)]
        await publish_all(one, channel, ["end"])
        for subscriber in (late, everything):
            assert await subscriber.take(1) == ["end"]
        assert (await sse.block()).startswith("data: end\nid: ")


@pytest.mark.parametrize("cluster", ["streams"], indirect=True)
async def test_streams_history_while_publishing_has_no_gap_and_no_duplicate(
    cluster: Cluster,
) -> None:
    """Subscribers join, with history, while another process publishes: each one gets a
    run of consecutive messages up to the last, with no repeat where history meets live."""
    channel = "history-racing"
    one, two = cluster.singles
    count = 120
    await publish_all(one, channel, ["c:0"])

    async def publish_the_rest() -> None:
        async with http_client(one) as client:
            for i in range(1, count):
                response = await client.post(f"/publish/{channel}", content=f"c:{i}")
                assert response.status_code == 200
                await asyncio.sleep(0.002)

    async def join_and_read(delay: float, server: Running) -> list[str]:
        await asyncio.sleep(delay)
        async with ws_subscriber(server, channel, history=5) as ws:
            got: list[str] = []
            while not got or got[-1] != f"c:{count - 1}":
                got += await ws.take(1)
            return got

    publisher = asyncio.create_task(publish_the_rest())
    runs = await asyncio.gather(
        *(join_and_read(0.02 * n, (two, cluster.workers)[n % 2]) for n in range(8))
    )
    await publisher
    for run in runs:
        numbers = [int(text.split(":")[1]) for text in run]
        assert numbers == list(range(numbers[0], count)), numbers
        assert len(numbers) >= 5


# -- backpressure: a client that stops reading -------------------------------------------


class StalledWebSocket(RawWebSocket):
    """A WebSocket client that completes the handshake, reads the app's ready frame and
    then reads nothing until told: its tiny receive buffer fills, then the server's
    socket buffer, then the server's writes wait.  It offers no compression."""

    def __init__(self, port: int, path: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", port))
        self.conn = RawConnection.__new__(RawConnection)
        self.conn.sock, self.conn.buffer = sock, b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.conn.send(
            f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.head = self.conn.read_until(b"\r\n\r\n")
        assert self.status == 101, self.head
        opcode, payload = self.recv_frame()
        assert opcode == TEXT and json.loads(payload)["ready"] > 0

    def read_events(self, until: Any) -> tuple[list[Any], tuple[int, str] | None]:
        """Frames (texts and notices) until ``until(events)`` or the close frame."""
        events: list[Any] = []
        while not until(events):
            opcode, payload = self.recv_frame()
            if opcode == CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return events, (code, payload[2:].decode())
            assert opcode == TEXT, opcode
            text = payload.decode()
            events.append(json.loads(text) if text.startswith("{") else text)
        return events, None


def memory_kib(pid: int, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field_name} in /proc/{pid}/status")


def seq(text: str) -> int:
    """The number in ``s:<n>:xxx...``."""
    return int(text.split(":", 2)[1])


def account(events: list[Any]) -> tuple[int, int]:
    """Walk a stalled client's events: every gap in the numbers must be announced by
    Missed notices whose counts add up to exactly that gap.  Returns (messages
    accounted for, dropped)."""
    expected = skipped = dropped = 0
    for event in events:
        if isinstance(event, dict):
            assert event["missed"] == "dropped" and event["count"] >= 1, event
            skipped += event["count"]
            dropped += event["count"]
        else:
            assert seq(event) == expected + skipped, (event[:20], expected, skipped)
            expected += skipped + 1
            skipped = 0
    return expected + skipped, dropped


MAX_QUEUE = 8
SIZE = 64 * 1024
ROUNDS, PER_ROUND = 14, 32  # 448 messages of 64 KiB: 28 MiB
BASELINE_ROUND = 2  # by then the stalled client's buffers are full
#: How much the server may grow while the last 22 MiB go through the stalled client's
#: subscription.  Keeping them would take 22 MiB (44 with the decoded text each message
#: caches); what the policies keep is MAX_QUEUE messages and the socket buffers.
RSS_BOUND_KIB = 12 * 1024


@pytest.mark.parametrize(
    ("backend", "policy"),
    [
        ("memory", "drop_oldest"),
        ("memory", "drop_newest"),
        ("memory", "disconnect"),
        ("pubsub", "drop_oldest"),
        ("pubsub", "disconnect"),
    ],
)
async def test_a_stalled_client_meets_its_policy_and_costs_the_others_nothing(
    redis_server: Any, backend: str, policy: str
) -> None:
    channel = f"stall-{backend}-{policy}"
    env = channels_env(backend, redis_server.url, max_queue=str(MAX_QUEUE), policy=policy)
    total = ROUNDS * PER_ROUND
    with servers((env, 1)) as (server,):
        stalled = StalledWebSocket(server.port, f"/ws/{channel}")
        try:
            async with (
                ws_subscriber(server, channel, max_queue=1000) as fast_a,
                ws_subscriber(server, channel, max_queue=1000) as fast_b,
                http_client(server) as client,
            ):
                pid = (await stats(server))["pid"]
                assert pid == server.process.pid
                received: dict[int, list[str]] = {id(fast_a): [], id(fast_b): []}
                baseline = 0
                for n in range(ROUNDS):
                    response = await client.post(
                        f"/burst/{channel}",
                        params={"publisher": "s", "start": n * PER_ROUND, "count": PER_ROUND,
                                "size": SIZE},
                    )  # fmt: skip
                    assert (response.status_code, response.json()["published"]) == (200, 32)
                    # The fast clients keep up: the next round waits for them.
                    for fast in (fast_a, fast_b):
                        received[id(fast)] += await fast.take(PER_ROUND)
                    if n == BASELINE_ROUND:
                        baseline = memory_kib(pid, "VmRSS")
                peak = memory_kib(pid, "VmHWM")
                figures = await stats(server)
                for got in received.values():
                    assert [seq(text) for text in got] == list(range(total))
                    assert {len(text) for text in got} == {SIZE}

                assert peak - baseline < RSS_BOUND_KIB, (
                    f"grew {peak - baseline} KiB (baseline {baseline} KiB)"
                )
                assert figures["published"] == total
                others = {p: 0 for p in ("drop_oldest", "drop_newest", "disconnect") if p != policy}
                assert {p: figures["dropped"][p] for p in others} == others
                dropped = figures["dropped"][policy]

                if policy == "disconnect":
                    assert (dropped, figures["disconnected_slow"]) == (1, 1)
                    # Once it reads: what was written before its subscription ended, then 1008.
                    events, close = stalled.read_events(lambda events: False)
                    assert close == (1008, "slow consumer")
                    assert all(isinstance(e, str) for e in events)
                    assert [seq(e) for e in events] == list(range(len(events)))
                    assert 0 < len(events) < total
                else:
                    assert dropped > 0 and figures["disconnected_slow"] == 0
                    events, close = stalled.read_events(lambda events: account(events)[0] == total)
                    assert close is None
                    assert account(events) == (total, dropped)
                    notices = [e for e in events if isinstance(e, dict)]
                    assert notices and {n["channel"] for n in notices} == {channel}
                    if policy == "drop_oldest":  # the newest stay: the last MAX_QUEUE arrive
                        assert [seq(e) for e in events[-MAX_QUEUE:]] == list(
                            range(total - MAX_QUEUE, total)
                        )
                    else:  # the oldest stay: the run of dropped ones ends the stream
                        assert isinstance(events[-1], dict)
                        assert seq(events[-2]) == total - 1 - events[-1]["count"]
                    # The stalled client is still subscribed: it gets what comes next.
                    response = await client.post(
                        f"/burst/{channel}", params={"publisher": "s", "start": total, "size": 10}
                    )
                    assert response.status_code == 200
                    text = f"s:{total}:".ljust(10, "x")
                    assert stalled.read_events(lambda events: len(events) == 1) == ([text], None)
                    for fast in (fast_a, fast_b):
                        assert await fast.take(1) == [text]

                left = 3 if policy != "disconnect" else 2

                async def subscribers_left() -> bool:
                    return (await stats(server))["subscribers"] == left

                await wait_until(subscribers_left, f"{left} subscriptions left")
        finally:
            stalled.close()
    warnings = [line for line in server.lines if "messages behind" in line]
    if policy == "disconnect":
        expected = (
            f"channels: subscriber to {channel} disconnected: 8 messages behind (policy disconnect)"
        )
    else:
        expected = (
            f"channels: subscriber to {channel} is 8 messages behind: dropping (policy {policy})"
        )
    assert len(warnings) == 1 and warnings[0].endswith(expected), warnings


# -- Redis killed and restarted mid-run ---------------------------------------------------


@pytest.mark.parametrize("backend", ["pubsub", "streams"])
async def test_redis_restart_costs_publishers_a_quick_503_and_subscribers_a_notice(
    redis_server: Any, backend: str
) -> None:
    channel = f"restart-{backend}"
    env = channels_env(
        backend,
        redis_server.url,
        timeout="1.0",
        publish_retries="2",
        retry_delay="0.05",
        max_retry_delay="0.3",
    )
    with servers((env, 1), (env, 1)) as (one, two):
        try:
            async with (
                ws_subscriber(one, channel) as ws_one,
                ws_subscriber(two, channel) as ws_two,
                http_client(one) as client_one,
                http_client(two) as client_two,
                sse_subscriber(client_one, channel) as sse,
                contextlib.AsyncExitStack() as stack,
            ):
                await publish_all(two, channel, ["before"])
                for ws in (ws_one, ws_two):
                    assert await ws.take(1) == ["before"]
                assert re.fullmatch(r"data: before(\nid: \d+-\d+)?", await sse.block())

                redis_server.stop()
                for client in (client_one, client_two):
                    started = time.monotonic()
                    response = await client.post(f"/publish/{channel}", content="lost")
                    assert time.monotonic() - started < 5.0  # an answer, not a hang
                    assert response.status_code == 503
                    body = response.json()
                    assert body["error"] == "channels unavailable"
                    assert body["detail"].startswith(
                        f"publish: Redis at {redis_server.url} unavailable after 3 attempts: "
                    )
                for _ in range(3):  # HTTP goes on being served meanwhile
                    for client in (client_one, client_two):
                        started = time.monotonic()
                        response = await client.get("/health")
                        assert (response.status_code, response.json()) == (200, {"status": "ok"})
                        assert time.monotonic() - started < 2.0

                async def disconnected() -> bool:
                    return (await stats(one))["connected"] is False

                await wait_until(disconnected, "the server to notice Redis is gone")
                figures = await stats(one)
                assert (figures["publish_failures"], figures["reconnects"]) == (1, 0)
                # A subscriber joining meanwhile is not kept waiting for Redis either.
                started = time.monotonic()
                joined = await stack.enter_async_context(ws_subscriber(two, channel))
                assert time.monotonic() - started < 5.0

                redis_server.start()
                for ws in (ws_one, ws_two, joined):
                    assert await ws.take(1) == [RECONNECTED]
                assert await sse.block() == "event: missed\ndata: " + json.dumps(RECONNECTED)
                after = [f"after:{i}" for i in range(5)]
                ids = await publish_all(one, channel, after)
                for ws in (ws_one, ws_two, joined):
                    assert await ws.take(5) == after
                assert await sse.take(5) == [
                    data_block(text, entry_id) for text, entry_id in zip(after, ids, strict=True)
                ]
                for server in (one, two):
                    figures = await stats(server)
                    assert figures["connected"] is True
                    assert (figures["reconnects"], figures["missed_notices"]) == (1, 1)
                    assert figures["published"] == (5 if server is one else 1)
        finally:
            redis_server.start()


async def test_shutdown_closes_the_sessions_and_the_redis_connections(
    redis_server: Any,
) -> None:
    """SIGTERM: the server closes the WebSocket (1012, its own doing, before the app's
    lifespan ends), the channels stop, and the process leaves no connection to Redis.
    Its connections are told apart from other tests' servers by their database (3)."""
    import redis

    url = redis_server.url.rsplit("/", 1)[0] + "/3"

    def ours() -> list[dict[str, Any]]:
        return [c for c in admin.client_list() if c["db"] == "3"]

    with redis.Redis.from_url(redis_server.url) as admin:
        channel = "shutdown"
        for backend in ("pubsub", "streams"):
            assert ours() == []
            with servers((channels_env(backend, url), 1)) as (server,):
                async with ws_subscriber(server, channel) as ws:
                    await publish_all(server, channel, ["x"])
                    assert await ws.take(1) == ["x"]
                    assert len(ours()) == 2  # one for commands, one reader
                    server.signal()
                    with pytest.raises(ConnectionClosed) as info:
                        await asyncio.wait_for(ws.ws.recv(), TIMEOUT)
                    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
                assert server.wait(TIMEOUT) == 0
            assert "Application shutdown complete." in server.log()
            assert "ERROR" not in server.log()
            deadline = time.monotonic() + TIMEOUT
            while ours():
                assert time.monotonic() < deadline, ours()
                await asyncio.sleep(0.05)
