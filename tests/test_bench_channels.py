"""The ``channels`` bench suite counts what it claims, against a real redis-server: every
message published reaches every subscriber of two ``aster run`` processes and is counted
once, with the servers' CPU; a server that loses messages fails the run, saying whether
its backpressure policy dropped them or they vanished; the suite runs end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aster import FastAPI, WebSocket, WebSocketDisconnect
from aster.channels import Channels, Message, RedisPubSubBackend, Subscription
from bench.apps.channels_shared import CHANNEL, REDIS_URL_VARIABLE, process_figures
from bench.channels_suite import CHANNELS_SCENARIOS, result_of
from bench.redis_server import RedisServer
from bench.suites import SUITES
from tests.support import Running, serve

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@contextlib.contextmanager
def two_servers(app: str, redis: RedisServer) -> Iterator[list[Running]]:
    env = {REDIS_URL_VARIABLE: redis.url}
    with (
        serve(app, "--no-access-log", env=env) as one,
        serve(app, "--no-access-log", env=env) as two,
    ):
        yield [one, two]


def channels_load(servers: list[Running], redis: RedisServer, *args: str) -> dict:
    urls = ",".join(f"ws://127.0.0.1:{s.port}/ws" for s in servers)
    argv = [sys.executable, "-m", "bench.channels_load", "--ws", urls, "--redis", redis.url]
    argv += ["--subscribers", "20", "--duration", "1", "--stall", "1", *args]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=90, check=True)
    return dict(json.loads(out.stdout))


def test_suite_is_registered_with_two_processes_and_the_target() -> None:
    suite = SUITES["channels"]
    assert not suite.in_all and suite.setup is not None
    assert {c.processes for c in suite.contenders.values()} == {2}
    assert set(suite.contenders) == {"aster", "broadcaster"}
    assert [(t.peer, t.at_least, t.scenarios) for t in suite.targets] == [
        ("broadcaster", 2.0, ("fanout_max",))
    ]
    modes = {s.env["mode"] for s in CHANNELS_SCENARIOS.values()}
    assert modes == {"window", "paced"}
    assert "lost" in [c.title for c in suite.columns]


@pytest.mark.parametrize("mode", ["window", "paced"])
def test_every_message_reaches_every_subscriber_of_both_processes(
    redis: RedisServer, mode: str
) -> None:
    with two_servers("bench.apps.channels_aster:app", redis) as servers:
        report = channels_load(servers, redis, "--mode", mode, "--window", "4", "--rate", "50")
    assert report["errors"] == {}
    assert report["subscribers"] == 20 and sorted(report["per_url"].values()) == [10, 10]
    assert report["published"] > 10
    assert report["delivered"] == report["expected"] == report["published"] * 20
    assert report["lost"] == 0 and report["drain"] == "complete"
    assert report["servers"]["dropped"] == 0 and len(report["servers"]["cpu_seconds"]) == 2
    assert 0 < report["latency_ms"]["50"] <= report["latency_ms"]["99"]
    result = result_of(report)
    assert result.problem is None
    assert result.requests == report["delivered"] and result.server_us_per_delivery > 0


# -- servers that lose messages ---------------------------------------------------------------

_URL = os.environ.get(REDIS_URL_VARIABLE, "redis://127.0.0.1:1/0")  # read when served
silent_channels = Channels(RedisPubSubBackend(_URL))
silent_app = FastAPI(lifespan=silent_channels.lifespan)
slow_channels = Channels(RedisPubSubBackend(_URL), max_queue=2, policy="drop_oldest")
slow_app = FastAPI(lifespan=slow_channels.lifespan)


async def _serve_socket(websocket: WebSocket, channels: Channels, forward) -> None:
    await websocket.accept()
    async with channels.subscribe(CHANNEL) as subscription:
        sender = asyncio.create_task(forward(websocket, subscription))
        try:
            async for _ in websocket.iter_text():
                pass
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()


async def _skip_some(websocket: WebSocket, subscription: Subscription) -> None:
    """Every fifth numbered message is not sent, and nothing says so."""
    async for event in subscription:
        if type(event) is Message and not (
            event.text[:1].isdigit() and int(event.text[:10]) % 5 == 3
        ):
            await websocket.send_text(event.text)


async def _dawdle(websocket: WebSocket, subscription: Subscription) -> None:
    """Too slow for a queue of 2: the policy drops, and the gaps are reported."""
    async for event in subscription:
        await asyncio.sleep(0.02)
        await websocket.send_text(event.text if type(event) is Message else "!missed dropped")


@silent_app.websocket("/ws")
async def silent_ws(websocket: WebSocket) -> None:
    await _serve_socket(websocket, silent_channels, _skip_some)


@slow_app.websocket("/ws")
async def slow_ws(websocket: WebSocket) -> None:
    await _serve_socket(websocket, slow_channels, _dawdle)


@silent_app.get("/stats")
async def silent_stats() -> dict:
    return {**process_figures(), "channels": silent_channels.stats()}


@slow_app.get("/stats")
async def slow_stats() -> dict:
    return {**process_figures(), "channels": slow_channels.stats()}


def test_a_silent_loss_fails_the_run(redis: RedisServer) -> None:
    with two_servers("tests.test_bench_channels:silent_app", redis) as servers:
        report = channels_load(servers, redis, "--mode", "paced", "--rate", "40")
    assert report["lost"] > 0 and report["servers"]["dropped"] == 0
    problem = result_of(report).problem or ""
    assert problem.startswith(f"LOST {report['lost']:,} of ")
    assert "no backpressure policy fired: a silent loss" in problem


def test_a_loss_to_the_backpressure_policy_fails_the_run_and_says_so(redis: RedisServer) -> None:
    with two_servers("tests.test_bench_channels:slow_app", redis) as servers:
        report = channels_load(servers, redis, "--mode", "paced", "--rate", "200")
    assert report["lost"] > 0 and report["servers"]["dropped"] > 0
    assert report["missed_notices"] > 0
    problem = result_of(report).problem or ""
    assert "LOST" in problem and "the backpressure policy dropped" in problem


def test_quick_channels_bench(tmp_path: Path) -> None:
    """End to end; broadcaster joins when the bench extra is installed."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--suite", "channels", "--quick", "--warmup", "0"]
        + ["--scenarios", "fanout_max,fanout_20", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "CHANNELS_SUBSCRIBERS": "40"},
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = (tmp_path / "channels.md").read_text()
    assert "| aster req/s |" in table and "| aster lost |" in table
    assert (tmp_path / "channels.png").stat().st_size > 1000
    data = json.loads((tmp_path / "channels.json").read_text())
    assert data["meta"]["server_processes"] == 2
    for scenario in ("fanout_max", "fanout_20"):
        for contender in data["contenders"]:
            cell = data["summary"][scenario][contender]
            assert cell["rps_median"] > 0 and cell["lost"] == 0, (scenario, contender)
    row = next(line for line in table.splitlines() if line.startswith("| fanout_20 |"))
    assert float(row.split("|")[2].strip().replace(",", "")) > 0
