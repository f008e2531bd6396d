"""The ``websocket`` suite: aster and uvicorn serving one raw ASGI echo app over WebSocket.

wrk has no WebSocket support, so these scenarios have ``tool="ws"`` and are loaded by
:mod:`bench.ws_load` (asyncio and a minimal RFC 6455 client), run as a child
process pinned to the load CPUs like wrk.  Its JSON report becomes a :class:`WsResult`,
a :class:`~bench.wrk.WrkResult` whose "requests" are echoed messages or connection
cycles, so the table, the JSON and the chart are the other suites'.

uvicorn runs with ``--ws websockets-sansio`` (its implementation on the same
``websockets`` sans-I/O protocol, in uvicorn >= 0.35), and aster once more as
``aster-wsproto`` (``--ws wsproto``), its other implementation; all run with per-message
compression off (the client never offers it) and, as in the other suites, one process on
uvloop with access logs off.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import process
from .scenarios import Scenario, exact
from .servers import SERVERS, Contender, Server
from .wrk import WrkError, WrkResult

if TYPE_CHECKING:
    from .runner import Settings

WS_APP = "bench.apps.ws_echo:app"
MESSAGE_SIZE = 32
DEPTH = 4
CLIENT_PROCESSES = 2


def _uvicorn_ws(app: str, host: str, port: int) -> list[str]:
    return [*SERVERS["uvicorn"].argv(app, host, port), "--ws", "websockets-sansio"]


def _aster_wsproto(app: str, host: str, port: int) -> list[str]:
    return [*SERVERS["aster"].argv(app, host, port), "--ws", "wsproto"]


WS_SERVERS: dict[str, Server] = {
    "aster": SERVERS["aster"],
    "uvicorn": Server("uvicorn", "uvicorn", "uvicorn", _uvicorn_ws),
    # aster's other implementation: the measurement behind "--ws auto" meaning websockets.
    "aster-wsproto": Server("aster-wsproto", "wsproto", "wsproto", _aster_wsproto),
}


def ws_contenders(names: list[str]) -> list[Contender]:
    """The named servers that have a WebSocket contender (others are left out, silently:
    ``--servers`` defaults to every HTTP server); naming aster brings aster-wsproto too."""
    if "aster" in names and "aster-wsproto" not in names:
        names = [*names, "aster-wsproto"]
    return [Contender(n, WS_SERVERS[n], WS_APP) for n in names if n in WS_SERVERS]


# A plain GET of the socket's path must be refused with 426: proof the app is the echo app.
_PROBE = exact(b"Upgrade Required", status=426)

WS_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "ws_echo",
            f"WebSocket /ws: {MESSAGE_SIZE}-byte text messages echoed, {DEPTH} in flight per "
            "connection (a new one as each echo returns); a request = one message echoed, "
            "every echo checked",
            "GET",
            "/ws",
            _PROBE,
            tool="ws",
            env={"mode": "echo", "depth": str(DEPTH), "size": str(MESSAGE_SIZE)},
        ),
        Scenario(
            "ws_pingpong",
            f"WebSocket /ws: {MESSAGE_SIZE}-byte text messages echoed, one in flight per "
            "connection (the next goes out when the echo returns); a request = one message "
            "echoed, every echo checked",
            "GET",
            "/ws",
            _PROBE,
            tool="ws",
            env={"mode": "echo", "depth": "1", "size": str(MESSAGE_SIZE)},
        ),
        Scenario(
            "ws_connect",
            "WebSocket /ws connection cycles: TCP connect, opening handshake, one message "
            "echoed, closing handshake, TCP close; a request = one cycle",
            "GET",
            "/ws",
            _PROBE,
            tool="ws",
            env={"mode": "connect"},
        ),
    )
}


@dataclass
class WsResult(WrkResult):
    """A :mod:`bench.ws_load` report in wrk's shape; ``errors`` are the client's counts
    (failed connects, wrong echoes, ...), any of which makes the run invalid."""

    errors: dict[str, int] = field(default_factory=dict)
    client_cpu: float = 0.0
    """Client CPU seconds per wall second, over all client processes."""

    @property
    def problem(self) -> str | None:
        if self.errors:
            return "client errors " + json.dumps(self.errors, sort_keys=True)
        return super().problem


def run_load_report(
    argv: list[str], settings: Settings, timeout: float
) -> tuple[dict[str, Any], str]:
    """Run a load generator (``python -m bench.<name> ...``) on the load CPUs; the JSON
    report it prints, and that output as text.  ``WrkError`` if it hangs, fails or prints
    no report."""
    name = argv[2]
    proc = process.spawn(
        argv, cpus=settings.cpus.load, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"{name} did not finish within {timeout:.0f}s") from exc
    finally:
        process.stop(proc)
    if proc.returncode != 0:
        raise WrkError(f"{name} exited with {proc.returncode}: {err.decode()[-500:]}")
    try:
        data: dict[str, Any] = json.loads(out)
    except ValueError as exc:
        raise WrkError(f"{name} printed no report: {out[-300:]!r} {err[-300:]!r}") from exc
    return data, out.decode()


def load(scenario: Scenario, url: str, duration: int, settings: Settings) -> WsResult:
    """Run :mod:`bench.ws_load` on the load CPUs for ``duration`` seconds."""
    env = scenario.env
    argv = [
        sys.executable, "-m", "bench.ws_load", "ws" + url.removeprefix("http"),
        "--mode", env["mode"], "--duration", str(duration),
        "--connections", str(settings.connections), "--processes", str(CLIENT_PROCESSES),
    ]  # fmt: skip
    if env["mode"] == "echo":
        argv += ["--depth", env["depth"], "--size", env["size"]]
    data, output = run_load_report(argv, settings, timeout=duration + 90)
    return WsResult(
        requests_per_sec=data["requests_per_sec"],
        requests=data["requests"],
        duration_ms=data["seconds"] * 1e3,
        latency_ms=data["latency_ms"],
        errors=data["errors"],
        client_cpu=data["client_cpu"],
        output=output,
    )


def describe_load(settings: Settings) -> str:
    return (
        f"bench.ws_load (asyncio, a minimal RFC 6455 client, {CLIENT_PROCESSES} processes) "
        f"-c{settings.connections}"
    )
