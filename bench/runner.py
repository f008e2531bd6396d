"""Rounds of measurements: start each server, check it, load it, stop it.

Rounds are interleaved: every round starts every contender in turn (rotating who goes
first), so slow drift on the machine (thermal, another tenant) lands on all servers
alike instead of on whichever ran last.  Each round uses a fresh server process, so the
rounds are independent samples and the medians mean something.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import h2_client, h2load, process, tls, wrk
from .process import CpuPlan
from .scenarios import Request, Scenario, VerificationError, http1_request, verify
from .servers import Contender
from .tls import TlsFiles

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    duration: int = 5
    warmup: int = 1
    rounds: int = 3
    connections: int = 64
    threads: int = 1
    cpus: CpuPlan = CpuPlan()
    host: str = "127.0.0.1"
    startup_timeout: float = 20.0


@dataclass
class Run:
    """One measurement (or the failure to make it) of a contender on a scenario."""

    round: int
    contender: str
    scenario: str
    result: wrk.WrkResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "contender": self.contender,
            "scenario": self.scenario,
            "ok": self.ok,
            "error": self.error,
            "result": self.result.to_json() if self.result else None,
        }


Ready = Callable[[str, int], bool]
"""(host, port) -> whether the server is up and answering."""


class ServerFailed(Exception):
    """A server did not come up."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


def http1_ready(host: str, port: int) -> bool:
    """Whether the server answers an HTTP/1.1 ``GET /`` (with any status)."""
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def serving(
    contender: Contender,
    settings: Settings,
    log_dir: Path,
    app: str | None = None,
    tls: TlsFiles | None = None,
    ready: Ready = http1_ready,
    log_name: str | None = None,
) -> Iterator[int]:
    """Run ``contender`` (on ``app`` instead of its own, if given; over TLS if ``tls``) on a
    free port until the block ends; yields the port once ``ready`` says it answers.

    The port is found by binding to port 0 and releasing it, which can race with another
    process; a server that dies on start-up is therefore retried on a new port.  Its
    output goes to ``<log_name or the contender's name>.log`` in ``log_dir``.
    """
    log_path = log_dir / f"{log_name or contender.name}.log"
    pythonpath = os.environ.get("PYTHONPATH", "")
    last_error = ""
    for _ in range(3):
        port = free_port(settings.host)
        argv = contender.server.command(app or contender.app, settings.host, port, tls)
        with log_path.open("wb") as log:
            proc = process.spawn(
                argv,
                cpus=settings.cpus.server,
                env={"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), pythonpath]))},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + settings.startup_timeout
            while proc.poll() is None and not ready(settings.host, port):
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"{contender.name} did not answer within {settings.startup_timeout:.0f}s"
                        f": {_tail(log_path)}"
                    )
                time.sleep(0.05)
            if proc.poll() is not None:
                last_error = f"{contender.name} exited with {proc.returncode}: {_tail(log_path)}"
                if "in use" in last_error:  # lost the port race: try another port
                    continue
                break
            yield port
            if proc.poll() is not None:
                raise ServerFailed(
                    f"{contender.name} died during the run (exit {proc.returncode}): "
                    f"{_tail(log_path)}"
                )
            return
        finally:
            process.stop(proc)
    raise ServerFailed(last_error)


@contextlib.contextmanager
def serving_all(
    contender: Contender,
    settings: Settings,
    log_dir: Path,
    app: str | None = None,
    tls: TlsFiles | None = None,
    ready: Ready = http1_ready,
) -> Iterator[list[int]]:
    """:func:`serving` for each of the contender's :attr:`~bench.servers.Contender.processes`
    (separate server processes side by side, each on its own port); yields the ports."""
    with contextlib.ExitStack() as stack:
        count = contender.processes
        ports = [
            stack.enter_context(
                serving(
                    contender, settings, log_dir, app, tls, ready,
                    log_name=f"{contender.name}-{i + 1}" if count > 1 else None,
                )
            )
            for i in range(count)
        ]  # fmt: skip
        yield ports


def _load_wrk(scenario: Scenario, url: str, duration: int, settings: Settings) -> wrk.WrkResult:
    return wrk.run(
        url,
        duration=duration,
        connections=settings.connections,
        threads=settings.threads,
        script=scenario.lua,
        env=scenario.env,
        cpus=settings.cpus.load,
    )


def _load_ws(scenario: Scenario, url: str, duration: int, settings: Settings) -> wrk.WrkResult:
    from .ws_suite import load

    return load(scenario, url, duration, settings)


def _load_h2(scenario: Scenario, url: str, duration: int, settings: Settings) -> wrk.WrkResult:
    return h2load.run(
        url,
        duration=duration,
        clients=int(scenario.env["clients"]),
        streams=int(scenario.env["streams"]),
        cpus=settings.cpus.load,
    )


Loader = Callable[[Scenario, str, int, Settings], wrk.WrkResult]
"""(scenario, url, seconds, settings) -> result.  For a contender of several server
processes, ``url`` is one URL per process, comma-separated."""


@dataclass(frozen=True)
class Tool:
    """What a kind of scenario is loaded with, and how its server is checked: the
    request :func:`~bench.scenarios.verify` sends, and the readiness probe."""

    load: Loader
    request: Callable[[TlsFiles | None], Request] = lambda tls: http1_request
    ready: Callable[[TlsFiles | None], Ready] = lambda tls: http1_ready


def _h2_ready(tls: TlsFiles | None) -> Ready:
    return lambda host, port: h2_client.probe(host, port, tls) is not None


TOOLS: dict[str, Tool] = {
    "wrk": Tool(_load_wrk),
    "ws": Tool(_load_ws),
    "h2load": Tool(_load_h2, h2_client.requester, _h2_ready),
}
"""Load generators (and their checks) by :attr:`Scenario.tool`."""


def measure(
    scenario: Scenario,
    host: str,
    port: int | list[int],
    settings: Settings,
    tls: TlsFiles | None = None,
) -> wrk.WrkResult:
    """Verify the answer (of every process, given several ports), warm up, then take the
    measured run."""
    tool = TOOLS[scenario.tool]
    ports = port if isinstance(port, list) else [port]
    for p in ports:
        verify(scenario, host, p, request=tool.request(tls))
    scheme = "https" if tls else "http"
    url = ",".join(f"{scheme}://{host}:{p}{scenario.path}" for p in ports)
    if settings.warmup > 0:
        tool.load(scenario, url, settings.warmup, settings)
    return tool.load(scenario, url, settings.duration, settings)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_all(
    contenders: list[Contender], scenarios: list[Scenario], settings: Settings
) -> list[Run]:
    """Every round, every contender (rotating the order), every scenario it supports."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="aster-bench-") as tmp:
        certs = tls.make(Path(tmp)) if any(s.tls for s in scenarios) else None
        for rnd in range(settings.rounds):
            shift = rnd % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                runs += _run_contender(rnd, contender, scenarios, settings, Path(tmp), certs)
    return runs


def _by_app(
    contender: Contender, scenarios: list[Scenario]
) -> dict[tuple[str, bool], list[Scenario]]:
    """The scenarios ``contender`` supports, grouped by the server process that serves them
    (the app, and whether over TLS), in order."""
    groups: dict[tuple[str, bool], list[Scenario]] = {}
    for s in scenarios:
        if s.name not in contender.unsupported:
            groups.setdefault((contender.app_for(s.app), s.tls), []).append(s)
    return groups


def _run_contender(
    rnd: int,
    contender: Contender,
    scenarios: list[Scenario],
    settings: Settings,
    log_dir: Path,
    certs: TlsFiles | None = None,
) -> list[Run]:
    runs: list[Run] = []
    tag = f"[round {rnd + 1}/{settings.rounds}] {contender.name:<10}"
    for (app, over_tls), group in _by_app(contender, scenarios).items():
        group_runs = [Run(rnd, contender.name, s.name) for s in group]
        runs += group_runs
        server_tls = certs if over_tls else None
        ready = TOOLS[group[0].tool].ready(server_tls)
        try:
            with serving_all(contender, settings, log_dir, app, server_tls, ready) as ports:
                for run, scenario in zip(group_runs, group, strict=True):
                    try:
                        port = ports if len(ports) > 1 else ports[0]
                        run.result = measure(scenario, settings.host, port, settings, server_tls)
                        run.error = run.result.problem
                    except (VerificationError, wrk.WrkError) as exc:
                        run.error = str(exc)
                    _say(f"{tag} {scenario.name:<16} {_describe(run)}")
        except ServerFailed as exc:
            for run in group_runs:
                run.error = run.error or str(exc)
            _say(f"{tag} failed: {exc}")
    return runs


def _describe(run: Run) -> str:
    if run.result is None:
        return f"ERROR: {run.error}"
    r = run.result
    text = f"{r.requests_per_sec:>10,.0f} req/s  p99 {r.p99_ms or float('nan'):.2f} ms"
    errors = sum(r.socket_errors.values())
    if errors:
        text += f"  socket errors {r.socket_errors}"
    if run.error:
        text += f"  INVALID: {run.error}"
    return text
