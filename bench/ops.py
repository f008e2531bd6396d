"""Operations side by side: ``uvicorn --workers 2`` and ``aster run --workers 2``.

``python -m bench.ops`` runs each scenario against both servers serving the same
app (``bench/apps/ops_app.py``) with the same background load (``bench/ops_load.py``)
and prints one table:

* **SIGTERM under 50 clients** (40 back to back on keep-alive connections, 10 with
  a 0.5 s request): requests in flight at the signal, how many completed and
  failed; failed requests overall after the signal; new connections after the
  signal: refused at once, or accepted and then failed (and how long they waited);
  time to exit;
* **a blocked worker** (``time.sleep(15)`` in the loop, then a C call that holds the
  GIL for 15 s), both servers at their default 5 s health-check timeout: how long
  until the server replaces the worker ("never" within 15 s);
* **SIGHUP under load** (15 clients): failed requests across the restart, and how
  many of the worker PIDs changed;
* **max requests** (``--limit-max-requests 300 --limit-max-requests-jitter 150``,
  15 clients for 12 s): restarts, and failed requests.

The machine is shared: the figures are one run's, and the script says how loaded
the machine was.  (The tests in ``tests/test_server_workers.py`` assert aster's.)
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.ops_load import Load

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.apps.ops_app:app"
READY = re.compile(r"Application startup complete")
STARTED = re.compile(r"Started server process \[(\d+)\]")
#: The log line that says a stalled worker is being replaced.
REPLACED = {
    "aster": re.compile(r"Worker \[(\d+)\] missed its heartbeat"),
    "uvicorn": re.compile(r"Child process \[(\d+)\] died"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    name: str
    process: subprocess.Popen[str]
    port: int
    lines: list[tuple[float, str]] = field(default_factory=list)

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 60) -> float:
        """When the ``count``-th line matching ``pattern`` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stamps = [at for at, line in list(self.lines) if pattern.search(line)]
            if len(stamps) >= count:
                return stamps[count - 1]
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: no {pattern.pattern!r} (x{count})")

    def pids(self) -> list[int]:
        return [int(m.group(1)) for _, line in list(self.lines) if (m := STARTED.search(line))]


def command(name: str, port: int, extra: list[str]) -> list[str]:
    if name == "aster":
        base = [sys.executable, "-m", "aster", "run", APP, "--workers", "2"]
    else:
        base = [sys.executable, "-m", "uvicorn", APP, "--workers", "2"]
    return [*base, "--port", str(port), "--no-access-log", *extra]


@contextmanager
def running(name: str, *extra: str) -> Iterator[Running]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command(name, port, list(extra)),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = Running(name, process, port)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.lines.append((time.monotonic(), line.rstrip("\n")))

    threading.Thread(target=pump, daemon=True).start()
    try:
        server.wait_for(READY, 2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the scenarios -------------------------------------------------------------------


def sigterm(name: str) -> dict[str, str]:
    with running(name, "--timeout-graceful-shutdown", "5") as server:
        paths = ("/pid", "/pid", "/pid", "/pid", "/sleep?0.5")
        load = Load(server.port, clients=50, paths=paths).start()
        load.wait_for(300)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
        exited = time.monotonic()
        deadline = time.monotonic() + 15
        while load.clients_running and time.monotonic() < deadline:
            time.sleep(0.05)
        results = load.stop()
    in_flight = load.in_flight_at(signalled)
    after = [r for r in results if r.started >= signalled]
    fresh = [r for r in after if not r.reused]
    refused = [r for r in fresh if r.outcome == "refused"]
    fresh_failed = [r for r in fresh if r.outcome == "failed"]
    waited = max((r.ended - r.started for r in fresh_failed), default=0.0)
    first_refusal = min((r.ended for r in refused), default=float("nan")) - signalled
    return {
        "in flight at the signal": str(len(in_flight)),
        "  completed": str(sum(r.outcome == "ok" for r in in_flight)),
        "  failed": str(sum(r.outcome == "failed" for r in in_flight)),
        "failed after the signal (all)": str(
            sum(r.outcome == "failed" for r in results if r.ended >= signalled)
        ),
        "  on a reused keep-alive connection": str(
            sum(r.outcome == "failed" and r.reused for r in after)
        ),
        "new connections refused at once": f"{len(refused)} (first {first_refusal:.2f} s)",
        "new connections accepted, then failed": f"{len(fresh_failed)} (after {waited:.1f} s)",
        "exit after the signal": f"{exited - signalled:.1f} s",
    }


def blocked(name: str, kind: str) -> str:
    """Seconds until the server replaces a worker whose loop is blocked for 15 s."""
    with running(name) as server:
        load = Load(server.port, clients=4, paths=("/pid",), keep_alive=False, pause=0.01)
        load.start()
        load.wait_for(20)
        blocker = socket.create_connection(("127.0.0.1", server.port))
        blocker.sendall(f"GET /{kind}?15 HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        started = server.wait_for(re.compile(r"APP: blocking 15"))
        try:
            detected = server.wait_for(REPLACED[name], timeout=16) - started
        except TimeoutError:
            detected = None
        results = load.stop()
        blocker.close()
    failed = sum(r.outcome == "failed" for r in results)
    shown = "never (15 s)" if detected is None else f"{detected:.1f} s"
    return f"{shown}, {failed} failed"


def sighup(name: str) -> dict[str, str]:
    with running(name) as server:
        before = set(server.pids())
        kept = Load(server.port, clients=10, paths=("/pid",)).start()
        fresh = Load(server.port, clients=5, paths=("/pid",), keep_alive=False).start()
        kept.wait_for(200)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in before) and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - signalled
        done = len(kept.results)
        kept.wait_for(done + 200)
        results = kept.stop() + fresh.stop()
    answering = {int(r.body) for r in results if r.outcome == "ok" and r.started > signalled + took}
    return {
        "failed requests": str(sum(r.outcome == "failed" for r in results)),
        "worker PIDs changed": f"{len(before - answering)} of {len(before)}",
        "restart took": f"{took:.1f} s",
    }


def max_requests(name: str) -> dict[str, str]:
    args = ("--limit-max-requests", "300", "--limit-max-requests-jitter", "150")
    with running(name, *args) as server:
        load = Load(server.port, clients=15, paths=("/pid",)).start()
        time.sleep(12)
        results = load.stop()
        restarts = len(server.pids()) - 2
    return {
        "restarts in 12 s": str(restarts),
        "failed requests": str(sum(r.outcome == "failed" for r in results)),
        "requests": str(sum(r.outcome == "ok" for r in results)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="uvicorn,aster")
    args = parser.parse_args(argv)
    names = args.servers.split(",")
    rows: dict[str, dict[str, str]] = {}

    def add(section: str, name: str, values: dict[str, str]) -> None:
        for key, value in values.items():
            rows.setdefault(f"{section}: {key}", {})[name] = value

    for name in names:
        print(f"... {name}", file=sys.stderr)
        add("SIGTERM", name, sigterm(name))
        add("blocked worker", name, {"time.sleep in the loop": blocked(name, "block")})
        add("blocked worker", name, {"C call holding the GIL": blocked(name, "hold-gil")})
        add("SIGHUP", name, sighup(name))
        add("max requests + jitter", name, max_requests(name))
    load = os.getloadavg()[0]
    width = max(len(row) for row in rows)
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':{width}}  " + "  ".join(f"{name:>26}" for name in names))
    for row, values in rows.items():
        print(f"{row:{width}}  " + "  ".join(f"{values.get(n, '-'):>26}" for n in names))


if __name__ == "__main__":
    main()
