"""The ``channels`` suite: one publisher fanned out to 1,000 WebSocket subscribers on two
server processes, through Redis pub/sub.

Two contenders, the same chat (``bench/apps/channels_*.py``): aster's framework with
``aster.channels`` (:class:`~aster.channels.RedisPubSubBackend`) on ``aster run``, and
FastAPI with encode/broadcaster (its ``redis://`` backend) on uvicorn (httptools, uvloop,
``--ws websockets-sansio``).  Each contender runs as **two separate server processes**
on two ports, each started as the other suites start one (one process, uvloop, access
log off) and both pinned to the server CPU: the same for both contenders, an even
500/500 split of the subscribers, and each process's ``/stats`` (its CPU time, the
messages its backpressure policy dropped) reachable, which ``--workers 2`` behind one
port would not give.  Both processes share the one server core, so the rate measures
CPU per delivered message, not how the two processes are scheduled.

The whole run shares one throwaway ``redis-server`` (:func:`redis`, pinned to the load
CPUs like the ``tfb`` suite's PostgreSQL); the servers find it in
``CHANNELS_REDIS_URL``.  The publisher is the load generator, ``PUBLISH`` straight to
Redis with redis-py: the same path into both contenders, so the comparison is of what
each does with a message once Redis hands it over (one Redis subscription per process,
the fan-out to its 500 sockets), not of an HTTP publish endpoint.

:mod:`bench.channels_load` runs as a child process on the load CPUs, like wrk.  A
"request" in the table is one message delivered to one subscriber; its latency is from
the ``PUBLISH`` to the subscriber's read.  Every message is checked (order, no
duplicate, the payload published) and every subscriber must get every message: a run
that lost any is invalid, and the report's ``lost`` column sums the losses over every
round, with ``/stats`` telling whether aster's policy dropped them (backpressure) or
not (a silent loss, a bug).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .apps.channels_shared import REDIS_URL_VARIABLE
from .redis_server import RedisServer, redis_server_binary
from .report import Column, Target
from .runner import TOOLS, Tool
from .scenarios import Scenario
from .servers import SERVERS, Contender, Server, distribution_version
from .wrk import WrkError, WrkResult
from .ws_suite import WS_SERVERS, run_load_report

if TYPE_CHECKING:
    from .runner import Settings

CHANNELS_BASELINE = "aster"
SUBSCRIBERS = int(os.environ.get("CHANNELS_SUBSCRIBERS", "1000"))
"""Subscribers per run, over both processes (``CHANNELS_SUBSCRIBERS``: fewer for a smoke test)."""
PROCESSES = 2
MESSAGE_SIZE = 64
WINDOW = 24
"""Messages in flight in ``fanout_max``: the fewest at which both servers' core is busy
(at 16, aster's idled 10% of the time waiting for the closed loop's round trip)."""
PACED_RATES = (20, 50, 100)
"""Messages per second of the paced scenarios (times the subscribers: deliveries/s)."""
DRAIN = 20.0
"""Most seconds a run waits, after its last publish, for the deliveries to finish."""

_UVICORN_WS = WS_SERVERS["uvicorn"]
CHANNELS_CONTENDERS: dict[str, Contender] = {
    "aster": Contender(
        "aster",
        SERVERS["aster"],
        "bench.apps.channels_aster:app",
        framework="aster",
        processes=PROCESSES,
    ),
    "broadcaster": Contender(
        "broadcaster",
        Server(
            "uvicorn",
            _UVICORN_WS.module,
            _UVICORN_WS.distribution,
            _UVICORN_WS.argv,
            requires=("broadcaster", "redis"),
        ),
        "bench.apps.channels_fastapi:app",
        framework="fastapi",
        processes=PROCESSES,
    ),
}


def channels_contenders() -> list[Contender]:
    return list(CHANNELS_CONTENDERS.values())


# -- scenarios ------------------------------------------------------------------------------


def _stats(status: int, sent: bytes, got: bytes) -> str | None:
    """``GET /stats`` answers the process's figures: proof it is a channels app."""
    if status != 200:
        return f"status {status}: {got[:200]!r}"
    try:
        value = json.loads(got)
    except ValueError:
        return f"body {got[:100]!r} is not JSON"
    if not isinstance(value, dict) or not {"pid", "cpu_seconds", "channels"} <= set(value):
        return f"not the channels app's /stats: {got[:200]!r}"
    if not isinstance(value["channels"].get("dropped"), dict):
        return f"/stats has no dropped counts: {got[:200]!r}"
    return None


def _scenario(name: str, what: str, env: dict[str, str]) -> Scenario:
    return Scenario(
        name,
        f"{what}; {SUBSCRIBERS:,} WebSocket subscribers over {PROCESSES} server processes, "
        f"{MESSAGE_SIZE}-byte messages published to Redis; a request = one message "
        "delivered to one subscriber, every one checked",
        "GET",
        "/stats",
        _stats,
        tool="channels",
        env={"ws_path": "/ws", **env},
        media_type="application/json",
    )


CHANNELS_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "fanout_max",
            f"closed loop, {WINDOW} messages in flight (the next is published as the oldest "
            "reaches its last subscriber): the rate the servers sustain",
            {"mode": "window", "window": str(WINDOW)},
        ),
        *(
            _scenario(
                f"fanout_{rate}",
                f"open loop, {rate} messages/s ({rate * SUBSCRIBERS:,} deliveries/s offered)",
                {"mode": "paced", "rate": str(rate)},
            )
            for rate in PACED_RATES
        ),
    )
}

TARGETS = (Target("broadcaster", 2.0, ("fanout_max",)),)
"""aster >= 2x broadcaster's delivery rate at the most both sustain, in the same run."""

COLUMNS = (
    Column("lost", "lost", total=True),
    Column("server µs/msg", "server_us_per_delivery", digits=1),
    Column("server CPU", "server_cpu", digits=2),
    Column("client CPU", "client_cpu", digits=2),
)
"""Lost messages (every round, invalid ones too), the server processes' CPU per delivered
message, and the CPU in cores of the two server processes (1.00: the server core is the
limit) and of the load generator (near 1.0: the client may be the limit)."""


# -- the run's Redis ------------------------------------------------------------------------


@contextlib.contextmanager
def redis(settings: Settings) -> Iterator[None]:
    """One redis-server for the whole run, pinned to the load CPUs; the servers started
    inside find it in ``CHANNELS_REDIS_URL``."""
    with RedisServer() as server:
        if settings.cpus.load is not None and server.process is not None:
            try:
                os.sched_setaffinity(server.process.pid, settings.cpus.load)
            except OSError:
                pass
        saved = os.environ.get(REDIS_URL_VARIABLE)
        os.environ[REDIS_URL_VARIABLE] = server.url
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(REDIS_URL_VARIABLE, None)
            else:
                os.environ[REDIS_URL_VARIABLE] = saved


def versions() -> dict[str, str | None]:
    try:
        out = subprocess.run(
            [redis_server_binary(), "--version"], capture_output=True, text=True, timeout=5
        ).stdout
        server = next((w[2:] for w in out.split() if w.startswith("v=")), None)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        server = None
    return {
        "broadcaster": distribution_version("broadcaster"),
        "redis-py": distribution_version("redis"),
        "hiredis": distribution_version("hiredis"),
        "redis-server": server,
        "websockets": distribution_version("websockets"),
    }


# -- the tool -------------------------------------------------------------------------------


@dataclass
class ChannelsResult(WrkResult):
    """A :mod:`bench.channels_load` report in wrk's shape: "requests" are deliveries."""

    lost: int = 0
    dropped: int = 0
    """Messages the servers' backpressure policy dropped meanwhile (their ``/stats``)."""
    published: int = 0
    subscribers: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    """Server CPU seconds per wall second, both processes together."""
    server_us_per_delivery: float | None = None
    server_system_share: float | None = None
    """Of the server CPU, the part in the kernel (socket writes, mostly)."""
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def problem(self) -> str | None:
        problems = []
        if self.lost:
            why = (
                f"the backpressure policy dropped {self.dropped:,}"
                if self.dropped
                else "no backpressure policy fired: a silent loss"
            )
            problems.append(f"LOST {self.lost:,} of {self.published * self.subscribers:,} ({why})")
        elif self.dropped:
            problems.append(f"the backpressure policy dropped {self.dropped:,} messages")
        if self.errors:
            problems.append("client errors " + json.dumps(self.errors, sort_keys=True))
        return "; ".join(problems) or super().problem


def _ws_urls(url: str, path: str) -> list[str]:
    urls = []
    for one in url.split(","):
        parts = urlsplit(one)
        urls.append(f"ws://{parts.netloc}{path}")
    return urls


def load(scenario: Scenario, url: str, duration: int, settings: Settings) -> ChannelsResult:
    """Run :mod:`bench.channels_load` on the load CPUs: ``duration`` seconds of publishing."""
    env = scenario.env
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        raise WrkError("the channels scenarios need the suite's Redis (channels_suite.redis)")
    argv = [
        sys.executable, "-m", "bench.channels_load",
        "--ws", ",".join(_ws_urls(url, env["ws_path"])),
        "--stats-path", scenario.path, "--redis", redis_url,
        "--subscribers", str(SUBSCRIBERS), "--size", str(MESSAGE_SIZE),
        "--mode", env["mode"], "--duration", str(duration), "--drain", str(DRAIN),
    ]  # fmt: skip
    argv += ["--window", env["window"]] if env["mode"] == "window" else ["--rate", env["rate"]]
    data, output = run_load_report(argv, settings, timeout=duration + DRAIN + 90)
    return result_of(data, output)


def result_of(data: dict[str, Any], output: str = "") -> ChannelsResult:
    servers = data.get("servers") or {}
    cpu = sum(servers.get("cpu_seconds", ()))
    wall = data["wall_seconds"]
    delivered = data["delivered"]
    latency = {p: v for p, v in data["latency_ms"].items() if v == v}  # NaN: no deliveries
    return ChannelsResult(
        requests_per_sec=data["delivered_per_sec"],
        requests=delivered,
        duration_ms=data["seconds"] * 1e3,
        latency_ms=latency,
        output=output,
        lost=data["lost"],
        dropped=servers.get("dropped", 0),
        published=data["published"],
        subscribers=data["subscribers"],
        client_cpu=data["client_cpu"],
        server_cpu=cpu / wall if wall else 0.0,
        server_us_per_delivery=cpu / delivered * 1e6 if delivered and servers else None,
        server_system_share=sum(servers.get("system_seconds", ())) / cpu if cpu else None,
        errors=data["errors"],
    )


def describe_load(settings: Settings) -> str:
    return (
        f"bench.channels_load (one process: asyncio on uvloop, {SUBSCRIBERS:,} minimal RFC 6455 "
        "clients, a redis-py publisher)"
    )


TOOLS.setdefault("channels", Tool(load))  # type: ignore[arg-type]
