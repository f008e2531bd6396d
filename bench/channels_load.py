"""The channels load generator: one publisher, many WebSocket subscribers, through Redis.

``python -m bench.channels_load --ws ws://h:p1/ws,ws://h:p2/ws --redis redis://... ``
opens ``--subscribers`` WebSocket connections spread round-robin over the given URLs
(one per server process), makes sure each one receives what is published (probe
messages, published until every socket has had one), then publishes for
``--duration`` seconds straight to Redis (``PUBLISH`` with redis-py, the same for every
server: the servers' part is the fan-out, from their one Redis subscription to their
sockets) and waits for the deliveries to finish.  Two ways to pace the publisher:

- ``--mode window``: a closed loop that finds the rate the servers sustain.  At most
  ``--window`` messages are in flight: message ``n + window`` is published once
  message ``n`` has reached every subscriber, so no queue anywhere grows beyond
  ``window`` messages and the rate is the servers' (as wrk's is with ``-c``).
- ``--mode paced``: an open loop at ``--rate`` messages per second, whatever the
  servers do; a server that cannot keep up shows it as a lower delivery rate and a
  latency that grows with the backlog.

Every message is ``"<seq:010d> <send time, monotonic ns:019d> xxx..."`` (``--size``
bytes).  Each subscriber checks that the sequence numbers arrive in order, once each,
and that the send time is the one published; a message's latency is from just before
its ``PUBLISH`` to the read that brought its frame in.  At the end, a subscriber's
lost messages are those published that never reached it; the drain after the last
``PUBLISH`` ends when every message has reached every subscriber, when nothing has
arrived for ``--stall`` seconds (what is missing is lost), or at ``--drain`` seconds
(what is missing was still arriving: "undelivered", the run could not keep up).

The subscribers and the publisher share one process (asyncio on uvloop, the client
side of RFC 6455 from :mod:`bench.ws_load` with a parser for the one frame this load
receives), which costs a few microseconds per delivered message; the report gives the
process's CPU seconds per wall second over the measured part, so a client at 1.0 is
seen to be the limit.  Each server's ``--stats-path`` is read just before the first and
just after the last measured message: its CPU seconds meanwhile, and the messages its
backpressure policy dropped.  The result is one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from .ws_load import Client, Stats, Target, percentile

PERCENTILES = ("50", "90", "99", "99.9")
PROBE = b"probe"


def payload(seq: int, sent_ns: int, size: int) -> bytes:
    head = b"%010d %019d " % (seq, sent_ns)
    return head + b"x" * (size - len(head))


class Tracker:
    """What every subscriber reports to: which messages have reached every subscriber
    (the window), the latencies, and when the last delivery came."""

    def __init__(self, subscribers: int, size: int) -> None:
        self.subscribers = subscribers
        self.size = size
        self.sent_at: list[int] = []
        """seq -> the send time in its payload."""
        self.counts: list[int] = []
        """seq -> subscribers that have it (or a later one)."""
        self.complete = 0
        """Messages ``0 .. complete-1`` have reached (or been skipped by) every subscriber."""
        self.received = 0
        self.latencies = array.array("q")
        self.last_receive = 0
        self.recording = True
        self._progress: asyncio.Future[None] | None = None

    def reached(self, seq: int) -> None:
        """Message ``seq`` reached its last subscriber: move the window."""
        complete, counts, n = self.complete, self.counts, self.subscribers
        end = len(counts)
        while complete < end and counts[complete] >= n:
            complete += 1
        self.complete = complete
        waiter = self._progress
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_progress(self, timeout: float) -> None:
        self._progress = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._progress, timeout)
        finally:
            self._progress = None


class Subscriber(Client):
    """One subscriber socket: :class:`~bench.ws_load.Client` for the handshake and for any
    frame but a final text one, a short parse for the text frames this load is made of."""

    def __init__(self, target: Target, stats: Stats, tracker: Tracker, url_index: int) -> None:
        super().__init__(target.host, target.port, target.path, stats)
        self.tracker = tracker
        self.url_index = url_index
        self.last = -1
        self.received = 0
        self.out_of_order = 0
        self.missed_notices = 0
        self.probed = False
        self.measuring = False
        self.on_message = self._message

    def data_received(self, data: bytes) -> None:
        if not self._open:
            super().data_received(data)  # the handshake; frames after it go to _message
            return
        now = time.monotonic_ns()
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        size = len(data)
        at = 0
        while size - at >= 2:
            first = data[at]
            length = data[at + 1]
            if first != 0x81 or length > 125:  # not a short final text frame: the general path
                Client.data_received(self, data[at:])
                return
            end = at + 2 + length
            if end > size:
                break
            self._message(data[at + 2 : end], now)
            at = end
        if at < size:
            self._buffer = data[at:]

    def _message(self, message: bytes, now: int | None = None) -> None:
        if now is None:
            now = time.monotonic_ns()
        first = message[:1]
        if not first.isdigit():
            if message.startswith(PROBE):
                self.probed = True
            elif message.startswith(b"!missed"):  # a gap the server owned up to
                self.missed_notices += 1
            else:
                self.stats.errors["unexpected message"] += 1
            return
        tracker = self.tracker
        try:
            seq = int(message[:10])
            sent = int(message[11:30])
            if sent != tracker.sent_at[seq] or len(message) != tracker.size:
                raise ValueError
        except (ValueError, IndexError):
            self.stats.errors["mismatch"] += 1
            return
        self.received += 1
        tracker.received += 1
        tracker.last_receive = now
        tracker.latencies.append(now - sent)
        last = self.last
        if seq <= last:
            self.out_of_order += 1
            return
        counts, n = tracker.counts, tracker.subscribers
        for k in range(last + 1, seq + 1):  # skipped ones count as reached: lost, not stalled
            counts[k] += 1
            if counts[k] >= n:
                tracker.reached(k)
        self.last = seq

    def connection_lost(self, exc: Exception | None) -> None:
        if self.measuring:
            self.stats.errors["closed by the server"] += 1
        super().connection_lost(exc)


async def connect_all(
    targets: list[Target], count: int, stats: Stats, tracker: Tracker, timeout: float
) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)  # a burst of 1,000 SYNs would overflow the listen backlogs

    async def one(i: int) -> Subscriber | None:
        index = i % len(targets)
        target = targets[index]
        async with gate:
            try:
                _, sub = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: Subscriber(target, stats, tracker, index), target.host, target.port
                    ),
                    timeout,
                )
                await asyncio.wait_for(asyncio.shield(sub.opened), timeout)
                return sub
            except Exception:  # refused, reset, timed out: counted
                stats.errors["connect"] += 1
                return None

    found = await asyncio.gather(*(one(i) for i in range(count)))
    return [s for s in found if s is not None]


async def probe(redis: Any, channel: str, subs: list[Subscriber], timeout: float) -> bool:
    """Publish probes until every socket has received one: every server subscribed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await redis.publish(channel, PROBE)
        await asyncio.sleep(0.05)
        if all(s.probed for s in subs):
            return True
    return False


async def publish_all(
    args: argparse.Namespace, redis: Any, tracker: Tracker, stats: Stats, processes: int
) -> tuple[int, int]:
    """Publish for ``args.duration`` seconds; (messages published, start in ns)."""
    clock = time.monotonic_ns
    sent_at, counts = tracker.sent_at, tracker.counts
    window = args.window if args.mode == "window" else 0
    interval = int(1e9 / args.rate) if args.mode == "paced" else 0
    start = clock()
    end = start + int(args.duration * 1e9)
    seq = 0
    short = 0
    while True:
        now = clock()
        if now >= end:
            break
        if window:
            while seq - tracker.complete >= window:
                try:
                    await tracker.wait_progress(args.stall)
                except asyncio.TimeoutError:
                    stats.errors["stalled (a subscriber stopped receiving)"] += 1
                    return seq, start
            now = clock()
        else:
            due = start + seq * interval
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = clock()
        sent_at.append(now)
        counts.append(0)
        receivers = await redis.publish(args.channel, payload(seq, now, args.size))
        if receivers < processes:
            short += 1
        seq += 1
    if short:
        stats.errors["PUBLISH reached fewer server processes than there are"] += short
    return seq, start


async def drain(args: argparse.Namespace, tracker: Tracker, published: int) -> str:
    """Wait for the deliveries to finish; how the wait ended."""
    deadline = time.monotonic() + args.drain
    seen, quiet_since = tracker.received, time.monotonic()
    while tracker.complete < published:
        await asyncio.sleep(0.02)
        now = time.monotonic()
        if tracker.received != seen:
            seen, quiet_since = tracker.received, now
        elif now - quiet_since > args.stall:
            return "stalled"
        if now > deadline:
            return "deadline"
    return "complete"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import redis.asyncio as redis_asyncio

    targets = [Target(u) for u in args.ws]
    stats = Stats()
    tracker = Tracker(args.subscribers, args.size)
    redis = redis_asyncio.Redis.from_url(args.redis)
    subs: list[Subscriber] = []
    try:
        # One subscriber per server first, probed, then the rest: broadcaster loses the
        # subscribers that join while its first subscription to a channel is in flight
        # (Broadcast.subscribe() replaces the channel's set of queues after its await).
        first = await connect_all(targets, len(targets), stats, tracker, args.timeout)
        if len(first) == len(targets) and await probe(redis, args.channel, first, args.timeout):
            more = args.subscribers - len(first)
            subs = first + await connect_all(targets, more, stats, tracker, args.timeout)
        else:
            subs = first
        tracker.subscribers = len(subs)
        if len(subs) < args.subscribers or not await probe(redis, args.channel, subs, args.timeout):
            missing = sum(not s.probed for s in subs)
            stats.errors[f"probe: {missing} subscribers never received a message"] += 1
            return {
                **_report(args, stats, tracker, subs, 0, 0, 0, 0.0, "not started"),
                "servers": {},
            }
        await asyncio.sleep(0.1)  # the last probes' deliveries
        for s in subs:
            s.measuring = True
        stats_before = await all_stats(targets, args.stats_path)
        gc.collect()
        gc.disable()  # no collector pauses inside the measurement (nothing cyclic is made)
        cpu_before = _cpu()
        published, start = await publish_all(args, redis, tracker, stats, len(targets))
        ended = await drain(args, tracker, published)
        finish = time.monotonic_ns()
        cpu = _cpu() - cpu_before
        gc.enable()
        servers = server_figures(stats_before, await all_stats(targets, args.stats_path))
        for s in subs:
            s.measuring = False
        wall = (finish - start) / 1e9
        report = _report(args, stats, tracker, subs, published, start, finish, cpu / wall, ended)
        return {**report, "servers": servers}
    finally:
        await redis.aclose()
        for s in subs:
            s.close()
        if subs:
            await asyncio.wait([s.closed for s in subs], timeout=5)
        for s in subs:
            if not s.closed.done():
                s.transport.abort()


async def fetch_stats(target: Target, path: str) -> dict[str, Any]:
    """``GET path`` (the app's ``/stats``) from the server process behind ``target``."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port), 10)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        writer.write((request + "Connection: close\r\n\r\n").encode())
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"GET {path}: {head[:100]!r}")
    return dict(json.loads(body))


async def all_stats(targets: list[Target], path: str) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(fetch_stats(t, path) for t in targets)))


def server_figures(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """What the server processes did between the two ``/stats``: CPU seconds, and the
    messages their backpressure policy dropped (aster.channels counts them)."""

    def dropped(stats: dict[str, Any]) -> int:
        return sum(stats.get("channels", {}).get("dropped", {}).values())

    if [b.get("pid") for b in before] != [a.get("pid") for a in after]:
        raise ConnectionError("a server process was replaced during the run")
    return {
        "library": after[0].get("library") if after else None,
        "cpu_seconds": [
            a["cpu_seconds"] - b["cpu_seconds"] for b, a in zip(before, after, strict=True)
        ],
        "system_seconds": [
            a["system_seconds"] - b["system_seconds"] for b, a in zip(before, after, strict=True)
        ],
        "dropped": sum(dropped(a) - dropped(b) for b, a in zip(before, after, strict=True)),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(
    args: argparse.Namespace,
    stats: Stats,
    tracker: Tracker,
    subs: list[Subscriber],
    published: int,
    start: int,
    finish: int,
    client_cpu: float,
    ended: str,
) -> dict[str, Any]:
    errors = Counter(stats.errors)
    missing = sum(max(0, published - s.received) for s in subs)
    if ended == "deadline" and missing:
        errors[f"undelivered: still arriving {args.drain:.0f} s after the last publish"] += 1
    lost = missing if ended != "deadline" else 0
    out_of_order = sum(s.out_of_order for s in subs)
    if out_of_order:
        errors["out of order or duplicated"] += out_of_order
    seconds = (tracker.last_receive - start) / 1e9 if tracker.received and start else 0.0
    ordered = sorted(tracker.latencies)
    per_url = Counter(args.ws[s.url_index] for s in subs)
    return {
        "mode": args.mode,
        "window": args.window if args.mode == "window" else None,
        "rate": args.rate if args.mode == "paced" else None,
        "subscribers": len(subs),
        "per_url": dict(per_url),
        "published": published,
        "expected": published * len(subs),
        "delivered": tracker.received,
        "lost": lost,
        "undelivered": missing if ended == "deadline" else 0,
        "missed_notices": sum(s.missed_notices for s in subs),
        "drain": ended,
        "seconds": seconds,
        "publish_seconds": args.duration,
        "delivered_per_sec": tracker.received / seconds if seconds > 0 else 0.0,
        "published_per_sec": published / args.duration,
        "latency_ms": {p: percentile(ordered, float(p)) / 1e6 for p in PERCENTILES},
        "max_latency_ms": ordered[-1] / 1e6 if ordered else float("nan"),
        "errors": dict(errors),
        "client_cpu": client_cpu,
        "wall_seconds": (finish - start) / 1e9 if start else 0.0,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.channels_load", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--ws", required=True, type=lambda v: v.split(","), help="ws:// URLs, comma-separated"
    )
    p.add_argument("--redis", required=True, help="redis:// URL the servers use")
    p.add_argument("--channel", default="chat")
    p.add_argument("--stats-path", default="/stats", help="each server's figures (JSON)")
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument("--mode", choices=["window", "paced"], default="window")
    p.add_argument("--window", type=int, default=8, help="window: messages in flight")
    p.add_argument("--rate", type=float, default=100.0, help="paced: messages per second")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of publishing")
    p.add_argument("--size", type=int, default=64, help="bytes per message (at least 31)")
    p.add_argument("--stall", type=float, default=3.0, help="seconds without a delivery: stalled")
    p.add_argument(
        "--drain", type=float, default=15.0, help="most seconds to wait after publishing"
    )
    p.add_argument("--timeout", type=float, default=20.0, help="connect and probe timeout")
    args = p.parse_args(argv)
    if min(args.subscribers, args.window) < 1 or args.duration <= 0 or args.rate <= 0:
        p.error("--subscribers, --window, --rate and --duration must be positive")
    if not 31 <= args.size <= 125:
        p.error("--size must be 31..125 bytes (a sequence number, a time, one frame header)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.subscribers + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.subscribers + 64), hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
